package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func deviceListTests() []behaviour {
	return []behaviour{
		{"empty account lists no devices", testDevicesEmpty},
		{"the active filter selects by active registrations, never deleted devices",
			testDevicesActiveFilter},
		{"device filters select the matching devices", testDeviceFilters},
		{"every device sort pages through all devices once in order", testDevicesEverySort},
		{"a device cursor past the last row gives an empty page", testDeviceCursorPastEnd},
		{"devices changed between pages are neither lost nor repeated",
			testDevicesChangedBetweenPages},
	}
}

func testDevicesEmpty(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	for _, act := range []device.ActiveFilter{device.ActiveOnly, device.ActiveInclude,
		device.ActiveExclude} {
		for _, f := range device.DeviceSortFields {
			q := device.DeviceListQuery{Active: act, Sort: f, Limit: 1}
			page := e.listDevices(t, a.ID, q)
			if len(page.Devices) != 0 || page.Total != 0 || page.Next != nil {
				t.Errorf("ListDevices %s of an empty account = %d rows, total %d, next %+v; "+
					"want none, 0, nil", describeDevices(q), len(page.Devices), page.Total, page.Next)
			}
		}
	}
}

func testDevicesActiveFilter(t *testing.T, e *env) {
	w := e.newDeviceWorld(t)
	rows := w.truth(t, e)
	want := map[device.ActiveFilter][]string{
		"":                   {"hw-1", "hw-3", "hw-4", "hw-5", "imp-1"},
		device.ActiveOnly:    {"hw-1", "hw-3", "hw-4", "hw-5", "imp-1"},
		device.ActiveExclude: {"hw-2", "hw-7", "hw-8"},
		device.ActiveInclude: {"hw-1", "hw-2", "hw-3", "hw-4", "hw-5", "hw-7", "hw-8", "imp-1"},
	}
	for act, hws := range want {
		q := device.DeviceListQuery{Active: act, Limit: 3}
		got := e.listAllDevices(t, w.acct.ID, q)
		if diff := cmp.Diff(deviceIDs(expectDevices(rows, q)), deviceIDs(got)); diff != "" {
			t.Errorf("ListDevices active %q ids (-want +got):\n%s", act, diff)
		}
		// The reference itself, so that a change to the world cannot make it vacuous.
		var wantIDs []string
		for _, hw := range hws {
			wantIDs = append(wantIDs, w.devices[hw])
		}
		if diff := cmp.Diff(slices.Sorted(slices.Values(wantIDs)), deviceIDs(got)); diff != "" {
			t.Errorf("ListDevices active %q: devices (-want +got):\n%s", act, diff)
		}
	}
}

// deviceFilterCases are named queries over a deviceWorld.
func deviceFilterCases(w *deviceWorld) map[string]device.DeviceListQuery {
	at := func(d time.Duration) time.Time { return w.base.Add(d) }
	ms, us := time.Millisecond, time.Microsecond
	inc := device.ActiveInclude
	return map[string]device.DeviceListQuery{
		"ids": {Active: inc, IDs: []string{
			w.devices["hw-1"], w.devices["hw-2"], w.devices["hw-6"], w.otherID}},
		"ids, active only":    {IDs: []string{w.devices["hw-1"], w.devices["hw-2"]}},
		"a thousand ids":      {Active: inc, IDs: thousandIDs(w.devices["hw-4"])},
		"user email":          {Active: inc, LastSeenUserEmail: "bob@example.com"},
		"user email any case": {Active: inc, LastSeenUserEmail: "ANN@Example.com"},
		"no user":             {Active: inc, LastSeenUserEmail: "nobody@example.com"},
		"name, any case":      {Active: inc, Search: "LAPTOP"},
		"user name":           {Active: inc, Search: "sam lee"},
		"model":               {Active: inc, Search: "thinkpad"},
		"hardware id":         {Active: inc, Search: "HW-4"},
		"serial number":       {Active: inc, Search: "sn-hw-5"},
		"mac address":         {Active: inc, Search: "f0:18:98"},
		"id fragment":         {Active: inc, Search: strings.ToUpper(w.devices["hw-5"][4:18])},
		"user email part":     {Active: inc, Search: "DEE@"},
		"unicode case":        {Active: inc, Search: "zoë"},
		"percent literal":     {Active: inc, Search: "100%"},
		"percent not wild":    {Active: inc, Search: "100%o"},
		"underscore literal":  {Active: inc, Search: "desk_"},
		"underscore not wild": {Active: inc, Search: "X_100"},
		"backslash":           {Active: inc, Search: `k\s`},
		"no match":            {Active: inc, Search: "no such device"},
		"seen after":          {Active: inc, SeenAfter: at(1100 * ms)},
		"seen before":         {Active: inc, SeenBefore: at(123456 * us)},
		"seen window":         {SeenAfter: at(50 * ms), SeenBefore: at(2500 * ms)},
		"seen to the microsecond": {Active: inc,
			SeenAfter: at(123455 * us), SeenBefore: at(123457 * us)},
		"exclude, searched": {Active: device.ActiveExclude, Search: "desk"},
	}
}

