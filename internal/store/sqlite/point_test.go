package sqlite

import (
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

// pointFixture is a table with every kind of value the point reads scan, NULLs
// included, in a store whose point pool is open.
func pointFixture(t *testing.T) *Store {
	t.Helper()
	st := openEmpty(t)
	if st.point == nil {
		t.Fatal("Open did not open the point pool")
	}
	_, err := st.write.ExecContext(t.Context(), `CREATE TABLE point_values
		(k TEXT PRIMARY KEY, s TEXT, i INTEGER, b BLOB, f INTEGER);
		INSERT INTO point_values VALUES
			('full', 'naïve ☃', 1234567890123, x'00ff10', 1),
			('empty', '', 0, x'', 0),
			('null', NULL, NULL, NULL, NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// pointScan is one row read into every destination type.
type pointScan struct {
	S    string
	NS   sql.NullString
	I    int64
	N    int
	NI   sql.NullInt64
	B    []byte
	Flag bool
}

const pointQuery = `SELECT s, s, i, i, i, b, f FROM point_values WHERE k = ? AND i >= ?`

func (p *pointScan) dests() []any {
	return []any{&p.S, &p.NS, &p.I, &p.N, &p.NI, &p.B, &p.Flag}
}

// TestPointRowsReadAsDatabaseSQL reads the same rows through the point pool and
// through database/sql, and wants the same values and the same refusals.
func TestPointRowsReadAsDatabaseSQL(t *testing.T) {
	st := pointFixture(t)
	ctx := t.Context()
	for _, k := range []string{"full", "empty"} {
		var viaPool, viaSQL pointScan
		if err := st.point.row(pointQuery, []any{k, int64(0)}).Scan(viaPool.dests()...); err != nil {
			t.Fatalf("%s: point read: %v", k, err)
		}
		err := st.read.QueryRowContext(ctx, pointQuery, k, 0).Scan(viaSQL.dests()...)
		if err != nil {
			t.Fatalf("%s: database/sql read: %v", k, err)
		}
		if d := cmp.Diff(viaSQL, viaPool); d != "" {
			t.Errorf("%s: point read differs from database/sql (-sql +point):\n%s", k, d)
		}
	}

	// NULL goes into the nullable destinations and nil slices only.
	var ns sql.NullString
	var ni sql.NullInt64
	b := []byte("stale")
	q := `SELECT s, i, b FROM point_values WHERE k = ?`
	if err := st.point.row(q, []any{"null"}).Scan(&ns, &ni, &b); err != nil {
		t.Fatal(err)
	}
	if ns.Valid || ni.Valid || b != nil {
		t.Errorf("NULLs read as %v %v %v, want invalid, invalid and nil", ns, ni, b)
	}
	for name, dest := range map[string]any{"string": new(string), "int64": new(int64),
		"bool": new(bool)} {
		err := st.point.row(`SELECT s FROM point_values WHERE k = ?`, []any{"null"}).Scan(dest)
		if err == nil || !strings.Contains(err.Error(), "NULL") {
			t.Errorf("NULL into %s: %v, want a NULL conversion error", name, err)
		}
	}

	// A blob argument, a NULL one, no row, and the wrong number of destinations.
	var k string
	err := st.point.row(`SELECT k FROM point_values WHERE b = ?`, []any{[]byte{0, 0xff, 0x10}}).
		Scan(&k)
	if err != nil || k != "full" {
		t.Errorf("read by blob: %q, %v; want full", k, err)
	}
	err = st.point.row(`SELECT k FROM point_values WHERE k IS ?`, []any{nil}).Scan(&k)
	if !errors.Is(err, sql.ErrNoRows) || !errors.Is(mapError(err), device.ErrNotFound) {
		t.Errorf("no row: %v, want sql.ErrNoRows, mapped to device.ErrNotFound", err)
	}
	if err := st.point.row(q, []any{"full"}).Scan(&k); err == nil {
		t.Error("three columns into one destination: no error")
	}
	if err := st.point.row(q, []any{1.5}).Scan(&ns, &ni, &b); err == nil {
		t.Error("a float64 argument: no error, want unsupported")
	}
	if err := st.point.row(q, nil).Scan(&ns, &ni, &b); err == nil {
		t.Error("too few arguments: no error")
	}
	var n int64
	var flag bool
	if err := st.point.row(`SELECT s FROM point_values WHERE k = ?`, []any{"full"}).
		Scan(&n); err == nil {
		t.Error("text into an int64: no error, as database/sql would parse it")
	}
	if err := st.point.row(`SELECT 2`, nil).Scan(&flag); err == nil {
		t.Error("2 into a bool: no error")
	}
	if err := st.point.row(`SELECT nonsense FROM`, nil).Scan(&k); err == nil {
		t.Error("a query that does not parse: no error")
	}
}

// TestPointReadsSeeCommitsAndHoldNoSnapshot checks that a point read sees what
// the writer committed after the connection's last read, and that the connection
// keeps no read transaction open between reads: a full checkpoint, which must
// wait for every reader, completes.
func TestPointReadsSeeCommitsAndHoldNoSnapshot(t *testing.T) {
	st := pointFixture(t)
	ctx := t.Context()
	read := func() int64 {
		t.Helper()
		var i int64
		if err := st.point.row(`SELECT i FROM point_values WHERE k = ?`, []any{"empty"}).
			Scan(&i); err != nil {
			t.Fatal(err)
		}
		return i
	}
	for want := range int64(3) {
		for range cap(st.point.conns) { // every connection of the pool, in turn
			if got := read(); got != want {
				t.Fatalf("point read i = %d, want %d", got, want)
			}
		}
		if _, err := st.write.ExecContext(ctx,
			`UPDATE point_values SET i = i + 1 WHERE k = 'empty'`); err != nil {
			t.Fatal(err)
		}
	}

	// The checkpointer's own pass may hold the log for a moment (busy too), so the
	// checkpoint is tried a few times: a snapshot held would make every try busy.
	var busy, logged, done int
	for range 50 {
		err := st.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).
			Scan(&busy, &logged, &done)
		if err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("checkpoint after point reads: busy %d, want 0", busy)
}

// TestPointPoolConcurrentAndClose reads from more goroutines than the pool has
// connections, then closes it: close waits for the reads that hold a connection,
// and a read after it gets errPointClosed.
func TestPointPoolConcurrentAndClose(t *testing.T) {
	st := pointFixture(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 * cap(st.point.conns) {
		wg.Go(func() {
			for range 50 {
				var s string
				err := st.point.row(`SELECT s FROM point_values WHERE k = ?`, []any{"full"}).
					Scan(&s)
				if err == nil && s != "naïve ☃" {
					err = errors.New("read " + s)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	p := st.point
	st.point = nil // Store.Close must not close it twice
	p.close()
	var s string
	if err := p.row(`SELECT s FROM point_values`, nil).Scan(&s); !errors.Is(err, errPointClosed) {
		t.Errorf("read after close: %v, want errPointClosed", err)
	}
}

// TestPointPoolOpensTheStoresFile opens a store at a path that a URI reads
// differently from a file name (a space, a percent sign) and checks that the point
// connections see the same schema as the pools do, not a file of their own.
func TestPointPoolOpensTheStoresFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we ird%2Ename.db")
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.point == nil {
		t.Fatal("the point pool did not open the store's file")
	}
	const q = `SELECT count(*) FROM sqlite_schema WHERE type = 'table'`
	var viaPool, viaSQL int64
	if err := st.point.row(q, nil).Scan(&viaPool); err != nil {
		t.Fatal(err)
	}
	if err := st.read.QueryRowContext(t.Context(), q).Scan(&viaSQL); err != nil {
		t.Fatal(err)
	}
	if viaPool != viaSQL || viaSQL == 0 {
		t.Errorf("tables seen by the point pool: %d, by the read pool: %d", viaPool, viaSQL)
	}
}
