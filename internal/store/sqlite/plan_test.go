package sqlite

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestListPlansUseIndexes asks SQLite how it would run each list query and fails
// when one would scan the registrations table or sort in a temporary B-tree: at a
// million rows either costs hundreds of milliseconds a page.
func TestListPlansUseIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	fakeLargeStats(t, st)
	st.Close()
	// Reopened, every connection loads the statistics.
	st, err = Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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

// TestDeviceViewsPlanUsesIndex checks the deprecated device list's page query the
// same way: it streams a whole account, so each page must come from the live id index.
func TestDeviceViewsPlanUsesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	fakeLargeStats(t, st)
	st.Close()
	st, err = Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	args := []any{strings.Repeat("a", 32), "", 1000}
	checkQueryPlan(t, st, "device views", deviceViewsQuery, args, false)
}

// fakeLargeStats writes planner statistics that describe a million registrations
// in five accounts, with up to three per device and per user, so that the planner
// chooses as it would on a large database.
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
		"registrations_profile":            "1000000 200000",
		"sqlite_autoindex_registrations_1": "1000000 1",
	}
	if _, err := st.write.Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for idx, stat := range stats {
		_, err := st.write.Exec(`INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
			('registrations', ?, ?)`, idx, stat)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func checkPlan(t *testing.T, st *Store, q *device.ListQuery, mayTempSort bool) {
	t.Helper()
	query, args, err := pageQuery(strings.Repeat("a", 32), q)
	if err != nil {
		t.Fatal(err)
	}
	label := fmt.Sprintf("sort %s desc=%v status=%s filters=%+v", q.Sort, q.Desc, q.Status, q)
	checkQueryPlan(t, st, label, query, args, mayTempSort)
}

// checkQueryPlan fails when query would scan the registrations table, or sort in a
// temporary B-tree unless mayTempSort.
func checkQueryPlan(t *testing.T, st *Store, label, query string, args []any, mayTempSort bool) {
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
		scan := step == "SCAN r" || strings.HasPrefix(step, "SCAN r ") && !strings.Contains(step, "INDEX")
		if scan || strings.Contains(step, "TEMP B-TREE") && !mayTempSort {
			t.Errorf("%s: plan %q", label, strings.Join(plan, "; "))
			return
		}
	}
}
