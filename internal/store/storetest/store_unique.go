package storetest

import (
	"errors"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

func uniquenessTests() []behaviour {
	return []behaviour{
		{"one live registration per account and key", testUniqueKey},
		{"one live registration per device seat", testUniqueSeat},
		{"live hardware id unique per account", testUniqueHardwareID},
		{"user email unique per account", testUniqueEmail},
		{"account id and global key email unique", testUniqueAccountAndGlobalKey},
		{"put of another account's id is a conflict", testCrossAccountPut},
	}
}

// wantConflict runs write in its own transaction and fails the test unless both the
// write and Update report ErrConflict.
func (e *env) wantConflict(t *testing.T, what string, write func(tx device.Tx) error) {
	t.Helper()
	var writeErr error
	err := e.store.Update(e.ctx, func(tx device.Tx) error {
		writeErr = write(tx)
		return writeErr
	})
	if !errors.Is(writeErr, device.ErrConflict) || !errors.Is(err, device.ErrConflict) {
		t.Errorf("%s: got write error %v and Update error %v, want ErrConflict for both",
			what, writeErr, err)
	}
}

func testUniqueKey(t *testing.T, e *env) {
	a, b := e.seedAccount(t, false), e.seedAccount(t, false)
	d1, d2 := e.seedDevice(t, a.ID, "hw-1"), e.seedDevice(t, a.ID, "hw-2")
	d3 := e.seedDevice(t, a.ID, "hw-3")
	r1 := e.seedRegistration(t, a, d1, nil)

	r2 := newRegistration(a, d2, nil)
	r2.Key = r1.Key
	e.wantConflict(t, "second live registration with the key", func(tx device.Tx) error {
		return tx.PutRegistration(e.ctx, r2)
	})

	rb := newRegistration(b, e.seedDevice(t, b.ID, "hw-1"), nil)
	rb.Key = r1.Key
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, rb) })

	r1.RevokedAt = rowTime(20)
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r1) })
	e.wantConflict(t, "key of a revoked registration", func(tx device.Tx) error {
		return tx.PutRegistration(e.ctx, r2)
	})

	r1.DeletedAt = rowTime(21)
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r1) })
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r2) })

	r3 := newRegistration(a, d3, nil)
	r3.Key = r1.Key
	e.wantConflict(t, "key now held by the second registration", func(tx device.Tx) error {
		return tx.PutRegistration(e.ctx, r3)
	})
	_, err := e.store.Registration(e.ctx, a.ID, r3.ID)
	wantIs(t, "Registration of the refused row", err, device.ErrNotFound)
}

func testUniqueSeat(t *testing.T, e *env) {
	single, multi := e.seedAccount(t, false), e.seedAccount(t, true)
	ds := e.seedDevice(t, single.ID, "hw-1")
	first := e.seedRegistration(t, single, ds, nil)
	e.wantConflict(t, "second live registration on a single-user device", func(tx device.Tx) error {
		return tx.PutRegistration(e.ctx, newRegistration(single, ds, nil))
	})

	dm := e.seedDevice(t, multi.ID, "hw-1")
	ann := e.seedUser(t, multi.ID, "ann@example.com")
	bob := e.seedUser(t, multi.ID, "bob@example.com")
	annSeat := e.seedRegistration(t, multi, dm, ann)
	e.seedRegistration(t, multi, dm, bob)
	e.wantConflict(t, "second live registration in a user's seat", func(tx device.Tx) error {
		return tx.PutRegistration(e.ctx, newRegistration(multi, dm, ann))
	})

	first.DeletedAt, annSeat.DeletedAt = rowTime(20), rowTime(20)
	e.update(t, func(tx device.Tx) error {
		return errors.Join(tx.PutRegistration(e.ctx, first), tx.PutRegistration(e.ctx, annSeat))
	})
	next := newRegistration(single, ds, nil)
	annNext := newRegistration(multi, dm, ann)
	e.update(t, func(tx device.Tx) error {
		return errors.Join(tx.PutRegistration(e.ctx, next), tx.PutRegistration(e.ctx, annNext))
	})
	got, err := e.store.LiveRegistration(e.ctx, dm.ID, ann.ID)
	if err != nil || got.ID != annNext.ID {
		t.Errorf("LiveRegistration after re-seating: got %v, %v; want id %s", got, err, annNext.ID)
	}
}

