package conformance

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/google/go-cmp/cmp"
)

// legacy wraps the deprecated /devices calls of one account.
type legacy struct {
	c   *cloudflare.Client
	acc string
}

func (l legacy) list(t *testing.T) ([]zero_trust.Device, error) {
	page, err := l.c.ZeroTrust.Devices.List(testContext(t),
		zero_trust.DeviceListParams{AccountID: cloudflare.F(l.acc)})
	if err != nil {
		return nil, err
	}
	return page.Result, nil
}

func (l legacy) get(t *testing.T, id string) (*zero_trust.DeviceGetResponse, error) {
	return l.c.ZeroTrust.Devices.Get(testContext(t), id,
		zero_trust.DeviceGetParams{AccountID: cloudflare.F(l.acc)})
}

func (l legacy) revoke(t *testing.T, ids ...string) error {
	_, err := l.c.ZeroTrust.Devices.Revoke.New(testContext(t),
		zero_trust.DeviceRevokeNewParams{AccountID: cloudflare.F(l.acc), Body: ids})
	return err
}

func (l legacy) unrevoke(t *testing.T, ids ...string) error {
	_, err := l.c.ZeroTrust.Devices.Unrevoke.New(testContext(t),
		zero_trust.DeviceUnrevokeNewParams{AccountID: cloudflare.F(l.acc), Body: ids})
	return err
}

// overrideCodes calls the deprecated per-device form. cloudflare-go types its
// result as a list, but Cloudflare answers with the disable_for_time object, as we
// do; the SDK keeps it raw.
func (l legacy) overrideCodes(t *testing.T, id string) (map[string]string, error) {
	page, err := l.c.ZeroTrust.Devices.OverrideCodes.List(testContext(t), id,
		zero_trust.DeviceOverrideCodeListParams{AccountID: cloudflare.F(l.acc)})
	if err != nil {
		return nil, err
	}
	var res struct {
		DisableForTime map[string]string `json:"disable_for_time"`
	}
	if err := json.Unmarshal([]byte(page.JSON.Result.Raw()), &res); err != nil {
		t.Fatalf("override codes result %q: %v", page.JSON.Result.Raw(), err)
	}
	return res.DisableForTime, nil
}

func (l legacy) registrationOverrideCodes(t *testing.T, id string) (map[string]string, error) {
	res, err := l.c.ZeroTrust.Devices.OverrideCodes.Get(testContext(t), id,
		zero_trust.DeviceOverrideCodeGetParams{AccountID: cloudflare.F(l.acc)})
	if err != nil {
		return nil, err
	}
	return res.DisableForTime, nil
}

// TestLegacyDeviceViews reads registrations through the deprecated list and get,
// field by field against what each device enrolled with.
func TestLegacyDeviceViews(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 4)
	l := legacy{c: tn.client(t), acc: tn.accountID}

	devices, err := l.list(t)
	mustSucceed(t, err, "list devices")
	var got []string
	for _, d := range devices {
		got = append(got, d.ID)
		if extra := d.JSON.ExtraFields; len(extra) > 0 {
			t.Errorf("device %s has fields the SDK does not know: %v", d.ID, extra)
		}
	}
	if diff := cmp.Diff(f.sortedIDs(all), got); diff != "" {
		t.Fatalf("listed ids, in order (-want +got):\n%s", diff)
	}
	for _, m := range f.members {
		i := slices.Index(got, m.reg.ID)
		checkLegacyDevice(t, devices[i], m)
	}

	m := f.members[0]
	g, err := l.get(t, m.reg.ID)
	mustSucceed(t, err, "get device")
	if g.ID != m.reg.ID || g.Account.ID != tn.accountID || g.Account.Name != "Account A" ||
		g.KeyType != "curve25519" || g.TunnelType != "wireguard" || g.Deleted ||
		g.Name != m.req.Device.Name || g.Model != m.req.Device.Model ||
		g.SerialNumber != m.req.Device.SerialNumber || g.Version != m.req.Device.ClientVersion ||
		g.User.Email != m.req.User.Email || g.Created.IsZero() || g.LastSeen.IsZero() {
		t.Errorf("get device = %s", g.JSON.RawJSON())
	}

	t.Run("deleted devices leave the list and read as deleted", func(t *testing.T) {
		a := newAdmin(tn, l.c)
		gone := f.members[1].reg.ID
		mustSucceed(t, a.delete(t, gone), "delete registration")
		devices, err := l.list(t)
		mustSucceed(t, err, "list devices")
		for _, d := range devices {
			if d.ID == gone {
				t.Errorf("deleted device %s is listed", gone)
			}
		}
		g, err := l.get(t, gone)
		mustSucceed(t, err, "get deleted device")
		if !g.Deleted {
			t.Errorf("deleted device reads deleted: false")
		}
	})

	t.Run("unknown device", func(t *testing.T) {
		_, err := l.get(t, newUUID(t))
		wantAPIError(t, err, http.StatusNotFound)
	})
}

