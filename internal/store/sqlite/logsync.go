package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	"github.com/warpreg/warpreg/internal/device"
)

// Syncing the log beside the writer.
//
// With synchronous=FULL, SQLite syncs the write-ahead log inside every COMMIT, and
// the writer, which runs every write transaction of the server, waits for the disk
// before it can begin the next batch. The writer's connections run with
// synchronous=NORMAL instead, under which a COMMIT writes its frames to the log and
// does not sync it; the batch's callers are answered by logSyncer, once it has synced
// the log file, and meanwhile the writer runs the next batch. A sync covers every
// frame written before it, so one sync answers all the batches that committed while
// the one before it ran. Enrolments at 16 connections on a million registrations went
// from 1,269-1,406 a second to 1,369-1,463 with the sync off the writer's path
// (three alternating runs).
//
// What a caller is told is unchanged: Update returns nil only once its transaction
// is in the synced log, so a power loss after it returned cannot undo it. What
// changes is that other connections can read a batch in the moments between its
// COMMIT and the sync; a power loss in that window (not a crash of the process: the
// kernel holds the written frames) loses a batch that a reader may have seen but
// whose callers had not been told it was done. NORMAL keeps the database consistent
// through such a loss; it only rolls back to an earlier commit.
//
// A sync that fails leaves the batch committed, and readable, with its durability
// unknown: Linux marks pages whose write-back failed as clean, so a later sync can
// succeed without them, and the log's frames are chained by their checksums, so the
// batches after a lost one would be lost with it however well their own syncs went.
// The store therefore takes no write after a failed sync (errLogUnsynced): the
// batch's callers are told that its durability is unknown, every later Update fails
// at once, and the writer merges nothing and the checkpointer copies nothing back,
// until the process starts again and SQLite recovers the log. These errors are
// faults of KindInternal, which the HTTP layer answers with a 500 even past a
// request's deadline: the write may have landed, and "try again" would repeat it.

// errLogUnsynced marks the errors of a failed sync of the log.
var errLogUnsynced = errors.New("the write-ahead log could not be synced; " +
	"the store takes no more writes until warpreg restarts")

// synced is a committed batch's callers, waiting for the log's sync.
type synced struct {
	jobs    []*job
	changed map[string]bool // accounts whose change logs the batch appended to
}

// logSyncer answers committed batches' callers once the log holds their frames on
// disk, until the writer closes s.syncs; then it closes s.syncDone.
func (s *Store) logSyncer() {
	defer close(s.syncDone)
	var wal logFile
	defer wal.close()
	for b := range s.syncs {
		waiting := []synced{b}
	more:
		for {
			select {
			case b, ok := <-s.syncs:
				if !ok {
					break more
				}
				waiting = append(waiting, b)
			default:
				break more
			}
		}
		cause, _ := s.unsynced.Load().(error)
		if cause == nil {
			if cause = syncLog(&wal, s.walPath); cause != nil {
				s.log.Error("sync the write-ahead log; no more writes are taken", "err", cause)
				s.unsynced.Store(cause)
			}
		}
		var err error
		if cause != nil {
			err = logFault("committed, but whether it is durable is unknown", cause)
		}
		for _, b := range waiting {
			for accountID := range b.changed { // committed: readers may see it already
				s.hub.Publish(accountID)
			}
			for _, j := range b.jobs {
				j.done <- err
			}
		}
	}
}

// stopped returns the error that stopped the store's writes (see errLogUnsynced),
// or nil.
func (s *Store) stopped() error {
	if cause, _ := s.unsynced.Load().(error); cause != nil {
		return logFault("refused", cause)
	}
	return nil
}

// logFault is the error of a write that a failed sync of the log stopped or left
// uncertain: a fault, which the HTTP layer answers with a 500 whatever the time.
func logFault(what string, cause error) error {
	return &device.Error{Kind: device.KindInternal, Message: "internal error",
		Err: fmt.Errorf("%s: %w (%v)", what, errLogUnsynced, cause)}
}

// logPath returns the name of the write-ahead log of db's main database: its file's
// name as SQLite resolved it, symbolic links followed, and "-wal". The path the
// store was opened with may be a link, beside which there is no log.
func logPath(ctx context.Context, db *sql.DB) (string, error) {
	var file string
	err := db.QueryRowContext(ctx, `SELECT file FROM pragma_database_list
		WHERE name = 'main'`).Scan(&file)
	if err == nil && file == "" {
		err = errors.New("the database has no file")
	}
	if err != nil {
		return "", fmt.Errorf("find the write-ahead log: %w", err)
	}
	return file + "-wal", nil
}

// syncLog syncs the log file at path (a variable for tests).
var syncLog = func(f *logFile, path string) error { return f.sync(path) }

// logFile is a descriptor of the write-ahead log, opened at its first sync. SQLite
// takes no locks on the log file itself (they are on the database and the -shm
// file), so a descriptor of it can be opened and closed without touching them.
type logFile struct {
	f *os.File
}

// sync syncs the log at path. SQLite removes the log when the last connection to
// the database closes, and the next one creates it anew: the descriptor is checked
// against the file the path names before each sync, so that a sync is never of a
// log that is gone.
func (l *logFile) sync(path string) error {
	if l.f != nil {
		held, err1 := l.f.Stat()
		named, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(held, named) {
			l.close()
		}
	}
	if l.f == nil {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		l.f = f
	}
	return l.f.Sync()
}

func (l *logFile) close() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
