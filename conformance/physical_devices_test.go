package conformance

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type (
	deviceParams = zero_trust.DeviceDeviceListParams
	deviceItem   = zero_trust.DeviceDeviceListResponse
)

var deviceSortKeys = []zero_trust.DeviceDeviceListParamsSortBy{
	zero_trust.DeviceDeviceListParamsSortByName,
	zero_trust.DeviceDeviceListParamsSortByID,
	zero_trust.DeviceDeviceListParamsSortByClientVersion,
	zero_trust.DeviceDeviceListParamsSortByLastSeenUserEmail,
	zero_trust.DeviceDeviceListParamsSortByLastSeenAt,
	zero_trust.DeviceDeviceListParamsSortByActiveRegistrations,
	zero_trust.DeviceDeviceListParamsSortByCreatedAt,
}

// machine is one physical device of a deviceFleet, with what the test knows of it.
type machine struct {
	req     enrollRequest // the first seat's enrolment
	regs    []enrollment  // its registrations, the first seat's first
	id      string
	created int // rank in enrolment order
	seen    int // rank in heartbeat order
	late    bool
}

// deviceFleet is a multi-user account's machines: names, client versions and last
// seen users repeat, every third machine holds a second seat, and each machine is
// seen last through its first seat, in a shuffled order, half before mid.
type deviceFleet struct {
	machines []*machine
	mid      time.Time
}

var fleetVersions = []string{"2025.9.558.0", "2025.10.1.0", "2024.12.7.1"}

func enrollDeviceFleet(t *testing.T, tn *tenant, n int) *deviceFleet {
	t.Helper()
	f := &deviceFleet{}
	for i := range n {
		u := fleetUsers[i%len(fleetUsers)]
		req := wireguardDevice(t, fleetModels[i%len(fleetModels)], u.email, u.name)
		req.Device.ClientVersion = fleetVersions[i%len(fleetVersions)]
		m := &machine{req: req, created: i}
		m.regs = append(m.regs, tn.enroll(t, req))
		m.id = m.regs[0].DeviceID
		f.machines = append(f.machines, m)
	}
	for i, m := range f.machines {
		if i%3 != 0 {
			continue
		}
		second := fleetUsers[(i+1)%len(fleetUsers)]
		req := wireguardDevice(t, m.req.Device.Name, second.email, second.name)
		req.Device = m.req.Device
		reg := tn.enroll(t, req)
		if reg.DeviceID != m.id {
			t.Fatalf("second seat of %s enrolled on device %s", m.id, reg.DeviceID)
		}
		m.regs = append(m.regs, reg)
	}
	for rank, i := range rand.New(rand.NewPCG(3, 5)).Perm(n) {
		if rank == n/2 {
			time.Sleep(2 * time.Millisecond)
			f.mid = time.Now()
			time.Sleep(2 * time.Millisecond)
		}
		m := f.machines[i]
		m.seen, m.late = rank, rank >= n/2
		tn.mustHeartbeat(t, m.regs[0], "")
	}
	return f
}

// expectedOrder returns the device ids of the machines keep holds for, ordered by
// (key, id) in the given direction.
func (f *deviceFleet) expectedOrder(key zero_trust.DeviceDeviceListParamsSortBy, desc bool,
	keep func(m *machine) bool,
) []string {
	var ms []*machine
	for _, m := range f.machines {
		if keep(m) {
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, func(a, b *machine) int {
		var c int
		switch key {
		case zero_trust.DeviceDeviceListParamsSortByName:
			c = strings.Compare(a.req.Device.Name, b.req.Device.Name)
		case zero_trust.DeviceDeviceListParamsSortByClientVersion:
			c = strings.Compare(a.req.Device.ClientVersion, b.req.Device.ClientVersion)
		case zero_trust.DeviceDeviceListParamsSortByLastSeenUserEmail:
			c = strings.Compare(a.req.User.Email, b.req.User.Email)
		case zero_trust.DeviceDeviceListParamsSortByLastSeenAt:
			c = a.seen - b.seen
		case zero_trust.DeviceDeviceListParamsSortByActiveRegistrations:
			c = len(a.regs) - len(b.regs)
		case zero_trust.DeviceDeviceListParamsSortByCreatedAt:
			c = a.created - b.created
		}
		if c == 0 {
			c = strings.Compare(a.id, b.id)
		}
		return c
	})
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.id
	}
	if desc {
		slices.Reverse(ids)
	}
	return ids
}

