package sqlite

import (
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestListPlansUseIndexes asks SQLite how it would run each list query and fails
// when one would scan the registrations table or sort in a temporary B-tree: at a
// million rows either costs hundreds of milliseconds a page.
func TestListPlansUseIndexes(t *testing.T) {
	st := openWithLargeStats(t)
	after := &device.Position{Value: "0", ID: "00000000-0000-4000-8000-000000000000"}
	for _, sort := range device.SortFields {
		for _, desc := range []bool{false, true} {
			statuses := []device.Status{device.StatusActive, device.StatusRevoked, device.StatusAll}
			for _, status := range statuses {
				for _, pos := range []*device.Position{nil, after} {
					q := device.ListQuery{Sort: sort, Desc: desc, Status: status, Limit: 50, After: pos}
					checkPlan(t, st, &q, false)
				}
			}
		}
		for _, filtered := range []device.ListQuery{
			{SeenAfter: time.Unix(1, 0)},
			{SeenBefore: time.Unix(1, 0), After: after},
			{Search: "ada"},
		} {
			filtered.Sort, filtered.Status, filtered.Limit = sort, device.StatusActive, 50
			checkPlan(t, st, &filtered, false)
		}
		// A search walks the sort's index, skipping rows by the search index's
		// candidates or not; for a rare term it sorts at most rareCandidates rows
		// that the search index names.
		search := device.ListQuery{Search: "ada", Sort: sort, Status: device.StatusActive,
			Limit: 50}
		for _, pos := range []*device.Position{nil, after} {
			search.After = pos
			checkSearchPlan(t, st, &search, walkIndexed, false)
			checkSearchPlan(t, st, &search, fromIndex, true)
		}
		// A narrow last seen window may be sorted, but read from its index.
		window := device.ListQuery{SeenAfter: time.Unix(1, 0), Sort: sort, Limit: 50}
		for _, pos := range []*device.Position{nil, after} {
			window.After = pos
			checkSearchPlan(t, st, &window, fromSeen, true)
		}
		// Filters that select a handful of rows may sort them, but must not scan.
		for _, selective := range []device.ListQuery{
			{UserIDs: []string{after.ID}},
			{DeviceID: after.ID},
			{IDs: []string{after.ID, after.ID}},
		} {
			selective.Sort, selective.Status, selective.Limit = sort, device.StatusAll, 50
			checkPlan(t, st, &selective, true)
		}
	}
}

// openWithLargeStats opens a fresh store whose planner statistics describe a
// million registrations on 200,000 devices in five accounts, with up to three per
// device and per user, so that the planner chooses as it would on a large
// database. The statistics are written after Open, whose PRAGMA optimize would
// replace them with the empty tables' own, and before any read connection opens,
// so that each loads them.
func openWithLargeStats(t *testing.T) *Store {
	t.Helper()
	st := openEmpty(t)
	fakeLargeStats(t, st)
	return st
}

func fakeLargeStats(t *testing.T, st *Store) {
	t.Helper()
	stats := map[string]string{
		"registrations_live_key":           "1000000 200000 1",
		"registrations_live_seat":          "1000000 2 1",
		"registrations_live_id":            "1000000 200000 1",
		"registrations_live_created":       "1000000 200000 1 1",
		"registrations_live_seen":          "1000000 200000 1 1",
		"registrations_live_user_name":     "1000000 200000 3 1",
		"registrations_live_user_email":    "1000000 200000 3 1",
		"registrations_user":               "1000000 3",
		"sqlite_autoindex_registrations_1": "1000000 1",
	}
	if _, err := st.write.Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.write.Exec(`DELETE FROM sqlite_stat1`); err != nil {
		t.Fatal(err)
	}
	for idx, stat := range stats {
		_, err := st.write.Exec(`INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
			('registrations', ?, ?)`, idx, stat)
		if err != nil {
			t.Fatal(err)
		}
	}
	deviceStats := map[string]string{
		"devices_live_hardware_id":    "200000 40000 1",
		"devices_live_serial":         "200000 40000 1",
		"devices_live_serial_bare":    "1000 500 1",
		"devices_live_id":             "200000 40000 1",
		"devices_live_name":           "200000 40000 2 1",
		"devices_live_client_version": "200000 40000 2000 1",
		"devices_live_user_email":     "200000 40000 2 1",
		"devices_live_seen":           "200000 40000 1 1",
		"devices_live_active":         "200000 40000 20000 1",
		"devices_live_created":        "200000 40000 1 1",
		"sqlite_autoindex_devices_1":  "200000 1",
	}
	for idx, stat := range deviceStats {
		_, err := st.write.Exec(`INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
			('devices', ?, ?)`, idx, stat)
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := st.write.Exec(`INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
		('registrations', 'registrations_device_deleted', '20000 2')`)
	if err != nil {
		t.Fatal(err)
	}
}

func checkPlan(t *testing.T, st *Store, q *device.ListQuery, mayTempSort bool) {
	t.Helper()
	checkSearchPlan(t, st, q, walkSort, mayTempSort)
}

func checkSearchPlan(
	t *testing.T, st *Store, q *device.ListQuery, plan listPlan, mayTempSort bool,
) {
	t.Helper()
	query, args, err := pageQuery(strings.Repeat("a", 32), q, plan, trigramQuery(q.Search), 0)
	if err != nil {
		t.Fatal(err)
	}
	if plan, bad := badPlan(t, st, query, args, mayTempSort); bad {
		t.Errorf("sort %s desc=%v status=%s filters=%+v: plan %q", q.Sort, q.Desc, q.Status,
			q, strings.Join(plan, "; "))
	}
}

// badPlan returns query's plan, and whether it scans the registrations (r) or
// devices (d) table or, unless mayTempSort, sorts in a temporary B-tree.
func badPlan(t *testing.T, st *Store, query string, args []any, mayTempSort bool) ([]string, bool) {
	t.Helper()
	rows, err := st.read.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	for _, step := range plan {
		scan := false
		for _, alias := range []string{"r", "d"} {
			scan = scan || step == "SCAN "+alias ||
				strings.HasPrefix(step, "SCAN "+alias+" ") && !strings.Contains(step, "INDEX")
		}
		if scan || strings.Contains(step, "TEMP B-TREE") && !mayTempSort {
			return plan, true
		}
	}
	return plan, false
}

// TestDeviceListPlansUseIndexes is TestListPlansUseIndexes for the physical device
// lists, on statistics that describe 200,000 devices in five accounts.
func TestDeviceListPlansUseIndexes(t *testing.T) {
	st := openWithLargeStats(t)
	after := &device.Position{Value: "1", ID: "00000000-0000-4000-8000-000000000000"}
	actives := []device.ActiveFilter{device.ActiveOnly, device.ActiveInclude, device.ActiveExclude}
	for _, sort := range device.DeviceSortFields {
		for _, desc := range []bool{false, true} {
			for _, active := range actives {
				for _, pos := range []*device.Position{nil, after} {
					q := device.DeviceListQuery{Sort: sort, Desc: desc, Active: active,
						Limit: 50, After: pos, WithPolicy: pos == nil}
					checkDevicePlan(t, st, &q, false)
				}
			}
		}
		for _, filtered := range []device.DeviceListQuery{
			{SeenAfter: time.Unix(1, 0)},
			{SeenBefore: time.Unix(1, 0), After: after},
			{Search: "ada"},
		} {
			filtered.Sort, filtered.Active, filtered.Limit = sort, device.ActiveOnly, 50
			checkDevicePlan(t, st, &filtered, false)
		}
		for _, selective := range []device.DeviceListQuery{
			{LastSeenUserEmail: "ada@example.com"},
			{IDs: []string{after.ID, after.ID}},
		} {
			selective.Sort, selective.Active, selective.Limit = sort, device.ActiveInclude, 50
			checkDevicePlan(t, st, &selective, true)
		}
	}
}

func checkDevicePlan(t *testing.T, st *Store, q *device.DeviceListQuery, mayTempSort bool) {
	t.Helper()
	query, args, err := devicePageQuery(strings.Repeat("a", 32), q)
	if err != nil {
		t.Fatal(err)
	}
	if plan, bad := badPlan(t, st, query, args, mayTempSort); bad {
		t.Errorf("sort %s desc=%v active=%s filters=%+v: plan %q", q.Sort, q.Desc, q.Active,
			q, strings.Join(plan, "; "))
	}
}

// TestCandidatePlanUsesIndex checks the query that profile re-evaluation pages
// with, two thousand times over a million registrations: it must seek in
// registrations_live_id, not scan or sort.
func TestCandidatePlanUsesIndex(t *testing.T) {
	st := openWithLargeStats(t)
	args := []any{strings.Repeat("a", 32), "", 500}
	plan, bad := badPlan(t, st, candidatesQuery, args, false)
	if joined := strings.Join(plan, "; "); bad || !strings.Contains(joined, "registrations_live_id") {
		t.Errorf("candidates plan %q, want a search of registrations_live_id and no sort", joined)
	}
}

// TestDeviceViewsPlanUsesIndex checks the deprecated device list's page query the
// same way: it streams a whole account, so each page must come from the live id index.
func TestDeviceViewsPlanUsesIndex(t *testing.T) {
	st := openWithLargeStats(t)
	args := []any{strings.Repeat("a", 32), "", 1000}
	if plan, bad := badPlan(t, st, deviceViewsQuery, args, false); bad {
		t.Errorf("device views: plan %q", strings.Join(plan, "; "))
	}
}

// TestCountPlansUseIndexes checks the bounded counts of the filters that the
// account's counters do not answer: each must read an index, or the search index's
// candidates, never scan the table (the cap bounds the rows, not the rows read).
func TestCountPlansUseIndexes(t *testing.T) {
	st := openWithLargeStats(t)
	for _, q := range []device.ListQuery{
		{SeenAfter: time.Unix(1, 0)},
		{SeenBefore: time.Unix(1, 0), Status: device.StatusRevoked},
		{Search: "ada"},
		{Search: "ada", SeenAfter: time.Unix(1, 0)},
		{UserIDs: []string{"u"}, Search: "ada"},
		{DeviceID: "d", Status: device.StatusAll},
	} {
		query, args := countQuery(strings.Repeat("a", 32), &q, trigramQuery(q.Search))
		plan, bad := badPlan(t, st, query, args, false)
		if joined := strings.Join(plan, "; "); bad ||
			q.Search != "" && q.UserIDs == nil && !strings.Contains(joined, "VIRTUAL TABLE") {
			t.Errorf("count %+v: plan %q", q, joined)
		}
	}
}

// TestTokenRegistrationPlanSeeks checks the one-read get, the hottest admin query:
// every table in it must be reached by a seek on a unique key, never a scan, and
// the token and the profile from their covering indexes alone (migration 0013).
func TestTokenRegistrationPlanSeeks(t *testing.T) {
	st := openWithLargeStats(t)
	args := []any{"00000000-0000-4000-8000-000000000000", []byte("hash"), strings.Repeat("a", 32)}
	plan, _ := badPlan(t, st, tokenRegistrationSelect, args, false)
	seeks := 0
	for _, step := range plan {
		if strings.HasPrefix(step, "SCAN") || strings.Contains(step, "TEMP B-TREE") {
			t.Fatalf("token registration plan %q: %s", strings.Join(plan, "; "), step)
		}
		if strings.HasPrefix(step, "SEARCH t ") || strings.HasPrefix(step, "SEARCH r ") ||
			strings.HasPrefix(step, "SEARCH p ") {
			seeks++
		}
		if (strings.HasPrefix(step, "SEARCH t ") || strings.HasPrefix(step, "SEARCH p ")) &&
			!strings.Contains(step, "COVERING INDEX") {
			t.Errorf("token registration plan %q: %s reads the table", strings.Join(plan, "; "),
				step)
		}
	}
	if seeks != 3 {
		t.Errorf("token registration plan %q, want a seek for each of t, r and p",
			strings.Join(plan, "; "))
	}
}

// TestWritePlansUseIndex checks that the writes of heartbeats and revocations find
// their rows by id, not through the index on last_seen_at or deleted_at that their
// other conditions name.
func TestWritePlansUseIndex(t *testing.T) {
	st := openWithLargeStats(t)
	id := strings.Repeat("a", 32)
	for _, c := range []struct {
		query string
		args  []any
		index string
	}{
		{touchQuery("registrations", 2), []any{1, id, id}, "sqlite_autoindex_registrations_1"},
		{touchQuery("devices", 2), []any{1, id, id}, "sqlite_autoindex_devices_1"},
		{revokeQuery, []any{1, 1, id, id, nil}, "sqlite_autoindex_registrations_1"},
	} {
		plan, _ := badPlan(t, st, c.query, c.args, false)
		if joined := strings.Join(plan, "; "); !strings.Contains(joined, c.index) {
			t.Errorf("%s: plan %q, want a search of %s", c.query, joined, c.index)
		}
	}
}

// TestSearchWritePlansSeek checks that writeSearch's queries read search_due and
// look each of its rows up, rather than read all of registrations or the search
// index's sizes (search_due has no statistics).
func TestSearchWritePlansSeek(t *testing.T) {
	st := openWithLargeStats(t)
	for query, want := range map[string]string{
		searchIndexedQuery: "SEARCH ds USING INTEGER PRIMARY KEY",
		searchWriteQuery:   "SEARCH r USING INTEGER PRIMARY KEY",
	} {
		plan, _ := badPlan(t, st, query, nil, false)
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, "SCAN due") || !strings.Contains(joined, want) {
			t.Errorf("%s: plan %q, want a scan of due and %s", query, joined, want)
		}
	}
}

// TestSerialStepsPlans: each of DeviceBySerial's queries seeks its own index at a
// large database's statistics. The bare one must not walk devices_live_serial,
// which holds every device that shares a placeholder serial number, to find the few
// without a hardware id.
func TestSerialStepsPlans(t *testing.T) {
	st := openWithLargeStats(t)
	acct := strings.Repeat("a", 32)
	for i, want := range []string{"devices_live_serial", "devices_live_serial_bare"} {
		plan, bad := badPlan(t, st, serialQueries[i], []any{acct, "Default string"}, false)
		if bad || !strings.HasPrefix(plan[0], "SEARCH d USING INDEX "+want+" (") {
			t.Errorf("step %d: plan %q, want a search of %s", i, plan, want)
		}
	}
}
