package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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
// truncated, when it is also more than twice the log the last round found: a reader
// that held an old snapshot through every wrap let it grow, and the rounds since
// need far less. The round after that reader lets go wraps the log (it was the
// whole file); the next finds a short log in a long file and asks for the
// truncation, however little was written. While the reader holds on, the log is
// the whole file and nothing is truncated (a truncation would wait for it, holding
// up the writer for busy_timeout, 10 s, every round). A file that size because
// every round fills it (a stream of revokes writes about 200 MB of log a second at a
// million registrations) stays too: truncating it each round would cost a wait for
// readers every time (up to 170 ms held the writer), and the next round would grow
// it again.
const walBoundFactor = 8

// checkpointEvery is the least time between two checkpoint rounds: pages written
// again and again between two are copied back once. A variable for tests.
var checkpointEvery = 2 * time.Second

// walWrapBytes is how much log the writer lets accumulate before it wraps it (a
// variable for tests).
var walWrapBytes int64 = 64 << 20

// A checkpoint that runs beside a busy writer never reaches the end of the log, and
// SQLite syncs the database file only at the end of a checkpoint that did: so every
// page the checkpointer copied would stay unsynced until the writer's wrap, whose
// one sync then flushed all of them (at a million registrations, a stream of
// revokes copies about 200 MB in two seconds, and that sync held the writer for
// about 200 ms). The checkpointer syncs the database file itself after each pass,
// and makes up to catchUpPasses passes, each over what the writer appended during
// the one before, until one copies at most catchUpFrames. The checkpointer copies
// and syncs a few times faster than a busy writer appends, so each pass is a
// fraction of the one before (100,000 frames, then about 15,000, 5,000, 2,000...),
// and the writer's wrap is left with a few hundred frames to copy and sync: under a
// stream of revokes, about 19 ms against 35 ms when the rounds stopped at 2,000
// frames, and 200 ms before the checkpointer synced at all. Each of those syncs
// writes the file back a range at a time (pacedSync), so that the writer's syncs
// of the log do not queue behind all of it.
const (
	catchUpPasses = 6
	catchUpFrames = 300
)

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
	var sync func() error
	if s.syncFile != nil {
		sync = func() error { return pacedSync(s.syncFile) }
	}
	var copied int64 // frames copied back as of the last round, for the next one
	for {
		select {
		case <-s.committed:
		case <-s.closed:
			return
		}
		if s.stopped() != nil { // see logSyncer: the log stays as it is for recovery
			continue
		}
		var frames int64
		var err error
		frames, copied, err = s.catchUp(ctx, sync, copied)
		if err != nil {
			s.log.Warn("checkpoint the write-ahead log", "err", err)
		}
		if mode := s.wrapFor(frames * (pageSize + 24)); mode != "" {
			s.wrapRequest.Store(&mode)
		}

		// Commits that arrive meanwhile leave a signal for the next round.
		select {
		case <-time.After(checkpointEvery):
		case <-s.closed:
			return
		}
	}
}

// catchUp runs the passes of one checkpoint round (see catchUpPasses), calling sync,
// which syncs the database file, after each pass that copied pages; sync may be nil.
// done is how many frames were copied back when the last pass ended; catchUp returns
// the log's length in frames and that count, as of its own last pass.
func (s *Store) catchUp(
	ctx context.Context, sync func() error, done int64,
) (int64, int64, error) {
	var frames int64
	last := int64(-1) // frames the pass before copied
	var extra time.Time
	for range catchUpPasses {
		before := done
		n, backfilled, err := checkpoint(ctx, s.ckpt, "PASSIVE")
		if err != nil {
			return frames, done, err
		}
		if n < 0 { // the writer's own checkpoint holds the log: nothing copied
			return frames, done, nil
		}
		frames, done = n, backfilled
		if done != before && sync != nil { // any change, a wrap included, may have copied
			if err := sync(); err != nil {
				return frames, done, fmt.Errorf("sync the database file: %w", err)
			}
		}
		copied := done - before
		if done < before { // the writer wrapped the log meanwhile: at least these
			copied = done
		}
		// Another pass is worth it only while each copies less than the one before,
		// and for a quarter of the time between rounds at most: passes that do not shrink (a
		// writer that appends as fast, a slow disk) or go on would only lengthen the
		// round, and the log with it, before the writer's wrap.
		if extra.IsZero() {
			extra = time.Now()
		}
		if copied <= catchUpFrames || last >= 0 && copied >= last ||
			time.Since(extra) > checkpointEvery/4 {
			break
		}
		last = copied
	}
	return frames, done, nil
}

// wrapFor returns the mode in which the writer should wrap a log of logBytes, or ""
// for none: a wrap once the log is past walWrapBytes, and a truncation when the file
// is bloated past what it holds (see walBoundFactor), which after a reader that held
// an old snapshot lets go may be so while the log itself stays small.
func (s *Store) wrapFor(logBytes int64) string {
	var size int64
	if fi, err := os.Stat(s.walPath); err == nil {
		size = fi.Size()
	}
	mode := wrapMode(size, logBytes)
	if mode == "PASSIVE" && logBytes <= walWrapBytes {
		return ""
	}
	return mode
}

// wrapLog runs on the writer, between batches and merge steps, when the
// checkpointer asked for it: see checkpointer.
func (s *Store) wrapLog() {
	mode := s.wrapRequest.Swap(nil)
	if mode == nil || s.stopped() != nil { // see logSyncer
		return
	}
	if _, _, err := checkpoint(context.Background(), s.write, *mode); err != nil {
		s.log.Warn("wrap the write-ahead log", "mode", *mode, "err", err)
	}
}

// wrapMode returns the checkpoint mode of a wrap of a log file of fileSize bytes
// whose log held logBytes at the last pass: TRUNCATE when the file is past the bound
// and mostly stale (see walBoundFactor), else PASSIVE.
func wrapMode(fileSize, logBytes int64) string {
	if fileSize > walBoundFactor*walWrapBytes && fileSize > 2*logBytes {
		return "TRUNCATE"
	}
	return "PASSIVE"
}

// checkpoint runs one checkpoint in mode on db and returns the log's length in
// frames, as it was before any wrap, and how many of them are copied back.
func checkpoint(ctx context.Context, db *sql.DB, mode string) (frames, copied int64, err error) {
	var busy int64
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").
		Scan(&busy, &frames, &copied)
	return frames, copied, err
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
