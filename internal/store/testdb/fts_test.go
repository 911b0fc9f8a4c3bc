package testdb

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestDumpShowsTermsNotSegments checks that a dump of a full-text index shows what
// it holds, not how its segments lie: merging them leaves the dump as it was, and
// moving terms between rows or indexing another row changes it.
func TestDumpShowsTermsNotSegments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fts.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := func(query string) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), query); err != nil {
			t.Fatal(err)
		}
	}
	run(`CREATE VIRTUAL TABLE search USING fts5(text, content='', contentless_delete=1,
		detail=none, tokenize='trigram')`)
	for i := range 20 { // one segment each
		run(fmt.Sprintf(`INSERT INTO search (rowid, text) VALUES (%d, 'row %d text')`, i+1, i))
	}

	before, err := dumpSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(before, "search terms: ") || strings.Contains(before, "search_data") {
		t.Fatalf("the dump shows the index's pages, or not its terms:\n%s", before)
	}
	run(`INSERT INTO search (search) VALUES ('optimize')`)
	if after, err := dumpSQLite(t.Context(), path); err != nil || after != before {
		t.Fatalf("merging the index's segments changed the dump (%v):\n%s\nthen\n%s",
			err, before, after)
	}
	// Two rows swap their texts: every term is held by as many rows as before.
	run(`DELETE FROM search WHERE rowid IN (1, 2)`)
	run(`INSERT INTO search (rowid, text) VALUES (1, 'row 1 text'), (2, 'row 0 text')`)
	if after, err := dumpSQLite(t.Context(), path); err != nil || after == before {
		t.Fatalf("two rows that swapped their texts left the dump as it was (%v)", err)
	}
	run(`INSERT INTO search (rowid, text) VALUES (99, 'another xyz')`)
	if after, err := dumpSQLite(t.Context(), path); err != nil || after == before {
		t.Fatalf("indexing a row left the dump as it was (%v)", err)
	}
}
