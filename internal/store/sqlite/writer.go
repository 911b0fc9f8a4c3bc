package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// maxBatch bounds how many queued write transactions one commit may carry.
const maxBatch = 128

// errClosed is returned by Update after Close.
var errClosed = errors.New("sqlite store is closed")

// job is one caller's write transaction, waiting for the writer.
type job struct {
	ctx  context.Context
	fn   func(tx device.Tx) error
	done chan error

	// state settles whether the writer runs the job or its caller gave up on it
	// first: whichever moves it out of jobQueued decides. A caller whose context
	// ends while its job waits in the queue can then return at once, knowing the
	// job will never run, instead of waiting out the transactions ahead of it.
	state atomic.Int32
}

// A job's states.
const (
	jobQueued    = iota
	jobTaken     // the writer runs it and will answer on done
	jobAbandoned // its caller returned; the writer skips it
)

// Update runs fn in a write transaction. Transactions queue for one writer
// goroutine, which runs all that are waiting inside one SQLite transaction and
// commits them together: a group commit. Each fn still sees the effects of those
// before it and none after, commits or rolls back on its own result, and Update
// returns only once its work is durable, so batching changes throughput, not
// meaning. When ctx ends while the transaction still waits for its turn, Update
// returns ctx's error at once and fn never runs; once the writer has taken it,
// Update waits for its outcome. fn must not call Update, and may run twice (see
// commitBatch). After a failed sync of the log, Update fails at once (see
// logSyncer).
func (s *Store) Update(ctx context.Context, fn func(tx device.Tx) error) error {
	if err := s.stopped(); err != nil {
		return err
	}
	j := &job{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errClosed
	}
	// A job queued while Close runs may come after the writer's last drain: it
	// then never runs. The writer answers every job it takes before it stops.
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return ctx.Err()
		}
		return <-j.done // the writer took it first, and answers
	case <-s.done:
		select {
		case err := <-j.done:
			return err
		default:
			return errClosed
		}
	}
}

