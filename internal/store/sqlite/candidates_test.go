package sqlite

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestCandidateSetsFollowTheIndex checks that the lists keep a term's candidates
// while the search index stays as it was, and read them again after a change to
// the indexed text, even one made by another connection, as another process would
// make it; and that a list's read transaction keeps to the index it began with.
// The row that becomes a candidate has the lowest rowid, so that a set read again
// must be sorted anew for go_candidate's binary search to find it.
func TestCandidateSetsFollowTheIndex(t *testing.T) {
	st, path := openFixture(t)
	addSearchRow(t, st, 0, "Ann", "Lobby")
	for i := 1; i <= 3; i++ {
		addSearchRow(t, st, i, "Ann", fmt.Sprintf("Kiosk %d", i))
	}
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
	// A statement from outside warpreg leaves its rows due for the search index
	// (migration 0018); the store's next write transaction indexes them.
	if err := st.Update(t.Context(), func(device.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if old, err := r.sets.read(t.Context(), r, match); err != nil || len(old) != len(first) {
		t.Errorf("in the transaction begun before the rename: %v (%v), want %v", old, err,
			first)
	}
	done()
	want := planIDs(t, st, &q, walkIndexed) // SQLite reads the candidates itself
	if got := pinnedIDs(t, st, &q); len(want) != 4 || !slices.Equal(got, want) {
		t.Errorf("after the rename: %v, want %v, 4 rows", got, want)
	}

	// Two lists that find the kept set stale at once each read a whole new one.
	exec(t, st, `UPDATE devices SET name = 'Lobby' WHERE name = 'Kiosk 2'`)
	sets := make(chan []int64, 2)
	for range 2 {
		r, done := listReader(t, st)
		go func() {
			defer done()
			set, err := r.sets.read(t.Context(), r, match)
			if err != nil {
				t.Error(err)
			}
			sets <- set
		}()
	}
	for range 2 {
		if set := <-sets; len(set) != 3 || !slices.IsSorted(set) {
			t.Errorf("set after the second rename: %v, want 3 rowids, sorted", set)
		}
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

	// Two lists that read one term's set at once both keep it, the second in place of
	// the first; the room made for it must not count the first one off twice. Which
	// set makes room is random, so this tries many times.
	quarter := candidateRowsKept / 4
	for range 64 {
		c := newCandidateSets()
		c.keep(stamp, "y", make([]int64, 2*quarter))
		c.keep(stamp, "x", make([]int64, 2*quarter))
		c.keep(stamp, "x", make([]int64, 3*quarter))
		held := 0
		for _, set := range c.sets {
			held += len(set)
		}
		if held != c.held || held > candidateRowsKept {
			t.Fatalf("sets hold %d rowids, counted %d, bound %d", held, c.held,
				candidateRowsKept)
		}
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

// TestCountsRemembered checks that a list connection remembers the total of a
// filter it counted while the database stays as it was, and counts again once
// another connection, as another process would, has committed a change.
func TestCountsRemembered(t *testing.T) {
	st, path := openFixture(t)
	for i := range 30 {
		addSearchRow(t, st, i, "Ann", fmt.Sprintf("Kiosk %d", i))
	}
	q := device.ListQuery{Search: "kiosk", Sort: device.SortByID, Status: device.StatusAll,
		Limit: 10}
	total := func() int {
		t.Helper()
		page, err := st.ListRegistrations(t.Context(), acct, q)
		if err != nil {
			t.Fatal(err)
		}
		return page.Total
	}
	if n := total(); n != 30 {
		t.Fatalf("total %d, want 30", n)
	}
	remembered := 0
	for _, m := range st.counts.memos {
		if n, ok := m.memo.totals[countKey(acct, &q)]; ok && n == 30 {
			remembered++
		}
	}
	if remembered != 1 {
		t.Errorf("%d connections remember the total, want 1", remembered)
	}
	q.Sort, q.Desc = device.SortByUserName, true // another sort: the same total
	if n := total(); n != 30 {
		t.Errorf("total by another sort %d, want 30", n)
	}

	// The count of a last seen window that chooses a created_at list's plan.
	seen := device.ListQuery{Sort: device.SortByCreatedAt, SeenAfter: time.UnixMicro(980),
		Status: device.StatusAll, Limit: 10}
	if _, err := st.ListRegistrations(t.Context(), acct, seen); err != nil {
		t.Fatal(err)
	}
	window := device.ListQuery{SeenAfter: seen.SeenAfter, Status: device.StatusAll}
	windows := 0
	for _, m := range st.counts.memos {
		// Rows 0 to 19 of addSearchRow were last seen after 980.
		if n, ok := m.memo.totals["window "+countKey(acct, &window)]; ok && n == 20 {
			windows++
		}
	}
	if windows != 1 {
		t.Errorf("%d connections remember the window's count of 20, want 1", windows)
	}

	other, err := sql.Open("sqlite", FileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.Exec(`UPDATE registrations SET deleted_at = 5 WHERE id =
		'00000000-0000-4000-8000-000000010003'`)
	if err != nil {
		t.Fatal(err)
	}
	for range listConns + 1 { // whichever connection the list is given
		if n := total(); n != 29 {
			t.Errorf("total after a deletion %d, want 29", n)
		}
	}
}

// TestCountKey checks that filters that differ get different keys, and that the
// sort, order, position and page size are not part of one.
func TestCountKey(t *testing.T) {
	at := time.UnixMicro(1000)
	filters := []device.ListQuery{
		{}, {Status: device.StatusAll}, {Search: "a"}, {Search: `a" "b`}, {DeviceID: "a"},
		{SeenAfter: at}, {SeenBefore: at}, {IDs: []string{"a"}}, {UserIDs: []string{"a"}},
		{IDs: []string{"a", "b"}}, {IDs: []string{"a b"}},
		{IDs: []string{"a"}, UserIDs: []string{"b"}},
	}
	seen := map[string]int{}
	for i, q := range filters {
		key := countKey(acct, &q)
		if j, ok := seen[key]; ok {
			t.Errorf("filters %+v and %+v share key %q", filters[j], q, key)
		}
		seen[key] = i
		paged := q
		paged.Sort, paged.Desc, paged.Limit = device.SortByCreatedAt, true, 7
		paged.After = &device.Position{Value: "1", ID: "x"}
		if countKey(acct, &paged) != key {
			t.Errorf("filters %+v: the sort or position changed the key", q)
		}
	}
	if countKey("other", &filters[0]) == countKey(acct, &filters[0]) {
		t.Error("two accounts share a key")
	}
}

// TestCountMemosBounded checks that the pool's memos are at most one per
// connection it can hold, however many connections it has replaced, and that a
// filter by ids, which an index answers and whose key could be 40 KB, is counted
// but not remembered.
func TestCountMemosBounded(t *testing.T) {
	st, _ := openFixture(t)
	q := device.ListQuery{Search: "kiosk", Sort: device.SortByID, Status: device.StatusAll,
		Limit: 1, After: &device.Position{ID: "0"}}
	for range 20 {
		if _, err := st.ListRegistrations(t.Context(), acct, q); err != nil {
			t.Fatal(err)
		}
		// The pool discards the connection, as after a failed statement.
		conn, err := st.listDB.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}
	// Twenty connections came and went; the memos are as many as the pool holds.
	if n := len(st.counts.memos); n != listConns+1 {
		t.Errorf("%d memos for a pool of %d connections", n, listConns+1)
	}

	ids := device.ListQuery{Sort: device.SortByID, Status: device.StatusAll, Limit: 1,
		After: &device.Position{ID: "0"}}
	for i := range device.MaxPerPage {
		ids.IDs = append(ids.IDs, fmt.Sprintf("00000000-0000-4000-8000-%012x", i))
	}
	if _, err := st.ListRegistrations(t.Context(), acct, ids); err != nil {
		t.Fatal(err)
	}
	for _, m := range st.counts.memos {
		if m.memo.bytes > countMemoBytes {
			t.Errorf("a memo holds %d bytes of keys, more than %d", m.memo.bytes, countMemoBytes)
		}
		for key := range m.memo.totals {
			if strings.Contains(key, ids.IDs[0]) {
				t.Errorf("a filter by ids was remembered")
			}
		}
	}

	m := &countMemo{}
	long := strings.Repeat("x", countMemoBytes/3)
	for i := range 10 {
		m.keep(1, fmt.Sprint(i, long), i)
		if m.bytes > countMemoBytes || m.totals[fmt.Sprint(i, long)] != i {
			t.Errorf("after key %d of a third of the bound: %d bytes, %d totals", i,
				m.bytes, len(m.totals))
		}
	}
}
