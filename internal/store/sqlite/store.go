// Package sqlite stores warpreg's data in an embedded SQLite database through a
// pure-Go driver, so that no C toolchain is needed.
//
// The database runs in WAL mode with foreign keys on. Writes go through one
// connection that begins IMMEDIATE transactions, so writers queue in this process
// instead of failing with "database is locked"; a busy timeout covers writers in
// other processes, such as the CLI while a server runs. Reads use a pool of
// their own and see the last committed state.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/notify"
	"github.com/warpreg/warpreg/internal/store/row"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a device.Store on one SQLite database file.
type Store struct {
	reader
	write    *sql.DB
	read     *sql.DB
	lists    reader // a pool of its own for list queries; see Open
	listDB   *sql.DB
	listGate chan struct{} // turns on listDB; see listTurn
	batch    *batchConn    // the writer's connection; see commitBatch
	ckpt     *sql.DB       // the checkpointer's connection; see checkpointer
	prefetch *prefetcher
	path     string
	log      *slog.Logger
	hub      *notify.Hub

	jobs   chan *job     // write transactions waiting for the writer
	closed chan struct{} // closed by Close, to stop the writer
	done   chan struct{} // closed when the writer has stopped

	syncs    chan synced   // committed batches waiting for the log's sync; see logSyncer
	syncDone chan struct{} // closed when logSyncer has stopped
	walPath  string        // the write-ahead log's file, as SQLite names it; see logPath
	unsynced atomic.Value  // the cause of a failed sync of the log, which stops writes

	committed chan struct{} // a commit grew the write-ahead log; see checkpointer
	ckptDone  chan struct{} // closed when the checkpointer has stopped
	syncFile  *os.File      // the database file, for the checkpointer's syncs; see Open

	wrapRequest atomic.Pointer[string] // the mode of the wrap the writer should make; see wrapFor
	mergeSteps  atomic.Int64           // merge steps of the search index tried; see mergeSearch
	closing     atomic.Bool            // set by the first Close
	counts      countMemos             // of the lists' pool's connections
}

var registerFuncs sync.Once

// registerFunctions registers the SQL functions that the migrations' triggers
// call, once per process.
func registerFunctions() {
	registerFuncs.Do(func() {
		// SQLite's lower() folds ASCII only; search folds like Go and PostgreSQL.
		sqlite.MustRegisterDeterministicScalarFunction("go_lower", 1, goLower)
		sqlite.MustRegisterScalarFunction("go_candidate", 2, goCandidate)
	})
}

