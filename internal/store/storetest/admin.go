package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func adminTests() []behaviour {
	return []behaviour{
		{"revoke and unrevoke a batch", testRevokeBatch},
		{"revoke again keeps the first revocation", testRevokeIdempotent},
		{"unknown id fails the whole batch", testBulkUnknownID},
		{"revoke of a deleted registration is not found", testRevokeDeleted},
		{"delete in a single-user account deletes the device", testDeleteSingleUser},
		{"delete in a multi-user account keeps the device", testDeleteMultiUser},
		{"other accounts' ids look not found", testCrossAccountAdmin},
	}
}

type bulkFunc func(ctx context.Context, accountID string, ids []string) error

func (e *env) bulkCalls() map[string]bulkFunc {
	return map[string]bulkFunc{
		"Revoke": e.svc.Revoke, "Unrevoke": e.svc.Unrevoke, "Delete": e.svc.Delete,
	}
}

// enrollN enrols n devices in a fresh account and returns the account and enrolments.
func (e *env) enrollN(t *testing.T, multiUser bool, n int) (*device.Account, []*device.Enrollment) {
	t.Helper()
	a := e.newAccount(t, multiUser)
	secret := e.newEnrollKey(t, a.ID, true)
	var out []*device.Enrollment
	for i := range n {
		hw := "hw-" + string(rune('a'+i))
		out = append(out, e.enroll(t, secret, enrollRequest(hw, hw+"@example.com")))
	}
	e.clock.Advance(time.Minute)
	return a, out
}

func testRevokeBatch(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 3)
	r1, r2, r3 := ens[0].Registration, ens[1].Registration, ens[2].Registration
	now := e.svc.Now()
	if err := e.svc.Revoke(e.ctx, a.ID, []string{r1.ID, r2.ID}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	for _, r := range []*device.Registration{r1, r2} {
		got := e.registration(t, a.ID, r.ID)
		if !got.RevokedAt.Equal(now) || !got.UpdatedAt.Equal(now) {
			t.Errorf("%s: revoked %s, updated %s; want both %s",
				r.ID, got.RevokedAt, got.UpdatedAt, now)
		}
	}
	check(t, "registration left out of the batch", e.registration(t, a.ID, r3.ID), r3, nil)
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusRevoked}, r1.ID, r2.ID)

	e.clock.Advance(time.Minute)
	if err := e.svc.Unrevoke(e.ctx, a.ID, []string{r1.ID}); err != nil {
		t.Fatalf("Unrevoke: %v", err)
	}
	if got := e.registration(t, a.ID, r1.ID); !got.RevokedAt.IsZero() {
		t.Errorf("RevokedAt after unrevoke = %s, want zero", got.RevokedAt)
	}
	if _, err := e.svc.Heartbeat(e.ctx, r1.ID, ens[0].Token, ""); err != nil {
		t.Errorf("Heartbeat after unrevoke: %v", err)
	}
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusActive}, r1.ID, r3.ID)
}

