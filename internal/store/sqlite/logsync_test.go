package sqlite

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// TestLogSyncErrorStopsWrites checks that a failed sync of the log reaches the
// callers of the batch it carried, which committed, and that the store then takes
// no write: a later sync could succeed without the frames whose write-back failed,
// and the batches after them would be lost with them (see logSyncer).
func TestLogSyncErrorStopsWrites(t *testing.T) {
	st := openEmpty(t)
	if _, err := st.write.Exec(`CREATE TABLE t_sync (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	bad := errors.New("disk on fire")
	var syncs atomic.Int32
	withSyncLog(t, func(*logFile, string) error {
		syncs.Add(1)
		return bad
	})
	ran := 0
	insert := func(dt device.Tx) error {
		ran++
		_, err := dt.(*tx).exec(t.Context(), "insert", `INSERT INTO t_sync VALUES (1)`)
		return err
	}
	err := st.Update(t.Context(), insert)
	if !errors.Is(err, errLogUnsynced) || !strings.Contains(err.Error(), "committed") {
		t.Fatalf("Update with a failing sync: %v, want errLogUnsynced, committed", err)
	}
	var n int
	if err := st.read.QueryRow(`SELECT count(*) FROM t_sync`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows after the failed sync: %d (%v), want the committed 1", n, err)
	}
	err = st.Update(t.Context(), insert)
	if !errors.Is(err, errLogUnsynced) {
		t.Errorf("Update after a failed sync: %v, want errLogUnsynced", err)
	}
	if ran != 1 || syncs.Load() != 1 {
		t.Errorf("after a failed sync: fn ran %d times, log synced %d times; want 1, 1", ran,
			syncs.Load())
	}
	// Nor does the writer merge the search index, or wrap the log, on its own.
	steps := st.mergeSteps.Load()
	if st.mergeSearch() || st.mergeSteps.Load() != steps {
		t.Error("the search index was merged after a failed sync")
	}
	before, err := os.Stat(st.walPath)
	if err != nil || before.Size() == 0 {
		t.Fatalf("log before the wrap: %v, %v", before, err)
	}
	mode := "TRUNCATE" // which would leave an empty file
	st.wrapRequest.Store(&mode)
	st.wrapLog()
	if after, err := os.Stat(st.walPath); err != nil || after.Size() != before.Size() {
		t.Errorf("log of %d bytes after a wrap asked for after a failed sync, want %d (%v)",
			after.Size(), before.Size(), err)
	}
	err = st.Update(t.Context(), insert)
	if !errors.Is(err, errLogUnsynced) || device.KindOf(err) != device.KindInternal {
		t.Errorf("refusal %v: want errLogUnsynced, a fault of KindInternal", err)
	}
}

// TestLogOfLinkedPath checks that a store opened through a symbolic link syncs the
// log SQLite writes, beside the link's target, and not a file beside the link.
func TestLogOfLinkedPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o700); err != nil {
		t.Fatal(err)
	}
	target, link := filepath.Join(dir, "real", "x.db"), filepath.Join(dir, "link.db")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	// A stray file beside the link, which a sync must not mistake for the log.
	if err := os.WriteFile(link+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The checkpointer sizes the same log (wrapFor, below): with a wrap bound of one
	// byte, any log is past it, and one that held nothing at the last pass is stale.
	defer func(b int64) { walWrapBytes = b }(walWrapBytes)
	walWrapBytes = 1
	var synced []string
	withSyncLog(t, func(f *logFile, path string) error {
		synced = append(synced, path)
		return f.sync(path)
	})
	st, err := Open(t.Context(), link, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(t.Context(), func(device.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	resolved, err := filepath.EvalSymlinks(target)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range synced {
		if p != resolved+"-wal" {
			t.Errorf("synced %s, want %s-wal", p, resolved)
		}
	}
	if len(synced) == 0 {
		t.Error("no sync of the log")
	}
	if mode := st.wrapFor(0); mode != "TRUNCATE" {
		t.Errorf("wrap of the linked store's log: %q, want TRUNCATE", mode)
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
