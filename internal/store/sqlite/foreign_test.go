package sqlite

import (
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOpenRefusesForeignDatabase opens another application's database: Open must
// refuse it, naming the file, and leave it as it was. An empty file is warpreg's
// to fill.
func TestOpenRefusesForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}

	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err == nil {
		st.Close()
		t.Fatal("Open of another application's database: got no error")
	}
	want := path + " is not a warpreg database: it holds other tables (notes)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Open of another application's database: error %q, want it to start %q",
			err, want)
	}
	tables, err := userTables(t.Context(), db)
	if err != nil || !slices.Equal(tables, []string{"notes"}) {
		t.Errorf("tables after the refused Open = %q, %v; want just notes", tables, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("journal mode after the refused Open = %q, %v; want delete", mode, err)
	}

	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // created, then reopened
		st, err := Open(t.Context(), empty, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("Open of an empty file: %v", err)
		}
		st.Close()
	}
}

// TestOddPathsNameTheirFile opens stores at paths holding the characters that a
// SQLite URI gives a meaning ('%', '?', '#'): each must create and use that very
// file, nothing beside it, and a foreign database at such a path is refused.
func TestOddPathsNameTheirFile(t *testing.T) {
	for _, name := range []string{"a%20b.db", "q?x.db", "h#1.db", "p%3f.db", "//"} {
		dir := t.TempDir()
		path := filepath.Join(dir, name)
		if name == "//" { // an absolute path that starts with two slashes
			name = "s.db"
			path = "/" + filepath.Join(dir, name)
		}
		st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		st.Close()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), name) {
				t.Errorf("Open(%q) made %q", name, e.Name())
			}
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("Open(%q): %v", name, err)
		}

		foreign := filepath.Join(dir, "x"+name)
		db, err := sql.Open("sqlite", FileURI(foreign))
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY)`)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st, err := Open(t.Context(), foreign, slog.New(slog.DiscardHandler)); err == nil {
			st.Close()
			t.Errorf("Open(%q) of another application's database: no error", "x"+name)
		}
	}
}
