package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

// TestListPlansUseIndexes asks PostgreSQL for each list query's plan with sequential
// scans and explicit sorts priced out of reach: if one still appears, no index can
// serve that query, and at a million rows it would scan or sort them all.
func TestListPlansUseIndexes(t *testing.T) {
	st, err := postgres.Open(t.Context(), testdb.PostgresURL(t), slog.New(slog.DiscardHandler))
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
					checkPlan(t, st, &q)
				}
			}
		}
		for _, filtered := range []device.ListQuery{
			{SeenAfter: time.Unix(1, 0)},
			{Search: "ada", After: after},
		} {
			filtered.Sort, filtered.Status, filtered.Limit = sort, device.StatusActive, 50
			checkPlan(t, st, &filtered)
		}
	}
}

// TestDeviceViewsPlanUsesIndex checks the deprecated device list's page query the
// same way: it streams a whole account, so each page must come from an index.
func TestDeviceViewsPlanUsesIndex(t *testing.T) {
	st, err := postgres.Open(t.Context(), testdb.PostgresURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	args := []any{strings.Repeat("a", 32), "", 1000}
	checkQueryPlan(t, st, "device views", postgres.DeviceViewsQuery, args)
}

func checkPlan(t *testing.T, st *postgres.Store, q *device.ListQuery) {
	t.Helper()
	query, args, err := postgres.PageQuery(strings.Repeat("a", 32), q)
	if err != nil {
		t.Fatal(err)
	}
	label := fmt.Sprintf("sort %s desc=%v status=%s", q.Sort, q.Desc, q.Status)
	checkQueryPlan(t, st, label, query, args)
}

// checkQueryPlan fails when query would scan the registrations table or sort.
func checkQueryPlan(t *testing.T, st *postgres.Store, label, query string, args []any) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_sort = off"} {
		if _, err := tx.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, strings.TrimSpace(line))
	}
	for _, line := range plan {
		if strings.Contains(line, "Seq Scan on registrations") || strings.HasPrefix(line, "->  Sort") ||
			strings.HasPrefix(line, "Sort") {
			t.Errorf("%s: plan:\n%s", label, strings.Join(plan, "\n"))
			return
		}
	}
}
