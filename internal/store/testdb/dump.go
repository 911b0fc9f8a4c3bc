package testdb

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the driver the sqlite store registers, for a reader of its own

	"github.com/warpreg/warpreg/internal/store/sqlite"
)

// Dump returns every row of every table of the database as text: tables in name
// order, each row on a line of its own with its columns in table order, rows sorted.
// Two dumps are equal exactly when the committed data is, so a test can show that a
// refused request changed nothing. It reads over a connection of its own and sees
// what the store has committed.
func (db *DB) Dump(t testing.TB) string {
	t.Helper()
	var out string
	var err error
	if db.engine == "postgres" {
		out, err = dumpPostgres(t.Context(), db.dsn)
	} else {
		out, err = dumpSQLite(t.Context(), db.dsn)
	}
	if err != nil {
		t.Fatalf("dump database: %v", err)
	}
	return out
}

func dumpSQLite(ctx context.Context, path string) (string, error) {
	conn, err := sql.Open("sqlite", sqlite.FileURI(path)+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1) // the full-text vocabularies live in this connection's temp schema
	tables, err := sqliteColumn(ctx, conn, `SELECT name FROM sqlite_master
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return "", fmt.Errorf("list tables: %w", err)
	}
	// An FTS5 index keeps its segments in shadow tables (NAME_data, NAME_idx) whose
	// pages change when the store merges segments, the rows indexed staying the
	// same. The dump shows such an index's content instead: each term and the rows
	// that hold it.
	fts, err := sqliteColumn(ctx, conn, `SELECT name FROM sqlite_master
		WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE % USING fts5(%'`)
	if err != nil {
		return "", fmt.Errorf("list full-text indexes: %w", err)
	}
	var b strings.Builder
	for _, table := range tables {
		if slices.ContainsFunc(fts, func(f string) bool {
			return table == f+"_data" || table == f+"_idx"
		}) {
			continue
		}
		if slices.Contains(fts, table) {
			if err := dumpTerms(ctx, conn, &b, table); err != nil {
				return "", err
			}
		}
		rows, err := conn.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", table, err)
		}
		lines, err := sqliteRows(rows)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", table, err)
		}
		writeTable(&b, table, lines)
	}
	return b.String(), nil
}

// dumpTerms writes the terms of the FTS5 index table, each with every row that
// holds it, read through an fts5vocab table in conn's temp schema.
func dumpTerms(ctx context.Context, conn *sql.DB, b *strings.Builder, table string) error {
	vocab := `temp."` + table + `_terms"`
	_, err := conn.ExecContext(ctx, `CREATE VIRTUAL TABLE IF NOT EXISTS `+vocab+
		` USING fts5vocab(main, "`+table+`", instance)`)
	if err != nil {
		return fmt.Errorf("read %s's terms: %w", table, err)
	}
	rows, err := conn.QueryContext(ctx, `SELECT term, doc FROM `+vocab)
	if err != nil {
		return fmt.Errorf("read %s's terms: %w", table, err)
	}
	lines, err := sqliteRows(rows)
	if err != nil {
		return fmt.Errorf("read %s's terms: %w", table, err)
	}
	writeTable(b, table+" terms", lines)
	return nil
}

func sqliteColumn(ctx context.Context, conn *sql.DB, query string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func sqliteRows(rows *sql.Rows) ([]string, error) {
	return scanLines(rows, formatRow)
}

// Lines runs query on db, through either driver, and returns each row as its values
// joined by "|", byte strings in hex and NULL as <nil>: a compact form for tests that
// compare query results rather than dump whole databases.
func Lines(ctx context.Context, db *sql.DB, query string) ([]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return scanLines(rows, func(_ []string, vals []any) string {
		parts := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = hex.EncodeToString(b)
			}
			parts[i] = fmt.Sprint(v)
		}
		return strings.Join(parts, "|")
	})
}

// scanLines reads every row of rows, whatever its columns, into a line by format,
// and closes rows.
func scanLines(rows *sql.Rows, format func(cols []string, vals []any) string) ([]string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		lines = append(lines, format(cols, vals))
	}
	return lines, rows.Err()
}

func dumpPostgres(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
		ORDER BY table_name`)
	if err != nil {
		return "", fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("list tables: %w", err)
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", table, err)
		}
		var cols []string
		for _, f := range rows.FieldDescriptions() {
			cols = append(cols, f.Name)
		}
		lines, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
			vals, err := row.Values()
			return formatRow(cols, vals), err
		})
		if err != nil {
			return "", fmt.Errorf("read %s: %w", table, err)
		}
		writeTable(&b, table, lines)
	}
	return b.String(), nil
}

func writeTable(b *strings.Builder, table string, lines []string) {
	slices.Sort(lines)
	fmt.Fprintf(b, "%s: %d rows\n", table, len(lines))
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
}

// formatRow writes a row as name=value pairs, each value in one unambiguous form.
func formatRow(cols []string, vals []any) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + "=" + formatValue(vals[i])
	}
	return strings.Join(parts, " ")
}

func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return "x'" + hex.EncodeToString(v) + "'"
	case string:
		return strconv.Quote(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprintf("%v", v)
	}
}
