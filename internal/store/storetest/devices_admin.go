package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func deviceAdminTests() []behaviour {
	return []behaviour{
		{"device views follow enrolments, heartbeats, revokes and deletes", testDeviceViews},
		{"a re-enrolment by another user moves the last seen user", testDeviceReenrolled},
		{"revoking a device revokes its active registrations", testRevokeDevice},
		{"deleting a device leaves it and its registrations as tombstones", testDeleteDevice},
		{"a device of a single-user account deletes with its registration",
			testDeleteDeviceSingleUser},
		{"unknown, deleted and other accounts' devices look not found", testDeviceNotFound},
		{"the account's device counts follow every change", testDeviceCounts},
		{"a revocation written with other changes counts once", testRevokeWithOtherChanges},
	}
}

// testDeviceCounts checks, after each of a series of changes, that the totals a
// list takes from the account's counters equal those it counts row by row (a
// filter that matches every device forces the count) and the devices listed.
func testDeviceCounts(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	secret := e.newEnrollKey(t, a.ID, true)
	var regs []*device.Registration
	enrol := func(hw, email string) func() error {
		return func() error {
			en, err := e.svc.Enroll(e.ctx, secret, enrollRequest(hw, email))
			if err == nil {
				regs = append(regs, en.Registration)
			}
			return err
		}
	}
	id := func(i int) []string { return []string{regs[i].ID} }
	steps := []struct {
		name string
		do   func() error
	}{
		{"enrol", enrol("hw-1", "ann@example.com")},
		{"second seat", enrol("hw-1", "bob@example.com")},
		{"another device", enrol("hw-2", "ann@example.com")},
		{"revoke one seat", func() error { return e.svc.Revoke(e.ctx, a.ID, id(0)) }},
		{"revoke the other", func() error { return e.svc.Revoke(e.ctx, a.ID, id(1)) }},
		{"unrevoke", func() error { return e.svc.Unrevoke(e.ctx, a.ID, id(0)) }},
		{"delete a registration", func() error { return e.svc.Delete(e.ctx, a.ID, id(2)) }},
		{"re-enrol that device", enrol("hw-2", "cy@example.com")},
		{"revoke a device", func() error { return e.svc.RevokeDevice(e.ctx, a.ID, regs[0].DeviceID) }},
		{"delete a device", func() error { return e.svc.DeleteDevice(e.ctx, a.ID, regs[3].DeviceID) }},
		{"import", func() error {
			r := device.Registration{ID: device.NewID(), DeviceID: device.NewID(),
				Key: newCurve25519Key(), CreatedAt: e.svc.Now(), UpdatedAt: e.svc.Now(),
				LastSeenAt: e.svc.Now(), DeviceName: "Imported"}
			_, err := e.svc.Import(e.ctx, a.ID, []device.Registration{r})
			return err
		}},
	}
	for _, st := range steps {
		e.clock.Advance(time.Second)
		must(t, st.name, st.do())
		for _, act := range []device.ActiveFilter{device.ActiveOnly, device.ActiveInclude,
			device.ActiveExclude} {
			counted := device.DeviceListQuery{Active: act, SeenAfter: time.Unix(1, 0), Limit: 100}
			fromCounters := e.listDevices(t, a.ID, device.DeviceListQuery{Active: act, Limit: 100})
			byRows := e.listDevices(t, a.ID, counted)
			if fromCounters.Total != byRows.Total || byRows.Total != len(byRows.Devices) {
				t.Errorf("after %s, active %s: total %d from the counters, %d counted, %d listed",
					st.name, act, fromCounters.Total, byRows.Total, len(byRows.Devices))
			}
		}
	}
}

// seenView is what a test checks of a device's views.
type seenView struct {
	Active       int
	Registration string // the last seen registration's id
	Email        string // the last seen user's email
	Name         string
}

func (e *env) seenView(t *testing.T, accountID, id string) seenView {
	t.Helper()
	d := e.device(t, accountID, id)
	v := seenView{Active: d.ActiveRegistrations}
	if d.LastSeen != nil {
		v.Registration = d.LastSeen.ID
		if d.LastSeen.Policy == nil {
			t.Errorf("device %s: last seen registration %s has no policy", id, v.Registration)
		}
	}
	if d.LastSeenUser != nil {
		v.Email, v.Name = d.LastSeenUser.Email, d.LastSeenUser.Name
	}
	return v
}

