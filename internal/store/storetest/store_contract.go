package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func contractTests() []behaviour {
	return []behaviour{
		{"missing rows are not found", testMissingRows},
		{"other accounts' rows are not found", testOtherAccountRows},
		{"rows read back as written", testRoundTrip},
		{"times keep microseconds in UTC", testTimePrecision},
		{"user groups read back empty, never nil", testGroupsNilEmpty},
		{"registration without a user has no user view", testNoUserView},
		{"put replaces a row by id", testPutReplaces},
		{"deleted rows stay readable by id only", testTombstones},
		{"update rolls back when fn fails", testRollback},
		{"transaction reads its own writes", testReadOwnWrites},
		{"concurrent updates all commit", testConcurrentUpdates},
	}
}

func testMissingRows(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	ctx, s, id, h := e.ctx, e.store, device.NewID(), device.HashSecret("nothing")
	lookups := map[string]func() error{
		"Account": func() error { _, err := s.Account(ctx, device.NewAccountID()); return err },
		"Profile": func() error { _, err := s.Profile(ctx, a.ID, id); return err },
		"User":    func() error { _, err := s.User(ctx, a.ID, id); return err },
		"UserByEmail": func() error {
			_, err := s.UserByEmail(ctx, a.ID, "nobody@example.com")
			return err
		},
		"Device": func() error { _, err := s.Device(ctx, a.ID, id); return err },
		"DeviceByHardwareID": func() error {
			_, err := s.DeviceByHardwareID(ctx, a.ID, "no-such-hw")
			return err
		},
		"DeviceBySerial": func() error {
			_, err := s.DeviceBySerial(ctx, a.ID, "no-such-serial", false)
			return err
		},
		"Registration":     func() error { _, err := s.Registration(ctx, a.ID, id); return err },
		"RegistrationByID": func() error { _, err := s.RegistrationByID(ctx, id); return err },
		"LiveRegistration": func() error { _, err := s.LiveRegistration(ctx, id, ""); return err },
		"APITokenByHash":   func() error { _, err := s.APITokenByHash(ctx, h); return err },
		"GlobalKeyByHash": func() error {
			_, err := s.GlobalKeyByHash(ctx, "nobody@example.com", h)
			return err
		},
		"EnrollmentKeyByHash": func() error { _, err := s.EnrollmentKeyByHash(ctx, h); return err },
		"Setting":             func() error { _, err := s.Setting(ctx, "no.such"); return err },
	}
	for name, lookup := range lookups {
		if err := lookup(); !errors.Is(err, device.ErrNotFound) {
			t.Errorf("%s: got error %v, want ErrNotFound", name, err)
		}
	}
}

func testOtherAccountRows(t *testing.T, e *env) {
	a, b := e.seedAccount(t, false), e.seedAccount(t, false)
	u := e.seedUser(t, a.ID, "ann@example.com")
	d := e.seedDevice(t, a.ID, "hw-1")
	r := e.seedRegistration(t, a, d, u)
	ctx, s := e.ctx, e.store
	lookups := map[string]func() error{
		"Profile": func() error { _, err := s.Profile(ctx, b.ID, a.DefaultProfileID); return err },
		"User":    func() error { _, err := s.User(ctx, b.ID, u.ID); return err },
		"UserByEmail": func() error {
			_, err := s.UserByEmail(ctx, b.ID, u.Email)
			return err
		},
		"Device": func() error { _, err := s.Device(ctx, b.ID, d.ID); return err },
		"DeviceByHardwareID": func() error {
			_, err := s.DeviceByHardwareID(ctx, b.ID, "hw-1")
			return err
		},
		"DeviceBySerial": func() error {
			_, err := s.DeviceBySerial(ctx, b.ID, d.Facts.SerialNumber, false)
			return err
		},
		"Registration": func() error { _, err := s.Registration(ctx, b.ID, r.ID); return err },
	}
	for name, lookup := range lookups {
		if err := lookup(); !errors.Is(err, device.ErrNotFound) {
			t.Errorf("%s with account b: got error %v, want ErrNotFound", name, err)
		}
	}
}

