package storetest

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// deviceWorld is a multi-user account whose physical devices tie often on every
// device sort key: names, client versions, last seen users, active counts and
// times repeat, and times differ in their sub-second digits only. Some devices hold
// several registrations, some only revoked or deleted ones, one was imported
// without a user, and one is deleted.
type deviceWorld struct {
	acct    *device.Account
	base    time.Time
	secret  string            // a reusable enrolment key of acct
	devices map[string]string // device id by hardware id ("imp-1" for the imported one)
	regs    map[string]string // registration id by label (hardware id / email local part)
	tokens  map[string]string // client token by label
	otherID string            // a device of another account
}

// worldDevices are the facts that differ between a deviceWorld's machines, by
// hardware id: name, client version and model.
func worldDevices() map[string][3]string {
	return map[string][3]string{
		"hw-1": {"Laptop", "2024.1", "MacBookPro18,3"},
		"hw-2": {"Laptop", "2024.1", "ThinkPad X1"},
		"hw-3": {"laptop", "2024.10", "ThinkPad X1"},
		"hw-4": {"Desk_1", "2024.2", "OptiPlex 100% Pro"},
		"hw-5": {"Zeta", "2024.1", `Back\slash`},
		"hw-6": {"Ωmega", "2024.2", "Pixel"},
		"hw-7": {"Laptop", "2023.12", "ZOË Book"},
		"hw-8": {"Desk_1", "2024.10", "OptiPlex"},
	}
}

func (e *env) newDeviceWorld(t *testing.T) *deviceWorld {
	t.Helper()
	w := &deviceWorld{
		acct: e.newAccount(t, true), base: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
		devices: map[string]string{}, regs: map[string]string{}, tokens: map[string]string{},
	}
	w.secret = e.newEnrollKey(t, w.acct.ID, true)
	batches := []struct {
		at    time.Duration
		seats []string
	}{
		{0, []string{"hw-1/ann", "hw-2/bob", "hw-3/cy"}},
		{100 * time.Millisecond, []string{"hw-1/bob", "hw-4/dee", "hw-5/ann"}},
		{123456 * time.Microsecond, []string{"hw-6/eve", "hw-3/ann"}},
		{time.Second, []string{"hw-7/ann", "hw-8/bob"}},
	}
	for _, b := range batches {
		e.clock.Set(w.base.Add(b.at))
		for _, label := range b.seats {
			w.enroll(t, e, label)
		}
	}
	w.importNoUser(t, e)

	e.clock.Set(w.base.Add(1500 * time.Millisecond))
	must(t, "Revoke", e.svc.Revoke(e.ctx, w.acct.ID,
		[]string{w.regs["hw-2/bob"], w.regs["hw-3/ann"], w.regs["hw-7/ann"]}))
	must(t, "Delete", e.svc.Delete(e.ctx, w.acct.ID, []string{w.regs["hw-8/bob"]}))
	must(t, "DeleteDevice", e.svc.DeleteDevice(e.ctx, w.acct.ID, w.devices["hw-6"]))
	e.clock.Set(w.base.Add(2 * time.Second))
	w.heartbeat(t, e, "hw-1/ann", "hw-4/dee")
	e.clock.Set(w.base.Add(3 * time.Second))
	w.heartbeat(t, e, "hw-1/bob")

	other := e.newAccount(t, true)
	en := e.enroll(t, e.newEnrollKey(t, other.ID, true), enrollRequest("hw-1", "ann@example.com"))
	w.otherID = en.Registration.DeviceID
	return w
}

// enroll enrols the seat label ("hw-1/ann") with the facts of worldDevices.
func (w *deviceWorld) enroll(t *testing.T, e *env, label string) {
	t.Helper()
	hw, local, _ := strings.Cut(label, "/")
	req := enrollRequest(hw, local+"@example.com")
	req.UserName = map[string]string{"ann": "Sam Lee", "bob": "Sam Lee", "cy": "",
		"dee": "100% Pure", "eve": "Zoë"}[local]
	if f, ok := worldDevices()[hw]; ok {
		req.Device.Name, req.Device.ClientVersion, req.Device.Model = f[0], f[1], f[2]
	}
	en := e.enroll(t, w.secret, req)
	w.regs[label], w.tokens[label] = en.Registration.ID, en.Token
	w.devices[hw] = en.Registration.DeviceID
}

func (w *deviceWorld) importNoUser(t *testing.T, e *env) {
	t.Helper()
	r := device.Registration{
		ID: device.NewID(), DeviceID: device.NewID(), Key: newCurve25519Key(),
		KeyType: device.KeyCurve25519, TunnelType: device.TunnelWireGuard,
		CreatedAt: w.base, UpdatedAt: w.base, LastSeenAt: w.base.Add(time.Second),
		DeviceName: "Imported Laptop",
	}
	if _, err := e.svc.Import(e.ctx, w.acct.ID, []device.Registration{r}); err != nil {
		t.Fatalf("Import: %v", err)
	}
	w.devices["imp-1"], w.regs["imp-1"] = r.DeviceID, r.ID
}

func (w *deviceWorld) heartbeat(t *testing.T, e *env, labels ...string) {
	t.Helper()
	for _, l := range labels {
		if _, err := e.svc.Heartbeat(e.ctx, w.regs[l], w.tokens[l], ""); err != nil {
			t.Fatalf("Heartbeat(%s): %v", l, err)
		}
	}
}