func testDeviceViews(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	secret := e.newEnrollKey(t, a.ID, true)
	ann := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com"))
	dev := ann.Registration.DeviceID
	annID := ann.Registration.ID
	e.clock.Advance(time.Second)
	bobReq := enrollRequest("hw-1", "bob@example.com")
	bob := e.enroll(t, secret, bobReq)
	bobID := bob.Registration.ID

	steps := []struct {
		name string
		do   func() error
		want seenView
	}{
		{"after both enrolled", nil,
			seenView{2, bobID, "bob@example.com", "User bob@example.com"}},
		{"after ann's heartbeat", func() error {
			_, err := e.svc.Heartbeat(e.ctx, annID, ann.Token, "")
			return err
		}, seenView{2, annID, "ann@example.com", "User ann@example.com"}},
		{"after ann is revoked", func() error { return e.svc.Revoke(e.ctx, a.ID, []string{annID}) },
			seenView{1, annID, "ann@example.com", "User ann@example.com"}},
		{"after bob's heartbeat", func() error {
			_, err := e.svc.Heartbeat(e.ctx, bobID, bob.Token, "2025.1.0")
			return err
		}, seenView{1, bobID, "bob@example.com", "User bob@example.com"}},
		{"after bob re-enrols under a new name", func() error {
			bobReq.Key, bobReq.UserName = newCurve25519Key(), "Robert"
			_, err := e.svc.Enroll(e.ctx, secret, bobReq)
			return err
		}, seenView{1, bobID, "bob@example.com", "Robert"}},
		{"after bob is deleted", func() error { return e.svc.Delete(e.ctx, a.ID, []string{bobID}) },
			seenView{0, annID, "ann@example.com", "User ann@example.com"}},
		{"after ann is deleted", func() error { return e.svc.Delete(e.ctx, a.ID, []string{annID}) },
			seenView{0, bobID, "bob@example.com", "Robert"}},
	}
	for _, s := range steps {
		e.clock.Advance(time.Second)
		if s.do != nil {
			must(t, s.name, s.do())
		}
		if diff := cmp.Diff(s.want, e.seenView(t, a.ID, dev)); diff != "" {
			t.Errorf("%s: device views (-want +got):\n%s", s.name, diff)
		}
	}

	// The views drive the lists: the device has no active registration left, and
	// its search text follows the user's new name.
	q := device.DeviceListQuery{Active: device.ActiveExclude, Search: "robert",
		LastSeenUserEmail: "bob@example.com", Limit: 10}
	if got := deviceIDs(e.listAllDevices(t, a.ID, q)); !cmp.Equal(got, []string{dev}) {
		t.Errorf("ListDevices %s = %v, want [%s]", describeDevices(q), got, dev)
	}
	if got := e.listAllDevices(t, a.ID, device.DeviceListQuery{Limit: 10}); len(got) != 0 {
		t.Errorf("default ListDevices = %v, want no device", deviceIDs(got))
	}
}

func testDeviceReenrolled(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, true)
	en := e.enroll(t, secret, enrollRequest("hw-1", "ann@example.com"))
	e.clock.Advance(time.Second)
	req := enrollRequest("hw-1", "cy@example.com")
	req.UserName = "Cy"
	e.enroll(t, secret, req)

	want := seenView{1, en.Registration.ID, "cy@example.com", "Cy"}
	if diff := cmp.Diff(want, e.seenView(t, a.ID, en.Registration.DeviceID)); diff != "" {
		t.Errorf("device views after another user's enrolment (-want +got):\n%s", diff)
	}
	q := device.DeviceListQuery{LastSeenUserEmail: "ann@example.com", Limit: 5}
	if got := e.listAllDevices(t, a.ID, q); len(got) != 0 {
		t.Errorf("ListDevices for the former user = %v, want none", deviceIDs(got))
	}
}