func testRoundTrip(t *testing.T, e *env) {
	a := e.seedAccount(t, true)
	p := e.seedProfile(t, a.ID, "Contractors")
	u := e.seedUser(t, a.ID, "ann@example.com")
	d := e.seedDevice(t, a.ID, "hw-1")
	r := newRegistration(a, d, u)
	r.ProfileID, r.RevokedAt = p.ID, rowTime(12)
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r) })

	gotAcct, err := e.store.Account(e.ctx, a.ID)
	check(t, "Account", gotAcct, a, err)
	gotP, err := e.store.Profile(e.ctx, a.ID, p.ID)
	check(t, "Profile", gotP, p, err)
	gotU, err := e.store.User(e.ctx, a.ID, u.ID)
	check(t, "User", gotU, u, err)
	gotU, err = e.store.UserByEmail(e.ctx, a.ID, u.Email)
	check(t, "UserByEmail", gotU, u, err)
	// r is revoked: the device holds no active registration, but was seen through r.
	wantD := deviceViews(d, 0, r, u, p)
	gotD, err := e.store.Device(e.ctx, a.ID, d.ID)
	check(t, "Device", gotD, wantD, err)
	gotD, err = e.store.DeviceByHardwareID(e.ctx, a.ID, "hw-1")
	check(t, "DeviceByHardwareID", gotD, wantD, err)
	gotD, err = e.store.DeviceBySerial(e.ctx, a.ID, d.Facts.SerialNumber, false)
	check(t, "DeviceBySerial", gotD, wantD, err)

	want := withViews(r, d, u, p)
	gotR, err := e.store.Registration(e.ctx, a.ID, r.ID)
	check(t, "Registration", gotR, &want, err)
	gotR, err = e.store.RegistrationByID(e.ctx, r.ID)
	if err != nil {
		t.Fatalf("RegistrationByID: %v", err)
	}
	check(t, "RegistrationByID (stored fields)", storedFields(gotR), storedFields(r), nil)
	gotR, err = e.store.LiveRegistration(e.ctx, d.ID, u.ID)
	if err != nil {
		t.Fatalf("LiveRegistration: %v", err)
	}
	check(t, "LiveRegistration (stored fields)", storedFields(gotR), storedFields(r), nil)
	testCredentialRoundTrip(t, e, a)
	testTokenRegistration(t, e, a, r.ID, &want)
}

// testTokenRegistration checks the one-read get: the token and the registration
// together, and ErrNotFound for every case the caller must tell apart itself.
func testTokenRegistration(
	t *testing.T, e *env, a *device.Account, regID string, want *device.Registration,
) {
	tok := &device.APIToken{
		ID: device.NewAccountID(), AccountID: a.ID, Name: "reader", ReadOnly: true,
		Hash: device.HashSecret("one-read secret"), CreatedAt: rowTime(24),
	}
	b := e.seedAccount(t, false)
	other := &device.APIToken{
		ID: device.NewAccountID(), AccountID: b.ID, Name: "other", Hash: device.HashSecret(
			"other account's secret"), CreatedAt: rowTime(25),
	}
	otherReg := newRegistration(b, e.seedDevice(t, b.ID, "hw-b"), e.seedUser(t, b.ID,
		"bea@example.com"))
	e.update(t, func(tx device.Tx) error {
		return errors.Join(tx.InsertAPIToken(e.ctx, tok), tx.InsertAPIToken(e.ctx, other),
			tx.PutRegistration(e.ctx, otherReg))
	})
	// What a get shows: not the registration's slot or secret, not its profile's
	// times, and of the token what its principal needs.
	wantTok := &device.APIToken{ID: tok.ID, AccountID: tok.AccountID, ReadOnly: tok.ReadOnly}
	gotTok, gotReg, err := e.store.TokenRegistration(e.ctx, tok.Hash, a.ID, regID)
	check(t, "TokenRegistration token", gotTok, wantTok, err)
	view := readView(*want)
	check(t, "TokenRegistration registration", gotReg, &view, err)

	misses := []struct {
		name        string
		hash        []byte
		account, id string
	}{
		{"unknown token", device.HashSecret("nope"), a.ID, regID},
		{"unknown registration", tok.Hash, a.ID, device.NewID()},
		{"token of another account", other.Hash, a.ID, regID},
		{"registration of another account", other.Hash, b.ID, regID},
		{"token and registration of another account", other.Hash, a.ID, otherReg.ID},
		{"an id with a NUL", tok.Hash, a.ID, regID[:8] + "\x00" + regID[9:]},
		{"an id that is not UTF-8", tok.Hash, a.ID, "\xff" + regID[1:]},
	}
	for _, m := range misses {
		_, _, err := e.store.TokenRegistration(e.ctx, m.hash, m.account, m.id)
		wantIs(t, "TokenRegistration with "+m.name, err, device.ErrNotFound)
	}

	// Gets arrive together (an adapter may answer them with one statement): each
	// has its own answer, whatever it shares a statement with.
	type answer struct {
		tok *device.APIToken
		reg *device.Registration
		err error
	}
	const rounds = 8
	hits := make([]answer, rounds)
	missed := make([][]error, rounds)
	var wg sync.WaitGroup
	for i := range rounds {
		missed[i] = make([]error, len(misses))
		wg.Go(func() {
			h := &hits[i]
			h.tok, h.reg, h.err = e.store.TokenRegistration(e.ctx, tok.Hash, a.ID, regID)
		})
		for k, m := range misses {
			wg.Go(func() {
				_, _, missed[i][k] = e.store.TokenRegistration(e.ctx, m.hash, m.account, m.id)
			})
		}
	}
	wg.Wait()
	for i := range rounds {
		check(t, "concurrent TokenRegistration token", hits[i].tok, wantTok, hits[i].err)
		check(t, "concurrent TokenRegistration registration", hits[i].reg, &view, hits[i].err)
		for k, m := range misses {
			wantIs(t, "concurrent TokenRegistration with "+m.name, missed[i][k],
				device.ErrNotFound)
		}
	}

	e.update(t, func(tx device.Tx) error {
		return tx.DeleteCredential(e.ctx, device.CredentialAPIToken, a.ID, tok.ID)
	})
	_, _, err = e.store.TokenRegistration(e.ctx, tok.Hash, a.ID, regID)
	wantIs(t, "TokenRegistration with a revoked token", err, device.ErrNotFound)
}

