package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func auditTests() []behaviour {
	return []behaviour{
		{"every change is audited with its actor", testAuditActors},
		{"a refused call audits nothing", testAuditRefused},
		{"audit paging and filters", testAuditPaging},
		{"heartbeats are not audited and secrets never are", testAuditQuiet},
		{"revoking and rolling secrets is audited", testAuditSecrets},
	}
}

// auditLog reads a whole account's audit log, newest first.
func (e *env) auditLog(t *testing.T, accountID string, q device.AuditQuery) []device.AuditEntry {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = device.MaxPerPage
	}
	got, err := e.svc.AuditLog(e.ctx, accountID, q)
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	return got
}

// auditActions lists the entries' actions, oldest first, for targets of the given
// type, or of every type when targetType is empty.
func auditActions(entries []device.AuditEntry, targetType string) []string {
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		if targetType == "" || entries[i].TargetType == targetType {
			out = append(out, entries[i].Action)
		}
	}
	return out
}

func testAuditActors(t *testing.T, e *env) {
	cli := device.WithActor(e.ctx, device.Actor{Kind: device.ActorCLI})
	a, err := e.svc.CreateAccount(cli, "Audited", false)
	if err != nil {
		t.Fatal(err)
	}
	key, secret, err := e.svc.CreateEnrollmentKey(cli, a.ID, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	fromDevice := device.WithActor(e.ctx, device.Actor{Addr: "192.0.2.7:5555"})
	en, err := e.svc.Enroll(fromDevice, secret, enrollRequest("hw-1", "one@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	r := en.Registration
	e.clock.Advance(time.Minute)
	admin := device.WithActor(e.ctx,
		device.Actor{Kind: device.ActorAPIToken, ID: "tok-1", Addr: "198.51.100.1:443"})
	if err := e.svc.Revoke(admin, a.ID, []string{r.ID}); err != nil {
		t.Fatal(err)
	}
	revokedAt := e.svc.Now()
	e.clock.Advance(time.Minute)
	if err := e.svc.Unrevoke(admin, a.ID, []string{r.ID}); err != nil {
		t.Fatal(err)
	}
	newKey := newCurve25519Key()
	_, err = e.svc.UpdateClient(fromDevice, r.ID, en.Token, device.ClientUpdate{Key: &newKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(admin, a.ID, []string{r.ID}); err != nil {
		t.Fatal(err)
	}

	log := e.auditLog(t, a.ID, device.AuditQuery{})
	for i, en := range log {
		if want := int64(len(log) - i); en.Seq != want || en.AccountID != a.ID {
			t.Fatalf("entry %d: seq %d of %s, want %d of %s (newest first, no gaps)",
				i, en.Seq, en.AccountID, want, a.ID)
		}
	}
	want := []string{"registration.create", "registration.revoke", "registration.unrevoke",
		"registration.rotate_key", "registration.delete"}
	if got := auditActions(log, "registration"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("registration actions %v, want %v", got, want)
	}
	byAction := map[string]device.AuditEntry{}
	for _, en := range log {
		byAction[en.Action] = en
	}
	checks := []struct {
		action string
		actor  device.Actor
	}{
		{"account.create", device.Actor{Kind: device.ActorCLI}},
		{"enrollment_key.create", device.Actor{Kind: device.ActorCLI}},
		{"registration.create", device.Actor{Kind: device.ActorEnrollmentKey, ID: key.ID,
			Addr: "192.0.2.7:5555"}},
		{"device.create", device.Actor{Kind: device.ActorEnrollmentKey, ID: key.ID,
			Addr: "192.0.2.7:5555"}},
		{"user.create", device.Actor{Kind: device.ActorEnrollmentKey, ID: key.ID,
			Addr: "192.0.2.7:5555"}},
		{"registration.revoke", device.Actor{Kind: device.ActorAPIToken, ID: "tok-1",
			Addr: "198.51.100.1:443"}},
		{"registration.rotate_key", device.Actor{Kind: device.ActorRegistration, ID: r.ID,
			Addr: "192.0.2.7:5555"}},
	}
	for _, c := range checks {
		en, ok := byAction[c.action]
		if !ok {
			t.Errorf("no %s entry in %v", c.action, auditActions(log, ""))
			continue
		}
		if en.Actor != c.actor {
			t.Errorf("%s by %+v, want %+v", c.action, en.Actor, c.actor)
		}
	}
	rev := byAction["registration.revoke"]
	if rev.TargetID != r.ID || rev.Before["revoked_at"] != "" ||
		rev.After["revoked_at"] != revokedAt.Format(time.RFC3339Nano) {
		t.Errorf("revoke entry %+v: want revoked_at from empty to %s", rev, revokedAt)
	}
	rot := byAction["registration.rotate_key"]
	if rot.Before["key"] != r.Key || rot.After["key"] != newKey {
		t.Errorf("rotation entry keys %q -> %q, want %q -> %q",
			rot.Before["key"], rot.After["key"], r.Key, newKey)
	}
	if c := byAction["registration.create"]; c.Before != nil || c.After["key"] != r.Key {
		t.Errorf("create entry %+v: want no before and the key after", c)
	}
}

func testAuditRefused(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	before := e.auditLog(t, a.ID, device.AuditQuery{})
	err := e.svc.Revoke(e.ctx, a.ID, []string{ens[0].Registration.ID, device.NewID()})
	wantKind(t, "revoke with an unknown id", err, device.KindNotFound)
	_, err = e.svc.Enroll(e.ctx, "not a key", enrollRequest("hw-x", "x@example.com"))
	wantKind(t, "enrol with a bad key", err, device.KindUnauthorized)
	if err := e.svc.Revoke(e.ctx, a.ID, []string{ens[1].Registration.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Revoke(e.ctx, a.ID, []string{ens[1].Registration.ID}); err != nil {
		t.Fatal(err)
	}
	after := e.auditLog(t, a.ID, device.AuditQuery{})
	if len(after) != len(before)+1 || after[0].Action != "registration.revoke" {
		t.Fatalf("refused calls and a repeated revoke added %d entries (%v), want one revoke",
			len(after)-len(before), auditActions(after[:len(after)-len(before)], ""))
	}
}

func testAuditPaging(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 3)
	for _, en := range ens {
		if err := e.svc.Revoke(e.ctx, a.ID, []string{en.Registration.ID}); err != nil {
			t.Fatal(err)
		}
	}
	all := e.auditLog(t, a.ID, device.AuditQuery{})
	var paged []device.AuditEntry
	q := device.AuditQuery{Limit: 4}
	for {
		page := e.auditLog(t, a.ID, q)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		q.Before = page[len(page)-1].Seq
	}
	if len(paged) != len(all) {
		t.Fatalf("paging by 4 read %d entries, want %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].Seq != all[i].Seq {
			t.Fatalf("page entry %d is seq %d, want %d", i, paged[i].Seq, all[i].Seq)
		}
	}
	target := ens[1].Registration.ID
	// In a single-user account the device shares the registration's id.
	got := e.auditLog(t, a.ID, device.AuditQuery{TargetID: target, TargetType: "registration"})
	if a := auditActions(got, "registration"); len(got) != 2 ||
		strings.Join(a, " ") != "registration.create registration.revoke" {
		t.Errorf("entries about %s: %v", target, a)
	}
	for _, en := range e.auditLog(t, a.ID, device.AuditQuery{TargetType: "device"}) {
		if en.TargetType != "device" {
			t.Errorf("type filter let through %s", en.Action)
		}
	}
	other := e.newAccount(t, false)
	for _, en := range e.auditLog(t, other.ID, device.AuditQuery{}) {
		if en.TargetType == "registration" {
			t.Errorf("account %s shows another account's %s", other.ID, en.Action)
		}
	}
	_, err := e.svc.AuditLog(e.ctx, a.ID, device.AuditQuery{Limit: device.MaxPerPage + 1})
	wantKind(t, "a page too large", err, device.KindInvalid)
}

func testAuditQuiet(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, true)
	en := e.enroll(t, secret, enrollRequest("hw-q", "q@example.com"))
	before := e.auditLog(t, a.ID, device.AuditQuery{})
	e.clock.Advance(time.Hour)
	if _, err := e.svc.Heartbeat(e.ctx, en.Registration.ID, en.Token, ""); err != nil {
		t.Fatal(err)
	}
	if after := e.auditLog(t, a.ID, device.AuditQuery{}); len(after) != len(before) {
		t.Errorf("a heartbeat added %d audit entries", len(after)-len(before))
	}
	for _, entry := range before {
		for _, s := range []device.Snapshot{entry.Before, entry.After} {
			for k, v := range s {
				if strings.Contains(v, en.Token) || strings.Contains(v, secret) {
					t.Errorf("%s: field %s holds a secret", entry.Action, k)
				}
			}
		}
	}
}

func testAuditSecrets(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	tok, _, err := e.svc.CreateAPIToken(e.ctx, a.ID, "ci", false)
	if err != nil {
		t.Fatal(err)
	}
	rolled, err := e.svc.RollCredential(e.ctx, device.CredentialAPIToken, a.ID, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeCredential(e.ctx, device.CredentialAPIToken, a.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	en := e.enroll(t, e.newEnrollKey(t, a.ID, true), enrollRequest("hw-s", "s@example.com"))
	newToken, _, err := e.svc.RollClientToken(e.ctx, en.Registration.ID, en.Token)
	if err != nil {
		t.Fatal(err)
	}

	log := e.auditLog(t, a.ID, device.AuditQuery{})
	got := map[string]device.AuditEntry{}
	for _, entry := range log {
		got[entry.Action] = entry
		for _, s := range []device.Snapshot{entry.Before, entry.After} {
			for k, v := range s {
				for _, secret := range []string{rolled, en.Token, newToken} {
					if strings.Contains(v, secret) {
						t.Errorf("%s: field %s holds a secret", entry.Action, k)
					}
				}
			}
		}
	}
	for _, action := range []string{"api_token.roll", "api_token.revoke"} {
		if e, ok := got[action]; !ok || e.TargetID != tok.ID {
			t.Errorf("no %s entry for token %s: %v", action, tok.ID, auditActions(log, ""))
		}
	}
	roll, ok := got["registration.roll_token"]
	if !ok || roll.Actor.Kind != device.ActorRegistration || roll.Actor.ID != en.Registration.ID {
		t.Errorf("registration token roll entry %+v, want one by the registration", roll)
	}
}