// deviceFixture is a multi-user device holding an active, a revoked and a deleted
// registration, beside another device of the same account.
type deviceFixture struct {
	acct                     *device.Account
	dev                      string
	active, revoked, deleted *device.Registration
	other                    *device.Registration
	seq                      int64 // the account's last change before the test acts
}

func (e *env) newDeviceFixture(t *testing.T) *deviceFixture {
	t.Helper()
	a := e.newAccount(t, true)
	secret := e.newEnrollKey(t, a.ID, true)
	f := &deviceFixture{acct: a}
	for i, email := range []string{"ann@example.com", "bob@example.com", "cy@example.com"} {
		e.clock.Advance(time.Second)
		r := e.enroll(t, secret, enrollRequest("hw-1", email)).Registration
		switch i {
		case 0:
			f.active = r
		case 1:
			f.revoked = r
		default:
			f.deleted = r
		}
	}
	f.dev = f.active.DeviceID
	f.other = e.enroll(t, secret, enrollRequest("hw-2", "ann@example.com")).Registration
	e.clock.Advance(time.Second)
	must(t, "Revoke", e.svc.Revoke(e.ctx, a.ID, []string{f.revoked.ID}))
	must(t, "Delete", e.svc.Delete(e.ctx, a.ID, []string{f.deleted.ID}))
	cs := e.changes(t, a.ID, 0)
	f.seq = cs[len(cs)-1].Seq
	e.clock.Advance(time.Second)
	return f
}

func testRevokeDevice(t *testing.T, e *env) {
	f := e.newDeviceFixture(t)
	before := map[string]*device.Registration{}
	for _, r := range []*device.Registration{f.revoked, f.deleted, f.other} {
		before[r.ID] = e.registration(t, f.acct.ID, r.ID)
	}
	now := e.svc.Now()
	must(t, "RevokeDevice", e.svc.RevokeDevice(e.ctx, f.acct.ID, f.dev))

	got := e.registration(t, f.acct.ID, f.active.ID)
	if !got.RevokedAt.Equal(now) || !got.UpdatedAt.Equal(now) || !got.DeletedAt.IsZero() {
		t.Errorf("active registration after RevokeDevice: revoked %s, updated %s, deleted %s; "+
			"want revoked and updated at %s", got.RevokedAt, got.UpdatedAt, got.DeletedAt, now)
	}
	for id, want := range before {
		check(t, "registration RevokeDevice leaves alone", e.registration(t, f.acct.ID, id), want, nil)
	}
	wantChanges := []device.Change{*changeOf(device.ChangeRevoked, got, now)}
	wantChanges[0].Seq = f.seq + 1
	if diff := cmp.Diff(wantChanges, e.changes(t, f.acct.ID, f.seq)); diff != "" {
		t.Errorf("changes logged by RevokeDevice (-want +got):\n%s", diff)
	}
	if v := e.seenView(t, f.acct.ID, f.dev); v.Active != 0 {
		t.Errorf("device after RevokeDevice: %d active registrations, want 0", v.Active)
	}
	page := e.listDevices(t, f.acct.ID, device.DeviceListQuery{})
	if diff := cmp.Diff([]string{f.other.DeviceID}, deviceIDs(page.Devices)); diff != "" {
		t.Errorf("default list after RevokeDevice (-want +got):\n%s", diff)
	}

	e.clock.Advance(time.Second)
	must(t, "RevokeDevice again", e.svc.RevokeDevice(e.ctx, f.acct.ID, f.dev))
	check(t, "registration revoked twice", e.registration(t, f.acct.ID, f.active.ID), got, nil)
	if n := len(e.changes(t, f.acct.ID, f.seq)); n != 1 {
		t.Errorf("changes after revoking twice: %d, want 1", n)
	}
}

func testDeleteDevice(t *testing.T, e *env) {
	f := e.newDeviceFixture(t)
	deletedBefore := e.registration(t, f.acct.ID, f.deleted.ID)
	otherBefore := e.registration(t, f.acct.ID, f.other.ID)
	revokedAt := e.registration(t, f.acct.ID, f.revoked.ID).RevokedAt
	now := e.svc.Now()
	must(t, "DeleteDevice", e.svc.DeleteDevice(e.ctx, f.acct.ID, f.dev))

	var wantChanges []device.Change
	for _, r := range []*device.Registration{f.active, f.revoked} {
		got := e.registration(t, f.acct.ID, r.ID)
		if !got.DeletedAt.Equal(now) || !got.UpdatedAt.Equal(now) {
			t.Errorf("registration %s after DeleteDevice: deleted %s, updated %s; want %s",
				r.ID, got.DeletedAt, got.UpdatedAt, now)
		}
		c := changeOf(device.ChangeDeleted, got, now)
		wantChanges = append(wantChanges, *c)
	}
	if got := e.registration(t, f.acct.ID, f.revoked.ID); !got.RevokedAt.Equal(revokedAt) {
		t.Errorf("revoked registration after DeleteDevice: revoked %s, want %s kept",
			got.RevokedAt, revokedAt)
	}
	check(t, "deleted registration", e.registration(t, f.acct.ID, f.deleted.ID), deletedBefore, nil)
	check(t, "other device's registration", e.registration(t, f.acct.ID, f.other.ID),
		otherBefore, nil)
	numberChanges(wantChanges, f.seq)
	if diff := cmp.Diff(wantChanges, e.changes(t, f.acct.ID, f.seq)); diff != "" {
		t.Errorf("changes logged by DeleteDevice (-want +got):\n%s", diff)
	}

	d := e.device(t, f.acct.ID, f.dev)
	if !d.DeletedAt.Equal(now) || d.ActiveRegistrations != 0 {
		t.Errorf("device after DeleteDevice: deleted %s, %d active; want deleted at %s, 0 active",
			d.DeletedAt, d.ActiveRegistrations, now)
	}
	for _, act := range []device.ActiveFilter{device.ActiveOnly, device.ActiveInclude,
		device.ActiveExclude} {
		q := device.DeviceListQuery{Active: act, Limit: 10}
		want := []string{}
		if act != device.ActiveExclude {
			want = []string{f.other.DeviceID}
		}
		if diff := cmp.Diff(want, deviceIDs(e.listAllDevices(t, f.acct.ID, q)),
			cmpRows()); diff != "" {
			t.Errorf("ListDevices %s after DeleteDevice (-want +got):\n%s", describeDevices(q), diff)
		}
	}

	e.clock.Advance(time.Second)
	must(t, "DeleteDevice again", e.svc.DeleteDevice(e.ctx, f.acct.ID, f.dev))
	if !e.device(t, f.acct.ID, f.dev).DeletedAt.Equal(now) {
		t.Errorf("deleting again moved the device's deleted_at")
	}
	if n := len(e.changes(t, f.acct.ID, f.seq)); n != 2 {
		t.Errorf("changes after deleting twice: %d, want 2", n)
	}
	wantKind(t, "RevokeDevice of a deleted device",
		e.svc.RevokeDevice(e.ctx, f.acct.ID, f.dev), device.KindNotFound)

	// The hardware id is free again: enrolling it creates a new device.
	en := e.enroll(t, e.newEnrollKey(t, f.acct.ID, false), enrollRequest("hw-1", "ann@example.com"))
	if en.Registration.DeviceID == f.dev {
		t.Errorf("enrolling hw-1 after DeleteDevice reused the deleted device %s", f.dev)
	}
}

func testDeleteDeviceSingleUser(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	r := ens[0].Registration
	now := e.svc.Now()
	must(t, "DeleteDevice", e.svc.DeleteDevice(e.ctx, a.ID, r.DeviceID))
	if got := e.registration(t, a.ID, r.ID); !got.DeletedAt.Equal(now) {
		t.Errorf("registration after DeleteDevice: deleted %s, want %s", got.DeletedAt, now)
	}
	if got := e.device(t, a.ID, r.DeviceID); !got.DeletedAt.Equal(now) {
		t.Errorf("device after DeleteDevice: deleted %s, want %s", got.DeletedAt, now)
	}
	page := e.listDevices(t, a.ID, device.DeviceListQuery{Active: device.ActiveInclude})
	if diff := cmp.Diff([]string{ens[1].Registration.DeviceID}, deviceIDs(page.Devices)); diff != "" {
		t.Errorf("ListDevices after DeleteDevice (-want +got):\n%s", diff)
	}
	if page.Total != 1 {
		t.Errorf("ListDevices after DeleteDevice: total %d, want 1", page.Total)
	}
}

