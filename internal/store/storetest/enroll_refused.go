package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func refusalTests() []behaviour {
	return []behaviour{
		{"unknown key writes nothing", testRefuseUnknownKey},
		{"spent key writes nothing", testRefuseSpentKey},
		{"expired key writes nothing", testRefuseExpiredKey},
		{"duplicate public key writes nothing and leaves the key unspent", testRefuseDuplicateKey},
		{"invalid request writes nothing", testRefuseInvalid},
		{"serial number of two devices writes nothing", testRefuseAmbiguousSerial},
		{"revoked seat refuses until unrevoked", testRefuseRevokedSeat},
		{"revoked seat in a multi-user account refuses only its user", testRefuseRevokedMultiUser},
	}
}

// probe names the rows a refused enrolment might have written by mistake.
type probe struct {
	emails      []string
	hardwareIDs []string
	keySecrets  []string
}

// snapshot is what an account holds, as far as enrolment can change it.
type snapshot struct {
	Account       *device.Account
	Registrations []device.Registration
	Devices       map[string]*device.Device // by hardware id probed; nil when absent
	Users         map[string]*device.User   // by email probed; nil when absent
	Keys          map[string]*device.EnrollmentKey
}

func (e *env) snapshot(t *testing.T, accountID string, p probe) snapshot {
	t.Helper()
	s := snapshot{
		Devices: map[string]*device.Device{},
		Users:   map[string]*device.User{},
		Keys:    map[string]*device.EnrollmentKey{},
	}
	var err error
	if s.Account, err = e.store.Account(e.ctx, accountID); err != nil {
		t.Fatalf("snapshot: Account: %v", err)
	}
	q := device.ListQuery{Status: device.StatusAll, Sort: device.SortByID, Limit: device.MaxPerPage}
	page, err := e.store.ListRegistrations(e.ctx, accountID, q)
	if err != nil {
		t.Fatalf("snapshot: ListRegistrations: %v", err)
	}
	s.Registrations = page.Registrations
	for _, hw := range p.hardwareIDs {
		s.Devices[hw], err = e.store.DeviceByHardwareID(e.ctx, accountID, hw)
		notFoundOK(t, "snapshot: DeviceByHardwareID", err)
	}
	for _, email := range p.emails {
		s.Users[email], err = e.store.UserByEmail(e.ctx, accountID, email)
		notFoundOK(t, "snapshot: UserByEmail", err)
	}
	for _, secret := range p.keySecrets {
		s.Keys[secret], err = e.store.EnrollmentKeyByHash(e.ctx, device.HashSecret(secret))
		notFoundOK(t, "snapshot: EnrollmentKeyByHash", err)
	}
	return s
}

func notFoundOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, device.ErrNotFound) {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantRefused enrols req, expects kind, and checks that the account is as it was.
func (e *env) wantRefused(t *testing.T, accountID, secret string, req device.EnrollRequest,
	kind device.Kind,
) {
	t.Helper()
	p := probe{
		emails:      []string{req.UserEmail},
		hardwareIDs: []string{req.Device.HardwareID},
		keySecrets:  []string{secret},
	}
	before := e.snapshot(t, accountID, p)
	_, err := e.svc.Enroll(e.ctx, secret, req)
	wantKind(t, "Enroll", err, kind)
	after := e.snapshot(t, accountID, p)
	if diff := cmp.Diff(before, after, cmpRows()); diff != "" {
		t.Errorf("refused enrolment changed the account (-before +after):\n%s", diff)
	}
}

// refusalAccount returns a single-user account holding one enrolled device.
func (e *env) refusalAccount(t *testing.T) (*device.Account, *device.Enrollment) {
	t.Helper()
	a := e.newAccount(t, false)
	en := e.enroll(t, e.newEnrollKey(t, a.ID, true), enrollRequest("hw-0", "ann@example.com"))
	e.clock.Advance(time.Minute)
	return a, en
}

func testRefuseUnknownKey(t *testing.T, e *env) {
	a, _ := e.refusalAccount(t)
	req := enrollRequest("hw-new", "new@example.com")
	e.wantRefused(t, a.ID, device.NewSecret(), req, device.KindUnauthorized)
}

func testRefuseSpentKey(t *testing.T, e *env) {
	a, _ := e.refusalAccount(t)
	secret := e.newEnrollKey(t, a.ID, false)
	e.enroll(t, secret, enrollRequest("hw-1", "bob@example.com"))
	req := enrollRequest("hw-new", "new@example.com")
	e.wantRefused(t, a.ID, secret, req, device.KindUnauthorized)
}

func testRefuseExpiredKey(t *testing.T, e *env) {
	a, _ := e.refusalAccount(t)
	_, secret, err := e.svc.CreateEnrollmentKey(e.ctx, a.ID, true, time.Hour)
	if err != nil {
		t.Fatalf("CreateEnrollmentKey: %v", err)
	}
	e.clock.Advance(time.Hour - time.Microsecond)
	e.enroll(t, secret, enrollRequest("hw-1", "bob@example.com"))
	e.clock.Advance(time.Microsecond)
	req := enrollRequest("hw-new", "new@example.com")
	e.wantRefused(t, a.ID, secret, req, device.KindUnauthorized)
}

// testRefuseAmbiguousSerial: an enrolment without a hardware id whose serial
// number two live devices report replaces neither device's registration, and
// leaves its single-use key unspent.
func testRefuseAmbiguousSerial(t *testing.T, e *env) {
	a, _ := e.refusalAccount(t)
	reusable := e.newEnrollKey(t, a.ID, true)
	for _, hw := range []string{"hw-a", "hw-b"} {
		req := enrollRequest(hw, hw+"@example.com")
		req.Device.SerialNumber = "SER-1"
		e.enroll(t, reusable, req)
	}
	req := enrollRequest("", "new@example.com")
	req.Device.SerialNumber = "SER-1"
	e.wantRefused(t, a.ID, e.newEnrollKey(t, a.ID, false), req, device.KindConflict)
}

func testRefuseDuplicateKey(t *testing.T, e *env) {
	a, existing := e.refusalAccount(t)
	secret := e.newEnrollKey(t, a.ID, false)
	req := enrollRequest("hw-new", "new@example.com")
	req.Key = existing.Registration.Key
	e.wantRefused(t, a.ID, secret, req, device.KindConflict)

	req.Key = newCurve25519Key()
	e.enroll(t, secret, req)
}

func testRefuseInvalid(t *testing.T, e *env) {
	a, _ := e.refusalAccount(t)
	secret := e.newEnrollKey(t, a.ID, false)
	req := enrollRequest("hw-new", "new@example.com")
	req.TunnelType = device.TunnelMASQUE
	e.wantRefused(t, a.ID, secret, req, device.KindInvalid)

	req = enrollRequest("hw-new", "new@example.com")
	req.Device.DeviceType = "plan9" // an operating system no WARP client reports
	e.wantRefused(t, a.ID, secret, req, device.KindInvalid)
}

func testRefuseRevokedSeat(t *testing.T, e *env) {
	a, existing := e.refusalAccount(t)
	id := existing.Registration.ID
	if err := e.svc.Revoke(e.ctx, a.ID, []string{id}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	secret := e.newEnrollKey(t, a.ID, false)
	e.wantRefused(t, a.ID, secret, enrollRequest("hw-0", "new@example.com"), device.KindRevoked)

	if err := e.svc.Unrevoke(e.ctx, a.ID, []string{id}); err != nil {
		t.Fatalf("Unrevoke: %v", err)
	}
	if r := e.enroll(t, secret, enrollRequest("hw-0", "new@example.com")).Registration; r.ID != id {
		t.Errorf("enrolment after unrevoke: got id %s, want the seat's %s", r.ID, id)
	}
}

func testRefuseRevokedMultiUser(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	secret := e.newEnrollKey(t, a.ID, true)
	ann := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com")).Registration
	if err := e.svc.Revoke(e.ctx, a.ID, []string{ann.ID}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	e.wantRefused(t, a.ID, secret, enrollRequest("hw-1", "ann@example.com"), device.KindRevoked)
	bob := e.enroll(t, secret, enrollRequest("hw-1", "bob@example.com")).Registration
	if bob.DeviceID != ann.DeviceID {
		t.Errorf("bob's device = %s, want ann's %s", bob.DeviceID, ann.DeviceID)
	}
}
