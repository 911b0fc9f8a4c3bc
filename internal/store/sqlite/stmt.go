package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps one prepared statement per query text on a pool, so that a
// query is parsed and planned once per connection rather than once per call.
type stmtCache struct {
	db    *sql.DB
	stmts sync.Map // query text -> *sql.Stmt

	// gate holds one token per connection of the pool. Single-row reads take one
	// before they ask the pool for a connection, so they wait in this channel's
	// first-come first-served queue rather than in database/sql's, which hands a
	// freed connection to a waiter picked at random and so gives a busy server a long
	// tail of slow gets. nil means no gate.
	gate chan struct{}
}

// newStmtCache returns a statement cache on db, whose single-row reads queue in
// order for its conns connections.
func newStmtCache(db *sql.DB, conns int) *stmtCache {
	return &stmtCache{db: db, gate: make(chan struct{}, conns)}
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

func (c *stmtCache) close() {
	c.stmts.Range(func(_, s any) bool {
		s.(*sql.Stmt).Close()
		return true
	})
}

// within returns the context for a statement of r: ctx, or inside the writer's batch,
// ctx without its cancellation. The batch holds other callers' jobs too, and SQLite
// answers an interrupted INSERT, UPDATE or DELETE by rolling the whole transaction
// back: one caller's deadline or disconnect mid-statement would undo the jobs before
// it and leave those after it to commit one statement at a time. A job the writer has
// taken runs to its end (see Update); fn still sees its caller's context and may stop
// on its own.
func (r reader) within(ctx context.Context) context.Context {
	if r.batch != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns the cached statement for query, bound to the reader's transaction
// when it has one. Its callers have made ctx the statement's context (within).
func (r reader) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if r.batch != nil {
		return r.batch.stmt(ctx, query)
	}
	s, err := r.cache.get(ctx, query)
	if err != nil || r.tx == nil {
		return s, err
	}
	return r.tx.StmtContext(ctx, s), nil
}

// queryRow runs a single-row query through the statement cache. A preparation
// error surfaces from Scan, as database/sql does for QueryRow.
func (r reader) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	return r.singleRow(ctx, false, query, args)
}

// pointRow is queryRow for a read of one row by its key, which takes microseconds:
// the query runs without ctx's cancellation, on the point pool when the reader has
// one (see pointPool). The driver watches a cancellable context from a goroutine
// of its own, started for each query, which costs more than such a read is worth
// interrupting. The wait for a gate token still ends with ctx; the wait for the
// pool's connection that follows does not, and lasts past ctx's deadline when
// other reads of the pool, which take no token, hold every connection that long.
func (r reader) pointRow(ctx context.Context, query string, args ...any) rowScanner {
	return r.singleRow(ctx, true, query, args)
}

// singleRow runs a single-row query, outside a transaction once it holds a gate
// token (waiting for it until ctx ends), and detached from ctx's cancellation when
// detach is set (see pointRow).
func (r reader) singleRow(ctx context.Context, detach bool, query string, args []any) rowScanner {
	ctx = r.within(ctx)
	point := detach && r.point != nil && r.tx == nil
	var s *sql.Stmt
	if !point {
		var err error
		if s, err = r.stmt(ctx, query); err != nil {
			return errRow{err}
		}
		if r.tx != nil || r.batch != nil || r.cache.gate == nil {
			return s.QueryRowContext(ctx, args...)
		}
	}
	select {
	case r.cache.gate <- struct{}{}:
	case <-ctx.Done():
		return errRow{ctx.Err()}
	}
	if point {
		return gatedRow{r.point.row(query, args), r.cache.gate}
	}
	if detach {
		ctx = context.WithoutCancel(ctx)
	}
	return gatedRow{s.QueryRowContext(ctx, args...), r.cache.gate}
}

// gatedRow gives its gate token back once it is scanned, when the row has given
// its connection back to its pool.
type gatedRow struct {
	row  rowScanner
	gate chan struct{}
}

func (g gatedRow) Scan(dest ...any) error {
	defer func() { <-g.gate }()
	return g.row.Scan(dest...)
}

func (r reader) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = r.within(ctx)
	s, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

func (r reader) execStmt(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = r.within(ctx)
	s, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// rowScanner is what *sql.Row offers, so that errRow can stand in for it.
type rowScanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }
