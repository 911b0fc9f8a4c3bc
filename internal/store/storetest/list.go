package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

func listTests() []behaviour {
	return []behaviour{
		{"empty account lists nothing", testListEmpty},
		{"status selects by revocation and never lists deleted rows", testListStatus},
		{"filters select the matching rows", testListFilters},
		{"listed rows carry their read views", testListViews},
		{"a broad filter's total is exact up to the cap, unknown past it", testListCountCap},
	}
}

// testListCountCap imports one registration more than row.CountCap on as many
// devices, all of whose names match a search: the total of that search is unknown,
// for registrations and devices alike, while the status-only total from the
// account's counters stays exact. One deletion brings the search to the cap, which
// is counted exactly.
func testListCountCap(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	var regs []device.Registration
	for i := range row.CountCap + 1 {
		regs = append(regs, device.Registration{
			ID: device.NewID(), DeviceID: device.NewID(), Key: newCurve25519Key(),
			KeyType: device.KeyCurve25519, TunnelType: device.TunnelWireGuard,
			CreatedAt: base, UpdatedAt: base, LastSeenAt: base.Add(time.Duration(i)),
			DeviceName: fmt.Sprintf("Capped Laptop %d", i),
		})
	}
	if _, err := e.svc.Import(e.ctx, a.ID, regs); err != nil {
		t.Fatalf("Import: %v", err)
	}
	totals := func(step string, want int) {
		t.Helper()
		for name, q := range map[string]device.ListQuery{
			"search": {Search: "CAPPED", Sort: device.SortByID, Limit: 10},
			"window": {SeenAfter: base.Add(-time.Second), Sort: device.SortByCreatedAt,
				Limit: 10},
		} {
			page, err := e.store.ListRegistrations(e.ctx, a.ID, q)
			if err != nil || page.Total != want || len(page.Registrations) != 10 {
				t.Errorf("%s, %s: total %d, %d rows, %v; want total %d, 10 rows", step, name,
					page.Total, len(page.Registrations), err, want)
			}
		}
		dq := device.DeviceListQuery{Search: "capped laptop", Active: device.ActiveInclude,
			Sort: device.DeviceSortByID, Limit: 10}
		page, err := e.store.ListDevices(e.ctx, a.ID, dq)
		if err != nil || page.Total != want {
			t.Errorf("%s, devices: total %d, %v; want %d", step, page.Total, err, want)
		}
		all, err := e.store.ListRegistrations(e.ctx, a.ID, device.ListQuery{Sort: device.SortByID,
			Limit: 10})
		if err != nil || all.Total != want && want != device.TotalUnknown ||
			want == device.TotalUnknown && all.Total != row.CountCap+1 {
			t.Errorf("%s, status only: total %d, %v", step, all.Total, err)
		}
	}
	totals("one past the cap", device.TotalUnknown)
	if err := e.svc.Delete(e.ctx, a.ID, []string{regs[0].ID}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := e.svc.DeleteDevice(e.ctx, a.ID, regs[0].DeviceID); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	totals("at the cap", row.CountCap)
}

func testListEmpty(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	for _, s := range []device.Status{device.StatusActive, device.StatusRevoked, device.StatusAll} {
		for _, f := range device.SortFields {
			page, err := e.svc.List(e.ctx, a.ID, device.ListQuery{Status: s, Sort: f, Limit: 1})
			if err != nil {
				t.Fatalf("List(status %s, sort %s): %v", s, f, err)
			}
			if len(page.Registrations) != 0 || page.Total != 0 || page.Next != nil {
				t.Errorf("List(status %s, sort %s) of an empty account = %d rows, "+
					"total %d, next %+v; want none, 0, nil",
					s, f, len(page.Registrations), page.Total, page.Next)
			}
		}
	}
}

func testListStatus(t *testing.T, e *env) {
	w := e.newListWorld(t)
	rows := w.truth(t, e)
	statuses := []device.Status{"", device.StatusActive, device.StatusRevoked, device.StatusAll}
	for _, s := range statuses {
		q := device.ListQuery{Status: s, Limit: device.MaxPerPage}
		got := e.listAll(t, w.acct.ID, q)
		want := expect(rows, q)
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Errorf("List status %q ids (-want +got):\n%s", s, diff)
		}
	}
}

