package storetest

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func feedTests() []behaviour {
	return []behaviour{
		{"each change is logged in order", testChangeLog},
		{"refused and idle writes log nothing", testNoChangeLogged},
		{"changes page by sequence number", testChangesPaging},
		{"a position beyond the newest change is refused", testChangesBeyondHead},
		{"pruned changes are gone", testPruneChanges},
		{"subscribers wake after a commit", testSubscribe},
		{"key lookup finds the live registration", testRegistrationByKey},
	}
}

// changes returns every change of the account after seq.
func (e *env) changes(t *testing.T, accountID string, after int64) []device.Change {
	t.Helper()
	cs, err := e.svc.Changes(e.ctx, accountID, after, device.MaxChangesLimit)
	if err != nil {
		t.Fatalf("Changes(after %d): %v", after, err)
	}
	return cs
}

func testChangeLog(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	b, _ := e.clientAccount(t, true)
	r := en.Registration
	step := func(kind device.ChangeKind, active bool, do func() error) device.Change {
		e.clock.Advance(time.Minute)
		if err := do(); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		return device.Change{Kind: kind, At: e.svc.Now(), Active: active}
	}
	first, key, id := r.Key, newCurve25519Key(), []string{r.ID}
	want := []device.Change{
		{Kind: device.ChangeEnrolled, At: r.CreatedAt, Active: true},
		step(device.ChangeKeyRotated, true, func() error {
			_, err := e.svc.UpdateClient(e.ctx, r.ID, en.Token, device.ClientUpdate{Key: &key})
			return err
		}),
		step(device.ChangeRevoked, false, func() error { return e.svc.Revoke(e.ctx, a.ID, id) }),
		step(device.ChangeUnrevoked, true, func() error { return e.svc.Unrevoke(e.ctx, a.ID, id) }),
		step(device.ChangeDeleted, false, func() error { return e.svc.Delete(e.ctx, a.ID, id) }),
	}
	for i := range want {
		c := &want[i]
		c.AccountID, c.Seq, c.RegistrationID, c.DeviceID = a.ID, int64(i+1), r.ID, r.DeviceID
		c.UserID, c.Key, c.KeyType, c.TunnelType = r.UserID, key, r.KeyType, r.TunnelType
		c.ProfileID = r.ProfileID
	}
	want[0].Key, want[1].PreviousKey = first, first

	got := e.changes(t, a.ID, 0)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes of account a (-want +got):\n%s", diff)
	}
	checkUTC(t, "changes", got)
	if n := len(e.changes(t, b.ID, 0)); n != 1 {
		t.Errorf("changes of account b: got %d, want 1 (its own enrolment)", n)
	}
}

func testNoChangeLogged(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	r := en.Registration
	if err := e.svc.Revoke(e.ctx, a.ID, []string{r.ID}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	before := e.changes(t, a.ID, 0)

	err := e.svc.Revoke(e.ctx, a.ID, []string{r.ID})
	must(t, "Revoke of a revoked registration", err)
	err = e.svc.Unrevoke(e.ctx, a.ID, []string{r.ID, device.NewID()})
	wantKind(t, "Unrevoke with an unknown id", err, device.KindNotFound)
	dup := enrollRequest("hw-2", "bob@example.com")
	dup.Key = r.Key
	_, err = e.svc.Enroll(e.ctx, e.newEnrollKey(t, a.ID, true), dup)
	wantKind(t, "Enroll with a taken key", err, device.KindConflict)

	if diff := cmp.Diff(before, e.changes(t, a.ID, 0)); diff != "" {
		t.Errorf("changes after refused and idle writes (-before +after):\n%s", diff)
	}
}

func testChangesPaging(t *testing.T, e *env) {
	a, _ := e.enrollN(t, false, 5)
	page, err := e.svc.Changes(e.ctx, a.ID, 2, 2)
	if err != nil {
		t.Fatalf("Changes(after 2, limit 2): %v", err)
	}
	if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Errorf("Changes(after 2, limit 2) = %+v; want seqs 3 and 4", page)
	}
	if rest := e.changes(t, a.ID, 5); len(rest) != 0 {
		t.Errorf("Changes(after the last) = %+v, want none", rest)
	}
}

