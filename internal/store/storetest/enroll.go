package storetest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func enrollTests() []behaviour {
	return []behaviour{
		{"single-user enrolment seats the device under its own id", testEnrollSingleUser},
		{"re-enrolling a seat replaces key, user and secret in place", testReEnroll},
		{"multi-user device holds a registration per user", testEnrollMultiUser},
		{"deleted registration is final", testEnrollAfterDelete},
		{"device is recognised by hardware id, else serial number", testRecognition},
		{"a serial number that two devices report recognises neither", testAmbiguousSerial},
		{"reusable key enrols many devices and stays unspent", testReusableKey},
		{"single-use key is spent by its enrolment", testSingleUseKey},
		{"secp256r1 key is stored in one spelling", testEnrollP256},
		{"a key may be registered in two accounts", testKeyInTwoAccounts},
		{"concurrent enrolments spend a single-use key once", testConcurrentEnroll},
		{"a new device's enrolment looks up no state of what it creates",
			testEnrollNewLooksUpNothing},
	}
}

// lookupStore counts, in its transactions, the reads by id that an enrolment would
// make to audit the state of what it writes.
type lookupStore struct {
	device.Store
	mu      sync.Mutex
	lookups map[string]int
}

type lookupTx struct {
	device.Tx
	s *lookupStore
}

func (s *lookupStore) Update(ctx context.Context, fn func(tx device.Tx) error) error {
	return s.Store.Update(ctx, func(tx device.Tx) error { return fn(lookupTx{tx, s}) })
}

func (s *lookupStore) count(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups[what]++
}

func (t lookupTx) OverrideSecret(ctx context.Context, id string) (*device.OverrideSecret, error) {
	t.s.count("override secret")
	return t.Tx.OverrideSecret(ctx, id)
}

func (t lookupTx) User(ctx context.Context, accountID, id string) (*device.User, error) {
	t.s.count("user")
	return t.Tx.User(ctx, accountID, id)
}

func (t lookupTx) Device(ctx context.Context, accountID, id string) (*device.Device, error) {
	t.s.count("device")
	return t.Tx.Device(ctx, accountID, id)
}

// testEnrollNewLooksUpNothing: an enrolment of a device and user new to the account
// draws their ids (and the registration's) itself, so it reads neither them nor the
// registration's override secret before it writes them; re-enrolling the same seat
// reads the secret it replaces.
func testEnrollNewLooksUpNothing(t *testing.T, e *env) {
	for _, multi := range []bool{false, true} {
		counted := &lookupStore{Store: e.store, lookups: map[string]int{}}
		svc := device.NewService(counted, e.clock.Now, slog.New(slog.DiscardHandler))
		a := e.newAccount(t, multi)
		secret := e.newEnrollKey(t, a.ID, true)
		req := enrollRequest("hw-new", "new@example.com")
		if _, err := svc.Enroll(e.ctx, secret, req); err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		if len(counted.lookups) != 0 {
			t.Errorf("multi-user %v: new enrolment looked up %v", multi, counted.lookups)
		}
		req.Key = newCurve25519Key()
		if _, err := svc.Enroll(e.ctx, secret, req); err != nil {
			t.Fatalf("Enroll again: %v", err)
		}
		if counted.lookups["override secret"] != 1 {
			t.Errorf("multi-user %v: re-enrolment looked up %v, want the override secret",
				multi, counted.lookups)
		}
	}
}

func testEnrollSingleUser(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, false)
	e.clock.Advance(time.Minute + 1500*time.Nanosecond)
	now := e.svc.Now()
	req := enrollRequest("hw-1", " Ann@Example.COM ")
	req.UserName = "  Ann Example "
	en := e.enroll(t, secret, req)
	got := en.Registration
	if got.ID != got.DeviceID {
		t.Errorf("registration id %s differs from device id %s", got.ID, got.DeviceID)
	}

	user, err := e.store.UserByEmail(e.ctx, a.ID, "ann@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	wantUser := &device.User{
		ID: user.ID, AccountID: a.ID, Email: "ann@example.com", Name: "Ann Example",
		Groups: []string{"staff"}, CreatedAt: now, UpdatedAt: now,
	}
	check(t, "User", user, wantUser, nil)
	wantDevice := deviceViews(&device.Device{
		ID: got.DeviceID, AccountID: a.ID, Facts: req.Device,
		LastSeenAt: now, CreatedAt: now, UpdatedAt: now,
	}, 1, got, wantUser, e.defaultProfile(t, a))
	check(t, "Device", e.device(t, a.ID, got.DeviceID), wantDevice, nil)

	want := &device.Registration{
		ID: got.DeviceID, AccountID: a.ID, DeviceID: got.DeviceID, UserID: user.ID,
		ProfileID: a.DefaultProfileID, Key: req.Key, KeyType: device.KeyCurve25519,
		TunnelType: device.TunnelWireGuard, SecretHash: device.HashSecret(en.Token),
		CreatedAt: now, UpdatedAt: now, LastSeenAt: now, PolicyUpdatedAt: now,
		DeviceName: req.Device.Name, ClientVersion: req.Device.ClientVersion,
		User: userView(wantUser), Policy: policyView(e.defaultProfile(t, a)),
	}
	check(t, "Enroll result", got, want, nil)
	check(t, "Registration read back", e.registration(t, a.ID, got.ID), want, nil)
	if _, err := e.svc.Heartbeat(e.ctx, got.ID, en.Token, ""); err != nil {
		t.Errorf("Heartbeat with the new token: %v", err)
	}
}