func testRevokeIdempotent(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	r1, r2 := ens[0].Registration, ens[1].Registration
	if err := e.svc.Revoke(e.ctx, a.ID, []string{r1.ID}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	first := e.registration(t, a.ID, r1.ID)
	e.clock.Advance(time.Hour)
	if err := e.svc.Revoke(e.ctx, a.ID, []string{r1.ID, r2.ID, r1.ID}); err != nil {
		t.Fatalf("Revoke again: %v", err)
	}
	check(t, "registration revoked twice", e.registration(t, a.ID, r1.ID), first, nil)
	if err := e.svc.Unrevoke(e.ctx, a.ID, []string{r2.ID, r2.ID}); err != nil {
		t.Fatalf("Unrevoke with a repeated id: %v", err)
	}
}

func testBulkUnknownID(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	r1, r2 := ens[0].Registration, ens[1].Registration
	if err := e.svc.Revoke(e.ctx, a.ID, []string{r2.ID}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	p := probe{hardwareIDs: []string{"hw-a", "hw-b"}}
	for name, call := range e.bulkCalls() {
		before := e.snapshot(t, a.ID, p)
		unknown := device.NewID()
		err := call(e.ctx, a.ID, []string{r1.ID, r2.ID, unknown})
		wantKind(t, name+" with an unknown id", err, device.KindNotFound)
		if msg := device.MessageOf(err); !strings.Contains(msg, unknown) {
			t.Errorf("%s: message %q does not name %s", name, msg, unknown)
		}
		check(t, name+": account after the refused batch", e.snapshot(t, a.ID, p), before, nil)
	}
}

func testRevokeDeleted(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	r1, r2 := ens[0].Registration, ens[1].Registration
	if err := e.svc.Delete(e.ctx, a.ID, []string{r1.ID}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, name := range []string{"Revoke", "Unrevoke"} {
		err := e.bulkCalls()[name](e.ctx, a.ID, []string{r2.ID, r1.ID})
		wantKind(t, name+" of a deleted registration", err, device.KindNotFound)
	}
	check(t, "untouched registration", e.registration(t, a.ID, r2.ID), r2, nil)
}

func testDeleteSingleUser(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	r1, r2 := ens[0].Registration, ens[1].Registration
	now := e.svc.Now()
	if err := e.svc.Delete(e.ctx, a.ID, []string{r1.ID}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	tomb, err := e.svc.Registration(e.ctx, a.ID, r1.ID)
	if err != nil {
		t.Fatalf("Registration of the tombstone: %v", err)
	}
	d := e.device(t, a.ID, r1.DeviceID)
	if !tomb.DeletedAt.Equal(now) || !d.DeletedAt.Equal(now) {
		t.Errorf("deleted at: registration %s, device %s; want %s",
			tomb.DeletedAt, d.DeletedAt, now)
	}
	for _, s := range []device.Status{device.StatusActive, device.StatusRevoked, device.StatusAll} {
		e.wantListed(t, a.ID, device.ListQuery{Status: s, IDs: []string{r1.ID}})
	}
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusAll}, r2.ID)

	e.clock.Advance(time.Hour)
	if err := e.svc.Delete(e.ctx, a.ID, []string{r1.ID, r2.ID}); err != nil {
		t.Fatalf("Delete with a deleted id: %v", err)
	}
	again := e.registration(t, a.ID, r1.ID)
	if !again.DeletedAt.Equal(now) {
		t.Errorf("DeletedAt after deleting twice = %s, want the first %s", again.DeletedAt, now)
	}
	err = e.svc.Delete(e.ctx, device.NewAccountID(), []string{r2.ID})
	wantKind(t, "Delete in an unknown account", err, device.KindNotFound)
}

func testDeleteMultiUser(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	secret := e.newEnrollKey(t, a.ID, true)
	ann := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com")).Registration
	bob := e.enroll(t, secret, enrollRequest("hw-1", "bob@example.com")).Registration
	if err := e.svc.Delete(e.ctx, a.ID, []string{ann.ID}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if d := e.device(t, a.ID, ann.DeviceID); !d.DeletedAt.IsZero() {
		t.Errorf("shared device DeletedAt = %s, want zero", d.DeletedAt)
	}
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusAll}, bob.ID)
}

func testCrossAccountAdmin(t *testing.T, e *env) {
	a, _ := e.enrollN(t, false, 1)
	b, ens := e.enrollN(t, false, 1)
	theirs := ens[0].Registration
	for name, call := range e.bulkCalls() {
		wantKind(t, name+" of another account's id", call(e.ctx, a.ID, []string{theirs.ID}),
			device.KindNotFound)
	}
	_, err := e.svc.Registration(e.ctx, a.ID, theirs.ID)
	wantKind(t, "Registration of another account's id", err, device.KindNotFound)
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusAll, IDs: []string{theirs.ID}})
	check(t, "the other account's registration", e.registration(t, b.ID, theirs.ID), theirs, nil)
}