func checkLegacyDevice(t *testing.T, d zero_trust.Device, m *member) {
	t.Helper()
	req := m.req.Device
	want := []any{m.reg.ID, req.Name, req.Model, req.Manufacturer, req.DeviceType,
		req.OSVersion, req.OSVersionExtra, req.SerialNumber, req.MACAddress,
		req.ClientVersion, m.req.Key, m.req.User.Email, m.req.User.Name, false}
	gotFields := []any{d.ID, d.Name, d.Model, d.Manufacturer, string(d.DeviceType),
		d.OSVersion, d.OSVersionExtra, d.SerialNumber, d.MacAddress, d.Version, d.Key,
		d.User.Email, d.User.Name, d.Deleted}
	if diff := cmp.Diff(want, gotFields); diff != "" {
		t.Errorf("device %s (-want +got):\n%s", m.reg.ID, diff)
	}
	if d.Created.IsZero() || d.LastSeen.IsZero() || d.Updated.IsZero() || !d.RevokedAt.IsZero() {
		t.Errorf("device %s times: %s", m.reg.ID, d.JSON.RawJSON())
	}
}

// TestLegacyRevokeUnrevoke drives the deprecated revoke and unrevoke, whose body is
// a JSON array of ids, and checks their limits.
func TestLegacyRevokeUnrevoke(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 3)
	c := tn.client(t)
	l, a := legacy{c: c, acc: tn.accountID}, newAdmin(tn, c)
	ids := f.ids(all)

	mustSucceed(t, l.revoke(t, ids[0], ids[1]), "revoke two")
	a.wantListed(t, listing{statusRevoked: ids[:2], statusActive: ids[2:]})
	devices, err := l.list(t)
	mustSucceed(t, err, "list devices")
	for _, d := range devices {
		if revoked := slices.Contains(ids[:2], d.ID); revoked == d.RevokedAt.IsZero() {
			t.Errorf("device %s: revoked_at %v, want revoked %v", d.ID, d.RevokedAt, revoked)
		}
	}
	mustSucceed(t, l.unrevoke(t, ids[0]), "unrevoke one")
	a.wantListed(t, listing{statusRevoked: ids[1:2]})

	t.Run("unknown id fails the whole call", func(t *testing.T) {
		unknown := newUUID(t)
		e := wantAPIError(t, l.revoke(t, ids[2], unknown), http.StatusNotFound)
		if e != nil && !strings.Contains(e.JSON.RawJSON(), unknown) {
			t.Errorf("the 404 does not name %s: %s", unknown, e.JSON.RawJSON())
		}
		a.wantListed(t, listing{statusRevoked: ids[1:2]})
	})

	t.Run("at most 200 ids", func(t *testing.T) {
		many := make([]string, 201)
		for i := range many {
			many[i] = ids[2]
		}
		e := wantAPIError(t, l.revoke(t, many...), http.StatusBadRequest)
		if e != nil && !strings.Contains(e.JSON.RawJSON(), "at most 200") {
			t.Errorf("the 400 does not state the limit: %s", e.JSON.RawJSON())
		}
		mustSucceed(t, l.revoke(t, many[:200]...), "revoke with 200 ids")
		a.wantListed(t, listing{statusRevoked: ids[1:]})
	})

	t.Run("an empty list is refused", func(t *testing.T) {
		wantAPIError(t, l.unrevoke(t), http.StatusBadRequest)
		a.wantListed(t, listing{statusRevoked: ids[1:]})
	})

	t.Run("a read-only token may list but not revoke", func(t *testing.T) {
		roClient := newClient(t, tn.srv, option.WithAPIToken(tn.readOnly.Value))
		ro := legacy{c: roClient, acc: tn.accountID}
		_, err := ro.list(t)
		mustSucceed(t, err, "list with a read-only token")
		wantAPIError(t, ro.unrevoke(t, ids[1]), http.StatusForbidden)
	})
}

// TestLegacyDevicesRefusedInMultiUser checks that every deprecated call refuses a
// multi-user account, where a device may hold several registrations.
func TestLegacyDevicesRefusedInMultiUser(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, true)
	f := enrollFleet(t, tn, 1)
	l := legacy{c: tn.client(t), acc: tn.accountID}
	id := f.members[0].reg.ID
	calls := map[string]func() error{
		"list":     func() error { _, err := l.list(t); return err },
		"get":      func() error { _, err := l.get(t, id); return err },
		"revoke":   func() error { return l.revoke(t, id) },
		"unrevoke": func() error { return l.unrevoke(t, id) },
		"override codes": func() error {
			_, err := l.overrideCodes(t, id)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			e := wantAPIError(t, call(), http.StatusBadRequest)
			if e != nil && (e.Errors[0].Code != 1002 ||
				!strings.Contains(e.Errors[0].Message, "multi-user mode")) {
				t.Errorf("errors = %v, want code 1002 naming multi-user mode", errorBodies(e))
			}
		})
	}
	a := newAdmin(tn, l.c)
	a.wantListed(t, listing{statusActive: []string{id}})
}

