package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func importTests() []behaviour {
	return []behaviour{
		{"import keeps ids and timestamps", testImportKeeps},
		{"import twice leaves the same rows", testImportTwice},
		{"imported default profile becomes the default", testImportDefault},
		{"imported registrations must enrol again", testImportNoSecret},
		{"import is all or nothing", testImportAtomic},
		{"multi-user import seats registrations by user", testImportMultiUser},
		{"import never changes a profile the account has", testImportKeepsProfiles},
		{"import creates missing profiles, a deleted one never the default",
			testImportNewProfiles},
		{"skipped registrations bring in no profile", testImportSkippedProfiles},
		{"a taken key or device seat is refused in words", testImportTaken},
		{"an imported device is last seen when its registrations were",
			testImportDeviceLastSeen},
	}
}

// importIDs fixes the ids of an import batch, so that it can be built twice.
type importIDs struct {
	regs, devices [4]string
	user          string
	profiles      [2]string
}

func newImportIDs() importIDs {
	var ids importIDs
	for i := range 4 {
		ids.regs[i], ids.devices[i] = device.NewID(), device.NewID()
	}
	ids.user, ids.profiles[0], ids.profiles[1] = device.NewID(), device.NewID(), device.NewID()
	return ids
}

// importBatch returns, as Cloudflare's API would give them: two registrations of
// one user under two profiles (the first the default, the second revoked), one
// without user or profile, and one deleted.
func importBatch(ids importIDs, key string) []device.Registration {
	user := func() *device.User {
		return &device.User{ID: ids.user, Email: "ann@example.com", Name: "Ann",
			Groups: []string{"engineering"}}
	}
	regs := []device.Registration{
		{DeviceName: "Imported Mac", ClientVersion: "2024.3.409.0", User: user(),
			Policy: &device.Profile{ID: ids.profiles[0], Name: "Engineering", Default: true,
				UpdatedAt: rowTime(1)}},
		{DeviceName: "Imported PC", User: user(), RevokedAt: rowTime(20),
			Policy: &device.Profile{ID: ids.profiles[1], Name: "Contractors",
				UpdatedAt: rowTime(2)}},
		{DeviceName: "Imported Chromebook"},
		{DeviceName: "Imported Phone", DeletedAt: rowTime(21)},
	}
	for i := range regs {
		r := &regs[i]
		r.ID, r.DeviceID = ids.regs[i], ids.devices[i]
		r.Key = key + string(rune('0'+i))
		r.KeyType, r.TunnelType = device.KeyCurve25519, device.TunnelWireGuard
		r.CreatedAt, r.UpdatedAt, r.LastSeenAt = rowTime(10+i), rowTime(11+i), rowTime(12+i)
	}
	return regs
}

func (e *env) importBatch(t *testing.T, a *device.Account,
	regs []device.Registration,
) device.ImportSummary {
	t.Helper()
	sum, err := e.svc.Import(e.ctx, a.ID, regs)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return sum
}

