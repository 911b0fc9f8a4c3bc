package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func pagingTests() []behaviour {
	return []behaviour{
		{"every sort pages through all rows once in order", testPageEverySort},
		{"a page that ends on the last row has no cursor", testExactPageBoundary},
		{"a cursor past the last row gives an empty page", testCursorPastEnd},
		{"rows changed between pages are neither lost nor repeated", testChangesBetweenPages},
	}
}

func testPageEverySort(t *testing.T, e *env) {
	w := e.newListWorld(t)
	rows := w.truth(t, e)
	listable := len(expect(rows, device.ListQuery{Status: device.StatusAll}))
	runs := []struct {
		status device.Status
		limits []int
	}{
		{device.StatusAll, []int{1, 2, 3, 7, listable, listable + 1}},
		{device.StatusActive, []int{2, 4}},
		{device.StatusRevoked, []int{1, 2}},
	}
	for _, run := range runs {
		for _, f := range device.SortFields {
			for _, desc := range []bool{false, true} {
				for _, limit := range run.limits {
					q := device.ListQuery{Status: run.status, Sort: f, Desc: desc, Limit: limit}
					got := e.listAll(t, w.acct.ID, q)
					if diff := cmp.Diff(ids(expect(rows, q)), ids(got)); diff != "" {
						t.Errorf("List %s: ids in order (-want +got):\n%s", describe(q), diff)
					}
				}
			}
		}
	}
}

func testExactPageBoundary(t *testing.T, e *env) {
	w := e.newListWorld(t)
	rows := w.truth(t, e)
	n := len(expect(rows, device.ListQuery{Status: device.StatusAll}))
	if n%2 != 0 {
		t.Fatalf("world: %d listable rows; this test needs an even number", n)
	}
	for _, f := range device.SortFields {
		q := device.ListQuery{Status: device.StatusAll, Sort: f, Limit: n}
		page := e.list(t, w.acct.ID, q)
		if len(page.Registrations) != n || page.Next != nil {
			t.Errorf("List %s: %d rows, next %+v; want %d rows and no cursor",
				describe(q), len(page.Registrations), page.Next, n)
		}

		q.Limit = n / 2
		first := e.list(t, w.acct.ID, q)
		if first.Next == nil {
			t.Fatalf("List %s: first of two pages has no cursor", describe(q))
		}
		q.After = first.Next
		second := e.list(t, w.acct.ID, q)
		if len(second.Registrations) != n/2 || second.Next != nil {
			t.Errorf("List %s, second page: %d rows, next %+v; want %d rows and no cursor",
				describe(q), len(second.Registrations), second.Next, n/2)
		}
	}
}

func (e *env) list(t *testing.T, accountID string, q device.ListQuery) device.Page {
	t.Helper()
	page, err := e.svc.List(e.ctx, accountID, q)
	if err != nil {
		t.Fatalf("List %s: %v", describe(q), err)
	}
	return page
}

func testCursorPastEnd(t *testing.T, e *env) {
	w := e.newListWorld(t)
	rows := w.truth(t, e)
	for _, f := range device.SortFields {
		for _, desc := range []bool{false, true} {
			q := device.ListQuery{Status: device.StatusAll, Sort: f, Desc: desc, Limit: 5}
			want := expect(rows, q)
			last := want[len(want)-1]
			q.After = &device.Position{Value: device.SortValue(&last, f), ID: last.ID}
			page := e.list(t, w.acct.ID, q)
			if len(page.Registrations) != 0 || page.Next != nil || page.Total != len(want) {
				t.Errorf("List %s after the last row: %d rows, total %d, next %+v; "+
					"want none, %d, nil", describe(q), len(page.Registrations), page.Total,
					page.Next, len(want))
			}
		}
	}
}

// testChangesBetweenPages reads a first page, then deletes the row under the cursor,
// revokes the next row, deletes the last row and enrols rows that sort before and
// after the cursor. The rest of the list must be exactly the rows that now sort
// after the cursor. Each order gets an account of its own, since the changes are
// not undone.
func testChangesBetweenPages(t *testing.T, e *env) {
	for _, f := range device.SortFields {
		for _, desc := range []bool{false, true} {
			w := e.newListWorld(t)
			q := device.ListQuery{Status: device.StatusActive, Sort: f, Desc: desc, Limit: 3}
			before := expect(w.truth(t, e), q)
			page := e.list(t, w.acct.ID, q)
			if diff := cmp.Diff(ids(before[:3]), ids(page.Registrations)); diff != "" {
				t.Fatalf("List %s first page (-want +got):\n%s", describe(q), diff)
			}
			cursor := page.Registrations[2]
			later := before[3:]

			e.clock.Set(w.base.Add(time.Hour))
			gone := []string{cursor.ID, later[len(later)-1].ID}
			must(t, "Delete", e.svc.Delete(e.ctx, w.acct.ID, gone))
			must(t, "Revoke", e.svc.Revoke(e.ctx, w.acct.ID, []string{later[0].ID}))
			w.addSeat(t, e, "hw-new-1/aaa", "Aaron Able", w.base.Add(-time.Hour))
			w.addSeat(t, e, "hw-new-2/zzz", "zz top", w.base.Add(time.Hour))

			q.After = page.Next
			got := e.listAll(t, w.acct.ID, q)
			var want []device.Registration
			whole := device.ListQuery{Status: q.Status, Sort: f, Desc: desc}
			for _, r := range expect(w.truth(t, e), whole) {
				if compareRows(&r, &cursor, f, desc) > 0 {
					want = append(want, r)
				}
			}
			if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
				t.Errorf("List %s after changes: rest of the ids (-want +got):\n%s",
					describe(q), diff)
			}
		}
	}
}

// addSeat enrols a new device for a new user at the given time.
func (w *listWorld) addSeat(t *testing.T, e *env, label, name string, at time.Time) {
	t.Helper()
	e.clock.Set(at)
	hw, local, _ := strings.Cut(label, "/")
	req := enrollRequest(hw, local+"@example.com")
	req.UserName = name
	w.ids[label] = e.enroll(t, e.newEnrollKey(t, w.acct.ID, false), req).Registration.ID
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