func testDeviceFilters(t *testing.T, e *env) {
	w := e.newDeviceWorld(t)
	rows := w.truth(t, e)
	orders := []device.DeviceListQuery{
		{Sort: device.DeviceSortByName, Limit: 2},
		{Sort: device.DeviceSortByLastSeenAt, Desc: true, Limit: 3},
		{Sort: device.DeviceSortByID, Limit: device.MaxPerPage},
	}
	cases := deviceFilterCases(w)
	for name, f := range cases {
		for _, o := range orders {
			q := f
			q.Sort, q.Desc, q.Limit = o.Sort, o.Desc, o.Limit
			got := e.listAllDevices(t, w.acct.ID, q)
			want := expectDevices(rows, q)
			if diff := cmp.Diff(deviceIDs(want), deviceIDs(got)); diff != "" {
				t.Errorf("filter %q, %s: ids (-want +got):\n%s", name, describeDevices(q), diff)
			}
		}
	}
	sizes := map[string]int{
		"ids": 2, "ids, active only": 1, "a thousand ids": 1, "user email": 3,
		"user email any case": 3, "no user": 0, "name, any case": 5, "user name": 6,
		"model": 2, "hardware id": 1, "serial number": 1, "id fragment": 1,
		"user email part": 1, "unicode case": 1, "percent literal": 1, "percent not wild": 0,
		"underscore literal": 2, "underscore not wild": 0, "backslash": 1,
		"seen to the microsecond": 1, "exclude, searched": 1,
	}
	for name, n := range sizes {
		if got := len(expectDevices(rows, cases[name])); got != n {
			t.Errorf("world: filter %q has %d reference rows, want %d", name, got, n)
		}
	}
}

func testDevicesEverySort(t *testing.T, e *env) {
	w := e.newDeviceWorld(t)
	rows := w.truth(t, e)
	n := len(expectDevices(rows, device.DeviceListQuery{Active: device.ActiveInclude}))
	runs := []struct {
		active device.ActiveFilter
		limits []int
	}{
		{device.ActiveInclude, []int{1, 2, 3, n, n + 1}},
		{device.ActiveOnly, []int{2}},
		{device.ActiveExclude, []int{1}},
	}
	for _, run := range runs {
		for _, f := range device.DeviceSortFields {
			for _, desc := range []bool{false, true} {
				for _, limit := range run.limits {
					q := device.DeviceListQuery{Active: run.active, Sort: f, Desc: desc, Limit: limit}
					got := e.listAllDevices(t, w.acct.ID, q)
					want := expectDevices(rows, q)
					if diff := cmp.Diff(deviceIDs(want), deviceIDs(got)); diff != "" {
						t.Errorf("ListDevices %s: ids in order (-want +got):\n%s",
							describeDevices(q), diff)
					}
				}
			}
		}
	}
	// Listed devices carry the same views as a read by id; the last seen
	// registration's profile only when asked for.
	byID := map[string]device.Device{}
	for _, d := range rows {
		byID[d.ID] = d
	}
	for _, withPolicy := range []bool{true, false} {
		q := device.DeviceListQuery{Active: device.ActiveInclude, Limit: 4, WithPolicy: withPolicy}
		for _, d := range e.listAllDevices(t, w.acct.ID, q) {
			want := byID[d.ID]
			if want.LastSeen != nil && !withPolicy {
				want.LastSeen = &device.RegistrationSummary{ID: want.LastSeen.ID}
			}
			if diff := cmp.Diff(want, d); diff != "" {
				t.Errorf("device %s listed with policy %t differs from Device by id "+
					"(-want +got):\n%s", d.ID, withPolicy, diff)
			}
			checkUTC(t, "listed device "+d.ID, d)
		}
	}
}