func testCredentialRoundTrip(t *testing.T, e *env, a *device.Account) {
	tok := &device.APIToken{
		ID: device.NewAccountID(), AccountID: a.ID, Name: "ci", ReadOnly: true,
		Hash: device.HashSecret("token secret"), CreatedAt: rowTime(20),
	}
	gk := &device.GlobalKey{
		ID: device.NewAccountID(), AccountID: a.ID, Email: "admin@example.com",
		Hash: device.HashSecret("global key"), CreatedAt: rowTime(21),
	}
	ek := &device.EnrollmentKey{
		ID: device.NewID(), AccountID: a.ID, ExpiresAt: rowTime(23),
		Hash: device.HashSecret("enrol secret"), CreatedAt: rowTime(22),
	}
	e.update(t, func(tx device.Tx) error {
		return errors.Join(tx.InsertAPIToken(e.ctx, tok), tx.InsertGlobalKey(e.ctx, gk),
			tx.InsertEnrollmentKey(e.ctx, ek))
	})
	gotTok, err := e.store.APITokenByHash(e.ctx, tok.Hash)
	check(t, "APITokenByHash", gotTok, tok, err)
	gotGK, err := e.store.GlobalKeyByHash(e.ctx, gk.Email, gk.Hash)
	check(t, "GlobalKeyByHash", gotGK, gk, err)
	gotEK, err := e.store.EnrollmentKeyByHash(e.ctx, ek.Hash)
	check(t, "EnrollmentKeyByHash", gotEK, ek, err)

	_, err = e.store.GlobalKeyByHash(e.ctx, "other@example.com", gk.Hash)
	wantIs(t, "GlobalKeyByHash with another email", err, device.ErrNotFound)
}

// check fails the test if err is set, and reports a diff if got differs from want
// or holds a time outside UTC.
func check[T any](t *testing.T, what string, got, want T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if diff := cmp.Diff(want, got, cmpRows()); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
	checkUTC(t, what, got)
}

func testTimePrecision(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	d := e.seedDevice(t, a.ID, "hw-1")
	base := time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC)
	r := newRegistration(a, d, nil)
	r.CreatedAt = base
	r.UpdatedAt = base.Add(time.Microsecond)
	r.LastSeenAt = base.Add(999999 * time.Microsecond)
	r.PolicyUpdatedAt = base.Add(100 * time.Millisecond)
	r.RevokedAt = base.Add(120 * time.Millisecond)
	r.DeletedAt = base.Add(123456 * time.Microsecond)
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r) })

	got := e.registration(t, a.ID, r.ID)
	times := []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, r.CreatedAt},
		{"UpdatedAt", got.UpdatedAt, r.UpdatedAt},
		{"LastSeenAt", got.LastSeenAt, r.LastSeenAt},
		{"PolicyUpdatedAt", got.PolicyUpdatedAt, r.PolicyUpdatedAt},
		{"RevokedAt", got.RevokedAt, r.RevokedAt},
		{"DeletedAt", got.DeletedAt, r.DeletedAt},
	}
	for _, tm := range times {
		if !tm.got.Equal(tm.want) || tm.got.Location() != time.UTC {
			t.Errorf("%s: got %s, want %s", tm.name,
				tm.got.Format(time.RFC3339Nano+" MST"), tm.want.Format(time.RFC3339Nano+" MST"))
		}
	}
}

