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
	defer func(b int64, d time.Duration) { walWrapBytes, checkpointEvery = b, d }(
		walWrapBytes, checkpointEvery)
	walWrapBytes, checkpointEvery = 256<<10, 20*time.Millisecond
	path := filepath.Join(t.TempDir(), "w.db")
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

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
	for i := range 600 {
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
	// 600 commits of four pages or more each: 9 MiB of log, were it never wrapped.
	// Wrapped, it holds walWrapBytes and what commits add during a checkpoint round.
	if limit := 16 * walWrapBytes; peak > limit {
		t.Errorf("write-ahead log reached %d bytes, want at most %d", peak, limit)
	}
}