func testDeviceCursorPastEnd(t *testing.T, e *env) {
	w := e.newDeviceWorld(t)
	rows := w.truth(t, e)
	for _, f := range device.DeviceSortFields {
		for _, desc := range []bool{false, true} {
			q := device.DeviceListQuery{Active: device.ActiveInclude, Sort: f, Desc: desc, Limit: 5}
			want := expectDevices(rows, q)
			last := want[len(want)-1]
			q.After = &device.Position{Value: device.DeviceSortValue(&last, f), ID: last.ID}
			page := e.listDevices(t, w.acct.ID, q)
			if len(page.Devices) != 0 || page.Next != nil || page.Total != len(want) {
				t.Errorf("ListDevices %s after the last row: %d rows, total %d, next %+v; "+
					"want none, %d, nil", describeDevices(q), len(page.Devices), page.Total,
					page.Next, len(want))
			}
		}
	}
}

// testDevicesChangedBetweenPages reads a first page of the default list, then
// deletes the device under the cursor, revokes the next one, and enrols devices
// that sort before and after the cursor. The rest of the list must be exactly the
// devices that now sort after the cursor.
func testDevicesChangedBetweenPages(t *testing.T, e *env) {
	for _, f := range device.DeviceSortFields {
		for _, desc := range []bool{false, true} {
			w := e.newDeviceWorld(t)
			q := device.DeviceListQuery{Sort: f, Desc: desc, Limit: 2}
			before := expectDevices(w.truth(t, e), q)
			page := e.listDevices(t, w.acct.ID, q)
			if diff := cmp.Diff(deviceIDs(before[:2]), deviceIDs(page.Devices)); diff != "" {
				t.Fatalf("ListDevices %s first page (-want +got):\n%s", describeDevices(q), diff)
			}
			cursor := page.Devices[1]

			e.clock.Set(w.base.Add(time.Hour))
			must(t, "DeleteDevice", e.svc.DeleteDevice(e.ctx, w.acct.ID, cursor.ID))
			must(t, "RevokeDevice", e.svc.RevokeDevice(e.ctx, w.acct.ID, before[2].ID))
			e.clock.Set(w.base.Add(-time.Hour))
			w.enroll(t, e, "hw-new-1/aaa")
			e.clock.Set(w.base.Add(2 * time.Hour))
			w.enroll(t, e, "hw-new-2/zzz")

			q.After = page.Next
			got := e.listAllDevices(t, w.acct.ID, q)
			var want []device.Device
			for _, d := range expectDevices(w.truth(t, e), device.DeviceListQuery{Sort: f, Desc: desc}) {
				if compareDevices(&d, &cursor, f, desc) > 0 {
					want = append(want, d)
				}
			}
			if diff := cmp.Diff(deviceIDs(want), deviceIDs(got)); diff != "" {
				t.Errorf("ListDevices %s after changes: rest of the ids (-want +got):\n%s",
					describeDevices(q), diff)
			}
		}
	}
}