func testGroupsNilEmpty(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	some := []string{"zeta", "alpha", "Alpha", "with, comma", `"quoted"`, "ünï", ""}
	cases := []struct {
		email        string
		groups, want []string
	}{
		{"nil@example.com", nil, []string{}},
		{"empty@example.com", []string{}, []string{}},
		{"some@example.com", some, some},
	}
	for _, c := range cases {
		u := &device.User{ID: device.NewID(), AccountID: a.ID, Email: c.email,
			Groups: c.groups, CreatedAt: rowTime(1), UpdatedAt: rowTime(1)}
		e.update(t, func(tx device.Tx) error { return tx.PutUser(e.ctx, u) })
		got, err := e.store.User(e.ctx, a.ID, u.ID)
		if err != nil {
			t.Fatalf("User(%s): %v", c.email, err)
		}
		// cmp without EquateEmpty tells nil from empty.
		if diff := cmp.Diff(c.want, got.Groups); diff != "" {
			t.Errorf("%s: Groups = %#v, want %#v", c.email, got.Groups, c.want)
		}
	}
}

func testNoUserView(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	d := e.seedDevice(t, a.ID, "hw-1")
	r := e.seedRegistration(t, a, d, nil)
	got := e.registration(t, a.ID, r.ID)
	if got.UserID != "" || got.User != nil {
		t.Errorf("UserID, User = %q, %+v; want empty and nil", got.UserID, got.User)
	}
	want := withViews(r, d, nil, e.defaultProfile(t, a))
	check(t, "Registration", got, &want, nil)
}

func testPutReplaces(t *testing.T, e *env) {
	a := e.seedAccount(t, true)
	p := e.seedProfile(t, a.ID, "Old name")
	u := e.seedUser(t, a.ID, "ann@example.com")
	d := e.seedDevice(t, a.ID, "hw-1")
	r := e.seedRegistration(t, a, d, u)

	p.Name, p.DeletedAt, p.UpdatedAt = "New name", rowTime(30), rowTime(30)
	u.Email, u.Name, u.Groups, u.UpdatedAt = "ann@corp.example", "Ann", []string{"x"}, rowTime(31)
	d.Facts = device.DeviceFacts{Name: "Renamed", HardwareID: "hw-1"}
	d.LastSeenAt, d.UpdatedAt = rowTime(32), rowTime(32)
	r.ProfileID, r.Key, r.KeyType = p.ID, newP256Key(t).SPKI, device.KeySecp256r1
	r.TunnelType, r.UpdatedAt, r.SecretHash = device.TunnelMASQUE, rowTime(33), nil
	e.update(t, func(tx device.Tx) error {
		return errors.Join(tx.PutProfile(e.ctx, p), tx.PutUser(e.ctx, u),
			tx.PutDevice(e.ctx, d), tx.PutRegistration(e.ctx, r))
	})
	want := withViews(r, d, u, p)
	gotR, err := e.store.Registration(e.ctx, a.ID, r.ID)
	check(t, "Registration", gotR, &want, err)
	_, err = e.store.UserByEmail(e.ctx, a.ID, "ann@example.com")
	wantIs(t, "UserByEmail(old email)", err, device.ErrNotFound)
}

func testTombstones(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	d := e.seedDevice(t, a.ID, "hw-1")
	r := e.seedRegistration(t, a, d, nil)
	d.DeletedAt, r.DeletedAt = rowTime(40), rowTime(40)
	e.update(t, func(tx device.Tx) error {
		return errors.Join(tx.PutDevice(e.ctx, d), tx.PutRegistration(e.ctx, r))
	})

	want := withViews(r, d, nil, e.defaultProfile(t, a))
	gotR, err := e.store.Registration(e.ctx, a.ID, r.ID)
	check(t, "Registration of a tombstone", gotR, &want, err)
	gotD, err := e.store.Device(e.ctx, a.ID, d.ID)
	check(t, "Device of a deleted device", gotD,
		deviceViews(d, 0, r, nil, e.defaultProfile(t, a)), err)
	_, err = e.store.LiveRegistration(e.ctx, d.ID, "")
	wantIs(t, "LiveRegistration of a deleted seat", err, device.ErrNotFound)
	_, err = e.store.DeviceByHardwareID(e.ctx, a.ID, "hw-1")
	wantIs(t, "DeviceByHardwareID of a deleted device", err, device.ErrNotFound)
	_, err = e.store.DeviceBySerial(e.ctx, a.ID, d.Facts.SerialNumber, false)
	wantIs(t, "DeviceBySerial of a deleted device", err, device.ErrNotFound)
}