func anyMachine(*machine) bool { return true }

// listDevices pages through a device list by hand with p (whose PerPage must be
// set), checking each page as listAll does, and returns every item.
func listDevices(t *testing.T, c *cloudflare.Client, p deviceParams) []deviceItem {
	t.Helper()
	perPage := p.PerPage.Value
	page, err := c.ZeroTrust.Devices.Devices.List(testContext(t), p)
	mustSucceed(t, err, "list devices")
	var items []deviceItem
	var totals []int64
	for n := 0; page != nil; n++ {
		if n == maxPages {
			t.Fatalf("device list did not end after %d pages", maxPages)
		}
		info := page.ResultInfo
		if info.Count != int64(len(page.Result)) || info.PerPage != perPage {
			t.Errorf("page %d: result_info count=%d per_page=%d, want %d and %d",
				n, info.Count, info.PerPage, len(page.Result), perPage)
		}
		if info.Cursor != "" && int64(len(page.Result)) < perPage && len(page.Result) > 0 {
			t.Errorf("page %d holds %d items, fewer than per_page %d, but has a next cursor",
				n, len(page.Result), perPage)
		}
		if total, ok := rawTotalCount(t, page.JSON.RawJSON()); ok {
			totals = append(totals, total)
		}
		items = append(items, page.Result...)
		page, err = page.GetNextPage()
		mustSucceed(t, err, "get next page of devices")
	}
	for _, total := range totals {
		if total != int64(len(items)) {
			t.Errorf("result_info.total_count = %d, but the pages hold %d devices",
				total, len(items))
		}
	}
	return items
}

// listDevicesAuto lists devices with the SDK's auto-pager and returns their ids.
func listDevicesAuto(t *testing.T, c *cloudflare.Client, p deviceParams) []string {
	t.Helper()
	iter := c.ZeroTrust.Devices.Devices.ListAutoPaging(testContext(t), p)
	var ids []string
	for iter.Next() {
		if len(ids) == maxPages*int(p.PerPage.Value) {
			t.Fatalf("device auto-pager did not end after %d items", len(ids))
		}
		ids = append(ids, iter.Current().ID)
	}
	mustSucceed(t, iter.Err(), "auto-page devices")
	return ids
}

func rawTotalCount(t *testing.T, raw string) (int64, bool) {
	t.Helper()
	var body struct {
		ResultInfo struct {
			TotalCount *int64 `json:"total_count"`
		} `json:"result_info"`
	}
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Errorf("decode result_info.total_count: %v", err)
		return 0, false
	}
	if body.ResultInfo.TotalCount == nil {
		return 0, false
	}
	return *body.ResultInfo.TotalCount, true
}

func deviceItemIDs(items []deviceItem) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

