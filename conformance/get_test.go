package conformance

import (
	"net/http"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// getRegistration fetches a registration of A with c, with include=policy if
// withPolicy, and decodes it as the server sent it.
func getRegistration(t *testing.T, c *cloudflare.Client, tn *tenant, id string,
	withPolicy bool,
) wireRegistration {
	t.Helper()
	p := zero_trust.DeviceRegistrationGetParams{AccountID: cloudflare.F(tn.accountID)}
	if withPolicy {
		p.Include = cloudflare.F("policy")
	}
	res, err := c.ZeroTrust.Devices.Registrations.Get(testContext(t), id, p)
	mustSucceed(t, err, "get registration "+id)
	if res.ID != id {
		t.Errorf("get %s: result id %q", id, res.ID)
	}
	return decodeRegistration(t, res.JSON.RawJSON(), withPolicy)
}

// TestGetRegistration enrols WireGuard and MASQUE clients and reads them back, with
// and without the policy.
func TestGetRegistration(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	c := tn.client(t)

	tests := []struct {
		name string
		req  enrollRequest
	}{
		{"wireguard", wireguardDevice(t, "Ada's MacBook", "ada@example.com", "Ada Lovelace")},
		{"masque", masqueDevice(t, "Grace's Pixel", "grace@example.com", "Grace Hopper")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := tn.enroll(t, tt.req)
			got := getRegistration(t, c, tn, reg.ID, false)
			checkEnrolled(t, got, reg, tt.req)

			withPolicy := getRegistration(t, c, tn, reg.ID, true)
			checkEnrolled(t, withPolicy, reg, tt.req)
			p := withPolicy.Policy
			if p == nil {
				t.Fatal("include=policy: no policy")
			}
			if !uuidPattern.MatchString(p.ID) || !p.Default || p.Deleted || p.Name == "" {
				t.Errorf("policy = %+v, want the account's live default profile: "+
					"a UUID, default, not deleted, named", *p)
			}
			if diff := cmp.Diff(got, withPolicy,
				cmpopts.IgnoreFields(wireRegistration{}, "Policy")); diff != "" {
				t.Errorf("include=policy changed other fields (-without +with):\n%s", diff)
			}
		})
	}
}

// checkEnrolled compares a registration read back with what was enrolled.
func checkEnrolled(t *testing.T, got wireRegistration, reg enrollment, req enrollRequest) {
	t.Helper()
	type view struct {
		ID, DeviceID, DeviceName, ClientVersion, Key, KeyType, TunnelType string
		UserEmail, UserName                                               string
		Revoked, Deleted                                                  bool
	}
	gotView := view{
		ID: got.ID, DeviceID: got.Device.ID, DeviceName: got.Device.Name,
		ClientVersion: got.Device.ClientVersion, Key: got.Key,
		KeyType: deref(got.KeyType), TunnelType: deref(got.TunnelType),
		Revoked: got.RevokedAt != nil, Deleted: got.DeletedAt != nil,
	}
	if got.User != nil {
		gotView.UserEmail, gotView.UserName = got.User.Email, got.User.Name
		if !uuidPattern.MatchString(got.User.ID) {
			t.Errorf("user.id %q is not a UUID", got.User.ID)
		}
	}
	want := view{
		ID: reg.ID, DeviceID: reg.DeviceID, DeviceName: req.Device.Name,
		ClientVersion: req.Device.ClientVersion, Key: req.Key,
		KeyType: req.KeyType, TunnelType: req.TunnelType,
		UserEmail: req.User.Email, UserName: req.User.Name,
	}
	if diff := cmp.Diff(want, gotView); diff != "" {
		t.Errorf("registration %s (-enrolled +got):\n%s", reg.ID, diff)
	}
	created := parseUTC(t, "created_at", got.CreatedAt)
	if parseUTC(t, "updated_at", got.UpdatedAt).Before(created) ||
		parseUTC(t, "last_seen_at", got.LastSeenAt).Before(created) {
		t.Errorf("updated_at %s or last_seen_at %s before created_at %s",
			got.UpdatedAt, got.LastSeenAt, got.CreatedAt)
	}
}

