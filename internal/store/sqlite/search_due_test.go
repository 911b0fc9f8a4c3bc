package sqlite

import (
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// searchIDs returns the ids of the fixture account's registrations that a search for
// term lists, in id order.
func searchIDs(t *testing.T, st *Store, term string) []string {
	t.Helper()
	q := device.ListQuery{Search: term, Sort: device.SortByID, Status: device.StatusAll,
		Limit: 50}
	page, err := st.ListRegistrations(t.Context(), acct, q)
	if err != nil {
		t.Fatal(err)
	}
	return pageIDs(page)
}

// pageIDs returns the ids of a page's registrations, in its order.
func pageIDs(page device.Page) []string {
	var ids []string
	for _, r := range page.Registrations {
		ids = append(ids, r.ID)
	}
	return ids
}

// checkSearchIndexed checks that nothing is left due and that the index holds an
// entry for each registration and no other.
func checkSearchIndexed(t *testing.T, db *sql.DB) {
	t.Helper()
	var due, indexed, rows int
	err := db.QueryRow(`SELECT (SELECT count(*) FROM search_due),
		(SELECT count(*) FROM registrations_search_docsize),
		(SELECT count(*) FROM registrations)`).Scan(&due, &indexed, &rows)
	if err != nil {
		t.Fatal(err)
	}
	if due != 0 || indexed != rows {
		t.Errorf("after commit: %d rows due, %d indexed of %d; want 0 due, all indexed",
			due, indexed, rows)
	}
}

// TestSearchIndexWrittenAtCommit checks that a write transaction's inserts, renames
// and deletes reach the search index when it commits, having waited in search_due
// until then (migration 0018).
func TestSearchIndexWrittenAtCommit(t *testing.T) {
	st, _ := openFixture(t)
	for i := range 4 {
		addSearchRow(t, st, i, fmt.Sprintf("Ann %d", i), "Lobby")
	}
	checkSearchIndexed(t, st.read)
	regID := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", 0x10000+i) }

	err := st.Update(t.Context(), func(dt device.Tx) error {
		ctx := t.Context()
		for _, q := range []string{
			`UPDATE users SET name = 'Zed Quill' WHERE name = 'Ann 1'`,
			`DELETE FROM registrations WHERE id = '` + regID(2) + `'`,
			// Rowids are reused: the deleted row's goes to no one here, but the
			// last row's, deleted, goes to the next insert.
			`DELETE FROM registrations WHERE id = '` + regID(3) + `'`,
		} {
			if _, err := dt.(*tx).exec(ctx, "write", q); err != nil {
				return err
			}
		}
		var due int
		if err := dt.(*tx).queryRow(ctx, `SELECT count(*) FROM search_due`).
			Scan(&due); err != nil {
			return err
		}
		if due != 3 {
			t.Errorf("inside the transaction: %d rows due, want 3", due)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	addSearchRow(t, st, 9, "Ann 9", "Kiosk")
	checkSearchIndexed(t, st.read)

	for term, want := range map[string][]string{
		"zed quill": {regID(1)},
		"ann 1":     nil,
		"ann 2":     nil,
		"ann 3":     nil,
		"kiosk":     {regID(9)},
		"lobby":     {regID(0), regID(1)},
	} {
		if got := searchIDs(t, st, term); !slices.Equal(got, want) {
			t.Errorf("search %q: %v, want %v", term, got, want)
		}
	}
}

// TestSearchDueFromOutsideIndexedAtStart checks that rows written to the file by
// another program, whose triggers only note them as due, are indexed when warpreg
// next opens the file.
func TestSearchDueFromOutsideIndexedAtStart(t *testing.T) {
	st, path := openFixture(t)
	addSearchRow(t, st, 0, "Ann", "Lobby")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", FileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Exec(`UPDATE users SET name = 'Outside Qwyx'
		WHERE id = '00000000-0000-4000-8000-000000000100'`)
	other.Close()
	if err != nil {
		t.Fatal(err)
	}

	st, err = Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkSearchIndexed(t, st.read)
	if got := searchIDs(t, st, "qwyx"); len(got) != 1 {
		t.Errorf("search for the name written outside: %v, want one row", got)
	}
}
