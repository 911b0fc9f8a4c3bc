package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func stateTests() []behaviour {
	return []behaviour{
		{"touch moves last seen forward only", testTouch},
		{"touch moves a shared device to its latest registration", testTouchSharedDevice},
		{"single-use key is spent once", testSpendOnce},
		{"setting keeps its first value", testSettingIfAbsent},
		{"shared secret is made once", testSharedSecret},
	}
}

func (e *env) lastSeen(t *testing.T, a *device.Account,
	r *device.Registration,
) (reg, dev time.Time) {
	t.Helper()
	got := e.registration(t, a.ID, r.ID)
	return got.LastSeenAt, e.device(t, a.ID, r.DeviceID).LastSeenAt
}

func testTouch(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	d := e.seedDevice(t, a.ID, "hw-1")
	r := newRegistration(a, d, nil)
	r.LastSeenAt = d.LastSeenAt
	e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r) })
	seen := d.LastSeenAt

	later := seen.Add(time.Hour + time.Microsecond)
	steps := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"forward", later, later},
		{"backward", seen, later},
		{"same time", later, later},
		{"one microsecond on", later.Add(time.Microsecond), later.Add(time.Microsecond)},
	}
	for _, s := range steps {
		stale := *r // the caller's copy may be older than the row
		e.update(t, func(tx device.Tx) error {
			return tx.TouchRegistrations(e.ctx, []*device.Registration{&stale}, s.at)
		})
		reg, dev := e.lastSeen(t, a, r)
		if !reg.Equal(s.want) || !dev.Equal(s.want) {
			t.Errorf("touch %s at %s: registration and device last seen = %s, %s; want %s",
				s.name, s.at.Format(time.RFC3339Nano), reg.Format(time.RFC3339Nano),
				dev.Format(time.RFC3339Nano), s.want.Format(time.RFC3339Nano))
		}
	}
}

func testTouchSharedDevice(t *testing.T, e *env) {
	a := e.seedAccount(t, true)
	d := e.seedDevice(t, a.ID, "hw-1")
	r1 := e.seedRegistration(t, a, d, e.seedUser(t, a.ID, "ann@example.com"))
	r2 := e.seedRegistration(t, a, d, e.seedUser(t, a.ID, "bob@example.com"))
	late, early := rowTime(50), rowTime(40)

	e.update(t, func(tx device.Tx) error {
		return tx.TouchRegistrations(e.ctx, []*device.Registration{r1}, late)
	})
	e.update(t, func(tx device.Tx) error {
		return tx.TouchRegistrations(e.ctx, []*device.Registration{r2}, early)
	})
	reg1, dev := e.lastSeen(t, a, r1)
	reg2, _ := e.lastSeen(t, a, r2)
	if !reg1.Equal(late) || !reg2.Equal(early) || !dev.Equal(late) {
		t.Errorf("last seen of r1, r2, device = %s, %s, %s; want %s, %s, %s",
			reg1, reg2, dev, late, early, late)
	}
}

func testSpendOnce(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	k := &device.EnrollmentKey{ID: device.NewID(), AccountID: a.ID,
		Hash: device.HashSecret("single"), CreatedAt: rowTime(1)}
	e.update(t, func(tx device.Tx) error { return tx.InsertEnrollmentKey(e.ctx, k) })

	e.update(t, func(tx device.Tx) error { return tx.SpendEnrollmentKey(e.ctx, k.ID, rowTime(2)) })
	e.wantConflict(t, "spending a spent key", func(tx device.Tx) error {
		return tx.SpendEnrollmentKey(e.ctx, k.ID, rowTime(3))
	})
	got, err := e.store.EnrollmentKeyByHash(e.ctx, k.Hash)
	if err != nil {
		t.Fatalf("EnrollmentKeyByHash: %v", err)
	}
	if !got.UsedAt.Equal(rowTime(2)) {
		t.Errorf("UsedAt = %s, want %s (the first spend)", got.UsedAt, rowTime(2))
	}
}

func testSettingIfAbsent(t *testing.T, e *env) {
	first := []byte{0, 1, 2, 0xff, 'a', 0}
	e.update(t, func(tx device.Tx) error {
		return tx.PutSettingIfAbsent(e.ctx, "cursor.key", first)
	})
	e.update(t, func(tx device.Tx) error {
		return tx.PutSettingIfAbsent(e.ctx, "cursor.key", []byte("second"))
	})
	e.update(t, func(tx device.Tx) error {
		return tx.PutSettingIfAbsent(e.ctx, "other", []byte("x"))
	})

	got, err := e.store.Setting(e.ctx, "cursor.key")
	if err != nil || !bytes.Equal(got, first) {
		t.Errorf("Setting(cursor.key) = %v, %v; want %v", got, err, first)
	}
	got, err = e.store.Setting(e.ctx, "other")
	if err != nil || string(got) != "x" {
		t.Errorf("Setting(other) = %q, %v; want %q", got, err, "x")
	}
}

func testSharedSecret(t *testing.T, e *env) {
	first, err := e.svc.SharedSecret(e.ctx, "cursor")
	if err != nil || len(first) == 0 {
		t.Fatalf("SharedSecret = %q, %v; want a fresh value", first, err)
	}
	again, err := e.svc.SharedSecret(e.ctx, "cursor")
	if err != nil || !bytes.Equal(again, first) {
		t.Errorf("SharedSecret again = %q, %v; want the first %q", again, err, first)
	}
	other, err := e.svc.SharedSecret(e.ctx, "other")
	if err != nil || bytes.Equal(other, first) {
		t.Errorf("SharedSecret(other) = %q, %v; want a value of its own", other, err)
	}
}