// filterCases are named queries over a listWorld.
func filterCases(w *listWorld) map[string]device.ListQuery {
	at := func(d time.Duration) time.Time { return w.base.Add(d) }
	ms, us := time.Millisecond, time.Microsecond
	id6 := w.ids["hw-6/gus"]
	all := device.StatusAll
	return map[string]device.ListQuery{
		"ids": {Status: all, IDs: []string{
			w.ids["hw-1/ann"], w.ids["hw-2/bob"], w.ids["hw-9/cy"], w.otherID}},
		"repeated ids":       {Status: all, IDs: []string{id6, id6, id6}},
		"a thousand ids":     {Status: all, IDs: thousandIDs(w.ids["hw-1/ann"], id6)},
		"unicode case":       {Status: all, Search: "ZOË"},
		"ids, active only":   {IDs: []string{w.ids["hw-1/ann"], w.ids["hw-2/bob"]}},
		"device":             {Status: all, DeviceID: w.devices["hw-1"]},
		"device and user":    {DeviceID: w.devices["hw-3"], UserIDs: []string{w.users["ann"]}},
		"users":              {Status: all, UserIDs: []string{w.users["ann"], w.users["eve"]}},
		"name, any case":     {Status: all, Search: "SAM LEE"},
		"email fragment":     {Status: all, Search: "Bob@Ex"},
		"device name":        {Status: all, Search: "machine HW-7"},
		"imported device":    {Status: all, Search: "imported laptop"},
		"id fragment":        {Status: all, Search: strings.ToUpper(id6[6:20])},
		"percent literal":    {Status: all, Search: "%"},
		"underscore":         {Status: all, Search: "_"},
		"backslash":          {Status: all, Search: `\`},
		"percent in text":    {Status: all, Search: "0% p"},
		"percent not wild":   {Status: all, Search: "a%b"},
		"underscore literal": {Status: all, Search: "1_0"},
		"no match":           {Status: all, Search: "no such registration"},
		"seen after":         {Status: all, SeenAfter: at(50 * ms)},
		"seen before":        {Status: all, SeenBefore: at(500 * ms)},
		"seen window":        {SeenAfter: at(50 * ms), SeenBefore: at(1500 * ms)},
		"seen to the microsecond": {Status: all,
			SeenAfter: at(123455 * us), SeenBefore: at(123457 * us)},
		"revoked named sam": {Status: device.StatusRevoked, Search: "sam"},
	}
}

func testListFilters(t *testing.T, e *env) {
	w := e.newListWorld(t)
	rows := w.truth(t, e)
	orders := []device.ListQuery{
		{Sort: device.SortByUserName, Limit: 2},
		{Sort: device.SortByLastSeenAt, Desc: true, Limit: 3},
		{Sort: device.SortByID, Limit: device.MaxPerPage},
	}
	for name, f := range filterCases(w) {
		for _, o := range orders {
			q := f
			q.Sort, q.Desc, q.Limit = o.Sort, o.Desc, o.Limit
			got := e.listAll(t, w.acct.ID, q)
			want := expect(rows, q)
			if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
				t.Errorf("filter %q, %s: ids (-want +got):\n%s", name, describe(q), diff)
			}
		}
	}
	// The reference answers themselves, so that a change to the world cannot make a
	// case vacuous.
	sizes := map[string]int{
		"percent literal": 1, "underscore": 1, "backslash": 1, "percent not wild": 0,
		"underscore literal": 0, "seen to the microsecond": 3, "name, any case": 7,
		"ids": 2, "imported device": 2, "id fragment": 1, "repeated ids": 1,
		"a thousand ids": 2, "unicode case": 1,
	}
	for name, n := range sizes {
		if got := len(expect(rows, filterCases(w)[name])); got != n {
			t.Errorf("world: filter %q has %d reference rows, want %d", name, got, n)
		}
	}
}

func testListViews(t *testing.T, e *env) {
	w := e.newListWorld(t)
	rows := w.truth(t, e)
	byID := map[string]device.Registration{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	got := e.listAll(t, w.acct.ID, device.ListQuery{Status: device.StatusAll, Limit: 4})
	for _, r := range got {
		want := readView(byID[r.ID])
		if diff := cmp.Diff(want, r, cmpRows()); diff != "" {
			t.Errorf("listed %s differs from Registration by id (-want +got):\n%s", r.ID, diff)
		}
		checkUTC(t, "listed "+r.ID, r)
	}
}

// thousandIDs returns device.MaxPerPage ids: the given ones among fresh ones.
func thousandIDs(ids ...string) []string {
	out := append([]string{}, ids...)
	for len(out) < device.MaxPerPage {
		out = append(out, device.NewID())
	}
	return out
}
