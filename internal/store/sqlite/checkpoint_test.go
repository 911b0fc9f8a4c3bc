package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestWriteAheadLogStaysBounded writes a few megabytes of log through the writer
// while readers read without pause, and checks that the log file wraps round
// instead of growing with every commit: checkpoints run beside the writer, so
// without the writer's own wrap the log would never start again from its beginning.
func TestWriteAheadLogStaysBounded(t *testing.T) {
	st, path := openSmallLog(t)

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	for range 2 {
		go func() {
			for ctx.Err() == nil {
				var n int
				st.read.QueryRowContext(ctx, `SELECT count(*) FROM settings`).Scan(&n)
			}
		}()
	}
	var peak int64
	for i := range 1500 {
		err := st.Update(t.Context(), func(tx device.Tx) error {
			return tx.PutSettingIfAbsent(t.Context(), fmt.Sprint("s", i), []byte(rand.Text()+
				string(make([]byte, 12<<10))))
		})
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			peak = max(peak, fi.Size())
		}
	}
	// 1,500 commits of four pages or more each: 23 MiB of log, or more as the file
	// is not always reused from its start, were it never wrapped (with the writer's
	// wrap turned off, peaks of 7 to 19 MiB were seen, and 36 MiB since the log's
	// sync left the writer's commits, which now come faster). Wrapped, it holds
	// walWrapBytes and what commits add during a checkpoint round: 2.4 to 4.6 MiB
	// mostly, and 9.7 MiB once on a busy machine, whose slow rounds let more
	// commits in.
	if limit := 48 * walWrapBytes; peak > limit {
		t.Errorf("write-ahead log reached %d bytes, want at most %d", peak, limit)
	}
}

// openSmallLog opens a new store whose log wraps past 256 KiB, with checkpoint
// rounds every 20 ms, closed when the test ends (before the settings come back),
// and returns it and its file's path.
func openSmallLog(t *testing.T) (*Store, string) {
	t.Helper()
	t.Cleanup(func(b int64, d time.Duration) func() {
		return func() { walWrapBytes, checkpointEvery = b, d }
	}(walWrapBytes, checkpointEvery))
	walWrapBytes, checkpointEvery = 256<<10, 20*time.Millisecond
	path := filepath.Join(t.TempDir(), "w.db")
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// TestCatchUpSyncsWhatItCopied checks a checkpoint round: it copies the whole log
// back when the writer is idle, syncs the database file after a pass that copied,
// and neither copies nor syncs when nothing is new.
func TestCatchUpSyncsWhatItCopied(t *testing.T) {
	defer func(d time.Duration) { checkpointEvery = d }(checkpointEvery)
	checkpointEvery = time.Hour // the background rounds stay out of the way
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "c.db"),
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	for i := range 20 {
		err := st.Update(t.Context(), func(tx device.Tx) error {
			return tx.PutSettingIfAbsent(t.Context(), fmt.Sprint("c", i), []byte(rand.Text()))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	syncs := 0
	sync := func() error { syncs++; return nil }
	var frames, done int64
	for range 100 { // a background round may hold the log for a moment (frames 0)
		if frames, done, err = st.catchUp(t.Context(), sync, 0); err != nil || frames != 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if frames == 0 || done != frames || syncs != 1 {
		t.Errorf("first round: log %d frames, %d copied, %d syncs; want all copied, 1 sync",
			frames, done, syncs)
	}

	frames2, done2, err := st.catchUp(t.Context(), sync, done)
	if err != nil {
		t.Fatal(err)
	}
	if frames2 != frames || done2 != done || syncs != 1 {
		t.Errorf("idle round: log %d frames, %d copied, %d syncs; want %d, %d, 1 sync",
			frames2, done2, syncs, frames, done)
	}
}

// TestWrapMode checks when a wrap truncates the log file: only past the bound and
// when the last round's log filled less than half of it.
func TestWrapMode(t *testing.T) {
	bound := walBoundFactor * walWrapBytes
	for _, c := range []struct {
		file, log int64
		want      string
	}{
		{file: walWrapBytes, log: walWrapBytes, want: "PASSIVE"},
		{file: bound, log: walWrapBytes, want: "PASSIVE"},         // not past the bound
		{file: bound + 4096, log: walWrapBytes, want: "TRUNCATE"}, // a reader let it grow
		{file: bound + 4096, log: bound, want: "PASSIVE"},         // every round fills it
		{file: 4 * bound, log: bound, want: "TRUNCATE"},
	} {
		if got := wrapMode(c.file, c.log); got != c.want {
			t.Errorf("wrapMode(%d, %d) = %s, want %s", c.file, c.log, got, c.want)
		}
	}
}

// TestBloatedLogIsTruncated pins an old snapshot with an open read transaction while
// commits grow the log file past the bound, lets go, and checks that later small
// commits, which never fill a log of walWrapBytes, still get the file truncated.
func TestBloatedLogIsTruncated(t *testing.T) {
	st, path := openSmallLog(t)
	put := func(name string, size int) {
		t.Helper()
		err := st.Update(t.Context(), func(tx device.Tx) error {
			return tx.PutSettingIfAbsent(t.Context(), name, []byte(rand.Text()+
				string(make([]byte, size))))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}

	pin, err := st.read.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pin.QueryRow(`SELECT count(*) FROM settings`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		put(fmt.Sprint("big", i), 12<<10)
	}
	bound := walBoundFactor * walWrapBytes
	if size() <= bound {
		t.Fatalf("log file %d bytes with a snapshot pinned, want more than %d", size(), bound)
	}
	pin.Rollback()

	for i := 0; i < 200 && size() > bound; i++ {
		put(fmt.Sprint("small", i), 0)
		time.Sleep(checkpointEvery)
	}
	if size() > bound {
		t.Errorf("log file still %d bytes after the reader let go, want at most %d",
			size(), bound)
	}
}