func testDeviceNotFound(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 1)
	b, others := e.enrollN(t, false, 1)
	mine, theirs := ens[0].Registration.DeviceID, others[0].Registration.DeviceID
	for name, id := range map[string]string{
		"unknown": device.NewID(), "other account's": theirs, "malformed": "hw-a",
	} {
		_, err := e.svc.Device(e.ctx, a.ID, id)
		wantKind(t, "Device of an "+name+" id", err, device.KindNotFound)
		wantKind(t, "RevokeDevice of an "+name+" id", e.svc.RevokeDevice(e.ctx, a.ID, id),
			device.KindNotFound)
		wantKind(t, "DeleteDevice of an "+name+" id", e.svc.DeleteDevice(e.ctx, a.ID, id),
			device.KindNotFound)
	}
	if d, err := e.svc.Device(e.ctx, b.ID, theirs); err != nil || d.ActiveRegistrations != 1 {
		t.Errorf("account b's device after account a's calls: %+v, %v; want it active", d, err)
	}
	must(t, "DeleteDevice", e.svc.DeleteDevice(e.ctx, a.ID, mine))
	if d, err := e.svc.Device(e.ctx, a.ID, mine); err != nil || d.DeletedAt.IsZero() {
		t.Errorf("Device of a deleted device = %+v, %v; want its tombstone", d, err)
	}
}

// changeOf is the change a service logs of kind k for r at at, without its Seq.
func changeOf(k device.ChangeKind, r *device.Registration, at time.Time) *device.Change {
	return &device.Change{
		AccountID: r.AccountID, Kind: k, At: at, RegistrationID: r.ID, DeviceID: r.DeviceID,
		UserID: r.UserID, Key: r.Key, KeyType: r.KeyType, TunnelType: r.TunnelType,
		Active: r.Active(), ProfileID: r.ProfileID,
	}
}

// numberChanges orders changes by registration id, as a device's registrations are
// walked, and numbers them from after+1.
func numberChanges(cs []device.Change, after int64) {
	slices.SortFunc(cs, func(a, b device.Change) int {
		return strings.Compare(a.RegistrationID, b.RegistrationID)
	})
	for i := range cs {
		cs[i].Seq = after + int64(i+1)
	}
}

// testRevokeWithOtherChanges writes a revocation together with a change that makes
// the device's views be recomputed (a later last seen time, another user), in one
// upsert, as an import does: the device's active count must move once, not twice.
func testRevokeWithOtherChanges(t *testing.T, e *env) {
	a := e.seedAccount(t, true)
	ann, bob := e.seedUser(t, a.ID, "ann@example.com"), e.seedUser(t, a.ID, "bob@example.com")
	d := e.seedDevice(t, a.ID, "hw-1")
	r1, r2 := newRegistration(a, d, ann), newRegistration(a, d, bob)
	r1.LastSeenAt, r2.LastSeenAt = rowTime(5), rowTime(6)
	e.update(t, func(tx device.Tx) error {
		return errors.Join(tx.PutRegistration(e.ctx, r1), tx.PutRegistration(e.ctx, r2))
	})
	active := func(what string, want int) {
		t.Helper()
		got, err := e.store.Device(e.ctx, a.ID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ActiveRegistrations != want {
			t.Errorf("%s: device shows %d active registrations, want %d",
				what, got.ActiveRegistrations, want)
		}
	}
	active("two live seats", 2)

	r1.RevokedAt, r1.LastSeenAt = rowTime(7), rowTime(7)
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r1) })
	active("revoked and seen later in one write", 1)

	r1.RevokedAt, r1.LastSeenAt = time.Time{}, rowTime(8)
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r1) })
	active("unrevoked and seen later in one write", 2)

	carl := e.seedUser(t, a.ID, "carl@example.com")
	r2.RevokedAt, r2.UserID = rowTime(9), carl.ID
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r2) })
	active("revoked and given another user in one write", 1)
}
