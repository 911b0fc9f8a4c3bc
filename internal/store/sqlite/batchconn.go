package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// batchConn is the writer's own connection, on which every batch runs
// (commitBatch) between BEGIN IMMEDIATE and COMMIT, with statements prepared on it.
// A *sql.Tx would do the same, but database/sql watches a transaction's context
// from a goroutine of its own, started for every query in it: about 4 % of the
// writer's time in a stream of enrolments, whose transactions read a dozen rows
// each. A query on a *sql.Conn, with a context that cannot end (reader.within), has
// nothing to watch.
type batchConn struct {
	db *sql.DB

	mu    sync.Mutex
	conn  *sql.Conn            // taken from db at the first batch
	stmts map[string]*sql.Stmt // prepared on conn, by query text
}

// open takes the connection from the pool, the first time.
func (b *batchConn) open(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		c, err := b.db.Conn(ctx)
		if err != nil {
			return err
		}
		b.conn, b.stmts = c, map[string]*sql.Stmt{}
	}
	return nil
}

// begin opens the connection if need be and begins a write transaction on it.
func (b *batchConn) begin(ctx context.Context) error {
	if err := b.open(ctx); err != nil {
		return err
	}
	return b.exec(ctx, "BEGIN IMMEDIATE")
}

// rollback ends the transaction begin began. An error may have ended it already
// (SQLite rolls back on some), when ROLLBACK fails and is of no matter.
func (b *batchConn) rollback(ctx context.Context) {
	b.exec(ctx, "ROLLBACK")
}

// stmt returns query prepared on the connection, which begin has opened.
func (b *batchConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.stmts[query]; ok {
		return s, nil
	}
	s, err := b.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	b.stmts[query] = s
	return s, nil
}

// exec runs a statement without arguments on the connection: BEGIN, COMMIT and
// savepoints, prepared once, as they come with every batch.
func (b *batchConn) exec(ctx context.Context, query string) error {
	s, err := b.stmt(ctx, query)
	if err != nil {
		return err
	}
	_, err = s.ExecContext(ctx)
	return err
}

// execOnce runs a statement without preparing it for later: the DDL of a bulk load.
func (b *batchConn) execOnce(ctx context.Context, query string) error {
	_, err := b.conn.ExecContext(ctx, query)
	return err
}

// close gives the connection back to its pool, which the writer does as it stops.
func (b *batchConn) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.stmts {
		s.Close()
	}
	if b.conn != nil {
		b.conn.Close()
	}
	b.conn, b.stmts = nil, nil
}
