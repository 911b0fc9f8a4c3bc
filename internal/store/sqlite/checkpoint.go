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
//
// The log wraps round to its start only when a write transaction begins with every
// frame copied back, which a checkpoint running beside a busy writer never leaves:
// the writer appends while it copies. So when the log holds more than walWrapBytes,
// the writer itself, between two batches, copies back what the checkpointer has not
// (a PASSIVE checkpoint, which waits for no one), and its next transaction starts
// the log again unless a reader still reads old frames (then the next round tries
// again). Most pages have been copied by then, so the writer copies few.
//
// walBoundFactor times walWrapBytes is the size past which the log file is
// truncated: a reader that held an old snapshot through every wrap let it grow. The
// truncation waits for readers, holding up the writer, busy_timeout (10 s) at most.
const walBoundFactor = 8

// checkpointEvery is the least time between two checkpoints: pages written
// again and again between two are copied back once. Each checkpoint ends with
// a sync of the database file, and commits that sync the log meanwhile wait
// behind its writes on the disk: every 100 ms, one revoke of 100 ids in ten
// took 70 to 100 ms instead of 16 (p99 above 90 ms); every 2 s, the p99 was
// 25 ms and the stalls, rarer, were longer (about 0.4 s, at p99.9). A variable for
// tests.
var checkpointEvery = 2 * time.Second

// walWrapBytes is how much log the writer lets accumulate before it wraps it (a
// variable for tests).
var walWrapBytes int64 = 64 << 20

// checkpointer copies the write-ahead log back into the database file after
// commits, until Close.
func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	ctx := context.Background()
	var pageSize int64
	if err := s.ckpt.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		s.log.Warn("read the page size", "err", err)
		pageSize = 4096
	}
	for {
		select {
		case <-s.committed:
		case <-s.closed:
			return
		}
		frames, err := checkpoint(ctx, s.ckpt, "PASSIVE")
		if err != nil {
			s.log.Warn("checkpoint the write-ahead log", "err", err)
		}
		if frames*(pageSize+24) > walWrapBytes {
			s.wrapWAL.Store(true)
		}

		// Commits that arrive meanwhile leave a signal for the next round.
		select {
		case <-time.After(checkpointEvery):
		case <-s.closed:
			return
		}
	}
}

// wrapLog runs on the writer, between batches, when the checkpointer asked for it:
// see checkpointer.
func (s *Store) wrapLog() {
	if !s.wrapWAL.Swap(false) {
		return
	}
	mode := "PASSIVE"
	if fi, err := os.Stat(s.path + "-wal"); err == nil && fi.Size() > walBoundFactor*walWrapBytes {
		mode = "TRUNCATE"
	}
	if _, err := checkpoint(context.Background(), s.write, mode); err != nil {
		s.log.Warn("wrap the write-ahead log", "mode", mode, "err", err)
	}
}

// checkpoint runs one checkpoint in mode on db and returns the log's length in
// frames, as it was before any wrap.
func checkpoint(ctx context.Context, db *sql.DB, mode string) (int64, error) {
	var busy, frames, copied int64
	err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").
		Scan(&busy, &frames, &copied)
	return frames, err
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