func testRollback(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	d := e.seedDevice(t, a.ID, "hw-1")
	r := e.seedRegistration(t, a, d, nil)
	ek := &device.EnrollmentKey{ID: device.NewID(), AccountID: a.ID,
		Hash: device.HashSecret("k"), CreatedAt: rowTime(1)}
	e.update(t, func(tx device.Tx) error { return tx.InsertEnrollmentKey(e.ctx, ek) })
	before := e.registration(t, a.ID, r.ID)

	b := &device.Account{ID: device.NewAccountID(), Name: "Doomed", CreatedAt: rowTime(2)}
	boom := errors.New("boom")
	err := e.store.Update(e.ctx, func(tx device.Tx) error {
		d2 := *d
		d2.Facts.Name = "changed"
		r2 := *r
		r2.Key = newCurve25519Key()
		return errors.Join(tx.InsertAccount(e.ctx, b), tx.PutDevice(e.ctx, &d2),
			tx.PutRegistration(e.ctx, &r2),
			tx.TouchRegistrations(e.ctx, []*device.Registration{r}, rowTime(50)),
			tx.SpendEnrollmentKey(e.ctx, ek.ID, rowTime(50)),
			tx.PutSettingIfAbsent(e.ctx, "doomed", []byte("x")), boom)
	})
	wantIs(t, "Update", err, boom)

	_, err = e.store.Account(e.ctx, b.ID)
	wantIs(t, "Account after rollback", err, device.ErrNotFound)
	_, err = e.store.Setting(e.ctx, "doomed")
	wantIs(t, "Setting after rollback", err, device.ErrNotFound)
	check(t, "Registration after rollback", e.registration(t, a.ID, r.ID), before, nil)
	check(t, "Device after rollback", e.device(t, a.ID, d.ID),
		deviceViews(d, 1, r, nil, e.defaultProfile(t, a)), nil)
	gotEK, err := e.store.EnrollmentKeyByHash(e.ctx, ek.Hash)
	check(t, "EnrollmentKey after rollback", gotEK, ek, err)

	err = e.store.Update(e.ctx, func(tx device.Tx) error {
		return fmt.Errorf("wrapped: %w", device.Errorf(device.KindRevoked, "revoked"))
	})
	wantKind(t, "Update returning a domain error", err, device.KindRevoked)
}

func testReadOwnWrites(t *testing.T, e *env) {
	a := e.seedAccount(t, true)
	e.update(t, func(tx device.Tx) error {
		u := &device.User{ID: device.NewID(), AccountID: a.ID, Email: "ann@example.com",
			Groups: []string{}, CreatedAt: rowTime(1), UpdatedAt: rowTime(1)}
		d := newDevice(a.ID, "hw-1")
		r := newRegistration(a, d, u)
		if err := errors.Join(tx.PutUser(e.ctx, u), tx.PutDevice(e.ctx, d),
			tx.PutRegistration(e.ctx, r)); err != nil {
			return err
		}
		got, err := tx.Registration(e.ctx, a.ID, r.ID)
		if err != nil {
			return fmt.Errorf("registration inside the transaction: %w", err)
		}
		if got.User == nil || got.User.ID != u.ID || got.DeviceName != d.Facts.Name {
			t.Errorf("registration inside the transaction: got views %+v, %q",
				got.User, got.DeviceName)
		}
		_, err = tx.LiveRegistration(e.ctx, d.ID, u.ID)
		return err
	})
}

func testConcurrentUpdates(t *testing.T, e *env) {
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	ids := make(chan string, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				a, err := e.svc.CreateAccount(e.ctx, "Concurrent", false)
				if err != nil {
					errs <- err
					continue
				}
				ids <- a.ID
				if _, err := e.store.Account(e.ctx, a.ID); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Errorf("concurrent write or read: %v", err)
	}
	n := 0
	for id := range ids {
		if _, err := e.store.Account(e.ctx, id); err != nil {
			t.Errorf("Account(%s) after concurrent writes: %v", id, err)
		}
		n++
	}
	if n != writers*each {
		t.Errorf("accounts created: got %d, want %d", n, writers*each)
	}
}