func testReEnroll(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, true)
	first := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com"))
	e.clock.Advance(time.Hour)
	now := e.svc.Now()
	req := enrollRequest("hw-1", "bob@example.com")
	second := e.enroll(t, secret, req)

	r1, r2 := first.Registration, second.Registration
	bob, err := e.store.UserByEmail(e.ctx, a.ID, "bob@example.com")
	if err != nil {
		t.Fatalf("UserByEmail(bob): %v", err)
	}
	want := *r1
	want.UserID, want.User, want.Key = bob.ID, userView(bob), req.Key
	want.SecretHash = device.HashSecret(second.Token)
	want.UpdatedAt, want.LastSeenAt = now, now
	check(t, "re-enrolled registration", r2, &want, nil)

	_, err = e.svc.Heartbeat(e.ctx, r1.ID, first.Token, "")
	wantKind(t, "Heartbeat with the replaced token", err, device.KindUnauthorized)
	if _, err := e.svc.Heartbeat(e.ctx, r2.ID, second.Token, ""); err != nil {
		t.Errorf("Heartbeat with the new token: %v", err)
	}
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusAll}, r1.ID)

	reuse := enrollRequest("hw-2", "cy@example.com")
	reuse.Key = r1.Key
	e.enroll(t, secret, reuse)
}

func testEnrollMultiUser(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	secret := e.newEnrollKey(t, a.ID, true)
	ann := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com")).Registration
	bob := e.enroll(t, secret, enrollRequest("hw-1", "bob@example.com")).Registration
	if ann.DeviceID != bob.DeviceID {
		t.Errorf("device ids: ann %s, bob %s; want one device", ann.DeviceID, bob.DeviceID)
	}
	if ann.ID == bob.ID || ann.ID == ann.DeviceID || bob.ID == bob.DeviceID {
		t.Errorf("ids ann %s, bob %s on device %s: want distinct registrations",
			ann.ID, bob.ID, ann.DeviceID)
	}
	if ann.Slot != ann.UserID || bob.Slot != bob.UserID {
		t.Errorf("slots = %q, %q; want the user ids %q, %q",
			ann.Slot, bob.Slot, ann.UserID, bob.UserID)
	}

	e.clock.Advance(time.Hour)
	again := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com")).Registration
	if again.ID != ann.ID {
		t.Errorf("re-enrolled ann: got id %s, want %s", again.ID, ann.ID)
	}
	bobNow := e.registration(t, a.ID, bob.ID)
	bobNow.DeviceName, bob.DeviceName = "", "" // the device's facts are shared and may move
	bobNow.ClientVersion, bob.ClientVersion = "", ""
	check(t, "bob's registration after ann re-enrolled", bobNow, bob, nil)
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusAll}, ann.ID, bob.ID)
}