// truth reads every device of the world back by id, tombstones included.
func (w *deviceWorld) truth(t *testing.T, e *env) []device.Device {
	t.Helper()
	var out []device.Device
	for _, id := range w.devices {
		out = append(out, *e.device(t, w.acct.ID, id))
	}
	return out
}

// expectDevices is the reference answer to q over rows: the matching devices in
// q's order.
func expectDevices(rows []device.Device, q device.DeviceListQuery) []device.Device {
	var out []device.Device
	for _, d := range rows {
		if deviceMatches(&d, q) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b device.Device) int {
		return compareDevices(&a, &b, q.Sort, q.Desc)
	})
	return out
}

func deviceMatches(d *device.Device, q device.DeviceListQuery) bool {
	active := d.ActiveRegistrations > 0
	email := ""
	if d.LastSeenUser != nil {
		email = d.LastSeenUser.Email
	}
	switch {
	case !d.DeletedAt.IsZero(),
		(q.Active == device.ActiveOnly || q.Active == "") && !active,
		q.Active == device.ActiveExclude && active,
		len(q.IDs) > 0 && !slices.Contains(q.IDs, d.ID),
		q.LastSeenUserEmail != "" && !strings.EqualFold(q.LastSeenUserEmail, email),
		!q.SeenAfter.IsZero() && !d.LastSeenAt.After(q.SeenAfter),
		!q.SeenBefore.IsZero() && !d.LastSeenAt.Before(q.SeenBefore):
		return false
	}
	if q.Search == "" {
		return true
	}
	f := d.Facts
	hay := []string{d.ID, f.Name, f.Model, f.Manufacturer, f.SerialNumber, f.HardwareID,
		f.MACAddress}
	if d.LastSeenUser != nil {
		hay = append(hay, d.LastSeenUser.Email, d.LastSeenUser.Name)
	}
	return slices.ContainsFunc(hay, func(s string) bool {
		return strings.Contains(strings.ToLower(s), strings.ToLower(q.Search))
	})
}

// compareDevices orders devices as the suite requires: by the sort key (strings by
// their bytes, times by time, counts by number), then by id; descending reverses
// both.
func compareDevices(a, b *device.Device, f device.DeviceSortField, desc bool) int {
	var c int
	switch f {
	case device.DeviceSortByLastSeenAt:
		c = a.LastSeenAt.Compare(b.LastSeenAt)
	case device.DeviceSortByCreatedAt:
		c = a.CreatedAt.Compare(b.CreatedAt)
	case device.DeviceSortByActiveRegistrations:
		c = a.ActiveRegistrations - b.ActiveRegistrations
	default:
		c = strings.Compare(device.DeviceSortValue(a, f), device.DeviceSortValue(b, f))
	}
	if c == 0 {
		c = strings.Compare(a.ID, b.ID)
	}
	if desc {
		return -c
	}
	return c
}

// listAllDevices pages through q with q.Limit rows a page, from q.After on, checking
// each page against the paging contract, and returns every device it was given.
func (e *env) listAllDevices(
	t *testing.T, accountID string, q device.DeviceListQuery,
) []device.Device {
	t.Helper()
	if q.Sort == "" {
		q.Sort = device.DeviceSortByID
	}
	fromStart := q.After == nil
	var all []device.Device
	total := -1
	for pages := 1; ; pages++ {
		page := e.listDevices(t, accountID, q)
		if total >= 0 && page.Total != total {
			t.Errorf("ListDevices %s page %d: Total %d, want %d as on page 1",
				describeDevices(q), pages, page.Total, total)
		}
		total = page.Total
		n := len(page.Devices)
		if n > q.Limit || (pages > 1 && n == 0) {
			t.Fatalf("ListDevices %s page %d: got %d rows with limit %d after a page "+
				"that set Next", describeDevices(q), pages, n, q.Limit)
		}
		all = append(all, page.Devices...)
		if page.Next == nil {
			break
		}
		if n < q.Limit {
			t.Errorf("ListDevices %s page %d: short page of %d rows still sets Next",
				describeDevices(q), pages, n)
		}
		last := page.Devices[n-1]
		want := device.Position{Value: device.DeviceSortValue(&last, q.Sort), ID: last.ID}
		if *page.Next != want {
			t.Errorf("ListDevices %s page %d: Next = %+v, want the last row's position %+v",
				describeDevices(q), pages, *page.Next, want)
		}
		if pages > len(all)+1 {
			t.Fatalf("ListDevices %s: %d pages for %d rows; the cursor does not advance",
				describeDevices(q), pages, len(all))
		}
		q.After = page.Next
	}
	if fromStart && total != len(all) {
		t.Errorf("ListDevices %s: Total %d, but paging gave %d rows",
			describeDevices(q), total, len(all))
	}
	return all
}

func (e *env) listDevices(t *testing.T, accountID string, q device.DeviceListQuery) device.DevicePage {
	t.Helper()
	page, err := e.svc.ListDevices(e.ctx, accountID, q)
	if err != nil {
		t.Fatalf("ListDevices %s: %v", describeDevices(q), err)
	}
	return page
}

func describeDevices(q device.DeviceListQuery) string {
	dir := "asc"
	if q.Desc {
		dir = "desc"
	}
	return "(sort " + string(q.Sort) + " " + dir + ", active " + strconv.Quote(string(q.Active)) +
		", search " + strconv.Quote(q.Search) + ", limit " + strconv.Itoa(q.Limit) + ")"
}

func deviceIDs(rows []device.Device) []string {
	out := make([]string, len(rows))
	for i := range rows {
		out[i] = rows[i].ID
	}
	return out
}