// Open opens (creating if needed) the database at path and applies any pending
// migrations.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	registerFunctions()
	if err := refuseForeign(ctx, path); err != nil {
		return nil, err
	}
	// What is open so far, closed should Open fail.
	var opened []func() error
	fail := func(err error) (*Store, error) {
		for _, c := range opened {
			c()
		}
		return nil, err
	}
	// One goroutine runs every write transaction, on one connection (batchConn); the
	// second serves the writer's checkpoints, the migrations and bulk loads' reads of
	// the schema.
	write, err := openDB(path, "immediate", 2, writerCacheKiB, true)
	if err != nil {
		return fail(err)
	}
	opened = append(opened, write.Close)
	readConns := max(4, runtime.GOMAXPROCS(0))
	read, err := openDB(path, "deferred", readConns, readerCacheKiB, false)
	if err != nil {
		return fail(err)
	}
	opened = append(opened, read.Close)
	ckpt, err := openCheckpointer(path)
	if err != nil {
		return fail(err)
	}
	opened = append(opened, ckpt.Close)
	// Lists get connections of their own: a list whose filter matches most of a
	// large account counts every match, and must not hold up the point reads that
	// gets, credential checks and heartbeats need.
	// Each list runs in a read transaction, which holds its connection throughout,
	// and one connection more prepares statements for the cache meanwhile.
	listDB, err := openDB(path, "deferred", listConns+1, listCacheKiB, false)
	if err != nil {
		return fail(err)
	}
	opened = append(opened, listDB.Close)
	prefetch, err := openPrefetcher(path, log)
	if err != nil {
		return fail(err)
	}
	opened = append(opened, prefetch.close)
	s := &Store{
		reader: reader{cache: newStmtCache(read, readConns)}, write: write, read: read,
		lists: reader{cache: &stmtCache{db: listDB}, grams: newTrigramStats(),
			sets: newCandidateSets()},
		listDB: listDB, listGate: make(chan struct{}, listConns),
		batch: &batchConn{db: write}, ckpt: ckpt, path: path, log: log,
		hub: notify.NewHub(), jobs: make(chan *job, maxBatch), closed: make(chan struct{}),
		done: make(chan struct{}), committed: make(chan struct{}, 1),
		syncs: make(chan synced, maxBatch), syncDone: make(chan struct{}),
		ckptDone: make(chan struct{}), prefetch: prefetch,
	}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	// The point reads' own connections, opened once the schema is there. Without
	// them, point reads take the read pool as every other read does.
	if p, err := openPointPool(path, readConns, readerCacheKiB); err != nil {
		log.Warn("open connections for point reads", "err", err)
	} else {
		s.point = p
		opened = append(opened, func() error { p.close(); return nil })
	}
	s.optimize(ctx)
	// The checkpointer syncs the database file through a descriptor of its own. It
	// stays open until every connection is closed (Close): a close(2) of any
	// descriptor of a file drops all of this process's POSIX locks on it, SQLite's
	// too, and another process could then take the database for unused and remove
	// its write-ahead log while this one still writes to it.
	if f, err := os.Open(path); err != nil {
		// The log's syncs (logSyncer) still make every commit durable; only the wrap is
		// slower.
		log.Warn("open the database file to sync it after checkpoints", "err", err)
	} else {
		s.syncFile = f
		opened = append(opened, f.Close)
	}
	// The migrations and the statistics committed without syncing the log (see
	// logSyncer): sync it before the first caller can read what they wrote.
	if s.walPath, err = logPath(ctx, write); err != nil {
		return fail(err)
	}
	var wal logFile
	err = syncLog(&wal, s.walPath)
	wal.close()
	if err != nil {
		return fail(fmt.Errorf("sync the write-ahead log: %w", err))
	}
	go s.logSyncer()
	go s.writer()
	s.signalCommit() // for what the migrations wrote
	go s.checkpointer()
	if err := s.indexDue(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// busyTimeout is how long a connection waits for a lock another process holds
// (SQLite's busy timeout) before it fails with "database is locked".
const busyTimeout = 10 * time.Second

// optimize refreshes the planner statistics where they are stale, sampled
// (analysis_limit), as SQLite advises for long-lived connections: cheap at start,
// even at a million rows. It writes, so it needs the write lock; when another
// process holds it, the statistics wait for the next start rather than the start
// for the lock (up to the busy timeout, for a command that may only read).
func (s *Store) optimize(ctx context.Context) {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		s.log.Warn("refresh planner statistics", "err", err)
		return
	}
	defer conn.Close()
	const optimize = `PRAGMA busy_timeout = 0; PRAGMA analysis_limit = 400;
		PRAGMA optimize = 0x10002`
	_, err = conn.ExecContext(ctx, optimize)
	reset := fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeout.Milliseconds())
	if _, resetErr := conn.ExecContext(ctx, reset); resetErr != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn }) // not back to the pool
	}
	switch {
	case errors.Is(mapError(err), device.ErrBusy):
		s.log.Info("planner statistics left for later: another connection holds the write lock")
	case err != nil:
		s.log.Warn("refresh planner statistics", "err", err)
	}
}

// Page cache per connection, in KiB. SQLite's default (2 MiB) makes a write to a
// table with ten indexes over a million rows read and spill pages on every
// statement; the writer, which touches the most pages, gets the most. Each cached page
// holds about twice its size in resident memory (the allocator rounds a page and its
// header up), so these sizes are what keeps the server's peak RSS within budget.
//
// The lists' connections get less than the other readers. A list runs in a read
// transaction, and the lists' caches then fill where, statement by statement, they
// had held about half as much (measured, not explained): with three of 4 MiB, the
// server peaked at 218 MB over the benchmark's runs, against 155 before; with 2 MiB,
// at 192 MB on a copy of the seed after lists, heartbeats, enrolments and the blend.
const (
	writerCacheKiB = 16 << 10
	readerCacheKiB = 4 << 10
	listCacheKiB   = 2 << 10
)

