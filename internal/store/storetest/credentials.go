package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func credentialTests() []behaviour {
	return []behaviour{
		{"credentials list per account, oldest first", testCredentialLists},
		{"delete and rehash touch only the account's own", testCredentialScope},
		{"a revoked credential authenticates nothing", testRevokeCredential},
		{"a rolled credential keeps its id and changes its secret", testRollCredential},
		{"a spent or expired enrollment key is not rolled", testRollSpentKey},
		{"global keys are found by email", testGlobalKeyByEmail},
		{"a rolled registration token replaces the old one", testRollClientToken},
	}
}

// seedCredentials writes two of each credential kind to a, created in order.
func (e *env) seedCredentials(t *testing.T, a *device.Account, tag string) {
	t.Helper()
	e.update(t, func(tx device.Tx) error {
		var errs []error
		for i := range 2 {
			at := rowTime(10 + i)
			errs = append(errs,
				tx.InsertAPIToken(e.ctx, &device.APIToken{ID: device.NewAccountID(),
					AccountID: a.ID, Name: tag, Hash: randomBytes(32), CreatedAt: at}),
				tx.InsertGlobalKey(e.ctx, &device.GlobalKey{ID: device.NewAccountID(),
					AccountID: a.ID, Email: tag + string(rune('a'+i)) + "@example.com",
					Hash: randomBytes(32), CreatedAt: at}),
				tx.InsertEnrollmentKey(e.ctx, &device.EnrollmentKey{ID: device.NewID(),
					AccountID: a.ID, Hash: randomBytes(32), CreatedAt: at}))
		}
		return errors.Join(errs...)
	})
}

func testCredentialLists(t *testing.T, e *env) {
	a, b := e.seedAccount(t, false), e.seedAccount(t, false)
	e.seedCredentials(t, a, "a")
	e.seedCredentials(t, b, "b")

	toks, err := e.store.APITokens(e.ctx, a.ID)
	if err != nil {
		t.Fatalf("APITokens: %v", err)
	}
	gks, err := e.store.GlobalKeys(e.ctx, a.ID)
	if err != nil {
		t.Fatalf("GlobalKeys: %v", err)
	}
	eks, err := e.store.EnrollmentKeys(e.ctx, a.ID)
	if err != nil {
		t.Fatalf("EnrollmentKeys: %v", err)
	}
	if len(toks) != 2 || len(gks) != 2 || len(eks) != 2 {
		t.Fatalf("got %d tokens, %d global keys, %d enrollment keys; want 2 of each",
			len(toks), len(gks), len(eks))
	}
	for i := range 2 {
		for what, got := range map[string][2]any{
			"token":          {toks[i].AccountID, toks[i].CreatedAt},
			"global key":     {gks[i].AccountID, gks[i].CreatedAt},
			"enrollment key": {eks[i].AccountID, eks[i].CreatedAt},
		} {
			if got[0] != a.ID || !got[1].(time.Time).Equal(rowTime(10+i)) {
				t.Errorf("%s %d: account %v, created %v; want %s, %v",
					what, i, got[0], got[1], a.ID, rowTime(10+i))
			}
		}
	}

	none, err := e.store.APITokens(e.ctx, device.NewAccountID())
	if err != nil || len(none) != 0 {
		t.Errorf("APITokens of an unknown account = %v, %v; want none", none, err)
	}
}

func testCredentialScope(t *testing.T, e *env) {
	a, b := e.seedAccount(t, false), e.seedAccount(t, false)
	e.seedCredentials(t, a, "a")
	toks, err := e.store.APITokens(e.ctx, a.ID)
	if err != nil {
		t.Fatalf("APITokens: %v", err)
	}
	id := toks[0].ID

	for _, accountID := range []string{b.ID, device.NewAccountID()} {
		err := e.store.Update(e.ctx, func(tx device.Tx) error {
			return tx.DeleteCredential(e.ctx, device.CredentialAPIToken, accountID, id)
		})
		wantIs(t, "DeleteCredential from another account", err, device.ErrNotFound)
		err = e.store.Update(e.ctx, func(tx device.Tx) error {
			return tx.SetCredentialHash(e.ctx, device.CredentialAPIToken, accountID, id,
				randomBytes(32))
		})
		wantIs(t, "SetCredentialHash from another account", err, device.ErrNotFound)
	}
	err = e.store.Update(e.ctx, func(tx device.Tx) error {
		return tx.DeleteCredential(e.ctx, device.CredentialGlobalKey, a.ID, id)
	})
	wantIs(t, "DeleteCredential of a token id as a global key", err, device.ErrNotFound)

	got, err := e.store.APITokenByHash(e.ctx, toks[0].Hash)
	check(t, "token after refused changes", got, &toks[0], err)
}

