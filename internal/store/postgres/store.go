// Package postgres stores warpreg's data in PostgreSQL through pgx, so that several
// stateless warpreg instances can serve one database.
//
// Write transactions run at SERIALIZABLE isolation and are retried when PostgreSQL
// reports a serialization failure or deadlock, so that concurrent enrolments,
// revocations and deletions behave as if they ran one after another: no duplicate,
// no lost update. Commits that append to the change feed NOTIFY the other
// instances, which LISTEN and wake their stream readers.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/notify"
	"github.com/warpreg/warpreg/internal/store/row"
)

//go:embed migrations/*.sql
var migrations embed.FS

// notifyChannel is the LISTEN/NOTIFY channel of change-feed wake-ups; the payload is
// the account id.
const notifyChannel = "warpreg_changes"

// maxAttempts bounds the retries of a write transaction that lost a serialization
// race; with the backoff below they span a few seconds at most. Contention that
// outlasts them is reported, not hidden.
const maxAttempts = 25

// Store is a device.Store on a PostgreSQL database.
type Store struct {
	reader
	pool *pgxpool.Pool
	log  *slog.Logger
	hub  *notify.Hub

	// tokens batches gets' reads; life ends when the store closes.
	tokens *tokenReads
	life   context.Context
	stop   context.CancelFunc
	done   chan struct{}
}

// Open connects to the database at url, applies pending migrations and starts
// listening for other instances' change notifications.
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	return open(ctx, url, log, 0, nil)
}

// open is Open with gets sharing tokenSlots statements at a time (0: getSlots's
// choice), batched (when not nil) told each statement's number of gets.
func open(
	ctx context.Context, url string, log *slog.Logger, tokenSlots int, batched func(int),
) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	if cfg.MaxConns < 4*int32(runtime.GOMAXPROCS(0)) && !strings.Contains(url, "pool_max_conns") {
		// pgx's default (the CPU count) leaves the server idle while requests wait
		// on round trips; a few connections per core keep it busy. pool_max_conns in
		// the URL still decides when given.
		cfg.MaxConns = 4 * int32(runtime.GOMAXPROCS(0))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{reader: reader{q: pool}, pool: pool, log: log, hub: notify.NewHub(),
		done: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s.life, s.stop = context.WithCancel(context.Background())
	if tokenSlots == 0 {
		tokenSlots = getSlots(cfg.MaxConns)
	}
	s.tokens = startTokenReads(s.life, pool, tokenSlots, batched)
	go s.listen(s.life)
	return s, nil
}

// getSlots is how many statements gets may run at once on a pool of maxConns
// connections: half of them, and two fewer than all, so that with three connections
// or more gets leave one to lists and writes besides the one the listener holds.
func getSlots(maxConns int32) int {
	return max(1, min(int(maxConns)/2, int(maxConns)-2))
}

// TokenRegistration is reader.TokenRegistration, batched with concurrent gets (see
// tokenReads). A transaction's reads are not batched.
func (s *Store) TokenRegistration(
	ctx context.Context, tokenHash []byte, accountID, id string,
) (*device.APIToken, *device.Registration, error) {
	return s.tokens.read(ctx, tokenHash, accountID, id)
}

// Close stops listening and batching gets, and closes the pool.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	s.tokens.wg.Wait()
	s.pool.Close()
	return nil
}

// Update runs fn in a SERIALIZABLE transaction, retrying it from the start when it
// loses a race, so fn must keep no state across runs.
func (s *Store) Update(ctx context.Context, fn func(tx device.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = s.updateOnce(ctx, fn, attempt > 1)
		if !retryable(err) {
			return err
		}
		s.log.DebugContext(ctx, "write transaction lost a race; retrying",
			"attempt", attempt, "sqlstate", sqlState(err))
		backoff := time.Duration(rand.IntN(1<<min(attempt, 4))) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
	s.log.Error("write transaction lost every retry", "attempts", maxAttempts, "err", err)
	return fmt.Errorf("write transaction: gave up after %d attempts: %w", maxAttempts, err)
}

// The advisory lock that write transactions share, and that a retry takes alone: its
// two keys are "warp" in ASCII and "w" for write, so it collides with no one else's.
const (
	writeLockSpace = 0x77617270
	writeLockKey   = 0x77
)

// updateOnce runs fn in one SERIALIZABLE transaction.
//
// Concurrent writers conflict often: every write to an account bumps counters on the
// account's row, and PostgreSQL's conflict detection coarsens to whole pages or
// tables once a transaction has read many rows. Under load a writer could lose every
// retry and the client would see a 500. So every write transaction first takes one
// advisory lock in shared mode, and a retry takes it exclusively: first attempts run
// side by side as before, but a writer that lost once waits for the transactions in
// flight to finish, then runs with no other writer on any instance, and so cannot
// lose again. PostgreSQL queues new shared requests behind a waiting exclusive one,
// so retries are not starved. The lock is taken on the connection, before BEGIN,
// because a SERIALIZABLE snapshot starts at the transaction's first statement and a
// lock waited for inside it would leave the snapshot stale.
func (s *Store) updateOnce(ctx context.Context, fn func(tx device.Tx) error, alone bool) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	lock, unlock := "pg_advisory_lock_shared", "pg_advisory_unlock_shared"
	if alone {
		lock, unlock = "pg_advisory_lock", "pg_advisory_unlock"
	}
	if _, err := conn.Exec(ctx, "SELECT "+lock+"($1, $2)", writeLockSpace, writeLockKey); err != nil {
		return fmt.Errorf("take the write lock: %w", err)
	}
	defer func() {
		bg := context.WithoutCancel(ctx)
		_, err := conn.Exec(bg, "SELECT "+unlock+"($1, $2)", writeLockSpace, writeLockKey)
		if err != nil {
			conn.Conn().Close(bg) // closing the session releases its locks
		}
	}()

	pgTx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	t := &tx{reader: reader{q: pgTx}, tx: pgTx, notified: map[string]bool{}}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.flushJournal(ctx); err != nil {
		return err
	}
	// The commit runs to its end whatever becomes of ctx: a COMMIT cut off by a
	// deadline may have landed or not, and the caller would be told "not made" of a
	// change that was. Once sent, it gets commitTimeout, as a write stuck past that
	// has a server problem that no caller's deadline would fix.
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := pgTx.Commit(commitCtx); err != nil {
		return fmt.Errorf("commit: %w", mapError(err))
	}
	for accountID := range t.notified {
		s.hub.Publish(accountID) // NOTIFY does not reach our own LISTEN promptly enough
	}
	return nil
}