// listConns is how many lists run at once, each on a connection of the lists' pool.
const listConns = 2

// ListRegistrations runs on the lists' own pool, in turn (see listTurn).
func (s *Store) ListRegistrations(
	ctx context.Context, accountID string, q device.ListQuery,
) (device.Page, error) {
	if err := s.listTurn(ctx); err != nil {
		return device.Page{}, err
	}
	defer s.listDone()
	conn, err := s.listDB.Conn(ctx)
	if err != nil {
		return device.Page{}, fmt.Errorf("list registrations: %w", mapError(err))
	}
	defer conn.Close()
	r := s.lists
	r.counts = s.countMemo(conn)
	// One read transaction: the page and its count see the same rows, a candidate
	// set the index it was read from (see candidateSets), and a remembered total
	// the data it was counted from (see countMemo).
	if r.tx, err = conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
		return device.Page{}, fmt.Errorf("list registrations: begin: %w", mapError(err))
	}
	defer r.tx.Rollback()
	return r.ListRegistrations(ctx, accountID, q)
}

// countMemo returns the memo of totals of conn, a connection of the lists' pool,
// or nil when conn is no longer usable.
func (s *Store) countMemo(conn *sql.Conn) *countMemo {
	var driverConn any
	err := conn.Raw(func(c any) error {
		driverConn = c
		return nil
	})
	if err != nil {
		return nil
	}
	return s.counts.of(driverConn)
}