func testEnrollAfterDelete(t *testing.T, e *env) {
	single := e.newAccount(t, false)
	secret := e.newEnrollKey(t, single.ID, true)
	old := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com"))
	e.clock.Advance(time.Minute)
	deletedAt := e.svc.Now()
	if err := e.svc.Delete(e.ctx, single.ID, []string{old.Registration.ID}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	e.clock.Advance(time.Minute)
	next := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com")).Registration
	if next.ID == old.Registration.ID || next.DeviceID == old.Registration.DeviceID {
		t.Errorf("enrolment after delete: got ids %s on device %s, want new ids (old %s)",
			next.ID, next.DeviceID, old.Registration.ID)
	}
	if next.ID != next.DeviceID {
		t.Errorf("new registration id %s differs from its device id %s", next.ID, next.DeviceID)
	}
	tomb := e.registration(t, single.ID, old.Registration.ID)
	if !tomb.DeletedAt.Equal(deletedAt) {
		t.Errorf("tombstone DeletedAt = %s, want %s", tomb.DeletedAt, deletedAt)
	}
	_, err := e.svc.Heartbeat(e.ctx, old.Registration.ID, old.Token, "")
	wantKind(t, "Heartbeat of the deleted registration", err, device.KindUnauthorized)

	multi := e.newAccount(t, true)
	mSecret := e.newEnrollKey(t, multi.ID, true)
	mOld := e.enroll(t, mSecret, enrollRequest("hw-1", "ann@example.com")).Registration
	if err := e.svc.Delete(e.ctx, multi.ID, []string{mOld.ID}); err != nil {
		t.Fatalf("Delete (multi-user): %v", err)
	}
	mNext := e.enroll(t, mSecret, enrollRequest("hw-1", "ann@example.com")).Registration
	if mNext.ID == mOld.ID {
		t.Errorf("multi-user enrolment after delete reused registration id %s", mOld.ID)
	}
}

func testRecognition(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, true)
	byHW := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com")).Registration
	req := enrollRequest("hw-1", "ann@example.com")
	req.Device.SerialNumber = "board-replaced"
	again := e.enroll(t, secret, req).Registration
	if again.DeviceID != byHW.DeviceID {
		t.Errorf("same hardware id, new serial: device %s, want %s", again.DeviceID, byHW.DeviceID)
	}
	if got := e.device(t, a.ID, byHW.DeviceID).Facts.SerialNumber; got != "board-replaced" {
		t.Errorf("serial number after re-enrolment = %q, want %q", got, "board-replaced")
	}

	serialOnly := func() device.EnrollRequest {
		r := enrollRequest("", "bob@example.com")
		r.Device.SerialNumber = "C02XK0AAJGH5"
		return r
	}
	bySerial := e.enroll(t, secret, serialOnly()).Registration
	again = e.enroll(t, secret, serialOnly()).Registration
	if again.DeviceID != bySerial.DeviceID {
		t.Errorf("same serial, no hardware id: device %s, want %s",
			again.DeviceID, bySerial.DeviceID)
	}
	hwWins := serialOnly()
	hwWins.Device.HardwareID = "hw-2"
	if r := e.enroll(t, secret, hwWins).Registration; r.DeviceID == bySerial.DeviceID {
		t.Errorf("new hardware id with a known serial joined device %s; want a new device",
			r.DeviceID)
	}

	anonymous := func() device.EnrollRequest {
		r := enrollRequest("", "cy@example.com")
		r.Device.SerialNumber = ""
		return r
	}
	n1 := e.enroll(t, secret, anonymous()).Registration
	if n2 := e.enroll(t, secret, anonymous()).Registration; n1.DeviceID == n2.DeviceID {
		t.Errorf("two machines without identifiers share device %s", n1.DeviceID)
	}
}

// testAmbiguousSerial: two live devices told apart by hardware id share a serial
// number. DeviceBySerial answers ErrConflict rather than pick one, and an
// enrolment with that serial number alone is refused; once one of them is
// deleted, the serial number recognises the other again. A device without a hardware
// id is the one its serial number names, whatever devices with one report it too.
func testAmbiguousSerial(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, true)
	withSerial := func(hw string) device.EnrollRequest {
		r := enrollRequest(hw, "ann@example.com")
		r.Device.SerialNumber = "SER-1"
		return r
	}
	first := e.enroll(t, secret, withSerial("HW-A")).Registration
	d, err := e.store.DeviceBySerial(e.ctx, a.ID, "SER-1", false)
	if err != nil || d.ID != first.DeviceID {
		t.Fatalf("DeviceBySerial with one match: %v, %v; want device %s", d, err, first.DeviceID)
	}
	second := e.enroll(t, secret, withSerial("HW-B")).Registration
	_, err = e.store.DeviceBySerial(e.ctx, a.ID, "SER-1", false)
	wantIs(t, "DeviceBySerial with two matches", err, device.ErrConflict)
	_, err = e.svc.Enroll(e.ctx, secret, withSerial(""))
	wantKind(t, "Enroll with the shared serial number alone", err, device.KindConflict)

	if err := e.svc.DeleteDevice(e.ctx, a.ID, first.DeviceID); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	if got := e.enroll(t, secret, withSerial("")).Registration; got.DeviceID != second.DeviceID {
		t.Errorf("serial number alone after a delete: device %s, want %s", got.DeviceID,
			second.DeviceID)
	}

	// A device enrolled without a hardware id keeps its serial number's recognition
	// when a machine with a hardware id reports the same one.
	bare := enrollRequest("", "bob@example.com")
	bare.Device.SerialNumber = "Default string"
	x := e.enroll(t, secret, bare).Registration
	other := enrollRequest("HW-Y", "cy@example.com")
	other.Device.SerialNumber = "Default string"
	if y := e.enroll(t, secret, other).Registration; y.DeviceID == x.DeviceID {
		t.Fatalf("a hardware id of its own joined device %s", x.DeviceID)
	}
	if got := e.enroll(t, secret, bare).Registration; got.DeviceID != x.DeviceID {
		t.Errorf("serial number alone, shared with a device that has a hardware id: "+
			"device %s, want %s (the one without)", got.DeviceID, x.DeviceID)
	}
}