// commitTimeout bounds a COMMIT, which runs past the caller's context (see
// updateOnce).
const commitTimeout = 30 * time.Second

// sqlState returns err's SQLSTATE code, or "" when PostgreSQL did not send one.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// retryable reports whether err is a serialization failure or deadlock, after which
// the transaction may succeed if run again.
func retryable(err error) bool {
	code := sqlState(err)
	return code == "40001" || code == "40P01"
}

// listen relays NOTIFY wake-ups to the hub until ctx is done, reconnecting after
// failures. After each (re)connection it wakes every subscriber, since
// notifications sent while it was away are lost.
func (s *Store) listen(ctx context.Context) {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("change notifications interrupted; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), "UNLISTEN *")
	s.hub.Publish("")
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.hub.Publish(n.Payload)
	}
}

func (s *Store) migrate(ctx context.Context) error {
	if err := s.refuseForeign(ctx); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := s.applyMigration(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// refuseForeign refuses the schema that warpreg would create its tables in (the
// first schema of the connection's search_path that exists, as CREATE TABLE picks
// it) when that schema holds tables but no record of warpreg's migrations: it is
// another application's, and migrating would mix warpreg's tables into it. Tables
// that belong to an extension (PostGIS's spatial_ref_sys, say) do not count. No
// lock is needed: schema_migrations comes in the same transaction as warpreg's
// first tables, so no one sees those without it.
func (s *Store) refuseForeign(ctx context.Context) error {
	var schema *string
	var database string
	err := s.pool.QueryRow(ctx, `SELECT current_schema(), current_database()`).
		Scan(&schema, &database)
	if err != nil {
		return fmt.Errorf("read the current schema: %w", err)
	}
	if schema == nil {
		return nil // the first migration reports that no schema is selected
	}
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
			AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
			AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
				AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY c.relname COLLATE "C"`)
	if err != nil {
		return fmt.Errorf("read the tables of schema %s: %w", *schema, err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read the tables of schema %s: %w", *schema, err)
	}
	if len(tables) == 0 {
		return nil
	}
	var ours bool
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_attribute
		WHERE attrelid = to_regclass(format('%I.schema_migrations', current_schema()))
			AND attname = 'name' AND NOT attisdropped)`).Scan(&ours)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if ours {
		return nil
	}
	return fmt.Errorf("schema %s of database %s is not warpreg's: it holds other tables "+
		"(%s) and no record of warpreg's migrations; give warpreg a database or a schema "+
		"of its own (search_path in the URL)", *schema, database, row.FewNames(tables))
}

// migrationLock is the advisory lock key that serialises migrations of instances
// starting together.
const migrationLock = 0x77617270726567 // "warpreg"

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
	pgTx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", base, err)
	}
	defer pgTx.Rollback(context.WithoutCancel(ctx))

	if _, err := pgTx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migration %s: lock: %w", base, err)
	}
	_, err = pgTx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var n int
	err = pgTx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`,
		version).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	if _, err := pgTx.Exec(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", base, err)
	}
	_, err = pgTx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES ($1, $2, now())`, version, base)
	if err != nil {
		return fmt.Errorf("record migration %s: %w", base, err)
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("migration %s: commit: %w", base, err)
	}
	s.log.Info("applied migration", "engine", "postgres", "migration", base)
	return nil
}

// mapError translates driver errors into the domain's kinds. Serialization failures
// pass through unchanged, for Update to retry.
func mapError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return device.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %s", device.ErrConflict, pe.Message)
	}
	return err
}
