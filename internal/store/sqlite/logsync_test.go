package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// withSyncLog replaces the log's sync for the test.
func withSyncLog(t *testing.T, fn func(f *logFile, path string) error) {
	t.Helper()
	was := syncLog
	syncLog = fn
	t.Cleanup(func() { syncLog = was })
}

// TestUpdateWaitsForLogSync checks that Update answers only once the log holding its
// commit is synced, and that a change to the log reaches the hub by then too.
func TestUpdateWaitsForLogSync(t *testing.T) {
	st := openEmpty(t)
	if _, err := st.write.Exec(`CREATE TABLE t_sync (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // before the store's Close, which waits for the sync
	syncing := make(chan struct{}, 1)
	withSyncLog(t, func(f *logFile, path string) error {
		select {
		case syncing <- struct{}{}:
		default:
		}
		<-release
		return f.sync(path)
	})

	const account = "a1"
	updates := st.Subscribe(t.Context())
	result := make(chan error, 1)
	go func() {
		result <- st.Update(t.Context(), func(dt device.Tx) error {
			ctx := t.Context()
			if _, err := dt.(*tx).exec(ctx, "insert", `INSERT INTO t_sync VALUES (1)`); err != nil {
				return err
			}
			a := &device.Account{ID: account, Name: "a", CreatedAt: time.Now()}
			if err := dt.InsertAccount(ctx, a); err != nil {
				return err
			}
			return dt.AppendChange(ctx, &device.Change{AccountID: account,
				Kind: device.ChangeEnrolled, RegistrationID: "r", DeviceID: "d", Key: "k",
				ProfileID: "p", At: time.Now()})
		})
	}()

	<-syncing
	var n int
	if err := st.read.QueryRow(`SELECT count(*) FROM t_sync`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows committed before the sync: %d (%v), want 1", n, err)
	}
	select {
	case err := <-result:
		t.Fatalf("Update returned %v before the log was synced", err)
	case <-updates:
		t.Fatal("the hub was told of a change before the log was synced")
	case <-time.After(50 * time.Millisecond):
	}
	let()
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-updates:
		if got != account {
			t.Errorf("hub told of account %q, want %q", got, account)
		}
	default:
		t.Error("Update returned before the hub was told of its change")
	}
}

// TestLogSyncErrorReachesCallers checks that a failed sync of the log fails the
// callers of the batch it carried, and that the store goes on: the next sync that
// succeeds answers its callers.
func TestLogSyncErrorReachesCallers(t *testing.T) {
	st := openEmpty(t)
	if _, err := st.write.Exec(`CREATE TABLE t_sync (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	bad := errors.New("disk on fire")
	fail := true
	withSyncLog(t, func(f *logFile, path string) error {
		if fail {
			return bad
		}
		return f.sync(path)
	})
	insert := func(dt device.Tx) error {
		_, err := dt.(*tx).exec(t.Context(), "insert", `INSERT INTO t_sync VALUES (1)`)
		return err
	}
	if err := st.Update(t.Context(), insert); !errors.Is(err, bad) {
		t.Fatalf("Update with a failing sync: %v, want %v", err, bad)
	}
	fail = false
	if err := st.Update(t.Context(), insert); err != nil {
		t.Fatalf("Update after the sync recovered: %v", err)
	}
}

// TestLogFileFollowsPath checks that a log file replaced at its path (SQLite removes
// the log when its last connection closes, and the next one creates it anew) is
// synced through a descriptor of the new file, not of the one that is gone.
func TestLogFileFollowsPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db-wal")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	var l logFile
	defer l.close()
	if err := l.sync(path); err != nil {
		t.Fatal(err)
	}
	old := l.f

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := l.sync(path); err == nil {
		t.Error("sync of a log that is gone: no error")
	}
	if err := os.WriteFile(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.sync(path); err != nil {
		t.Fatal(err)
	}
	if l.f == old {
		t.Fatal("the descriptor of the removed log is still in use")
	}
	held, err1 := l.f.Stat()
	named, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, named) {
		t.Errorf("descriptor is not of the file at the path (%v, %v)", err1, err2)
	}
}
