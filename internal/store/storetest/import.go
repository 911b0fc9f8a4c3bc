package storetest

import (
	"errors"
	"testing"

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
	// holds one imported as deleted, and deletion is final) and devices, which exist.
	want := first
	want.Registrations, want.Skipped, want.Devices = first.Registrations-1, 1, 0
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
