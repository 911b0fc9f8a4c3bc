//go:build unix

package sqlite

import (
	"fmt"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// lockProbeEnv names the database file that TestLockProbeProcess probes, when the
// test binary runs as that probe.
const lockProbeEnv = "WARPREG_LOCK_PROBE"

// TestCloseKeepsTheFileLocked checks that the database file stays locked by this
// process while Close still has connections open: the checkpointer stops first,
// and if closing its descriptor of the file dropped this process's POSIX locks
// (as any close(2) does), another process could take the database for unused and
// remove its write-ahead log under the writer. Another process sees the locks.
func TestCloseKeepsTheFileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.db")
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := probeLock(t, path); got != "HELD" {
		t.Fatalf("open store: the file's shared lock is %s, want HELD", got)
	}

	entered, hold := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- st.Update(t.Context(), func(tx device.Tx) error {
			close(entered)
			<-hold
			return tx.PutSettingIfAbsent(t.Context(), "during", []byte("v"))
		})
	}()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	<-st.ckptDone // the checkpointer has stopped; the writer is still in its transaction
	got := probeLock(t, path)
	close(hold)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got != "HELD" {
		t.Errorf("closing store, writer still writing: the file's shared lock is %s, want HELD",
			got)
	}
}

// probeLock runs this test binary as TestLockProbeProcess on path and returns what
// it saw: HELD or FREE.
func probeLock(t *testing.T, path string) string {
	t.Helper()
	cmd := osexec.Command(os.Args[0], "-test.run=^TestLockProbeProcess$")
	cmd.Env = append(os.Environ(), lockProbeEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lock probe: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "lock: "); ok {
			return v
		}
	}
	t.Fatalf("lock probe said nothing: %s", out)
	return ""
}

// TestLockProbeProcess is not a test: run by probeLock in a process of its own, it
// asks the kernel whether another process holds a lock on SQLite's shared byte
// range of the file named by lockProbeEnv. Run as a test, it does nothing.
func TestLockProbeProcess(t *testing.T) {
	path := os.Getenv(lockProbeEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// SQLite's unix VFS locks bytes from 1 GiB: PENDING, RESERVED, then 510 shared.
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 1<<30 + 2, Len: 510}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		t.Fatal(err)
	}
	state := "HELD"
	if lk.Type == syscall.F_UNLCK {
		state = "FREE"
	}
	fmt.Println("lock: " + state)
}
