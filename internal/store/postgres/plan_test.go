package postgres_test

import (
	"context"
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

func checkPlan(t *testing.T, st *postgres.Store, q *device.ListQuery) {
	t.Helper()
	query, args, err := postgres.PageQuery(strings.Repeat("a", 32), q)
	if err != nil {
		t.Fatal(err)
	}
	if plan, bad := badPlan(t, st, query, args); bad {
		t.Errorf("sort %s desc=%v status=%s: plan:\n%s", q.Sort, q.Desc, q.Status,
			strings.Join(plan, "\n"))
	}
}

// TestDeviceListPlansUseIndexes is TestListPlansUseIndexes for the physical device
// lists.
func TestDeviceListPlansUseIndexes(t *testing.T) {
	st, err := postgres.Open(t.Context(), testdb.PostgresURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	after := &device.Position{Value: "1", ID: "00000000-0000-4000-8000-000000000000"}
	actives := []device.ActiveFilter{device.ActiveOnly, device.ActiveInclude, device.ActiveExclude}
	for _, sort := range device.DeviceSortFields {
		for _, desc := range []bool{false, true} {
			for _, active := range actives {
				for _, pos := range []*device.Position{nil, after} {
					q := device.DeviceListQuery{Sort: sort, Desc: desc, Active: active,
						Limit: 50, After: pos, WithPolicy: pos == nil}
					checkDevicePlan(t, st, &q)
				}
			}
		}
		for _, filtered := range []device.DeviceListQuery{
			{SeenAfter: time.Unix(1, 0)},
			{Search: "ada", After: after},
			{LastSeenUserEmail: "ada@example.com"},
		} {
			filtered.Sort, filtered.Active, filtered.Limit = sort, device.ActiveOnly, 50
			checkDevicePlan(t, st, &filtered)
		}
	}
}

func checkDevicePlan(t *testing.T, st *postgres.Store, q *device.DeviceListQuery) {
	t.Helper()
	query, args, err := postgres.DevicePageQuery(strings.Repeat("a", 32), q)
	if err != nil {
		t.Fatal(err)
	}
	if plan, bad := badPlan(t, st, query, args); bad {
		t.Errorf("sort %s desc=%v active=%s filters=%+v: plan:\n%s", q.Sort, q.Desc, q.Active,
			q, strings.Join(plan, "\n"))
	}
}

// badPlan returns query's plan with sequential scans and explicit sorts priced out
// of reach, and whether it still scans registrations or devices, or sorts.
func badPlan(t *testing.T, st *postgres.Store, query string, args []any) ([]string, bool) {
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
		if strings.Contains(line, "Seq Scan on registrations") ||
			strings.Contains(line, "Seq Scan on devices") || strings.HasPrefix(line, "->  Sort") ||
			strings.HasPrefix(line, "Sort") {
			return plan, true
		}
	}
	return plan, false
}

// TestCandidatePlanUsesIndex checks the query that profile re-evaluation pages
// with, two thousand times over a million registrations.
func TestCandidatePlanUsesIndex(t *testing.T) {
	st, err := postgres.Open(t.Context(), testdb.PostgresURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	args := []any{strings.Repeat("a", 32), "", 500}
	if plan, bad := badPlan(t, st, postgres.CandidatesQuery, args); bad {
		t.Errorf("candidates plan:\n%s", strings.Join(plan, "\n"))
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
	if plan, bad := badPlan(t, st, postgres.DeviceViewsQuery, args); bad {
		t.Errorf("device views: plan:\n%s", strings.Join(plan, "\n"))
	}
}

// TestCountPlansUseIndexes checks the bounded counts of the filters that the
// account's counters do not answer: none may scan the table. (Whether a search
// reads the trigram index is the planner's choice from the table's statistics,
// which an empty test table does not have.)
func TestCountPlansUseIndexes(t *testing.T) {
	st, err := postgres.Open(t.Context(), testdb.PostgresURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, q := range []device.ListQuery{
		{SeenAfter: time.Unix(1, 0)},
		{SeenBefore: time.Unix(1, 0), Status: device.StatusRevoked},
		{Search: "leslie.stroustrup.328659@"},
		{DeviceID: "d", Status: device.StatusAll},
	} {
		query, args := postgres.CountQuery(strings.Repeat("a", 32), &q)
		plan, bad := badPlan(t, st, query, args)
		if bad {
			t.Errorf("count %+v: plan:\n%s", q, strings.Join(plan, "\n"))
		}
	}
}

// TestTokenRegistrationPlanSeeks checks the one-read get, the hottest admin query,
// alone and batched: the token and the registration must each come from an index,
// never a scan.
func TestTokenRegistrationPlanSeeks(t *testing.T) {
	st, err := postgres.Open(t.Context(), testdb.PostgresURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	args := []any{"00000000-0000-4000-8000-000000000000", []byte("hash"), strings.Repeat("a", 32)}
	plan, bad := badPlan(t, st, postgres.TokenRegistrationSelect, args)
	joined := strings.Join(plan, "\n")
	if bad || strings.Contains(joined, "Seq Scan on api_tokens") {
		t.Errorf("token registration plan:\n%s", joined)
	}

	ids := []string{"00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000001"}
	args = []any{ids, [][]byte{[]byte("a"), []byte("b")}, []string{"a", "b"}}
	plan, bad = badPlan(t, st, postgres.TokenBatchSelect, args)
	joined = strings.Join(plan, "\n")
	if bad || strings.Contains(joined, "Seq Scan on api_tokens") {
		t.Errorf("batched token registration plan:\n%s", joined)
	}
}