func (e *env) enrollmentKey(t *testing.T, secret string) *device.EnrollmentKey {
	t.Helper()
	k, err := e.store.EnrollmentKeyByHash(e.ctx, device.HashSecret(secret))
	if err != nil {
		t.Fatalf("EnrollmentKeyByHash: %v", err)
	}
	return k
}

func testReusableKey(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, true)
	var ids []string
	for _, hw := range []string{"hw-1", "hw-2", "hw-3"} {
		e.clock.Advance(time.Second)
		ids = append(ids, e.enroll(t, secret, enrollRequest(hw, hw+"@example.com")).Registration.ID)
	}
	if k := e.enrollmentKey(t, secret); !k.UsedAt.IsZero() {
		t.Errorf("reusable key UsedAt = %s, want zero", k.UsedAt)
	}
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusAll}, ids...)
}

func testSingleUseKey(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, false)
	e.clock.Advance(time.Minute)
	now := e.svc.Now()
	e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com"))
	if k := e.enrollmentKey(t, secret); !k.UsedAt.Equal(now) {
		t.Errorf("single-use key UsedAt = %s, want %s", k.UsedAt, now)
	}
	_, err := e.svc.Enroll(e.ctx, secret, enrollRequest("hw-2", "bob@example.com"))
	wantKind(t, "second enrolment with a single-use key", err, device.KindUnauthorized)
}

func testEnrollP256(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, true)
	k := newP256Key(t)
	req := enrollRequest("hw-1", "ann@example.com")
	req.Key, req.KeyType = k.Compressed, device.KeySecp256r1
	r := e.enroll(t, secret, req).Registration
	if r.Key != k.SPKI || r.KeyType != device.KeySecp256r1 || r.TunnelType != device.TunnelMASQUE {
		t.Errorf("key, key type, tunnel = %q, %s, %s; want %q, secp256r1, masque",
			r.Key, r.KeyType, r.TunnelType, k.SPKI)
	}
	for name, spelling := range map[string]string{"SPKI": k.SPKI, "uncompressed": k.Uncompressed} {
		dup := enrollRequest("hw-2", "bob@example.com")
		dup.Key, dup.KeyType = spelling, device.KeySecp256r1
		_, err := e.svc.Enroll(e.ctx, secret, dup)
		wantKind(t, "Enroll with the "+name+" spelling of a registered key", err,
			device.KindConflict)
	}
}

func testKeyInTwoAccounts(t *testing.T, e *env) {
	a, b := e.newAccount(t, false), e.newAccount(t, true)
	req := enrollRequest("hw-1", "ann@example.com")
	ra := e.enroll(t, e.newEnrollKey(t, a.ID, false), req).Registration
	rb := e.enroll(t, e.newEnrollKey(t, b.ID, false), req).Registration
	if ra.AccountID != a.ID || rb.AccountID != b.ID || ra.DeviceID == rb.DeviceID {
		t.Errorf("registrations %+v and %+v: want one per account on separate devices", ra, rb)
	}
}

func testConcurrentEnroll(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, false)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := enrollRequest("hw-"+string(rune('a'+i)), "user@example.com")
			_, errs[i] = e.svc.Enroll(e.ctx, secret, req)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case device.KindOf(err) != device.KindUnauthorized:
			t.Errorf("losing enrolment: got %v (kind %s), want kind unauthorized",
				err, kindName(device.KindOf(err)))
		}
	}
	if won != 1 {
		t.Errorf("enrolments that succeeded: got %d, want 1", won)
	}
	page, err := e.svc.List(e.ctx, a.ID, device.ListQuery{Status: device.StatusAll})
	if err != nil || page.Total != 1 {
		t.Errorf("List after the race: total %d, error %v; want 1", page.Total, err)
	}
}

// wantListed fails the test unless listing q (in id order) gives exactly ids.
func (e *env) wantListed(t *testing.T, accountID string, q device.ListQuery, ids ...string) {
	t.Helper()
	q.Limit = device.MaxPerPage
	page, err := e.svc.List(e.ctx, accountID, q)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := make(map[string]bool)
	for _, r := range page.Registrations {
		got[r.ID] = true
	}
	want := make(map[string]bool)
	for _, id := range ids {
		want[id] = true
	}
	if len(page.Registrations) != len(ids) || page.Total != len(ids) || len(got) != len(want) {
		t.Errorf("List %+v: got %d rows (total %d), want %d: %v", q,
			len(page.Registrations), page.Total, len(ids), ids)
		return
	}
	for id := range want {
		if !got[id] {
			t.Errorf("List %+v: missing %s", q, id)
		}
	}
}