// TestHeartbeat checks that a heartbeat moves last_seen_at on and records the
// client version it carries.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	c := tn.client(t)
	reg := tn.enroll(t, wireguardDevice(t, "Linus's ThinkPad", "linus@example.com", "Linus T"))
	before := getRegistration(t, c, tn, reg.ID, false)

	tn.mustHeartbeat(t, reg, "2025.10.186.0")
	after := getRegistration(t, c, tn, reg.ID, false)
	if after.Device.ClientVersion != "2025.10.186.0" {
		t.Errorf("device.client_version = %q after heartbeat, want 2025.10.186.0",
			after.Device.ClientVersion)
	}
	if parseUTC(t, "after", after.LastSeenAt).Before(parseUTC(t, "before", before.LastSeenAt)) {
		t.Errorf("last_seen_at went back from %s to %s", before.LastSeenAt, after.LastSeenAt)
	}

	t.Run("wrong token", func(t *testing.T) {
		wrong := reg
		wrong.Token = "not-the-token"
		if status, body := tn.heartbeat(t, wrong, ""); status < 400 || status > 499 {
			t.Errorf("heartbeat with a wrong token: status %d, want 4xx; body: %s", status, body)
		}
	})
}

// TestMultiUserDevice enrols one machine for three users in a multi-user account:
// three registrations of one device, which the device.id filter lists together.
func TestMultiUserDevice(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, true)
	c := tn.client(t)
	base := wireguardDevice(t, "Shared iMac", "u1@example.com", "User One")
	var ids []string
	for i, u := range []string{"u1@example.com", "u2@example.com", "u3@example.com"} {
		req := wireguardDevice(t, base.Device.Name, u, "User "+u[:2])
		req.Device = base.Device
		reg := tn.enroll(t, req)
		if i > 0 && reg.DeviceID != tn.mustGetDeviceID(t, c, ids[0]) {
			t.Errorf("user %s got device %s, want the shared device", u, reg.DeviceID)
		}
		ids = append(ids, reg.ID)
	}
	other := tn.enroll(t, wireguardDevice(t, "Other iMac", "u1@example.com", "User u1"))

	items := listAll(t, c, listParams{
		AccountID: cloudflare.F(tn.accountID),
		PerPage:   cloudflare.F(int64(2)),
		Device: cloudflare.F(zero_trust.DeviceRegistrationListParamsDevice{
			ID: cloudflare.F(tn.mustGetDeviceID(t, c, ids[0]))}),
	})
	if diff := cmp.Diff(ids, itemIDs(items), cmpopts.SortSlices(func(a, b string) bool {
		return a < b
	})); diff != "" {
		t.Errorf("device.id filter (-want +got):\n%s", diff)
	}
	for _, it := range items {
		if it.ID == other.ID {
			t.Errorf("device.id filter listed %s of another device", other.ID)
		}
	}
}

func (tn *tenant) mustGetDeviceID(t *testing.T, c *cloudflare.Client, id string) string {
	t.Helper()
	return getRegistration(t, c, tn, id, false).Device.ID
}

// TestErrorsAreEnvelopes checks the status of failed calls and, through the
// envelope checker, that each comes as a v4 envelope.
func TestErrorsAreEnvelopes(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	c := tn.client(t)
	reg := tn.enroll(t, wireguardDevice(t, "Box", "box@example.com", "Box Owner"))
	get := func(id string) error {
		_, err := c.ZeroTrust.Devices.Registrations.Get(testContext(t), id,
			zero_trust.DeviceRegistrationGetParams{AccountID: cloudflare.F(tn.accountID)})
		return err
	}
	raw := func(method, path string) error {
		var out any
		return c.Execute(testContext(t), method, path, nil, &out)
	}
	base := "accounts/" + tn.accountID + "/devices/registrations"

	tests := []struct {
		name   string
		err    func() error
		status []int
	}{
		{"unknown registration", func() error { return get(newUUID(t)) }, []int{404}},
		{"malformed registration id", func() error { return get("not-a-uuid") }, []int{400, 404}},
		// Cloudflare answers an unknown route with 400 and codes 7003 and 7000.
		{"unknown route", func() error { return raw(http.MethodGet, base+"/"+reg.ID+"/nope") },
			[]int{400, 404}},
		{"unknown top-level route", func() error { return raw(http.MethodGet, "no/such/thing") },
			[]int{400, 404}},
		{"wrong method", func() error { return raw(http.MethodPut, base+"/"+reg.ID) },
			[]int{404, 405}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantAPIError(t, tt.err(), tt.status...)
		})
	}
}

// newUUID returns a random version 4 UUID, an id that no server has issued.
func newUUID(t *testing.T) string {
	t.Helper()
	h := []byte(randomHex(t, 16))
	h[12] = '4'
	h[16] = "89ab"[h[16]%4]
	s := string(h)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
