package conformance

import (
	"net/http"
	"slices"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// admin wraps the registration calls of one account for the bulk tests.
type admin struct {
	c   *cloudflare.Client
	tn  *tenant
	acc string
}

func newAdmin(tn *tenant, c *cloudflare.Client) *admin {
	return &admin{c: c, tn: tn, acc: tn.accountID}
}

func (a *admin) revoke(t *testing.T, ids ...string) error {
	p := zero_trust.DeviceRegistrationRevokeParams{
		AccountID: cloudflare.F(a.acc), ID: cloudflare.F(ids),
	}
	_, err := a.c.ZeroTrust.Devices.Registrations.Revoke(testContext(t), p)
	return err
}

func (a *admin) unrevoke(t *testing.T, ids ...string) error {
	p := zero_trust.DeviceRegistrationUnrevokeParams{
		AccountID: cloudflare.F(a.acc), ID: cloudflare.F(ids),
	}
	_, err := a.c.ZeroTrust.Devices.Registrations.Unrevoke(testContext(t), p)
	return err
}

func (a *admin) delete(t *testing.T, id string) error {
	_, err := a.c.ZeroTrust.Devices.Registrations.Delete(testContext(t), id,
		zero_trust.DeviceRegistrationDeleteParams{AccountID: cloudflare.F(a.acc)})
	return err
}

func (a *admin) bulkDelete(t *testing.T, ids ...string) error {
	p := zero_trust.DeviceRegistrationBulkDeleteParams{
		AccountID: cloudflare.F(a.acc), ID: cloudflare.F(ids),
	}
	_, err := a.c.ZeroTrust.Devices.Registrations.BulkDelete(testContext(t), p)
	return err
}

// get reads a registration with the write token.
func (a *admin) get(t *testing.T, id string) wireRegistration {
	t.Helper()
	return getRegistration(t, a.c, a.tn, id, false)
}

// listed returns the sorted ids that a list with status lists; an empty status
// sends none.
func (a *admin) listed(t *testing.T, status listStatus) []string {
	t.Helper()
	p := listParams{AccountID: cloudflare.F(a.acc), PerPage: cloudflare.F(int64(1000))}
	if status != "" {
		p.Status = cloudflare.F(status)
	}
	return sortedItemIDs(listAll(t, a.c, p))
}

// listing maps a list status ("" for none sent) to the ids that it must list.
type listing map[listStatus][]string

// wantListed checks the lists of every status in want.
func (a *admin) wantListed(t *testing.T, want listing) {
	t.Helper()
	for status, ids := range want {
		ids = sortedCopy(ids)
		if diff := cmp.Diff(ids, a.listed(t, status), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("list with status %q (-want +got):\n%s", status, diff)
		}
	}
}

// TestRevokeUnrevoke walks registrations through revocation and back.
func TestRevokeUnrevoke(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 5)
	a := newAdmin(tn, tn.client(t))
	m := f.members
	ids := f.ids(all)

	mustSucceed(t, a.revoke(t, m[0].reg.ID, m[1].reg.ID), "revoke two")
	first := a.get(t, m[0].reg.ID)
	if first.RevokedAt == nil {
		t.Fatalf("revoked registration has revoked_at null")
	}
	if r := a.get(t, m[2].reg.ID); r.RevokedAt != nil {
		t.Errorf("registration not revoked has revoked_at %s", *r.RevokedAt)
	}
	a.wantListed(t, listing{
		"":            ids[2:],
		statusActive:  ids[2:],
		statusRevoked: ids[:2],
		statusAll:     ids,
	})
	if status, body := tn.heartbeat(t, m[0].reg, ""); status < 400 {
		t.Errorf("heartbeat of a revoked registration: status %d, want refused; body: %s",
			status, body)
	}

	t.Run("revoking again is not an error", func(t *testing.T) {
		mustSucceed(t, a.revoke(t, m[0].reg.ID, m[2].reg.ID), "revoke a revoked and a live one")
		if again := a.get(t, m[0].reg.ID); deref(again.RevokedAt) != deref(first.RevokedAt) {
			t.Errorf("revoked_at moved from %s to %s", deref(first.RevokedAt),
				deref(again.RevokedAt))
		}
		if a.get(t, m[2].reg.ID).RevokedAt == nil {
			t.Errorf("live registration in the same call was not revoked")
		}
		mustSucceed(t, a.unrevoke(t, m[2].reg.ID), "unrevoke")
	})

	t.Run("unknown id fails the whole call", func(t *testing.T) {
		wantAPIError(t, a.revoke(t, m[3].reg.ID, newUUID(t)), http.StatusNotFound)
		if r := a.get(t, m[3].reg.ID); r.RevokedAt != nil {
			t.Errorf("revoke failed but %s was revoked at %s", r.ID, *r.RevokedAt)
		}
		wantAPIError(t, a.unrevoke(t, m[1].reg.ID, newUUID(t)), http.StatusNotFound)
		if r := a.get(t, m[1].reg.ID); r.RevokedAt == nil {
			t.Errorf("unrevoke failed but %s was unrevoked", r.ID)
		}
	})

	t.Run("unrevoke", func(t *testing.T) {
		mustSucceed(t, a.unrevoke(t, m[0].reg.ID, m[1].reg.ID), "unrevoke two")
		for _, id := range ids[:2] {
			if r := a.get(t, id); r.RevokedAt != nil {
				t.Errorf("unrevoked %s has revoked_at %s", id, *r.RevokedAt)
			}
		}
		a.wantListed(t, listing{
			"": ids, statusRevoked: nil, statusAll: ids,
		})
		tn.mustHeartbeat(t, m[0].reg, "")
		mustSucceed(t, a.unrevoke(t, m[0].reg.ID), "unrevoke a live registration")
	})
}