func testImportKeeps(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	ids := newImportIDs()
	sum := e.importBatch(t, a, importBatch(ids, "imported-key-"))
	wantSum := device.ImportSummary{Registrations: 4, Devices: 4, Users: 1, Profiles: 2}
	if sum != wantSum {
		t.Errorf("ImportSummary = %+v, want %+v", sum, wantSum)
	}

	src := importBatch(ids, "imported-key-")[0]
	user := &device.User{ID: ids.user, AccountID: a.ID, Email: "ann@example.com", Name: "Ann",
		Groups: []string{"engineering"}, CreatedAt: src.CreatedAt, UpdatedAt: src.UpdatedAt}
	policy := &device.Profile{ID: ids.profiles[0], AccountID: a.ID, Name: "Engineering",
		Default: true, CreatedAt: rowTime(1), UpdatedAt: rowTime(1)}
	want := src
	want.AccountID, want.UserID, want.ProfileID = a.ID, ids.user, ids.profiles[0]
	want.PolicyUpdatedAt, want.User, want.Policy = rowTime(1), userView(user), policy
	check(t, "imported registration", e.registration(t, a.ID, ids.regs[0]), &want, nil)

	d := e.device(t, a.ID, ids.devices[0])
	wantD := deviceViews(&device.Device{ID: ids.devices[0], AccountID: a.ID,
		Facts:      device.DeviceFacts{Name: "Imported Mac", ClientVersion: "2024.3.409.0"},
		LastSeenAt: src.LastSeenAt, CreatedAt: src.CreatedAt, UpdatedAt: src.UpdatedAt},
		1, &want, user, policy)
	check(t, "imported device", d, wantD, nil)

	if got := e.registration(t, a.ID, ids.regs[1]); !got.RevokedAt.Equal(rowTime(20)) {
		t.Errorf("imported revoked registration: RevokedAt = %s, want %s",
			got.RevokedAt, rowTime(20))
	}
	if got := e.registration(t, a.ID, ids.regs[3]); !got.DeletedAt.Equal(rowTime(21)) {
		t.Errorf("imported tombstone: DeletedAt = %s, want %s", got.DeletedAt, rowTime(21))
	}
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusAll},
		ids.regs[0], ids.regs[1], ids.regs[2])
}

// importState is everything an import writes, read back.
type importState struct {
	Account       *device.Account
	Registrations []*device.Registration
	Devices       []*device.Device
	Profiles      []*device.Profile
}

func (e *env) importState(t *testing.T, a *device.Account, ids importIDs,
	oldDefault string,
) importState {
	t.Helper()
	var s importState
	var err error
	if s.Account, err = e.store.Account(e.ctx, a.ID); err != nil {
		t.Fatalf("Account: %v", err)
	}
	for i := range ids.regs {
		s.Registrations = append(s.Registrations, e.registration(t, a.ID, ids.regs[i]))
		s.Devices = append(s.Devices, e.device(t, a.ID, ids.devices[i]))
	}
	for _, id := range []string{ids.profiles[0], ids.profiles[1], oldDefault} {
		p, err := e.store.Profile(e.ctx, a.ID, id)
		if err != nil {
			t.Fatalf("Profile(%s): %v", id, err)
		}
		s.Profiles = append(s.Profiles, p)
	}
	return s
}

func testImportTwice(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	ids := newImportIDs()
	first := e.importBatch(t, a, importBatch(ids, "imported-key-"))
	before := e.importState(t, a, ids, a.DefaultProfileID)
	second := e.importBatch(t, a, importBatch(ids, "imported-key-"))
	// The second import rewrites what it wrote, except rows deleted here (the batch
	// holds one imported as deleted, and deletion is final), and devices and
	// profiles, which exist.
	want := first
	want.Registrations, want.Skipped, want.Devices = first.Registrations-1, 1, 0
	want.Profiles = 0 // they exist now
	if second != want {
		t.Errorf("second ImportSummary = %+v, want %+v", second, want)
	}
	after := e.importState(t, a, ids, a.DefaultProfileID)
	if diff := cmp.Diff(before, after, cmpRows()); diff != "" {
		t.Errorf("rows after the second import (-first +second):\n%s", diff)
	}
}

func testImportDefault(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	ids := newImportIDs()
	e.importBatch(t, a, importBatch(ids, "imported-key-"))
	s := e.importState(t, a, ids, a.DefaultProfileID)
	if s.Account.DefaultProfileID != ids.profiles[0] {
		t.Errorf("account default profile = %s, want the imported default %s",
			s.Account.DefaultProfileID, ids.profiles[0])
	}
	if !s.Profiles[0].Default || s.Profiles[1].Default || s.Profiles[2].Default {
		t.Errorf("Default of imported, other imported, former default = %t, %t, %t; "+
			"want true, false, false",
			s.Profiles[0].Default, s.Profiles[1].Default, s.Profiles[2].Default)
	}
	en := e.enroll(t, e.newEnrollKey(t, a.ID, false), enrollRequest("hw-1", "bob@example.com"))
	if en.Registration.ProfileID != ids.profiles[0] {
		t.Errorf("new enrolment's profile = %s, want the imported default %s",
			en.Registration.ProfileID, ids.profiles[0])
	}
}

