package sqlite

import (
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
	"github.com/warpreg/warpreg/internal/store/storetest"
)

// TestSearchPlansAgree lists the same searches by each plan, whatever the
// candidate counts would choose, after renames and deletions that the triggers
// must carry into the search index: every plan must return what walkSort, the
// old scan with its LIKE on the row's own text, returns.
func TestSearchPlansAgree(t *testing.T) {
	st, path := openFixture(t)
	names := []string{"Zoë Ærø", "ANN-MARIE", "o'brien \"q\"", "100% sure", "a_b\\c", "Ünïcode"}
	for i := range 120 {
		addSearchRow(t, st, i, names[i%len(names)], fmt.Sprintf("Machine %d", i))
	}
	exec(t, st, `UPDATE users SET name = 'Renamed Person' WHERE id =
		'00000000-0000-4000-8000-000000000101'`)
	exec(t, st, `UPDATE devices SET name = 'Relabelled Box' WHERE id =
		'00000000-0000-4000-8000-000000001002'`)
	exec(t, st, `DELETE FROM registrations WHERE id = '00000000-0000-4000-8000-000000010003'`)
	exec(t, st, `UPDATE registrations SET user_id = '00000000-0000-4000-8000-000000000104'
		WHERE id = '00000000-0000-4000-8000-000000010005'`)

	terms := []string{"zoë", "ZOË ÆRØ", "ann-marie", "O'BRIEN", `"q"`, "100%", "% s",
		`a_b\c`, "_b", "renamed person", "relabelled", "machine 2", "ünïcode", "example.com",
		"u4@", "u5@", "000010003", "0-0000-4000", "zz", "ë", "machine 1", "machine 3"}
	// u5's registration moved to u4, 10003 is deleted: they must find nothing.
	none := []string{"zz", "u5@", "000010003"}
	for _, term := range terms {
		for _, sort := range device.SortFields {
			q := device.ListQuery{Search: term, Sort: sort, Status: device.StatusAll, Limit: 500}
			want := planIDs(t, st, &q, walkSort)
			if (len(want) == 0) != slices.Contains(none, term) {
				t.Errorf("search %q: %d rows", term, len(want))
			}
			if trigramQuery(term) == "" {
				continue
			}
			for _, plan := range []listPlan{walkIndexed, fromIndex} {
				if got := planIDs(t, st, &q, plan); !slices.Equal(got, want) {
					t.Errorf("search %q sort %s plan %d: %v, want %v", term, sort, plan, got, want)
				}
			}
			if got := pinnedIDs(t, st, &q); !slices.Equal(got, want) {
				t.Errorf("search %q sort %s with kept candidates: %v, want %v", term, sort, got,
					want)
			}
			// The list itself, which may name only the term's rarest trigrams.
			page, err := st.ListRegistrations(t.Context(), acct, q)
			if err != nil {
				t.Fatal(err)
			}
			got := pageIDs(page)
			if !slices.Equal(got, want) || page.Total != len(want) {
				t.Errorf("list %q sort %s: %v (total %d), want %v", term, sort, got, page.Total,
					want)
			}
		}
	}
	for _, w := range []device.ListQuery{
		{SeenAfter: time.UnixMicro(950)},
		{SeenBefore: time.UnixMicro(920), Status: device.StatusRevoked},
		{SeenAfter: time.UnixMicro(890), SeenBefore: time.UnixMicro(990), Desc: true},
		{SeenAfter: time.UnixMicro(890), Status: device.StatusAll,
			After: &device.Position{Value: "40", ID: "0"}},
		{SeenAfter: time.UnixMicro(890), Desc: true,
			After: &device.Position{Value: "100", ID: "0"}},
	} {
		w.Sort, w.Limit = device.SortByCreatedAt, 7
		want := planIDs(t, st, &w, walkSort)
		if got := planIDs(t, st, &w, fromSeen); len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("window %+v by fromSeen: %v, want %v", w, got, want)
		}
	}

	// A backup (VACUUM INTO) must keep the rowids that the search index names:
	// the first rows are gone, so renumbering them would shift every match.
	exec(t, st, `DELETE FROM registrations WHERE id IN ('00000000-0000-4000-8000-000000000e01',
		'00000000-0000-4000-8000-000000010000', '00000000-0000-4000-8000-000000010001')`)
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := Backup(t.Context(), path, backup, BackupOptions{},
		slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	restored, err := Open(t.Context(), backup, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	for _, term := range terms {
		q := device.ListQuery{Search: term, Sort: device.SortByID, Status: device.StatusAll,
			Limit: 500}
		if trigramQuery(term) == "" {
			continue
		}
		want := planIDs(t, st, &q, walkSort)
		if got := planIDs(t, restored, &q, fromIndex); !slices.Equal(got, want) {
			t.Errorf("search %q in the backup: %v, want %v", term, got, want)
		}
	}

	q := device.ListQuery{Search: "REL", Status: device.StatusAll, Sort: device.SortByID, Limit: 50}
	page, err := st.ListRegistrations(t.Context(), acct, q)
	if err != nil || len(page.Registrations) != 1 || page.Total != 1 {
		t.Errorf("List %q: %d rows, total %d, %v; want 1", q.Search, len(page.Registrations),
			page.Total, err)
	}
}

// acct is the account of storetest.Version3Fixture, which openFixture loads.
const acct = "0123456789abcdef0123456789abcdef"

// openFixture opens a store on a file holding storetest.Version3Fixture, migrated
// to the current version, and returns it and the file's path.
func openFixture(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	migrateTo(t, path, 3, storetest.Version3Fixture)
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// addSearchRow adds a registration, its user and its device to the fixture's
// account, with ids numbered by i, created at i and last seen at 1000-i.
func addSearchRow(t *testing.T, st *Store, i int, userName, deviceName string) {
	t.Helper()
	user := fmt.Sprintf("00000000-0000-4000-8000-%012x", 0x100+i)
	dev := fmt.Sprintf("00000000-0000-4000-8000-%012x", 0x1000+i)
	reg := fmt.Sprintf("00000000-0000-4000-8000-%012x", 0x10000+i)
	exec(t, st, `INSERT INTO users (id, account_id, email, name, groups, created_at,
		updated_at) VALUES (?, ?, ?, ?, '[]', 1, 1)`,
		user, acct, fmt.Sprintf("u%d@Example.COM", i), userName)
	exec(t, st, `INSERT INTO devices (id, account_id, name, model, manufacturer,
		device_type, os_version, os_version_extra, serial_number, hardware_id,
		mac_address, client_version, last_seen_at, created_at, updated_at)
		VALUES (?, `+accountNum+`, ?, '', '', 'mac', '', '', '', ?, '', '1', 1, 1, 1)`,
		dev, acct, deviceName, fmt.Sprintf("hw-x%d", i))
	exec(t, st, `INSERT INTO registrations (id, account_id, device_id, user_id,
		profile_id, slot, key, created_at, updated_at, last_seen_at, policy_updated_at)
		VALUES (?, `+accountNum+`, ?, ?, '00000000-0000-4000-8000-0000000000f1', ?, ?, ?, 1,
		?, 1)`,
		reg, acct, dev, user, user, fmt.Sprintf("key-x%d", i), i, 1000-i)
}

// exec runs a statement as a write transaction of its own, through the writer, so
// that the search index takes in what it wrote (writeSearch).
func exec(t *testing.T, st *Store, query string, args ...any) {
	t.Helper()
	err := st.Update(t.Context(), func(dt device.Tx) error {
		_, err := dt.(*tx).exec(t.Context(), "exec", query, args...)
		return err
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
}

// planIDs returns the ids of the first page of q by plan.
func planIDs(t *testing.T, st *Store, q *device.ListQuery, plan listPlan) []string {
	t.Helper()
	query, args, err := pageQuery(acct, q, plan, trigramQuery(q.Search), 0)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.read.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return rowIDs(t, rows)
}

// pinnedIDs is planIDs for walkIndexed as a list runs it: with the term's
// candidates from the lists' candidate sets, pinned for go_candidate, in a read
// transaction of the lists' pool.
func pinnedIDs(t *testing.T, st *Store, q *device.ListQuery) []string {
	t.Helper()
	r, done := listReader(t, st)
	defer done()
	match := trigramQuery(q.Search)
	set, err := r.sets.read(t.Context(), r, match)
	if err != nil {
		t.Fatal(err)
	}
	handle, unpin := pin(set)
	defer unpin()
	query, args, err := pageQuery(acct, q, walkIndexed, match, handle)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := r.tx.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return rowIDs(t, rows)
}

// listReader returns the lists' reader in a read transaction of their pool, as
// Store.ListRegistrations runs it, and the function that ends the transaction.
func listReader(t *testing.T, st *Store) (reader, func()) {
	t.Helper()
	tx, err := st.listDB.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r := st.lists
	r.tx = tx
	return r, func() { tx.Rollback() }
}

// rowIDs returns the ids of a page query's rows, and closes them.
func rowIDs(t *testing.T, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	regs, err := row.RegistrationViews(rows, acct)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range regs {
		ids = append(ids, g.ID)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestRarestTrigrams checks which trigrams a search names from the statistics: the
// rarest first, then the rarest that do not overlap those taken, three at most.
func TestRarestTrigrams(t *testing.T) {
	st := openEmpty(t)
	r, stats := st.lists, st.lists.grams
	now := time.Now()
	for gram, n := range map[string]int{"abc": 5, "bcd": 1, "cde": 9, "def": 7, "efg": 3,
		"fgh": 20000, "ghi": 2} {
		stats.counts[stats.key(trigramMatch(gram), statCap-1)] = trigramCount{n: n, at: now}
	}
	for term, want := range map[string]string{
		// bcd (1), then ghi (2); every other one shares a letter with one of them.
		"ABCDEFGHI": `"bcd" AND "ghi"`,
		// fgx, gxy and xyz are counted (no rows in this empty database), so fgx
		// comes first, in term order, then bcd; the rest overlap one of the two.
		"abcdefgxyz": `"fgx" AND "bcd"`,
	} {
		budget := countsPerSearch
		got, err := r.rarestTrigrams(t.Context(), term, &budget)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("rarestTrigrams(%q) = %s, want %s", term, got, want)
		}
	}
	// A long term of unknown trigrams counts countsPerSearch of them, no more.
	known := len(stats.counts)
	budget := countsPerSearch
	long := strings.Repeat("qwertyuiopasdfghjklzxcvbnm", 4)
	if _, err := r.rarestTrigrams(t.Context(), long, &budget); err != nil {
		t.Fatal(err)
	}
	if n := len(stats.counts) - known; n != countsPerSearch || budget != 0 {
		t.Errorf("a long term counted %d trigrams (budget left %d), want %d", n, budget,
			countsPerSearch)
	}
	// Full statistics make room rather than grow or empty.
	for i := range statEntries {
		stats.counts[uint64(i)] = trigramCount{n: 1, at: now}
	}
	budget = 1
	if _, err := stats.trigram(t.Context(), r, "zzz", &budget); err != nil {
		t.Fatal(err)
	}
	if n := len(stats.counts); n > statEntries*7/8+1 || n < statEntries/2 {
		t.Errorf("full statistics hold %d entries after a count, want about %d", n,
			statEntries*7/8)
	}
	budget = countsPerSearch
	if got, _ := (reader{}).rarestTrigrams(t.Context(), "abcdefghi", &budget); got != "" {
		t.Errorf("without statistics: %q, want none", got)
	}
}

// TestSearchFoldsLikeGo checks the recheck's shortcut for ASCII terms: the two
// letters outside ASCII that Go lower-cases into it (U+0130 to 'i', the Kelvin
// sign U+212A to 'k') must still be found, as go_lower folds them in the index.
func TestSearchFoldsLikeGo(t *testing.T) {
	st, _ := openFixture(t)
	for i, name := range []string{"\u0130STANBUL office", "\u212Aelvin Lab", "Plain Kelvin"} {
		user := fmt.Sprintf("00000000-0000-4000-8000-%012x", 0x500+i)
		dev := fmt.Sprintf("00000000-0000-4000-8000-%012x", 0x5000+i)
		reg := fmt.Sprintf("00000000-0000-4000-8000-%012x", 0x50000+i)
		exec(t, st, `INSERT INTO users (id, account_id, email, name, groups, created_at,
			updated_at) VALUES (?, ?, ?, ?, '[]', 1, 1)`, user, acct, fmt.Sprintf("f%d@x", i), name)
		exec(t, st, `INSERT INTO devices (id, account_id, name, model, manufacturer,
			device_type, os_version, os_version_extra, serial_number, hardware_id,
			mac_address, client_version, last_seen_at, created_at, updated_at)
			VALUES (?, `+accountNum+`, 'box', '', '', 'mac', '', '', '', ?, '', '1', 1, 1, 1)`,
			dev, acct, fmt.Sprintf("hw-f%d", i))
		exec(t, st, `INSERT INTO registrations (id, account_id, device_id, user_id,
			profile_id, slot, key, created_at, updated_at, last_seen_at, policy_updated_at)
			VALUES (?, `+accountNum+`, ?, ?, '00000000-0000-4000-8000-0000000000f1', ?, ?, 1,
			1, 1, 1)`,
			reg, acct, dev, user, user, fmt.Sprintf("key-f%d", i))
	}
	for term, want := range map[string]int{"istanbul": 1, "KELVIN": 2, "kelvin lab": 1,
		"\u212Aelvin": 2, "elvin": 2, "ice": 1} {
		for _, sort := range device.SortFields {
			q := device.ListQuery{Search: term, Sort: sort, Status: device.StatusAll, Limit: 50}
			page, err := st.ListRegistrations(t.Context(), acct, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Registrations) != want {
				t.Errorf("search %q by %s: %d rows, want %d", term, sort,
					len(page.Registrations), want)
			}
		}
	}
}

// TestPlanProbesAreRemembered checks that a plan's probe of the search index is
// counted once and then read from the statistics, as the pages that follow a first
// page by cursor ask it again, until it is older than probeTTL.
func TestPlanProbesAreRemembered(t *testing.T) {
	st, _ := openFixture(t)
	r := st.lists
	match := trigramQuery("example.com")
	n, err := r.probe(t.Context(), match, indexedCandidates)
	if err != nil || n == 0 {
		t.Fatalf("probe: %d, %v; want some candidates", n, err)
	}
	key := r.grams.key(match, indexedCandidates)
	if c, ok := r.grams.counts[key]; !ok || c.n != n {
		t.Fatalf("probe not remembered: %+v, %v", c, ok)
	}

	r.grams.counts[key] = trigramCount{n: 12345, at: time.Now()}
	if got, _ := r.probe(t.Context(), match, indexedCandidates); got != 12345 {
		t.Errorf("remembered probe: %d, want 12345 from the statistics", got)
	}
	r.grams.counts[key] = trigramCount{n: 12345, at: time.Now().Add(-probeTTL)}
	if got, _ := r.probe(t.Context(), match, indexedCandidates); got != n {
		t.Errorf("stale probe: %d, want %d counted again", got, n)
	}
}

// TestCommonTermPlans plants the statistics of a term too common for fromIndex and
// checks that every sort skips non-candidates while the rarest trigram bounds the
// set, and walks beyond. The counts are over every account, so a term common in
// one account must not send a list of another, which may hold none of it, on an
// unbounded walk (a review found one sort shortcut that did).
func TestCommonTermPlans(t *testing.T) {
	st := openEmpty(t)
	r, stats := st.lists, st.lists.grams
	const term = "gracey"
	plant := func(least int) {
		now := time.Now()
		for _, gram := range trigrams(term) {
			stats.counts[stats.key(trigramMatch(gram), statCap-1)] = trigramCount{n: least, at: now}
		}
		budget := countsPerSearch
		rarest, err := r.rarestTrigrams(t.Context(), term, &budget)
		if err != nil {
			t.Fatal(err)
		}
		stats.counts[stats.key(rarest, rareCandidates)] = trigramCount{n: rareCandidates + 1, at: now}
		stats.counts[stats.key(trigramQuery(term), indexedCandidates)] =
			trigramCount{n: indexedCandidates + 1, at: now}
	}
	for _, least := range []int{boundedCandidates, boundedCandidates + 1} {
		want := walkIndexed
		if least > boundedCandidates {
			want = walkSort
		}
		for _, sort := range device.SortFields {
			plant(least)
			q := device.ListQuery{Search: term, Sort: sort, Limit: 50}
			got, match, err := r.choosePlan(t.Context(), "a", &q)
			if err != nil || got != want || match != trigramQuery(term) {
				t.Errorf("rarest trigram in %d rows, sort %s: plan %d with %q (%v), "+
					"want %d with %q", least, sort, got, match, err, want, trigramQuery(term))
			}
		}
	}
}
