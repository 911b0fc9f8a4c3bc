package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// pointPool is a few connections that run one-row reads through SQLite's own API,
// past database/sql and the driver. For the read behind every authenticated get,
// those two layers cost more than SQLite does: the driver copies every column's
// name and declared type on each query, boxes every value, and opens each
// connection in serialized mode, which takes a mutex on every call into SQLite
// (about 60 % of the read's CPU in BenchmarkServeGet, against 20 % in SQLite's
// own step). Here a connection is opened without those mutexes, since the pool
// hands it to one goroutine at a time, and its prepared statements bind and read
// their values directly.
type pointPool struct {
	conns chan *pointConn // the idle connections; its capacity is the pool's size
	done  chan struct{}
}

// pointConn is one connection of a pointPool and its prepared statements.
type pointConn struct {
	tls   *libc.TLS
	db    uintptr
	stmts map[string]uintptr // query text -> prepared statement
}

// pointError is an error that SQLite returned to a pointConn.
type pointError struct {
	code int32
	msg  string
}

func (e *pointError) Error() string { return fmt.Sprintf("sqlite: %s (%d)", e.msg, e.code) }

// errPointClosed is what a read gets after the pool has closed.
var errPointClosed = errors.New("sqlite point reads are closed")

// openPointPool opens size read-only connections to the database at path, each
// with a page cache of cacheKiB.
func openPointPool(path string, size, cacheKiB int) (*pointPool, error) {
	p := &pointPool{conns: make(chan *pointConn, size), done: make(chan struct{})}
	for range size {
		c, err := openPointConn(path, cacheKiB)
		if err != nil {
			close(p.done)
			p.closeConns(len(p.conns))
			return nil, err
		}
		p.conns <- c
	}
	return p, nil
}

func openPointConn(path string, cacheKiB int) (*pointConn, error) {
	c := &pointConn{tls: libc.NewTLS(), stmts: map[string]uintptr{}}
	// The same URI as openDB's, without its parameters, so that both name one file
	// whatever the path holds; and no SQLITE_OPEN_CREATE: the file is there.
	name, err := libc.CString(FileURI(path))
	if err != nil {
		c.tls.Close()
		return nil, err
	}
	out := c.tls.Alloc(8)
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, out,
		sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_NOMUTEX|sqlite3.SQLITE_OPEN_URI, 0)
	c.db = libc.AtomicLoadPUintptr(out)
	c.tls.Free(8)
	libc.Xfree(c.tls, name)
	if rc != sqlite3.SQLITE_OK {
		err := c.error(rc)
		c.close()
		return nil, fmt.Errorf("open %s for point reads: %w", path, err)
	}

	// Reads only, and they wait for a writer's lock as the pools' connections do.
	sqlite3.Xsqlite3_busy_timeout(c.tls, c.db, int32(busyTimeout.Milliseconds()))
	for _, pragma := range []string{"PRAGMA query_only = 1",
		fmt.Sprintf("PRAGMA cache_size = %d", -cacheKiB)} {
		if err := c.exec(pragma); err != nil {
			c.close()
			return nil, fmt.Errorf("open %s for point reads: %w", path, err)
		}
	}
	return c, nil
}

// row returns the row that query finds with args: the query runs when the row is
// scanned, on a connection of the pool, waiting for one if all are busy.
func (p *pointPool) row(query string, args []any) rowScanner {
	return pointRow{p, query, args}
}

type pointRow struct {
	p     *pointPool
	query string
	args  []any
}

// Scan reads the first row into dest as database/sql's Row.Scan would, for the
// destination types that the point reads use; sql.ErrNoRows when there is none.
// Once the pool has closed, its connections are gone and only done is ready.
func (r pointRow) Scan(dest ...any) error {
	var c *pointConn
	select {
	case c = <-r.p.conns:
	case <-r.p.done:
		return errPointClosed
	}
	defer func() { r.p.conns <- c }()
	return c.queryRow(r.query, r.args, dest)
}

// close closes every connection, once the reads that hold one give it back.
func (p *pointPool) close() {
	close(p.done)
	p.closeConns(cap(p.conns))
}

func (p *pointPool) closeConns(n int) {
	for range n {
		(<-p.conns).close()
	}
}

// queryRow runs query with args and scans its first row into dest. The statement
// is reset before it returns, so the connection holds no read transaction between
// reads: an open one would keep checkpoints from reaching the log's end.
func (c *pointConn) queryRow(query string, args, dest []any) error {
	stmt, err := c.prepare(query)
	if err != nil {
		return err
	}
	defer sqlite3.Xsqlite3_reset(c.tls, stmt)
	if err := c.bind(stmt, args); err != nil {
		return err
	}

	switch rc := sqlite3.Xsqlite3_step(c.tls, stmt); rc {
	case sqlite3.SQLITE_ROW:
	case sqlite3.SQLITE_DONE:
		return sql.ErrNoRows
	default:
		return c.error(rc)
	}
	if n := int(sqlite3.Xsqlite3_column_count(c.tls, stmt)); n != len(dest) {
		return fmt.Errorf("sqlite: expected %d destination arguments in Scan, not %d",
			n, len(dest))
	}
	for i, d := range dest {
		if err := c.column(stmt, int32(i), d); err != nil {
			return fmt.Errorf("sqlite: scan column %d: %w", i, err)
		}
	}
	return nil
}