// listTurn waits, until ctx ends, for one of the listConns turns that lists take
// for all of their queries. The turns go first come, first served (a channel
// queues its waiters in order), where database/sql hands a freed connection to a
// waiter picked at random: with sixteen lists at once on two connections, some
// waited for many others' queries and the slowest one in a hundred took five
// times the median. A registration list holds one connection for its read
// transaction, a device list takes one for each of its queries in turn, and the pool
// holds one more for preparing statements, so a turn always finds a connection free.
// listDone ends the turn.
func (s *Store) listTurn(ctx context.Context) error {
	select {
	case s.listGate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) listDone() { <-s.listGate }

// openDB opens a pool on path. The writer's pool (writer) leaves checkpoints to
// the checkpointer.
func openDB(path, txlock string, conns, cacheKiB int, writer bool) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_txlock", txlock)
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	// The writer's commits leave the log's sync to logSyncer.
	if writer {
		q.Add("_pragma", "synchronous(NORMAL)")
	} else {
		q.Add("_pragma", "synchronous(FULL)")
	}
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cacheKiB))
	q.Add("_pragma", "temp_store(MEMORY)") // savepoint journals stay off the disk
	if writer {
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	db, err := sql.Open("sqlite", FileURI(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// Close stops the writer, after the transactions already queued, and closes the
// connection pools, then the checkpointer's descriptor of the file.
func (s *Store) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		return errClosed // the first Close closed the channels
	}
	close(s.closed)
	<-s.done
	<-s.ckptDone
	if s.point != nil {
		s.point.close()
	}
	s.cache.close()
	s.lists.cache.close()
	err := errors.Join(s.write.Close(), s.read.Close(), s.listDB.Close(), s.ckpt.Close(),
		s.prefetch.close())
	if s.syncFile != nil {
		s.syncFile.Close() // last: see Open
	}
	return err
}

// FileURI is the SQLite URI of the file at path. SQLite decodes %XX escapes in a
// URI's path and the driver takes what follows a '?' as parameters, so a path that
// holds '%', '?' or '#' names another file unless those are escaped. An absolute
// path gets an empty authority ("file://"), so that one starting "//" is not read as
// a host name.
func FileURI(path string) string {
	if strings.HasPrefix(path, "/") {
		return "file://" + uriPath.Replace(path)
	}
	return "file:" + uriPath.Replace(path)
}

var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// refuseForeign refuses the file at path when it holds tables but no record of
// warpreg's migrations: it is another application's database, and migrating it
// would add warpreg's tables to it (and switch it to WAL). A file that is not there
// yet, or is empty, is warpreg's to create. It reads through a connection of its
// own, without the pools' pragmas, so that a refused file is left as it was.
func refuseForeign(ctx context.Context, path string) error {
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return nil // Open creates it, or says why it cannot
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	db, err := sql.Open("sqlite", FileURI(path)+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	defer db.Close()

	tables, err := userTables(ctx, db)
	if err != nil {
		return fmt.Errorf("read the tables of %s: %w", path, err)
	}
	if len(tables) == 0 {
		return nil
	}
	var ours int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('schema_migrations')
		WHERE name = 'name'`).Scan(&ours)
	if err != nil {
		return fmt.Errorf("read the tables of %s: %w", path, err)
	}
	if ours > 0 {
		return nil
	}
	return fmt.Errorf("%s is not a warpreg database: it holds other tables (%s) and no "+
		"record of warpreg's migrations; give warpreg a database file of its own",
		path, row.FewNames(tables))
}

// userTables returns the names of the tables and views in db, SQLite's own left out.
func userTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
		ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return row.All(rows, row.Value[string])
}

func (s *Store) migrate(ctx context.Context) error {
	const ddl = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`
	if _, err := s.write.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		if applied[strings.TrimPrefix(name, "migrations/")] {
			continue
		}
		if err := s.applyMigration(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// indexDue has the rows left due in search_due (see migration 0018) written to the
// search index by an empty write transaction, which writes them as every batch does
// (writeSearch). warpreg's own write transactions never commit any, but a statement
// run on the file from outside warpreg does; its rows stay out of searches until
// warpreg's next write, or until this at the next start. The check is a read, so a
// start takes the write lock only when there is something to write.
func (s *Store) indexDue(ctx context.Context) error {
	var due bool
	err := s.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM search_due)`).Scan(&due)
	if err == nil && due {
		err = s.Update(ctx, func(device.Tx) error { return nil })
	}
	return wrapSearchError(err)
}

// appliedMigrations returns the names of the migrations already applied, read
// without the write lock: a command run beside a server that is writing, or beside
// another process holding the lock, waits for it only when a migration is pending.
// applyMigration checks again under the lock, as another process may have applied
// it meanwhile.
func (s *Store) appliedMigrations(ctx context.Context) (map[string]bool, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[name] = true
	}
	return applied, rows.Err()
}

// searchDueVersion is the migration from which writes to registrations leave the
// search index to writeSearch.
const searchDueVersion = 18

// applyMigration applies one migration file in its own transaction, unless the
// schema_migrations table records it already. The check runs inside the
// transaction, so two processes starting at once apply it once.
func (s *Store) applyMigration(ctx context.Context, name string) error {
	base := strings.TrimPrefix(name, "migrations/")
	version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
	if err != nil {
		return fmt.Errorf("migration %s: name must start with a number", base)
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read migration %s: %w", base, err)
	}
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", base, err)
	}
	defer sqlTx.Rollback()

	var n int
	err = sqlTx.QueryRowContext(ctx,
		`SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	if _, err := sqlTx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", base, err)
	}
	if version >= searchDueVersion {
		if err := writeSearch(ctx, txRunner{sqlTx}); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	_, err = sqlTx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))`, version, base)
	if err != nil {
		return fmt.Errorf("record migration %s: %w", base, err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", base, err)
	}
	s.log.Info("applied migration", "engine", "sqlite", "migration", base)
	return nil
}

// mapError translates driver errors into the domain's kinds.
func mapError(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return device.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", device.ErrConflict, se.Error())
		}
		if se.Code()&0xff == sqlite3.SQLITE_BUSY {
			return fmt.Errorf("%w: %s", device.ErrBusy, se.Error())
		}
	}
	return err
}