// writer runs the queued write transactions in batches until Close. When it has
// been idle for searchMergeAfter since a commit, it merges the search index's
// segments a step at a time (mergeSearch) until there is nothing left to merge or a
// transaction arrives.
func (s *Store) writer() {
	defer func() {
		s.batch.close()
		close(s.syncs)
		<-s.syncDone // every caller answered
		close(s.done)
	}()
	debt := false // a commit may have left the search index segments to merge
	wait := searchMergeAfter
	timer := time.NewTimer(wait)
	timer.Stop()
	for {
		var first *job
		var idle <-chan time.Time
		if debt {
			timer.Reset(wait)
			idle = timer.C
		}
		select {
		case first = <-s.jobs: // waiting transactions come before merging
		default:
			select {
			case first = <-s.jobs:
			case <-s.closed:
				s.drain()
				return
			case <-idle:
				debt, wait = s.mergeSearch(), 0
				s.wrapLog() // merge steps grow the log as batches do
				continue
			}
		}
		timer.Stop()
		batch := []*job{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		s.runBatch(batch)
		s.wrapLog()
		debt, wait = true, searchMergeAfter
	}
}

// drain runs what was queued before Close.
func (s *Store) drain() {
	for {
		select {
		case j := <-s.jobs:
			s.runBatch([]*job{j})
		default:
			return
		}
	}
}

// runBatch runs a batch of queued jobs (see commitBatch) and answers each job
// that the writer took: at once when it failed, after the log's sync when it
// committed (logSyncer). Jobs are taken one at a time, at their turn, so that one
// whose caller gives up while those before it run is skipped and its caller free at
// once; those the batch never reached, as when it could not begin, are taken
// afterwards and answered with the batch's error.
func (s *Store) runBatch(batch []*job) {
	if err := s.stopped(); err != nil { // see logSyncer
		for _, j := range batch {
			if j.take() {
				j.done <- err
			}
		}
		return
	}
	errs := make([]error, len(batch))
	changed := map[string]bool{}
	again, commitErr := s.commitBatch(batch, errs, changed, false)
	if again {
		clear(errs)
		clear(changed)
		_, commitErr = s.commitBatch(batch, errs, changed, true)
	}
	done := synced{changed: changed}
	for i, j := range batch {
		if !j.take() {
			continue // its caller has returned
		}
		if errs[i] == nil {
			errs[i] = commitErr
		}
		if errs[i] != nil {
			j.done <- errs[i]
			continue
		}
		done.jobs = append(done.jobs, j)
	}
	if commitErr != nil {
		return
	}
	s.signalCommit()
	s.syncs <- done // see logSyncer
}

// take claims j for the writer, if its caller has not given up on it first, and
// reports whether the writer holds it.
func (j *job) take() bool {
	return j.state.CompareAndSwap(jobQueued, jobTaken) || j.state.Load() == jobTaken
}

// commitBatch runs the jobs in one transaction and commits it. It records each
// job's own error in errs and returns the error that failed them all.
//
// A job that fails must leave no trace, so with several jobs each would need a
// savepoint of its own; but savepoints cost a batch of enrolments about a sixth of
// the writer's time: SQLite copies every page a job changes into a statement
// journal, and the search index writes its pending rows to a new segment at each
// one. So a batch first runs bare (guarded false). A job that fails without having
// written (SQLite's count of changed rows did not move: an unknown key, a wrong
// secret, most refusals) left nothing to undo, and the batch goes on. The first job
// that fails after writing rolls the whole transaction back, and commitBatch
// reports again for the caller to run the batch again, guarded, each job under a
// savepoint. That is rare (a conflict), and fns already allow a second run
// (device.Store). A single job needs no savepoint either way: its failure is the
// transaction's.
//
// The audit entries and changes of the jobs that succeed are written together at
// the end, and a failed job's are dropped with it (row.Journal.Fork); a job that
// reads the log, or has many entries of its own, writes those waiting sooner, in
// the order of their numbers (tx.writeLog).
func (s *Store) commitBatch(
	batch []*job, errs []error, changed map[string]bool, guarded bool,
) (again bool, err error) {
	ctx := context.Background() // the batch outlives any one caller
	b := s.batch
	if err := b.begin(ctx); err != nil {
		return false, fmt.Errorf("begin transaction: %w", mapError(err))
	}
	rollback := func() { b.rollback(ctx) }
	single := len(batch) == 1
	savepoints := guarded && !single
	// The jobs' reads and the count of changed rows share one reader.
	counter := reader{batch: b}
	var log row.Journal // the entries of the jobs that succeeded (see row.Journal.Fork)
	var before int64    // rows changed on the connection before this job; -1 unknown
	for i, j := range batch {
		if !j.take() {
			continue // abandoned while those before it ran
		}
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if !savepoints && !single {
			before = counter.totalChanges(ctx)
		}
		if savepoints {
			// The entries of the jobs before are written outside this one's savepoint,
			// which its failure would roll back with them (see tx.writeLog).
			if err := counter.writeJournal(ctx, &log); err != nil {
				rollback()
				return false, err
			}
			if err := b.exec(ctx, "SAVEPOINT job"); err != nil {
				rollback()
				return false, fmt.Errorf("savepoint: %w", err)
			}
		}
		t := &tx{reader: counter, changed: map[string]bool{}, log: log.Fork(), held: &log}
		errs[i] = j.fn(t)
		if errs[i] != nil && !savepoints {
			if !single && before >= 0 && counter.totalChanges(ctx) == before {
				continue // it wrote nothing
			}
			rollback()
			return !single, nil
		}
		if savepoints && errs[i] != nil {
			if err := b.exec(ctx, "ROLLBACK TO job"); err != nil {
				rollback()
				return false, fmt.Errorf("roll back to savepoint: %w", err)
			}
		}
		if savepoints {
			if err := b.exec(ctx, "RELEASE job"); err != nil {
				rollback()
				return false, fmt.Errorf("release savepoint: %w", err)
			}
		}
		if errs[i] == nil {
			log.Absorb(&t.log)
			for a := range t.changed {
				changed[a] = true
			}
		}
	}
	if err := counter.writeJournal(ctx, &log); err != nil {
		rollback()
		return false, err
	}
	if err := writeSearch(ctx, counter); err != nil {
		rollback()
		return false, err
	}
	if err := b.exec(ctx, "COMMIT"); err != nil {
		rollback()
		return false, fmt.Errorf("commit: %w", mapError(err))
	}
	return false, nil
}

// The queries of writeSearch. search_due comes first in each join (CROSS JOIN):
// without statistics for it, the planner read all of registrations, probing
// search_due for each row, and a batch of enrolments took about 0.5 s at a million.
const (
	searchIndexedQuery = `SELECT due.id FROM search_due due
		CROSS JOIN registrations_search_docsize ds ON ds.id = due.id`
	searchWriteQuery = `INSERT INTO registrations_search (rowid, text)
		SELECT r.rowid, go_lower(r.id || char(31) || r.device_name || char(31) ||
			r.user_email || char(31) || r.user_name)
		FROM search_due due CROSS JOIN registrations r ON r.rowid = due.id`
)

// runner runs statements for writeSearch: a reader, whose statements in the
// writer's batch are prepared once, or a migration's transaction (txRunner).
type runner interface {
	queryRow(ctx context.Context, query string, args ...any) rowScanner
	query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	execStmt(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// txRunner runs statements in a transaction without preparing them for later: a
// migration's, which may create the tables they name.
type txRunner struct{ tx *sql.Tx }

func (t txRunner) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t txRunner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, query, args...)
}

func (t txRunner) execStmt(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, query, args...)
}

