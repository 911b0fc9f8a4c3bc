package sqlite

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// TestCandidateSetsFollowTheIndex checks that the lists keep a term's candidates
// while the search index stays as it was, and read them again after a change to
// the indexed text, even one made by another connection, as another process would
// make it; and that a list's read transaction keeps to the index it began with.
func TestCandidateSetsFollowTheIndex(t *testing.T) {
	st, path := openFixture(t)
	for i := range 3 {
		addSearchRow(t, st, i, "Ann", fmt.Sprintf("Kiosk %d", i))
	}
	addSearchRow(t, st, 3, "Ann", "Lobby")
	q := device.ListQuery{Search: "kiosk", Sort: device.SortByID, Status: device.StatusAll,
		Limit: 50}
	if got := pinnedIDs(t, st, &q); len(got) != 3 {
		t.Fatalf("before the rename: %v, want 3 rows", got)
	}

	// Kept: a second read of the same index is the same set, not a copy.
	match := trigramQuery(q.Search)
	r, done := listReader(t, st)
	first, err := r.sets.read(t.Context(), r, match)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.sets.read(t.Context(), r, match)
	if err != nil || len(first) == 0 || &first[0] != &again[0] {
		t.Errorf("second read of an unchanged index: %v (%v), want the kept set %v",
			again, err, first)
	}

	// Another connection renames Lobby; r's transaction began before that.
	other, err := sql.Open("sqlite", FileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.Exec(`UPDATE devices SET name = 'Kiosk 3' WHERE name = 'Lobby'`)
	if err != nil {
		t.Fatal(err)
	}
	if old, err := r.sets.read(t.Context(), r, match); err != nil || len(old) != len(first) {
		t.Errorf("in the transaction begun before the rename: %v (%v), want %v", old, err,
			first)
	}
	done()
	if got := pinnedIDs(t, st, &q); len(got) != 4 {
		t.Errorf("after the rename: %v, want 4 rows", got)
	}
}

// TestCandidateSetsBounded checks that the kept sets hold at most
// candidateRowsKept rowids, and that a set larger than that is not kept.
func TestCandidateSetsBounded(t *testing.T) {
	c := newCandidateSets()
	stamp := []byte{1}
	c.keep(stamp, "huge", make([]int64, candidateRowsKept+1))
	if len(c.sets) != 0 || c.held != 0 {
		t.Errorf("a set over the bound was kept: %d sets, %d rowids", len(c.sets), c.held)
	}
	half := candidateRowsKept/2 + 1
	c.keep(stamp, "a", make([]int64, half))
	c.keep(stamp, "b", make([]int64, half))
	if len(c.sets) != 1 || c.sets["b"] == nil || c.held != half {
		t.Errorf("after two sets of %d: %d sets, %d rowids; want b alone", half, len(c.sets),
			c.held)
	}
	c.keep([]byte{2}, "c", make([]int64, 10))
	if len(c.sets) != 1 || c.sets["c"] == nil || c.held != 10 {
		t.Errorf("after the index changed: %d sets, %d rowids; want c alone", len(c.sets),
			c.held)
	}
}

// TestUnpinnedCandidateSet checks that go_candidate fails a statement whose handle
// names no pinned set, rather than answer that no row is a candidate.
func TestUnpinnedCandidateSet(t *testing.T) {
	st := openEmpty(t)
	handle, unpin := pin([]int64{2, 5})
	var in, out int
	err := st.read.QueryRow(`SELECT go_candidate(?, 5), go_candidate(?, 4)`, handle, handle).
		Scan(&in, &out)
	if err != nil || in != 1 || out != 0 {
		t.Errorf("pinned: %d, %d (%v); want 1, 0", in, out, err)
	}
	unpin()
	if err := st.read.QueryRow(`SELECT go_candidate(?, 5)`, handle).Scan(&in); err == nil {
		t.Error("an unpinned handle answered")
	}
}