func testPruneChanges(t *testing.T, e *env) {
	a, _ := e.enrollN(t, false, 3) // seqs 1-3, now a minute old
	e.clock.Advance(time.Hour)
	secret := e.newEnrollKey(t, a.ID, true)
	e.enroll(t, secret, enrollRequest("hw-x", "x@example.com"))
	e.enroll(t, secret, enrollRequest("hw-y", "y@example.com"))

	n, err := e.svc.PruneChanges(e.ctx, 30*time.Minute)
	if err != nil || n != 3 {
		t.Fatalf("PruneChanges = %d, %v; want 3 pruned", n, err)
	}
	for _, after := range []int64{0, 2} {
		_, err := e.svc.Changes(e.ctx, a.ID, after, 10)
		wantKind(t, "Changes from before the pruned log", err, device.KindGone)
	}
	rest := e.changes(t, a.ID, 3)
	if len(rest) != 2 || rest[0].Seq != 4 || rest[1].Seq != 5 {
		t.Errorf("Changes(after 3) after pruning = %+v; want seqs 4 and 5", rest)
	}
}

func testSubscribe(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, true)
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	wake := e.svc.Subscribe(ctx)
	e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com"))
	for {
		select {
		case id, ok := <-wake:
			if !ok {
				t.Fatal("subscription closed before a wake-up for the account")
			}
			if id == a.ID {
				return
			}
		case <-ctx.Done():
			t.Fatal("no wake-up within 10s of a commit that logged a change")
		}
	}
}

func testRegistrationByKey(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 3)
	b, _ := e.enrollN(t, false, 0)
	live, revoked, deleted := ens[0].Registration, ens[1].Registration, ens[2].Registration
	must(t, "Revoke", e.svc.Revoke(e.ctx, a.ID, []string{revoked.ID}))
	must(t, "Delete", e.svc.Delete(e.ctx, a.ID, []string{deleted.ID}))

	for _, r := range []*device.Registration{live, revoked} {
		got, err := e.store.RegistrationByKey(e.ctx, a.ID, r.Key)
		check(t, "RegistrationByKey", got, e.registration(t, a.ID, r.ID), err)
	}
	_, err := e.store.RegistrationByKey(e.ctx, a.ID, deleted.Key)
	wantIs(t, "RegistrationByKey of a deleted registration", err, device.ErrNotFound)
	_, err = e.store.RegistrationByKey(e.ctx, b.ID, live.Key)
	wantIs(t, "RegistrationByKey through another account", err, device.ErrNotFound)

	k := newP256Key(t)
	req := enrollRequest("hw-p", "p@example.com")
	req.Key, req.KeyType = k.Uncompressed, device.KeySecp256r1
	p := e.enroll(t, e.newEnrollKey(t, a.ID, false), req).Registration
	raw, _ := base64.StdEncoding.DecodeString(k.Compressed)
	got, err := e.svc.RegistrationByKey(e.ctx, a.ID, base64.RawURLEncoding.EncodeToString(raw))
	if err != nil || got.ID != p.ID {
		t.Errorf("RegistrationByKey(compressed, URL-safe) = %v, %v; want %s", got, err, p.ID)
	}
}

func testChangesBeyondHead(t *testing.T, e *env) {
	a, _ := e.enrollN(t, false, 2)
	if got := e.changes(t, a.ID, 2); len(got) != 0 {
		t.Fatalf("after the newest change: %d changes, want none", len(got))
	}
	_, err := e.store.Changes(e.ctx, a.ID, 3, 10)
	wantKind(t, "changes after a position beyond the newest", err, device.KindInvalid)
}