// writeSearch brings the search index up to date with the registrations that the
// transaction's triggers noted in search_due (see migration 0018), as the last step
// of a write transaction: one segment for the whole transaction. Each one's entry is
// removed if the index holds one (its docsize row says so), and written anew from
// the row if the row is there.
func writeSearch(ctx context.Context, run runner) error {
	var due bool
	err := run.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM search_due)`).Scan(&due)
	if err != nil || !due {
		return wrapSearchError(err)
	}
	rows, err := run.query(ctx, searchIndexedQuery)
	if err != nil {
		return wrapSearchError(err)
	}
	indexed, err := row.All(rows, row.Value[int64])
	if err != nil {
		return wrapSearchError(err)
	}
	for _, id := range indexed {
		_, err := run.execStmt(ctx, `DELETE FROM registrations_search WHERE rowid = ?`, id)
		if err != nil {
			return wrapSearchError(err)
		}
	}
	if _, err = run.execStmt(ctx, searchWriteQuery); err == nil {
		_, err = run.execStmt(ctx, `DELETE FROM search_due`)
	}
	return wrapSearchError(err)
}

func wrapSearchError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("write the search index: %w", mapError(err))
}

// totalChanges returns how many rows the writer's connection has inserted, updated
// or deleted since it opened, triggers' included; -1 when it cannot tell. A
// statement that fails is undone whole and does not count.
func (r reader) totalChanges(ctx context.Context) int64 {
	var n int64
	if err := r.queryRow(ctx, `SELECT total_changes()`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// The search index (registrations_search) adds a segment at every commit that
// changes it, and a search reads every segment's list for each trigram, so
// segments must be merged. FTS5 merges them inside the commits themselves
// (automerge) once a level holds a number of them: at 4 (its default), the search
// index's pages were 12 of the 32 an enrolment's commit wrote at a million
// registrations. Migration 0014 raises that number to 16, which brought them to
// about 7 (enrolments cost about a sixth less CPU), and the writer merges the rest
// when it is idle: searchMergeAfter after its last commit it merges
// searchMergePages at a time, each step a transaction of its own, down to fewer
// than 4 segments a level (FTS5's usermerge), so that searches read as few segments
// as before once a burst of writes is over. A transaction that arrives during a
// step waits for that step, and no other, to end. Migration 0016 keeps the merging
// inside commits incremental: see its comment.
const searchMergeAfter = 200 * time.Millisecond

// searchMergePages is how many pages a merge step writes, about (a variable for
// tests).
var searchMergePages = 256

// mergeSearch runs one step of the search index's merge and reports whether it
// merged anything, and so whether another step may find more to do.
func (s *Store) mergeSearch() bool {
	if s.stopped() != nil { // see logSyncer
		return false
	}
	s.mergeSteps.Add(1)
	ctx := context.Background()
	b := s.batch
	if err := b.begin(ctx); err != nil {
		s.log.Warn("merge the search index", "err", err)
		return false
	}
	committed := false
	defer func() {
		if !committed {
			b.rollback(ctx)
		}
	}()
	r := reader{batch: b}
	before := r.totalChanges(ctx)
	_, err := r.execStmt(ctx, `INSERT INTO registrations_search (registrations_search, rank)
		VALUES ('merge', ?)`, searchMergePages)
	if err != nil {
		s.log.Warn("merge the search index", "err", err)
		return false
	}
	// FTS5 counts two changes or more for a merge that did some work, one otherwise
	// (it rewrites its structure record): a merge that found nothing is rolled back,
	// so that an idle moment after a batch that left nothing to merge costs no commit.
	if after := r.totalChanges(ctx); before < 0 || after-before < 2 {
		return false
	}
	if err := b.exec(ctx, "COMMIT"); err != nil {
		s.log.Warn("merge the search index", "err", err)
		return false
	}
	committed = true
	s.signalCommit()
	return true
}