func testImportNoSecret(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	ids := newImportIDs()
	e.importBatch(t, a, importBatch(ids, "imported-key-"))
	for _, token := range []string{"", device.NewSecret()} {
		_, err := e.svc.Heartbeat(e.ctx, ids.regs[0], token, "")
		wantKind(t, "Heartbeat of an imported registration", err, device.KindUnauthorized)
	}
}

func testImportAtomic(t *testing.T, e *env) {
	a, b := e.newAccount(t, false), e.newAccount(t, false)
	theirs := e.enroll(t, e.newEnrollKey(t, b.ID, false), enrollRequest("hw-1", "bob@example.com"))
	ids := newImportIDs()
	batch := importBatch(ids, "imported-key-")
	batch[2].ID = theirs.Registration.ID
	_, err := e.svc.Import(e.ctx, a.ID, batch)
	wantKind(t, "Import with another account's registration id", err, device.KindConflict)
	wantIs(t, "Import with another account's registration id", err, device.ErrConflict)

	batch = importBatch(ids, "imported-key-")
	batch[3].DeviceID = "not-a-uuid"
	_, err = e.svc.Import(e.ctx, a.ID, batch)
	wantKind(t, "Import with a malformed device id", err, device.KindInvalid)

	for _, id := range ids.regs {
		if _, err := e.store.Registration(e.ctx, a.ID, id); !errors.Is(err, device.ErrNotFound) {
			t.Errorf("Registration(%s) after refused imports: got error %v, want ErrNotFound",
				id, err)
		}
	}
	acct, err := e.store.Account(e.ctx, a.ID)
	if err != nil || acct.DefaultProfileID != a.DefaultProfileID {
		t.Errorf("account after refused imports: %+v, %v; want default profile %s",
			acct, err, a.DefaultProfileID)
	}
	_, err = e.svc.Import(e.ctx, device.NewAccountID(), importBatch(ids, "k"))
	wantKind(t, "Import into an unknown account", err, device.KindNotFound)
}

func testImportMultiUser(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	ids := newImportIDs()
	batch := importBatch(ids, "imported-key-")
	batch[1].DeviceID = batch[0].DeviceID
	batch[1].User = &device.User{ID: device.NewID(), Email: "bob@example.com"}
	e.importBatch(t, a, batch)
	for _, r := range batch[:2] {
		got, err := e.store.LiveRegistration(e.ctx, r.DeviceID, r.User.ID)
		if err != nil || got.ID != r.ID {
			t.Errorf("LiveRegistration(%s, %s) = %v, %v; want %s",
				r.DeviceID, r.User.ID, got, err, r.ID)
		}
	}
}

// testImportDeviceLastSeen: a device is last seen when the latest of its
// registrations was, whether they come in one import or the later one in another,
// as enrolments and heartbeats keep it.
func testImportDeviceLastSeen(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	batch := importBatch(newImportIDs(), "seen-key-")[:2]
	batch[1].DeviceID = batch[0].DeviceID
	batch[1].User = &device.User{ID: device.NewID(), Email: "bob@example.com"}
	wantSeen := func(when string, at time.Time) {
		t.Helper()
		d, err := e.store.Device(e.ctx, a.ID, batch[0].DeviceID)
		if err != nil || !d.LastSeenAt.Equal(at) {
			t.Errorf("%s: device last seen %v (%v), want %v", when, d.LastSeenAt, err, at)
		}
	}

	e.importBatch(t, a, batch) // the second is seen after the first
	wantSeen("one import", batch[1].LastSeenAt)
	batch[0].LastSeenAt = rowTime(30)
	e.importBatch(t, a, batch[:1])
	wantSeen("a later import", rowTime(30))
	batch[1].LastSeenAt = rowTime(1) // an older record moves nothing back
	e.importBatch(t, a, batch[1:])
	wantSeen("an older record", rowTime(30))
}

// importWithPolicy returns one registration of a fresh batch, under policy.
func importWithPolicy(key string, policy device.Profile) device.Registration {
	r := importBatch(newImportIDs(), key)[2]
	r.Policy = &policy
	return r
}

