package conformance

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/user"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/google/go-cmp/cmp"
)

// Statuses for a credential that the server does not know. Cloudflare answers 400,
// 401 or 403 depending on the endpoint and what is missing; all three are fine, a
// success or a 5xx is not.
var unknownCredential = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}

// TestVerifyToken calls GET /user/tokens/verify with each kind of API token.
func TestVerifyToken(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)

	for _, tok := range []cliToken{tn.token, tn.readOnly, tn.otherToken} {
		t.Run(tok.ID, func(t *testing.T) {
			c := newClient(t, tn.srv, option.WithAPIToken(tok.Value))
			res, err := c.User.Tokens.Verify(testContext(t))
			mustSucceed(t, err, "verify token")
			if res.Status != user.TokenVerifyResponseStatusActive || res.ID != tok.ID {
				t.Errorf("verify = {id %q, status %q}, want {id %q, status active}",
					res.ID, res.Status, tok.ID)
			}
		})
	}

	t.Run("unknown token", func(t *testing.T) {
		c := newClient(t, tn.srv, option.WithAPIToken("Sn3lZJTBX6kkg7OdcBUAxOO963GEIyGQqnFTOFYY"))
		_, err := c.User.Tokens.Verify(testContext(t))
		wantAPIError(t, err, unknownCredential...)
	})
}

// TestReadOnlyToken may read registrations but change none.
func TestReadOnlyToken(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 3)
	ro := newAdmin(tn, newClient(t, tn.srv, option.WithAPIToken(tn.readOnly.Value)))
	rw := newAdmin(tn, tn.client(t))
	id := f.members[0].reg.ID
	mustSucceed(t, rw.revoke(t, f.members[1].reg.ID), "revoke with the write token")

	t.Run("reads", func(t *testing.T) {
		if r := ro.get(t, id); r.ID != id {
			t.Errorf("get: id %q, want %s", r.ID, id)
		}
		if diff := cmp.Diff(sortedCopy(f.ids(all)), ro.listed(t, statusAll)); diff != "" {
			t.Errorf("list (-want +got):\n%s", diff)
		}
	})

	writes := []struct {
		name string
		call func(t *testing.T) error
	}{
		{"revoke", func(t *testing.T) error { return ro.revoke(t, id) }},
		{"unrevoke", func(t *testing.T) error { return ro.unrevoke(t, f.members[1].reg.ID) }},
		{"delete", func(t *testing.T) error { return ro.delete(t, id) }},
		{"bulk delete", func(t *testing.T) error { return ro.bulkDelete(t, id) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			wantAPIError(t, w.call(t), http.StatusForbidden)
		})
	}
	if r := rw.get(t, id); r.RevokedAt != nil || r.DeletedAt != nil {
		t.Errorf("read-only calls changed %s: revoked_at %s, deleted_at %s",
			id, deref(r.RevokedAt), deref(r.DeletedAt))
	}
	if r := rw.get(t, f.members[1].reg.ID); r.RevokedAt == nil {
		t.Errorf("read-only unrevoke cleared revoked_at of %s", r.ID)
	}
}

// TestOtherAccountToken checks tenant isolation: B's token gets the same 403 on
// A's account whether or not the registration exists, and A's registrations are
// not found under B's own account.
func TestOtherAccountToken(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	id := tn.enroll(t, wireguardDevice(t, "A's laptop", "a@example.com", "Alice A")).ID
	c := newClient(t, tn.srv, option.WithAPIToken(tn.otherToken.Value))
	onA := newAdmin(tn, c)
	get := func(t *testing.T, account, id string) error {
		_, err := c.ZeroTrust.Devices.Registrations.Get(testContext(t), id,
			zero_trust.DeviceRegistrationGetParams{AccountID: cloudflare.F(account)})
		return err
	}

	existing := wantAPIError(t, get(t, tn.accountID, id), http.StatusForbidden)
	missing := wantAPIError(t, get(t, tn.accountID, newUUID(t)), http.StatusForbidden)
	if existing != nil && missing != nil {
		if diff := cmp.Diff(errorBodies(missing), errorBodies(existing)); diff != "" {
			t.Errorf("errors differ between an existing and a missing id "+
				"(-missing +existing):\n%s", diff)
		}
	}

	t.Run("list", func(t *testing.T) {
		_, err := c.ZeroTrust.Devices.Registrations.List(testContext(t),
			listParams{AccountID: cloudflare.F(tn.accountID)})
		wantAPIError(t, err, http.StatusForbidden)
	})
	t.Run("revoke", func(t *testing.T) {
		wantAPIError(t, onA.revoke(t, id), http.StatusForbidden)
	})
	t.Run("delete", func(t *testing.T) {
		wantAPIError(t, onA.delete(t, id), http.StatusForbidden)
	})
	t.Run("A's registration under B's account", func(t *testing.T) {
		wantAPIError(t, get(t, tn.otherID, id), http.StatusNotFound)
	})

	r := getRegistration(t, tn.client(t), tn, id, false)
	if r.RevokedAt != nil || r.DeletedAt != nil {
		t.Errorf("B's calls changed A's registration: revoked_at %s, deleted_at %s",
			deref(r.RevokedAt), deref(r.DeletedAt))
	}
}