// TestOverrideCodes issues admin override codes through both endpoints and checks
// each against the construction the README documents, computed here from the
// override secret that enrolment handed out.
func TestOverrideCodes(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 3)
	c := tn.client(t)
	l := legacy{c: c, acc: tn.accountID}
	m := f.members[0]

	_, err := l.registrationOverrideCodes(t, m.reg.ID)
	if e := wantAPIError(t, err, http.StatusBadRequest); e != nil &&
		!strings.Contains(e.Errors[0].Message, "allow_mode_switch") {
		t.Errorf("refusal without mode switching: %v", errorBodies(e))
	}
	_, err = l.overrideCodes(t, m.reg.ID)
	wantAPIError(t, err, http.StatusBadRequest)

	allowModeSwitch(t, c, tn.accountID)
	secret := decodeOverrideSecret(t, m.reg)
	first, err := l.registrationOverrideCodes(t, m.reg.ID)
	mustSucceed(t, err, "override codes")
	if diff := cmp.Diff(wantOverrideCodes(secret, 1), first); diff != "" {
		t.Errorf("first issue (-want +got):\n%s", diff)
	}
	second, err := l.registrationOverrideCodes(t, m.reg.ID)
	mustSucceed(t, err, "override codes again")
	if diff := cmp.Diff(wantOverrideCodes(secret, 2), second); diff != "" {
		t.Errorf("second issue (-want +got):\n%s", diff)
	}
	third, err := l.overrideCodes(t, m.reg.ID)
	mustSucceed(t, err, "deprecated override codes")
	if diff := cmp.Diff(wantOverrideCodes(secret, 3), third); diff != "" {
		t.Errorf("third issue, deprecated endpoint (-want +got):\n%s", diff)
	}

	a := newAdmin(tn, c)
	mustSucceed(t, a.revoke(t, f.members[1].reg.ID), "revoke")
	mustSucceed(t, a.delete(t, f.members[2].reg.ID), "delete")
	_, err = l.registrationOverrideCodes(t, f.members[1].reg.ID)
	wantAPIError(t, err, http.StatusForbidden)
	_, err = l.registrationOverrideCodes(t, f.members[2].reg.ID)
	wantAPIError(t, err, http.StatusNotFound)
	roClient := newClient(t, tn.srv, option.WithAPIToken(tn.readOnly.Value))
	ro := legacy{c: roClient, acc: tn.accountID}
	_, err = ro.registrationOverrideCodes(t, m.reg.ID)
	wantAPIError(t, err, http.StatusForbidden)
}

// wantOverrideCodes derives one issue's codes as the README documents them:
// HMAC-SHA256 under the override secret of a label, a zero byte, the hours as four
// bytes and the counter as eight, both big-endian, truncated as HOTP truncates to
// seven digits.
func wantOverrideCodes(secret []byte, counter uint64) map[string]string {
	out := map[string]string{}
	for _, hours := range []uint32{1, 3, 6, 12, 24} {
		msg := []byte("warpreg override code v1\x00")
		msg = binary.BigEndian.AppendUint32(msg, hours)
		msg = binary.BigEndian.AppendUint64(msg, counter)
		mac := hmac.New(sha256.New, secret)
		mac.Write(msg)
		sum := mac.Sum(nil)
		off := sum[31] & 0x0f
		n := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
		out[fmt.Sprint(hours)] = fmt.Sprintf("%07d", n%10_000_000)
	}
	return out
}

func decodeOverrideSecret(t *testing.T, reg enrollment) []byte {
	t.Helper()
	secret, err := base64.RawURLEncoding.DecodeString(reg.OverrideSecret)
	if err != nil || len(secret) != 32 {
		t.Fatalf("override_secret %q: %d bytes, %v; want 32 bytes of URL-safe base64",
			reg.OverrideSecret, len(secret), err)
	}
	return secret
}

// allowModeSwitch turns on allow_mode_switch in the account's default device
// settings profile.
func allowModeSwitch(t *testing.T, c *cloudflare.Client, accountID string) {
	t.Helper()
	_, err := c.ZeroTrust.Devices.Policies.Default.Edit(testContext(t),
		zero_trust.DevicePolicyDefaultEditParams{
			AccountID: cloudflare.F(accountID), AllowModeSwitch: cloudflare.F(true),
		})
	mustSucceed(t, err, "turn on allow_mode_switch")
}
