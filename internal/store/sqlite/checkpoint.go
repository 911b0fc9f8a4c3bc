package sqlite

import (
	"context"
	"database/sql"
	"os"
	"time"
)

// Checkpoints run beside the writer, not inside its commits. SQLite's automatic
// checkpoint (wal_autocheckpoint) runs in whichever commit pushes the write-ahead log
// past 1,000 pages, so one caller in every few waits for pages to be copied back into
// the database file and that file to be synced. The writer's connection turns it off
// (openDB) and checkpointer copies pages back on a connection of its own, which
// SQLite lets run while the writer appends: a commit then costs its own log frames
// and one sync.
const (
	// checkpointEvery is the least time between two checkpoints: pages written
	// again and again between two are copied back once.
	checkpointEvery = 100 * time.Millisecond

	// walBound is the size past which the write-ahead log file is reset. A passive
	// checkpoint never waits, so readers that keep an old snapshot open under a
	// steady stream of commits can stop the log from wrapping round to its start;
	// past this size the checkpointer waits for them (and holds up the writer while it
	// does, busy_timeout at most) to copy everything back and truncate the file.
	walBound = 64 << 20
)

// checkpointer copies the write-ahead log back into the database file after
// commits, until Close.
func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	ctx := context.Background()
	for {
		select {
		case <-s.committed:
		case <-s.closed:
			return
		}
		s.checkpoint(ctx)

		// Commits that arrive meanwhile leave a signal for the next round.
		select {
		case <-time.After(checkpointEvery):
		case <-s.closed:
			return
		}
	}
}

// checkpoint runs one passive checkpoint, and a truncating one when the log file
// has outgrown walBound.
func (s *Store) checkpoint(ctx context.Context) {
	mode := "PASSIVE"
	if fi, err := os.Stat(s.path + "-wal"); err == nil && fi.Size() > walBound {
		mode = "TRUNCATE"
	}
	var busy, frames, copied int
	err := s.ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").
		Scan(&busy, &frames, &copied)
	if err != nil {
		s.log.Warn("checkpoint the write-ahead log", "mode", mode, "err", err)
	}
}

// signalCommit tells the checkpointer that the log has grown, without waiting.
func (s *Store) signalCommit() {
	select {
	case s.committed <- struct{}{}:
	default:
	}
}

// openCheckpointer opens the checkpointer's connection.
func openCheckpointer(path string) (*sql.DB, error) {
	return openDB(path, "deferred", 1, 1<<10, false)
}