// TestDeviceSortOrders pages through a fleet's devices three at a time for every
// device sort key in both directions, by hand and with the auto-pager, and expects
// each device exactly once, ordered by (key, id) in the requested direction.
func TestDeviceSortOrders(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, true)
	f := enrollDeviceFleet(t, tn, 14)
	c := tn.client(t)
	for _, key := range deviceSortKeys {
		for _, order := range []zero_trust.DeviceDeviceListParamsSortOrder{
			zero_trust.DeviceDeviceListParamsSortOrderAsc,
			zero_trust.DeviceDeviceListParamsSortOrderDesc,
		} {
			t.Run(string(key)+"/"+string(order), func(t *testing.T) {
				p := deviceParams{
					AccountID: cloudflare.F(tn.accountID),
					PerPage:   cloudflare.F(int64(3)),
					SortBy:    cloudflare.F(key),
					SortOrder: cloudflare.F(order),
				}
				want := f.expectedOrder(key, order == zero_trust.DeviceDeviceListParamsSortOrderDesc,
					anyMachine)
				if diff := cmp.Diff(want, deviceItemIDs(listDevices(t, c, p))); diff != "" {
					t.Errorf("ids by hand-paging (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(want, listDevicesAuto(t, c, p)); diff != "" {
					t.Errorf("ids by auto-paging (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestDeviceFilters lists a fleet with each filter the SDK offers, after one
// device is revoked and another deleted through the device endpoints.
func TestDeviceFilters(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, true)
	f := enrollDeviceFleet(t, tn, 12)
	c := tn.client(t)
	acct := cloudflare.F(tn.accountID)
	revoked, deleted := f.machines[4], f.machines[7]
	_, err := c.ZeroTrust.Devices.Devices.Revoke(testContext(t), revoked.id,
		zero_trust.DeviceDeviceRevokeParams{AccountID: acct})
	mustSucceed(t, err, "revoke device")
	_, err = c.ZeroTrust.Devices.Devices.Delete(testContext(t), deleted.id,
		zero_trust.DeviceDeviceDeleteParams{AccountID: acct})
	mustSucceed(t, err, "delete device")

	live := func(m *machine) bool { return m != deleted }
	active := func(m *machine) bool { return live(m) && m != revoked }
	ada := fleetUsers[0].email
	tests := []struct {
		name string
		p    deviceParams
		want func(m *machine) bool
	}{
		{"default: active only", deviceParams{}, active},
		{"active_registrations=only", deviceParams{ActiveRegistrations: cloudflare.F(
			zero_trust.DeviceDeviceListParamsActiveRegistrationsOnly)}, active},
		{"active_registrations=include", deviceParams{ActiveRegistrations: cloudflare.F(
			zero_trust.DeviceDeviceListParamsActiveRegistrationsInclude)}, live},
		{"active_registrations=exclude", deviceParams{ActiveRegistrations: cloudflare.F(
			zero_trust.DeviceDeviceListParamsActiveRegistrationsExclude)},
			func(m *machine) bool { return m == revoked }},
		{"ids", deviceParams{ID: cloudflare.F([]string{f.machines[1].id, f.machines[2].id,
			deleted.id})}, func(m *machine) bool { return m == f.machines[1] || m == f.machines[2] }},
		{"last_seen_user.email", deviceParams{LastSeenUser: cloudflare.F(
			zero_trust.DeviceDeviceListParamsLastSeenUser{Email: cloudflare.F(strings.ToUpper(ada))})},
			func(m *machine) bool { return active(m) && m.req.User.Email == ada }},
		{"search by name", deviceParams{Search: cloudflare.F("thinkpad")},
			func(m *machine) bool { return active(m) && m.req.Device.Name == "ThinkPad X1" }},
		{"search by hardware id", deviceParams{Search: cloudflare.F(f.machines[3].req.Device.HardwareID)},
			func(m *machine) bool { return m == f.machines[3] }},
		{"seen_after", deviceParams{SeenAfter: cloudflare.F(f.mid.UTC().Format(time.RFC3339Nano))},
			func(m *machine) bool { return active(m) && m.late }},
		{"seen_before", deviceParams{SeenBefore: cloudflare.F(f.mid.Format(time.RFC3339Nano))},
			func(m *machine) bool { return active(m) && !m.late }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.AccountID, p.PerPage = acct, cloudflare.F(int64(2))
			want := f.expectedOrder(zero_trust.DeviceDeviceListParamsSortByID, false, tt.want)
			got := deviceItemIDs(listDevices(t, c, p))
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if len(want) == 0 && tt.name != "active_registrations=exclude" {
				t.Errorf("the fleet leaves this filter vacuous")
			}
		})
	}
}

// TestGetDevice reads a two-seat device back through the SDK, with and without the
// last seen registration's policy, and checks every fact against the enrolment.
func TestGetDevice(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, true)
	c := tn.client(t)
	first := wireguardDevice(t, "Shared iMac", "u1@example.com", "User One")
	r1 := tn.enroll(t, first)
	second := wireguardDevice(t, "Shared iMac", "u2@example.com", "User Two")
	second.Device = first.Device
	r2 := tn.enroll(t, second)
	tn.mustHeartbeat(t, r2, "2025.11.0.0")

	params := zero_trust.DeviceDeviceGetParams{AccountID: cloudflare.F(tn.accountID)}
	got, err := c.ZeroTrust.Devices.Devices.Get(testContext(t), r1.DeviceID, params)
	mustSucceed(t, err, "get device")
	fd := first.Device
	want := map[string]any{
		"id": r1.DeviceID, "active_registrations": int64(2), "name": fd.Name,
		"client_version": "2025.11.0.0", "deleted_at": "", "device_type": fd.DeviceType,
		"hardware_id": fd.HardwareID, "mac_address": fd.MACAddress,
		"manufacturer": fd.Manufacturer, "model": fd.Model, "os_version": fd.OSVersion,
		"os_version_extra": fd.OSVersionExtra, "serial_number": fd.SerialNumber,
		"last_seen_user.email": "u2@example.com", "last_seen_user.name": "User Two",
		"last_seen_registration.policy": false,
	}
	gotFields := map[string]any{
		"id": got.ID, "active_registrations": got.ActiveRegistrations, "name": got.Name,
		"client_version": got.ClientVersion, "deleted_at": got.DeletedAt,
		"device_type": got.DeviceType, "hardware_id": got.HardwareID,
		"mac_address": got.MacAddress, "manufacturer": got.Manufacturer, "model": got.Model,
		"os_version": got.OSVersion, "os_version_extra": got.OSVersionExtra,
		"serial_number": got.SerialNumber, "last_seen_user.email": got.LastSeenUser.Email,
		"last_seen_user.name":           got.LastSeenUser.Name,
		"last_seen_registration.policy": got.LastSeenRegistration.Policy.ID != "",
	}
	if diff := cmp.Diff(want, gotFields); diff != "" {
		t.Errorf("device fields (-want +got):\n%s", diff)
	}
	if !uuidPattern.MatchString(got.LastSeenUser.ID) {
		t.Errorf("last_seen_user.id = %q, want a UUID", got.LastSeenUser.ID)
	}
	created, seen := parseUTC(t, got.ID, got.CreatedAt), parseUTC(t, got.ID, got.LastSeenAt)
	if !seen.After(created) || parseUTC(t, got.ID, got.UpdatedAt).Before(created) {
		t.Errorf("created_at %s, last_seen_at %s, updated_at %s out of order",
			got.CreatedAt, got.LastSeenAt, got.UpdatedAt)
	}

	params.Include = cloudflare.F("last_seen_registration.policy")
	got, err = c.ZeroTrust.Devices.Devices.Get(testContext(t), r1.DeviceID, params)
	mustSucceed(t, err, "get device with policy")
	reg := getRegistration(t, c, tn, r2.ID, true)
	pol := got.LastSeenRegistration.Policy
	if pol.ID != reg.Policy.ID || pol.Name != reg.Policy.Name || !pol.Default || pol.Deleted ||
		pol.UpdatedAt != reg.Policy.UpdatedAt {
		t.Errorf("last_seen_registration.policy = %+v, want the policy of registration %s: %+v",
			pol, r2.ID, reg.Policy)
	}
}

// TestRevokeAndDeleteDevice revokes and then deletes a device through the SDK, and
// follows the effect on its registrations and on the lists.
func TestRevokeAndDeleteDevice(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, true)
	c := tn.client(t)
	acct := cloudflare.F(tn.accountID)
	first := wireguardDevice(t, "Shared iMac", "u1@example.com", "User One")
	r1 := tn.enroll(t, first)
	second := wireguardDevice(t, "Shared iMac", "u2@example.com", "User Two")
	second.Device = first.Device
	r2 := tn.enroll(t, second)
	other := tn.enroll(t, wireguardDevice(t, "Other", "u1@example.com", "User One"))

	_, err := c.ZeroTrust.Devices.Devices.Revoke(testContext(t), r1.DeviceID,
		zero_trust.DeviceDeviceRevokeParams{AccountID: acct})
	mustSucceed(t, err, "revoke device")
	for _, id := range []string{r1.ID, r2.ID} {
		if reg := getRegistration(t, c, tn, id, false); reg.RevokedAt == nil {
			t.Errorf("registration %s after revoking its device: not revoked", id)
		}
	}
	if status, _ := tn.heartbeat(t, r1, ""); status != http.StatusForbidden {
		t.Errorf("heartbeat of a revoked device's registration: status %d, want 403", status)
	}
	listed := deviceItemIDs(listDevices(t, c, deviceParams{AccountID: acct,
		PerPage: cloudflare.F(int64(10))}))
	if diff := cmp.Diff([]string{other.DeviceID}, listed); diff != "" {
		t.Errorf("default list after revoke (-want +got):\n%s", diff)
	}
	got, err := c.ZeroTrust.Devices.Devices.Get(testContext(t), r1.DeviceID,
		zero_trust.DeviceDeviceGetParams{AccountID: acct})
	mustSucceed(t, err, "get revoked device")
	if got.ActiveRegistrations != 0 || got.DeletedAt != "" {
		t.Errorf("revoked device: active_registrations %d, deleted_at %q; want 0 and null",
			got.ActiveRegistrations, got.DeletedAt)
	}

	_, err = c.ZeroTrust.Devices.Devices.Delete(testContext(t), r1.DeviceID,
		zero_trust.DeviceDeviceDeleteParams{AccountID: acct})
	mustSucceed(t, err, "delete device")
	got, err = c.ZeroTrust.Devices.Devices.Get(testContext(t), r1.DeviceID,
		zero_trust.DeviceDeviceGetParams{AccountID: acct})
	mustSucceed(t, err, "get deleted device")
	if got.DeletedAt == "" {
		t.Errorf("deleted device: deleted_at is null")
	}
	for _, id := range []string{r1.ID, r2.ID} {
		if reg := getRegistration(t, c, tn, id, false); reg.DeletedAt == nil {
			t.Errorf("registration %s after deleting its device: not deleted", id)
		}
	}
	listed = deviceItemIDs(listDevices(t, c, deviceParams{AccountID: acct,
		PerPage: cloudflare.F(int64(10)), ActiveRegistrations: cloudflare.F(
			zero_trust.DeviceDeviceListParamsActiveRegistrationsInclude)}))
	if diff := cmp.Diff([]string{other.DeviceID}, listed); diff != "" {
		t.Errorf("list with active_registrations=include after delete (-want +got):\n%s", diff)
	}

	_, err = c.ZeroTrust.Devices.Devices.Revoke(testContext(t), r1.DeviceID,
		zero_trust.DeviceDeviceRevokeParams{AccountID: acct})
	wantAPIError(t, err, http.StatusNotFound)
}

// TestDeviceNotFound asks for an unknown device and for another account's, through
// each device call: both are a 404 with code 1001.
func TestDeviceNotFound(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	c := tn.client(t)
	acct := cloudflare.F(tn.accountID)
	theirs := tn.enrollInOther(t)
	for _, id := range []string{newUUID(t), theirs.DeviceID} {
		calls := map[string]error{}
		_, calls["get"] = c.ZeroTrust.Devices.Devices.Get(testContext(t), id,
			zero_trust.DeviceDeviceGetParams{AccountID: acct})
		_, calls["revoke"] = c.ZeroTrust.Devices.Devices.Revoke(testContext(t), id,
			zero_trust.DeviceDeviceRevokeParams{AccountID: acct})
		_, calls["delete"] = c.ZeroTrust.Devices.Devices.Delete(testContext(t), id,
			zero_trust.DeviceDeviceDeleteParams{AccountID: acct})
		for name, err := range calls {
			if e := wantAPIError(t, err, http.StatusNotFound); e != nil &&
				(len(e.Errors) != 1 || e.Errors[0].Code != 1001) {
				t.Errorf("%s %s: errors %+v, want one with code 1001", name, id, e.Errors)
			}
		}
	}
	// Account B's device is untouched.
	b := newClient(t, tn.srv, option.WithAPIToken(tn.otherToken.Value))
	got, err := b.ZeroTrust.Devices.Devices.Get(testContext(t), theirs.DeviceID,
		zero_trust.DeviceDeviceGetParams{AccountID: cloudflare.F(tn.otherID)})
	mustSucceed(t, err, "get account B's device")
	if got.ActiveRegistrations != 1 || got.DeletedAt != "" {
		t.Errorf("account B's device after A's calls: active %d, deleted_at %q",
			got.ActiveRegistrations, got.DeletedAt)
	}
}

// enrollInOther enrols a device in account B with an enrolment key of its own.
func (tn *tenant) enrollInOther(t *testing.T) enrollment {
	t.Helper()
	var ek cliEnrollmentKey
	runCLI(t, tn.db, &ek, "enrollment-key", "create", "--account", tn.otherID, "--json")
	req := wireguardDevice(t, "B's laptop", "b@example.com", "B")
	status, body := tn.postJSON(t, "/enroll/v1/registrations", ek.Value, req)
	if status != http.StatusCreated {
		t.Fatalf("enrol in account B: status %d: %s", status, body)
	}
	var env struct{ Result enrollment }
	mustSucceed(t, json.Unmarshal(body, &env), "decode enrolment")
	return env.Result
}
