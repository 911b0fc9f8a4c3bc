package storetest

import (
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// The seed helpers write rows straight through a Tx, as an engine sees them, with
// times that differ in every field so that a swapped column shows.

// rowTime returns the n-th distinct UTC time with a non-zero microsecond part.
func rowTime(n int) time.Time {
	base := time.Date(2024, 7, 9, 8, 7, 6, 0, time.UTC)
	return base.Add(time.Duration(n) * (time.Hour + 1234567*time.Microsecond))
}

func (e *env) seedAccount(t *testing.T, multiUser bool) *device.Account {
	t.Helper()
	return e.newAccount(t, multiUser)
}

func (e *env) seedProfile(t *testing.T, accountID, name string) *device.Profile {
	t.Helper()
	p := &device.Profile{
		ID: device.NewID(), AccountID: accountID, Name: name,
		CreatedAt: rowTime(1), UpdatedAt: rowTime(2),
	}
	e.update(t, func(tx device.Tx) error { return tx.PutProfile(e.ctx, p) })
	return p
}

func (e *env) seedUser(t *testing.T, accountID, email string) *device.User {
	t.Helper()
	u := &device.User{
		ID: device.NewID(), AccountID: accountID, Email: email, Name: "Name of " + email,
		Groups: []string{"engineering", "on-call"}, CreatedAt: rowTime(3), UpdatedAt: rowTime(4),
	}
	e.update(t, func(tx device.Tx) error { return tx.PutUser(e.ctx, u) })
	return u
}

func newDevice(accountID, hardwareID string) *device.Device {
	return &device.Device{
		ID: device.NewID(), AccountID: accountID,
		Facts: device.DeviceFacts{
			Name: "Device " + hardwareID, Model: "ThinkPad X1", Manufacturer: "Lenovo",
			DeviceType: "windows", OSVersion: "10.0.22631", OSVersionExtra: "23H2",
			SerialNumber: "S-" + hardwareID, HardwareID: hardwareID,
			MACAddress: "00:1b:44:11:3a:b7", ClientVersion: "2024.6.415.0",
		},
		LastSeenAt: rowTime(5), CreatedAt: rowTime(6), UpdatedAt: rowTime(7),
	}
}

func (e *env) seedDevice(t *testing.T, accountID, hardwareID string) *device.Device {
	t.Helper()
	d := newDevice(accountID, hardwareID)
	e.update(t, func(tx device.Tx) error { return tx.PutDevice(e.ctx, d) })
	return d
}

// newRegistration returns a live registration of d for u (which may be nil) with
// a fresh key, seated as the account's kind requires.
func newRegistration(a *device.Account, d *device.Device, u *device.User) *device.Registration {
	r := &device.Registration{
		ID: device.NewID(), AccountID: a.ID, DeviceID: d.ID, ProfileID: a.DefaultProfileID,
		Key: newCurve25519Key(), KeyType: device.KeyCurve25519,
		TunnelType: device.TunnelWireGuard, SecretHash: device.HashSecret(device.NewSecret()),
		CreatedAt: rowTime(8), UpdatedAt: rowTime(9), LastSeenAt: rowTime(10),
		PolicyUpdatedAt: rowTime(11),
	}
	if u != nil {
		r.UserID = u.ID
		if a.MultiUser {
			r.Slot = u.ID
		}
	}
	return r
}

func (e *env) seedRegistration(t *testing.T, a *device.Account, d *device.Device,
	u *device.User,
) *device.Registration {
	t.Helper()
	r := newRegistration(a, d, u)
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r) })
	return r
}

// withViews returns a copy of r with the read views a store fills in.
func withViews(r *device.Registration, d *device.Device, u *device.User,
	p *device.Profile,
) device.Registration {
	out := *r
	out.DeviceName, out.ClientVersion = d.Facts.Name, d.Facts.ClientVersion
	out.User, out.Policy = userView(u), policyView(p)
	return out
}

// policyView is the summary of p that a registration's read view carries.
func policyView(p *device.Profile) *device.Profile {
	return &device.Profile{ID: p.ID, AccountID: p.AccountID, Name: p.Name, Default: p.Default,
		DeletedAt: p.DeletedAt, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// userView is the summary of u that a registration's read view carries.
func userView(u *device.User) *device.User {
	if u == nil {
		return nil
	}
	return &device.User{ID: u.ID, AccountID: u.AccountID, Email: u.Email, Name: u.Name}
}

// readView is r as a get or a list reads it (device.Reader's TokenRegistration
// and ListRegistrations): without its slot, secret hash or profile's times.
func readView(r device.Registration) device.Registration {
	r.Slot, r.SecretHash = "", nil
	if r.Policy != nil {
		p := *r.Policy
		p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
		r.Policy = &p
	}
	return r
}

// storedFields returns a copy of r without its read views.
func storedFields(r *device.Registration) device.Registration {
	out := *r
	out.DeviceName, out.ClientVersion, out.User, out.Policy = "", "", nil, nil
	return out
}

// defaultProfile reads the account's default profile.
func (e *env) defaultProfile(t *testing.T, a *device.Account) *device.Profile {
	t.Helper()
	p, err := e.store.Profile(e.ctx, a.ID, a.DefaultProfileID)
	if err != nil {
		t.Fatalf("Profile(%s): %v", a.DefaultProfileID, err)
	}
	return p
}

// deviceViews returns a copy of d with the read views a store fills in when r is
// its last seen registration, u (which may be nil) r's user and p r's profile, and
// active of its registrations are active.
func deviceViews(d *device.Device, active int, r *device.Registration, u *device.User,
	p *device.Profile,
) *device.Device {
	out := *d
	out.ActiveRegistrations, out.LastSeenUser = active, userView(u)
	out.LastSeen = &device.RegistrationSummary{
		ID: r.ID, Policy: policyView(p), PolicyUpdatedAt: r.PolicyUpdatedAt,
	}
	return &out
}