func testRevokeCredential(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	tok, tokSecret, err := e.svc.CreateAPIToken(e.ctx, a.ID, "ci", false)
	if err != nil {
		t.Fatal(err)
	}
	gk, gkSecret, err := e.svc.CreateGlobalKey(e.ctx, a.ID, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ek, ekSecret, err := e.svc.CreateEnrollmentKey(e.ctx, a.ID, true, 0)
	if err != nil {
		t.Fatal(err)
	}

	for kind, id := range map[device.CredentialKind]string{
		device.CredentialAPIToken: tok.ID, device.CredentialGlobalKey: gk.ID,
		device.CredentialEnrollmentKey: ek.ID,
	} {
		if err := e.svc.RevokeCredential(e.ctx, kind, a.ID, id); err != nil {
			t.Fatalf("RevokeCredential(%s): %v", kind, err)
		}
		err := e.svc.RevokeCredential(e.ctx, kind, a.ID, id)
		wantKind(t, "revoking "+string(kind)+" again", err, device.KindNotFound)
	}
	_, err = e.svc.AuthenticateToken(e.ctx, tokSecret)
	wantKind(t, "revoked token", err, device.KindUnauthorized)
	_, err = e.svc.AuthenticateGlobalKey(e.ctx, gk.Email, gkSecret)
	wantKind(t, "revoked global key", err, device.KindUnauthorized)
	_, err = e.svc.Enroll(e.ctx, ekSecret, enrollRequest("hw-1", "u@example.com"))
	wantKind(t, "revoked enrollment key", err, device.KindUnauthorized)

	// Emptied of its global key, the email may hold a new one.
	if _, _, err := e.svc.CreateGlobalKey(e.ctx, a.ID, gk.Email); err != nil {
		t.Errorf("CreateGlobalKey after revoking the old one: %v", err)
	}
}

func testRollCredential(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	tok, oldTok, err := e.svc.CreateAPIToken(e.ctx, a.ID, "ci", true)
	if err != nil {
		t.Fatal(err)
	}
	gk, oldGK, err := e.svc.CreateGlobalKey(e.ctx, a.ID, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ek, oldEK, err := e.svc.CreateEnrollmentKey(e.ctx, a.ID, true, 0)
	if err != nil {
		t.Fatal(err)
	}

	roll := func(kind device.CredentialKind, id string) string {
		t.Helper()
		secret, err := e.svc.RollCredential(e.ctx, kind, a.ID, id)
		if err != nil {
			t.Fatalf("RollCredential(%s): %v", kind, err)
		}
		return secret
	}
	newTok := roll(device.CredentialAPIToken, tok.ID)
	newGK := roll(device.CredentialGlobalKey, gk.ID)
	newEK := roll(device.CredentialEnrollmentKey, ek.ID)
	if len(newTok) != 40 || len(newGK) != 37 || len(newEK) != 40 {
		t.Errorf("rolled secrets %q %q %q do not have their kinds' forms", newTok, newGK, newEK)
	}

	_, err = e.svc.AuthenticateToken(e.ctx, oldTok)
	wantKind(t, "old token", err, device.KindUnauthorized)
	p, err := e.svc.AuthenticateToken(e.ctx, newTok)
	if err != nil || p.CredentialID != tok.ID || p.CanWrite {
		t.Errorf("new token: principal %+v, %v; want id %s, read-only", p, err, tok.ID)
	}
	_, err = e.svc.AuthenticateGlobalKey(e.ctx, gk.Email, oldGK)
	wantKind(t, "old global key", err, device.KindUnauthorized)
	if p, err := e.svc.AuthenticateGlobalKey(e.ctx, gk.Email, newGK); err != nil ||
		p.CredentialID != gk.ID {
		t.Errorf("new global key: principal %+v, %v; want id %s", p, err, gk.ID)
	}
	_, err = e.svc.Enroll(e.ctx, oldEK, enrollRequest("hw-1", "u@example.com"))
	wantKind(t, "old enrollment key", err, device.KindUnauthorized)
	e.enroll(t, newEK, enrollRequest("hw-1", "u@example.com"))

	_, err = e.svc.RollCredential(e.ctx, device.CredentialAPIToken, a.ID, device.NewAccountID())
	wantKind(t, "rolling an unknown token", err, device.KindNotFound)
}

func testRollSpentKey(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	spent, secret, err := e.svc.CreateEnrollmentKey(e.ctx, a.ID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.enroll(t, secret, enrollRequest("hw-1", "u@example.com"))
	expiring, _, err := e.svc.CreateEnrollmentKey(e.ctx, a.ID, true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)

	for _, k := range []*device.EnrollmentKey{spent, expiring} {
		_, err := e.svc.RollCredential(e.ctx, device.CredentialEnrollmentKey, a.ID, k.ID)
		wantKind(t, "rolling a spent or expired key", err, device.KindConflict)
	}
	if err := e.svc.RevokeCredential(e.ctx, device.CredentialEnrollmentKey, a.ID,
		spent.ID); err != nil {
		t.Errorf("revoking a spent key: %v", err)
	}
}

func testGlobalKeyByEmail(t *testing.T, e *env) {
	a, b := e.seedAccount(t, false), e.seedAccount(t, false)
	gk, _, err := e.svc.CreateGlobalKey(e.ctx, a.ID, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.GlobalKeyByEmail(e.ctx, a.ID, " Admin@Example.com ")
	if err != nil || got.ID != gk.ID {
		t.Errorf("GlobalKeyByEmail = %+v, %v; want id %s", got, err, gk.ID)
	}
	_, err = e.svc.GlobalKeyByEmail(e.ctx, b.ID, "admin@example.com")
	wantKind(t, "GlobalKeyByEmail on another account", err, device.KindNotFound)
	_, err = e.svc.APITokens(e.ctx, device.NewAccountID())
	wantKind(t, "APITokens of an unknown account", err, device.KindNotFound)
}

func testRollClientToken(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	en := e.enroll(t, e.newEnrollKey(t, a.ID, true), enrollRequest("hw-1", "u@example.com"))
	id := en.Registration.ID
	before := e.registration(t, a.ID, id)
	changes := e.changes(t, a.ID, 0)

	_, _, err := e.svc.RollClientToken(e.ctx, id, "not the token")
	wantKind(t, "roll with a wrong token", err, device.KindUnauthorized)
	token, _, err := e.svc.RollClientToken(e.ctx, id, en.Token)
	if err != nil {
		t.Fatalf("RollClientToken: %v", err)
	}
	_, err = e.svc.Heartbeat(e.ctx, id, en.Token, "")
	wantKind(t, "heartbeat with the old token", err, device.KindUnauthorized)
	if _, err := e.svc.Heartbeat(e.ctx, id, token, ""); err != nil {
		t.Fatalf("heartbeat with the new token: %v", err)
	}

	after := e.registration(t, a.ID, id)
	if after.Key != before.Key || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("roll changed the registration: key %s -> %s, updated %v -> %v",
			before.Key, after.Key, before.UpdatedAt, after.UpdatedAt)
	}
	if got := e.changes(t, a.ID, 0); len(got) != len(changes) {
		t.Errorf("roll logged %d changes, want none", len(got)-len(changes))
	}

	if err := e.svc.Revoke(e.ctx, a.ID, []string{id}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.RollClientToken(e.ctx, id, token)
	wantKind(t, "roll of a revoked registration", err, device.KindRevoked)
}