// TestDelete deletes registrations one at a time and in bulk: they leave every list
// but stay readable with deleted_at set.
func TestDelete(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 6)
	a := newAdmin(tn, tn.client(t))
	m := f.members
	ids := f.ids(all)

	mustSucceed(t, a.revoke(t, m[4].reg.ID), "revoke")
	mustSucceed(t, a.delete(t, m[0].reg.ID), "delete one")
	mustSucceed(t, a.bulkDelete(t, m[1].reg.ID, m[4].reg.ID),
		"bulk delete a live and a revoked one")
	for _, i := range []int{0, 1, 4} {
		if r := a.get(t, m[i].reg.ID); r.DeletedAt == nil {
			t.Errorf("deleted registration %s has deleted_at null", r.ID)
		}
	}
	if r := a.get(t, m[2].reg.ID); r.DeletedAt != nil {
		t.Errorf("registration not deleted has deleted_at %s", *r.DeletedAt)
	}
	remaining := []string{ids[2], ids[3], ids[5]}
	a.wantListed(t, listing{
		"": remaining, statusRevoked: nil, statusAll: remaining,
	})
	if status, body := tn.heartbeat(t, m[1].reg, ""); status < 400 {
		t.Errorf("heartbeat of a deleted registration: status %d, want refused; body: %s",
			status, body)
	}

	t.Run("unknown id fails the whole call", func(t *testing.T) {
		wantAPIError(t, a.bulkDelete(t, m[2].reg.ID, newUUID(t)), http.StatusNotFound)
		if r := a.get(t, m[2].reg.ID); r.DeletedAt != nil {
			t.Errorf("bulk delete failed but %s was deleted at %s", r.ID, *r.DeletedAt)
		}
		wantAPIError(t, a.delete(t, newUUID(t)), http.StatusNotFound)
		a.wantListed(t, listing{
			statusAll: remaining,
		})
	})

	t.Run("deleted ones cannot be revoked", func(t *testing.T) {
		wantAPIError(t, a.revoke(t, m[0].reg.ID), http.StatusNotFound)
		wantAPIError(t, a.unrevoke(t, m[4].reg.ID), http.StatusNotFound)
	})

	t.Run("deleting again is not an error", func(t *testing.T) {
		before := a.get(t, m[0].reg.ID)
		mustSucceed(t, a.delete(t, m[0].reg.ID), "delete a deleted registration")
		mustSucceed(t, a.bulkDelete(t, m[0].reg.ID, m[1].reg.ID), "bulk delete deleted ones")
		if after := a.get(t, m[0].reg.ID); deref(after.DeletedAt) != deref(before.DeletedAt) {
			t.Errorf("deleted_at moved from %s to %s", deref(before.DeletedAt),
				deref(after.DeletedAt))
		}
	})
}

func sortedCopy(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