func errorBodies(e *cloudflare.Error) [][2]any {
	var out [][2]any
	for _, d := range e.Errors {
		out = append(out, [2]any{d.Code, d.Message})
	}
	return out
}

// TestGlobalKey authenticates with X-Auth-Email and X-Auth-Key, which may read and
// write; a wrong key or email is refused.
func TestGlobalKey(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 2)
	gk := tn.globalKey
	a := newAdmin(tn, newClient(t, tn.srv,
		option.WithAPIEmail(gk.Email), option.WithAPIKey(gk.Value)))

	if r := a.get(t, f.members[0].reg.ID); r.ID != f.members[0].reg.ID {
		t.Errorf("get: id %q, want %s", r.ID, f.members[0].reg.ID)
	}
	if diff := cmp.Diff(sortedCopy(f.ids(all)), a.listed(t, "")); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	mustSucceed(t, a.revoke(t, f.members[1].reg.ID), "revoke with the global key")
	if r := a.get(t, f.members[1].reg.ID); r.RevokedAt == nil {
		t.Errorf("revoke with the global key left revoked_at null")
	}

	refused := []struct {
		name string
		opts []option.RequestOption
	}{
		{"wrong key", []option.RequestOption{
			option.WithAPIEmail(gk.Email), option.WithAPIKey(randomHex(t, 18) + "0")}},
		{"wrong email", []option.RequestOption{
			option.WithAPIEmail("someone@example.com"), option.WithAPIKey(gk.Value)}},
		{"no credentials", nil},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tn.srv, tt.opts...)
			_, err := c.ZeroTrust.Devices.Registrations.List(testContext(t),
				listParams{AccountID: cloudflare.F(tn.accountID)})
			wantAPIError(t, err, unknownCredential...)
		})
	}
}

// TestRateLimited spends a token's budget on a server limited to two requests per
// five minutes per credential: the SDK gets Cloudflare's 429, code 971, with
// Retry-After, and another token is not affected.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	db := newDatabase(t)
	acct := createAccount(t, db, "Limited", false)
	spent, other := createToken(t, db, acct, true), createToken(t, db, acct, true)
	srv := startServer(t, db, "--rate-limit", "2")

	c := newClient(t, srv, option.WithAPIToken(spent.Value))
	for i := range 2 {
		_, err := c.User.Tokens.Verify(testContext(t))
		mustSucceed(t, err, fmt.Sprintf("verify %d within the limit", i+1))
	}
	_, err := c.User.Tokens.Verify(testContext(t))
	if apiErr := wantAPIError(t, err, http.StatusTooManyRequests); apiErr != nil {
		if apiErr.Errors[0].Code != 971 {
			t.Errorf("429 error code %d, want Cloudflare's 971", apiErr.Errors[0].Code)
		}
		if apiErr.Response.Header.Get("Retry-After") == "" ||
			apiErr.Response.Header.Get("Ratelimit-Policy") != `"default";q=2;w=300` {
			t.Errorf("429 headers %v, want Retry-After and the default policy",
				apiErr.Response.Header)
		}
	}

	_, err = newClient(t, srv, option.WithAPIToken(other.Value)).User.Tokens.Verify(testContext(t))
	mustSucceed(t, err, "verify with another token")
}