// column stores column i of stmt's current row in d. Integers must be stored as
// integers, and a bool as 0 or 1, where database/sql would also parse text.
func (c *pointConn) column(stmt uintptr, i int32, d any) error {
	typ := sqlite3.Xsqlite3_column_type(c.tls, stmt, i)
	null := typ == sqlite3.SQLITE_NULL
	integer := func() (int64, error) {
		if typ != sqlite3.SQLITE_INTEGER {
			return 0, fmt.Errorf("column of type %d into %T", typ, d)
		}
		return sqlite3.Xsqlite3_column_int64(c.tls, stmt, i), nil
	}
	switch d := d.(type) {
	case *sql.NullString:
		d.Valid = !null
		d.String = c.text(stmt, i)
		return nil
	case *sql.NullInt64:
		d.Valid = !null
		if null {
			d.Int64 = 0
			return nil
		}
		var err error
		d.Int64, err = integer()
		return err
	case *[]byte:
		*d = nil
		if !null {
			p, n := sqlite3.Xsqlite3_column_blob(c.tls, stmt, i), c.size(stmt, i)
			*d = bytes.Clone(libc.GoBytes(p, n))
		}
		return nil
	}
	if null {
		return fmt.Errorf("converting NULL to %T is unsupported", d)
	}
	if s, ok := d.(*string); ok {
		*s = c.text(stmt, i)
		return nil
	}
	v, err := integer()
	if err != nil {
		return err
	}
	switch d := d.(type) {
	case *int64:
		*d = v
	case *int:
		*d = int(v)
	case *bool:
		if v != 0 && v != 1 {
			return fmt.Errorf("%d into a bool", v)
		}
		*d = v == 1
	default:
		return fmt.Errorf("unsupported destination %T", d)
	}
	return nil
}

// text returns column i as text, "" for NULL.
func (c *pointConn) text(stmt uintptr, i int32) string {
	p := sqlite3.Xsqlite3_column_text(c.tls, stmt, i)
	if p == 0 {
		return ""
	}
	return string(libc.GoBytes(p, c.size(stmt, i)))
}

func (c *pointConn) size(stmt uintptr, i int32) int {
	return int(sqlite3.Xsqlite3_column_bytes(c.tls, stmt, i))
}

// bind binds args to stmt's parameters, in order. SQLite copies each value
// (SQLITE_TRANSIENT), so the C copies made here are freed at once.
func (c *pointConn) bind(stmt uintptr, args []any) error {
	if n := int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, stmt)); n != len(args) {
		return fmt.Errorf("sqlite: expected %d arguments, got %d", n, len(args))
	}
	for k, a := range args {
		i := int32(k + 1)
		var rc int32
		switch v := a.(type) {
		case nil:
			rc = sqlite3.Xsqlite3_bind_null(c.tls, stmt, i)
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, stmt, i, v)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, stmt, i, int64(v))
		case string:
			p, err := libc.CString(v)
			if err != nil {
				return err
			}
			rc = sqlite3.Xsqlite3_bind_text(c.tls, stmt, i, p, int32(len(v)),
				sqlite3.SQLITE_TRANSIENT)
			libc.Xfree(c.tls, p)
		case []byte:
			if v == nil {
				rc = sqlite3.Xsqlite3_bind_null(c.tls, stmt, i)
				break
			}
			p, err := libc.CString(string(v))
			if err != nil {
				return err
			}
			rc = sqlite3.Xsqlite3_bind_blob(c.tls, stmt, i, p, int32(len(v)),
				sqlite3.SQLITE_TRANSIENT)
			libc.Xfree(c.tls, p)
		default:
			return fmt.Errorf("sqlite: unsupported argument %d of type %T", k+1, a)
		}
		if rc != sqlite3.SQLITE_OK {
			return c.error(rc)
		}
	}
	return nil
}

// prepare returns query's statement on c, preparing it the first time.
func (c *pointConn) prepare(query string) (uintptr, error) {
	if stmt, ok := c.stmts[query]; ok {
		return stmt, nil
	}
	text, err := libc.CString(query)
	if err != nil {
		return 0, err
	}
	out := c.tls.Alloc(8)
	rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, text, -1, sqlite3.SQLITE_PREPARE_PERSISTENT,
		out, 0)
	stmt := libc.AtomicLoadPUintptr(out)
	c.tls.Free(8)
	libc.Xfree(c.tls, text)
	if rc != sqlite3.SQLITE_OK {
		return 0, c.error(rc)
	}
	c.stmts[query] = stmt
	return stmt, nil
}

// exec runs one statement that returns no rows.
func (c *pointConn) exec(query string) error {
	stmt, err := c.prepare(query)
	if err != nil {
		return err
	}
	defer func() {
		sqlite3.Xsqlite3_finalize(c.tls, stmt)
		delete(c.stmts, query)
	}()
	for {
		switch rc := sqlite3.Xsqlite3_step(c.tls, stmt); rc {
		case sqlite3.SQLITE_ROW:
		case sqlite3.SQLITE_DONE:
			return nil
		default:
			return c.error(rc)
		}
	}
}

func (c *pointConn) error(rc int32) error {
	msg := sqlite3.Xsqlite3_errstr(c.tls, rc)
	if c.db != 0 {
		msg = sqlite3.Xsqlite3_errmsg(c.tls, c.db)
	}
	return &pointError{code: rc, msg: libc.GoString(msg)}
}

func (c *pointConn) close() {
	for _, stmt := range c.stmts {
		sqlite3.Xsqlite3_finalize(c.tls, stmt)
	}
	if c.db != 0 {
		sqlite3.Xsqlite3_close_v2(c.tls, c.db)
	}
	c.tls.Close()
}