// profileState is what an import may change of an account's profiles.
type profileState struct {
	DefaultID string
	Listed    []device.Profile
	Rows      []*device.Profile
}

func (e *env) profileState(t *testing.T, accountID string, ids ...string) profileState {
	t.Helper()
	acct, err := e.store.Account(e.ctx, accountID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	s := profileState{DefaultID: acct.DefaultProfileID}
	if s.Listed, err = e.store.Profiles(e.ctx, accountID); err != nil {
		t.Fatalf("Profiles: %v", err)
	}
	for _, id := range ids {
		p, err := e.store.Profile(e.ctx, accountID, id)
		if err != nil {
			t.Fatalf("Profile(%s): %v", id, err)
		}
		s.Rows = append(s.Rows, p)
	}
	return s
}

// wantOneDefault fails the test unless the account's live profiles hold exactly
// one default, the one the account names.
func (e *env) wantOneDefault(t *testing.T, what, accountID string) {
	t.Helper()
	s := e.profileState(t, accountID)
	var defaults []string
	for _, p := range s.Listed {
		if p.Default {
			defaults = append(defaults, p.ID)
		}
	}
	if len(defaults) != 1 || defaults[0] != s.DefaultID {
		t.Errorf("%s: live default profiles %v, account's default %s; want exactly that one",
			what, defaults, s.DefaultID)
	}
}

func testImportKeepsProfiles(t *testing.T, e *env) {
	summaries := []struct {
		name   string
		policy func(def, custom string) device.Profile
	}{
		{"the default, deleted", func(def, _ string) device.Profile {
			return device.Profile{ID: def, Default: true, DeletedAt: rowTime(3)}
		}},
		{"the default, deleted and not default", func(def, _ string) device.Profile {
			return device.Profile{ID: def, DeletedAt: rowTime(3)}
		}},
		{"the default, not default", func(def, _ string) device.Profile {
			return device.Profile{ID: def}
		}},
		{"a custom profile, as the default", func(_, custom string) device.Profile {
			return device.Profile{ID: custom, Default: true}
		}},
		{"a custom profile, deleted", func(_, custom string) device.Profile {
			return device.Profile{ID: custom, DeletedAt: rowTime(3)}
		}},
	}
	for _, s := range summaries {
		a := e.newAccount(t, false)
		custom := e.createProfile(t, a.ID, "Windows", `os.name == "windows"`, 20)
		before := e.profileState(t, a.ID, a.DefaultProfileID, custom.ID)

		policy := s.policy(a.DefaultProfileID, custom.ID)
		policy.Name, policy.UpdatedAt = "Renamed", rowTime(3)
		sum := e.importBatch(t, a, []device.Registration{importWithPolicy("keep-", policy)})
		if sum.Registrations != 1 || sum.Profiles != 0 {
			t.Errorf("%s: ImportSummary = %+v, want 1 registration and no profile", s.name, sum)
		}
		after := e.profileState(t, a.ID, a.DefaultProfileID, custom.ID)
		if diff := cmp.Diff(before, after, cmpRows()); diff != "" {
			t.Errorf("%s: profiles changed (-before +after):\n%s", s.name, diff)
		}
		e.wantOneDefault(t, s.name, a.ID)

		en := e.enroll(t, e.newEnrollKey(t, a.ID, false), enrollRequest("hw-1", "b@example.com"))
		if en.Registration.ProfileID != a.DefaultProfileID {
			t.Errorf("%s: new enrolment's profile = %s, want the default %s",
				s.name, en.Registration.ProfileID, a.DefaultProfileID)
		}
	}
}

func testImportNewProfiles(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	gone, custom := device.NewID(), device.NewID()
	regs := []device.Registration{
		importWithPolicy("new-0-", device.Profile{ID: gone, Name: "Old default", Default: true,
			DeletedAt: rowTime(3), UpdatedAt: rowTime(3)}),
		importWithPolicy("new-1-", device.Profile{ID: custom, Name: "Sales",
			UpdatedAt: rowTime(4)}),
	}
	if sum := e.importBatch(t, a, regs); sum.Profiles != 2 {
		t.Errorf("ImportSummary = %+v, want 2 profiles", sum)
	}
	s := e.profileState(t, a.ID, gone, custom)
	if s.DefaultID != a.DefaultProfileID {
		t.Errorf("account default = %s, want still %s", s.DefaultID, a.DefaultProfileID)
	}
	if s.Rows[0].DeletedAt.IsZero() {
		t.Errorf("profile imported from a deleted summary is live, want it deleted")
	}
	want := &device.Profile{ID: custom, AccountID: a.ID, Name: "Sales", Enabled: true,
		Settings: device.DefaultSettings(), CreatedAt: rowTime(4), UpdatedAt: rowTime(4)}
	check(t, "profile imported from a custom summary", s.Rows[1], want, nil)
	e.wantOneDefault(t, "after importing a deleted default", a.ID)

	// A live default the account lacks takes over; the last one given wins.
	first, last := device.NewID(), device.NewID()
	regs = []device.Registration{
		importWithPolicy("new-2-", device.Profile{ID: first, Name: "A", Default: true,
			UpdatedAt: rowTime(5)}),
		importWithPolicy("new-3-", device.Profile{ID: last, Name: "B", Default: true,
			UpdatedAt: rowTime(6)}),
	}
	e.importBatch(t, a, regs)
	e.wantOneDefault(t, "after importing two live defaults", a.ID)
	if s := e.profileState(t, a.ID); s.DefaultID != last {
		t.Errorf("account default = %s, want the last imported default %s", s.DefaultID, last)
	}
}

func testImportSkippedProfiles(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	en := e.enroll(t, e.newEnrollKey(t, a.ID, false), enrollRequest("hw-1", "bob@example.com"))
	ids := newImportIDs()
	tomb := importBatch(ids, "skip-")[3]
	again := tomb
	again.DeletedAt = time.Time{}
	again.Policy = &device.Profile{ID: device.NewID(), Name: "Revived", UpdatedAt: rowTime(5)}
	enrolled := importWithPolicy("skip-enrolled-", device.Profile{ID: device.NewID(),
		Name: "Overwritten", Default: true, UpdatedAt: rowTime(5)})
	enrolled.ID, enrolled.DeviceID = en.Registration.ID, en.Registration.DeviceID

	sum := e.importBatch(t, a, []device.Registration{tomb, again, enrolled})
	want := device.ImportSummary{Registrations: 1, Devices: 1, Skipped: 2}
	if sum != want {
		t.Errorf("ImportSummary = %+v, want %+v", sum, want)
	}
	for _, id := range []string{again.Policy.ID, enrolled.Policy.ID} {
		if _, err := e.store.Profile(e.ctx, a.ID, id); !errors.Is(err, device.ErrNotFound) {
			t.Errorf("Profile(%s) of a skipped registration: got error %v, want ErrNotFound",
				id, err)
		}
	}
	e.wantOneDefault(t, "after skipped registrations", a.ID)
}

func testImportTaken(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	ids := newImportIDs()
	e.importBatch(t, a, importBatch(ids, "taken-"))
	holder := importBatch(ids, "taken-")[0]

	sameKey := importBatch(newImportIDs(), "other-")[2]
	sameKey.Key = holder.Key
	sameSeat := importBatch(newImportIDs(), "other-")[2]
	sameSeat.DeviceID = holder.DeviceID
	for _, tt := range []struct {
		name string
		r    device.Registration
		want string
	}{
		{"key", sameKey, "its key is already the key of live registration " + holder.ID},
		{"seat", sameSeat, "device " + holder.DeviceID + " already has live registration " +
			holder.ID},
	} {
		_, err := e.svc.Import(e.ctx, a.ID, []device.Registration{tt.r})
		wantKind(t, "Import with a taken "+tt.name, err, device.KindConflict)
		want := "registration " + tt.r.ID + ": " + tt.want
		if err.Error() != want {
			t.Errorf("Import with a taken %s: error %q, want %q", tt.name, err, want)
		}
	}
}