func testUniqueHardwareID(t *testing.T, e *env) {
	a, b := e.seedAccount(t, false), e.seedAccount(t, false)
	d1 := e.seedDevice(t, a.ID, "hw-1")
	e.wantConflict(t, "second live device with the hardware id", func(tx device.Tx) error {
		return tx.PutDevice(e.ctx, newDevice(a.ID, "hw-1"))
	})
	e.seedDevice(t, b.ID, "hw-1")

	for range 3 {
		blank := newDevice(a.ID, "")
		blank.Facts.SerialNumber = ""
		e.update(t, func(tx device.Tx) error { return tx.PutDevice(e.ctx, blank) })
	}

	d1.DeletedAt = rowTime(20)
	e.update(t, func(tx device.Tx) error { return tx.PutDevice(e.ctx, d1) })
	d2 := e.seedDevice(t, a.ID, "hw-1")
	got, err := e.store.DeviceByHardwareID(e.ctx, a.ID, "hw-1")
	if err != nil || got.ID != d2.ID {
		t.Errorf("DeviceByHardwareID after replacement: got %v, %v; want id %s", got, err, d2.ID)
	}
}

func testUniqueEmail(t *testing.T, e *env) {
	a, b := e.seedAccount(t, false), e.seedAccount(t, false)
	e.seedUser(t, a.ID, "ann@example.com")
	e.wantConflict(t, "second user with the email", func(tx device.Tx) error {
		u := &device.User{ID: device.NewID(), AccountID: a.ID, Email: "ann@example.com",
			Groups: []string{}, CreatedAt: rowTime(1), UpdatedAt: rowTime(1)}
		return tx.PutUser(e.ctx, u)
	})
	e.seedUser(t, b.ID, "ann@example.com")
}

func testUniqueAccountAndGlobalKey(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	e.wantConflict(t, "account with a taken id", func(tx device.Tx) error {
		twin := &device.Account{ID: a.ID, Name: "Twin", CreatedAt: rowTime(1)}
		return tx.InsertAccount(e.ctx, twin)
	})
	gk := func() *device.GlobalKey {
		return &device.GlobalKey{ID: device.NewAccountID(), AccountID: a.ID,
			Email: "admin@example.com", Hash: device.HashSecret(device.NewGlobalKeyValue()),
			CreatedAt: rowTime(1)}
	}
	e.update(t, func(tx device.Tx) error { return tx.InsertGlobalKey(e.ctx, gk()) })
	e.wantConflict(t, "second global key for the email", func(tx device.Tx) error {
		return tx.InsertGlobalKey(e.ctx, gk())
	})
}

func testCrossAccountPut(t *testing.T, e *env) {
	a, b := e.seedAccount(t, false), e.seedAccount(t, false)
	p := e.seedProfile(t, a.ID, "Engineering")
	u := e.seedUser(t, a.ID, "ann@example.com")
	d := e.seedDevice(t, a.ID, "hw-1")
	r := e.seedRegistration(t, a, d, u)
	before := e.registration(t, a.ID, r.ID)
	bDevice := e.seedDevice(t, b.ID, "hw-b")

	p2, u2, d2, r2 := *p, *u, *d, *r
	p2.AccountID, p2.Name = b.ID, "Hijacked"
	u2.AccountID, u2.Email = b.ID, "mallory@example.com"
	d2.AccountID, d2.Facts.HardwareID = b.ID, "hw-mallory"
	r2.AccountID, r2.DeviceID, r2.UserID = b.ID, bDevice.ID, ""
	r2.ProfileID, r2.Key = b.DefaultProfileID, newCurve25519Key()
	writes := map[string]func(tx device.Tx) error{
		"PutProfile":      func(tx device.Tx) error { return tx.PutProfile(e.ctx, &p2) },
		"PutUser":         func(tx device.Tx) error { return tx.PutUser(e.ctx, &u2) },
		"PutDevice":       func(tx device.Tx) error { return tx.PutDevice(e.ctx, &d2) },
		"PutRegistration": func(tx device.Tx) error { return tx.PutRegistration(e.ctx, &r2) },
	}
	for name, write := range writes {
		e.wantConflict(t, name+" with another account's id", write)
	}

	gotP, err := e.store.Profile(e.ctx, a.ID, p.ID)
	check(t, "Profile of account a", gotP, p, err)
	gotU, err := e.store.User(e.ctx, a.ID, u.ID)
	check(t, "User of account a", gotU, u, err)
	check(t, "Device of account a", e.device(t, a.ID, d.ID),
		deviceViews(d, 1, r, u, e.defaultProfile(t, a)), nil)
	check(t, "Registration of account a", e.registration(t, a.ID, r.ID), before, nil)
	_, err = e.store.Registration(e.ctx, b.ID, r.ID)
	wantIs(t, "Registration through account b", err, device.ErrNotFound)
	_, err = e.store.UserByEmail(e.ctx, b.ID, "mallory@example.com")
	wantIs(t, "UserByEmail through account b", err, device.ErrNotFound)
}
