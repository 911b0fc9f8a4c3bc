package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func clientTests() []behaviour {
	return []behaviour{
		{"client rotates its key", testRotateKey},
		{"client switches to a secp256r1 key", testSwitchToP256},
		{"invalid client updates change nothing", testInvalidClientUpdate},
		{"rotation onto a registered key is a conflict", testRotateConflict},
		{"client updates its device facts", testClientFacts},
		{"client calls need a live registration's token", testClientAuth},
		{"heartbeat marks registration and device seen", testHeartbeat},
		{"heartbeat never moves last seen backwards", testHeartbeatBackwards},
		{"concurrent heartbeats each get their own answer", testHeartbeatsTogether},
		{"registrations read by id in one call", testRegistrationsByID},
		{"a revocation between heartbeat writes refuses the client version",
			testHeartbeatVersionAfterRevoke},
	}
}

// clientAccount returns an account with one enrolled device.
func (e *env) clientAccount(t *testing.T, multiUser bool) (*device.Account, *device.Enrollment) {
	t.Helper()
	a := e.newAccount(t, multiUser)
	en := e.enroll(t, e.newEnrollKey(t, a.ID, true), enrollRequest("hw-1", "ann@example.com"))
	e.clock.Advance(time.Minute)
	return a, en
}

func ptr[T any](v T) *T { return &v }

func testRotateKey(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	old := en.Registration
	now, key := e.svc.Now(), newCurve25519Key()
	got, err := e.svc.UpdateClient(e.ctx, old.ID, en.Token, device.ClientUpdate{Key: &key})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	want := *old
	want.Key, want.UpdatedAt = key, now
	check(t, "rotated registration", got, &want, nil)
	check(t, "rotated registration read back", e.registration(t, a.ID, old.ID), &want, nil)
	if _, err := e.svc.Heartbeat(e.ctx, old.ID, en.Token, ""); err != nil {
		t.Errorf("Heartbeat after rotation: %v", err)
	}
	reuse := enrollRequest("hw-2", "bob@example.com")
	reuse.Key = old.Key
	e.enroll(t, e.newEnrollKey(t, a.ID, false), reuse)
}

func testSwitchToP256(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	k := newP256Key(t)
	u := device.ClientUpdate{Key: &k.Compressed, KeyType: ptr(device.KeySecp256r1)}
	got, err := e.svc.UpdateClient(e.ctx, en.Registration.ID, en.Token, u)
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	stored := e.registration(t, a.ID, got.ID)
	for _, r := range []*device.Registration{got, stored} {
		if r.Key != k.SPKI || r.KeyType != device.KeySecp256r1 ||
			r.TunnelType != device.TunnelMASQUE {
			t.Errorf("key, key type, tunnel = %q, %s, %s; want %q, secp256r1, masque",
				r.Key, r.KeyType, r.TunnelType, k.SPKI)
		}
	}
}

func testInvalidClientUpdate(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	before := e.registration(t, a.ID, en.Registration.ID)
	k := newP256Key(t)
	updates := map[string]device.ClientUpdate{
		"secp256r1 key over wireguard": {Key: &k.SPKI, KeyType: ptr(device.KeySecp256r1),
			TunnelType: ptr(device.TunnelWireGuard)},
		"masque tunnel for a curve25519 key": {TunnelType: ptr(device.TunnelMASQUE)},
		"new key type without a key":         {KeyType: ptr(device.KeySecp256r1)},
		"curve25519 key of 31 bytes":         {Key: ptr(strings.Repeat("A", 40) + "AA==")},
		"unknown key type":                   {Key: &k.SPKI, KeyType: ptr[device.KeyType]("ed25519")},
		"hardware id change": {Device: &device.DeviceFacts{
			HardwareID: "another-machine"}},
	}
	for name, u := range updates {
		_, err := e.svc.UpdateClient(e.ctx, before.ID, en.Token, u)
		wantKind(t, "UpdateClient: "+name, err, device.KindInvalid)
	}
	check(t, "registration after refused updates", e.registration(t, a.ID, before.ID), before, nil)
}

func testRotateConflict(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	other := e.enroll(t, e.newEnrollKey(t, a.ID, false), enrollRequest("hw-2", "bob@example.com"))
	before := e.registration(t, a.ID, en.Registration.ID)
	u := device.ClientUpdate{Key: &other.Registration.Key}
	_, err := e.svc.UpdateClient(e.ctx, before.ID, en.Token, u)
	wantKind(t, "UpdateClient onto another registration's key", err, device.KindConflict)
	check(t, "registration after the conflict", e.registration(t, a.ID, before.ID), before, nil)
}

func testClientFacts(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	r := en.Registration
	now := e.svc.Now()
	facts := device.DeviceFacts{Name: "  Renamed  ", OSVersion: "15.0", HardwareID: "hw-1"}
	got, err := e.svc.UpdateClient(e.ctx, r.ID, en.Token, device.ClientUpdate{Device: &facts})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	want := enrollRequest("hw-1", "").Device
	want.Name, want.OSVersion = "Renamed", "15.0"
	d := e.device(t, a.ID, r.DeviceID)
	if d.Facts != want || !d.UpdatedAt.Equal(now) {
		t.Errorf("device facts, updated = %+v, %s; want %+v, %s", d.Facts, d.UpdatedAt, want, now)
	}
	if got.DeviceName != "Renamed" {
		t.Errorf("registration DeviceName = %q, want %q", got.DeviceName, "Renamed")
	}
}

func testClientAuth(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	id := en.Registration.ID
	key := newCurve25519Key()
	calls := map[string]func(id, token string) error{
		"Heartbeat": func(id, token string) error {
			_, err := e.svc.Heartbeat(e.ctx, id, token, "")
			return err
		},
		"UpdateClient": func(id, token string) error {
			_, err := e.svc.UpdateClient(e.ctx, id, token, device.ClientUpdate{Key: &key})
			return err
		},
	}
	for name, call := range calls {
		denied := device.KindUnauthorized
		wantKind(t, name+" with a wrong token", call(id, device.NewSecret()), denied)
		wantKind(t, name+" with an unknown id", call(device.NewID(), en.Token), denied)
		wantKind(t, name+" with a malformed id", call("not-an-id", en.Token), denied)
	}
	if err := e.svc.Revoke(e.ctx, a.ID, []string{id}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	for name, call := range calls {
		wantKind(t, name+" while revoked", call(id, en.Token), device.KindRevoked)
		wantKind(t, name+" while revoked, wrong token", call(id, "x"), device.KindUnauthorized)
	}
	if err := e.svc.Delete(e.ctx, a.ID, []string{id}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for name, call := range calls {
		wantKind(t, name+" after delete", call(id, en.Token), device.KindUnauthorized)
	}
}

func testHeartbeat(t *testing.T, e *env) {
	a, en := e.clientAccount(t, true)
	r := en.Registration
	e.clock.Advance(time.Hour + 7*time.Microsecond)
	now := e.svc.Now()
	got, err := e.svc.Heartbeat(e.ctx, r.ID, en.Token, "2025.1.861.0")
	if err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	if !got.LastSeenAt.Equal(now) || got.ClientVersion != "2025.1.861.0" {
		t.Errorf("Heartbeat result: last seen %s, client version %q; want %s, %q",
			got.LastSeenAt, got.ClientVersion, now, "2025.1.861.0")
	}
	check(t, "registration read back", e.registration(t, a.ID, r.ID), got, nil)
	d := e.device(t, a.ID, r.DeviceID)
	if !d.LastSeenAt.Equal(now) || d.Facts.ClientVersion != "2025.1.861.0" {
		t.Errorf("device: last seen %s, client version %q; want %s, %q",
			d.LastSeenAt, d.Facts.ClientVersion, now, "2025.1.861.0")
	}
	_, err = e.svc.Heartbeat(e.ctx, r.ID, en.Token, strings.Repeat("9", 257))
	wantKind(t, "Heartbeat with a 257-character client version", err, device.KindInvalid)
	_, err = e.svc.Heartbeat(e.ctx, r.ID, en.Token, "2025.1\x00")
	wantKind(t, "Heartbeat with a control character in the client version", err, device.KindInvalid)
}

func testHeartbeatBackwards(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	r := en.Registration
	e.clock.Advance(time.Hour)
	latest := e.svc.Now()
	if _, err := e.svc.Heartbeat(e.ctx, r.ID, en.Token, ""); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	e.clock.Advance(-30 * time.Minute)
	got, err := e.svc.Heartbeat(e.ctx, r.ID, en.Token, "")
	if err != nil {
		t.Fatalf("Heartbeat with the clock set back: %v", err)
	}
	d := e.device(t, a.ID, r.DeviceID)
	if !got.LastSeenAt.Equal(latest) || !d.LastSeenAt.Equal(latest) {
		t.Errorf("last seen of registration, device = %s, %s; want %s",
			got.LastSeenAt, d.LastSeenAt, latest)
	}
}

// testHeartbeatsTogether sends many heartbeats at once, which share write batches:
// good ones, a revoked registration's, a wrong token's and an unknown id's. Each must
// get its own answer, and a refusal in a batch must not fail the others.
func testHeartbeatsTogether(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 3)
	revoked := ens[2].Registration
	if err := e.svc.Revoke(e.ctx, a.ID, []string{revoked.ID}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	e.clock.Advance(time.Hour)
	now := e.svc.Now()
	type call struct {
		id, token string
		want      device.Kind // 0 for success
	}
	var calls []call
	for i := range 120 {
		switch i % 5 {
		case 0, 1:
			en := ens[i%2]
			calls = append(calls, call{en.Registration.ID, en.Token, 0})
		case 2:
			calls = append(calls, call{revoked.ID, ens[2].Token, device.KindRevoked})
		case 3:
			calls = append(calls, call{ens[0].Registration.ID, ens[1].Token,
				device.KindUnauthorized})
		case 4:
			calls = append(calls, call{device.NewID(), ens[0].Token, device.KindUnauthorized})
		}
	}
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			r, err := e.svc.Heartbeat(e.ctx, c.id, c.token, "")
			switch {
			case c.want == 0 && err != nil:
				errs[i] = fmt.Errorf("heartbeat %d: %w", i, err)
			case c.want == 0 && (r.ID != c.id || !r.LastSeenAt.Equal(now)):
				errs[i] = fmt.Errorf("heartbeat %d: %s seen %s, want %s seen %s", i, r.ID,
					r.LastSeenAt, c.id, now)
			case c.want != 0 && device.KindOf(err) != c.want:
				errs[i] = fmt.Errorf("heartbeat %d: %v, want kind %v", i, err, c.want)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, en := range ens[:2] {
		if got := e.registration(t, a.ID, en.Registration.ID); !got.LastSeenAt.Equal(now) {
			t.Errorf("%s: last seen %s, want %s", got.ID, got.LastSeenAt, now)
		}
	}
	if got := e.registration(t, a.ID, revoked.ID); got.LastSeenAt.Equal(now) {
		t.Errorf("revoked registration seen at %s: a refused heartbeat moved it", now)
	}
}

// testRegistrationsByID reads several registrations at once, as a heartbeat batch
// does: a live one and a deleted one are found, an unknown id is left out.
func testRegistrationsByID(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	live, gone := ens[0].Registration, ens[1].Registration
	if err := e.svc.Delete(e.ctx, a.ID, []string{gone.ID}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	got, err := e.store.RegistrationsByID(e.ctx, []string{device.NewID(), gone.ID, live.ID})
	if err != nil {
		t.Fatalf("RegistrationsByID: %v", err)
	}
	byID := map[string]device.Registration{}
	for _, r := range got {
		byID[r.ID] = r
	}
	if len(got) != 2 || byID[live.ID].Key != live.Key || byID[gone.ID].DeletedAt.IsZero() {
		t.Errorf("RegistrationsByID: %d rows %v; want the live one and the deleted one",
			len(got), byID)
	}
	check(t, "registration read by id", ptr(byID[live.ID]), e.registration(t, a.ID, live.ID), nil)
}

// hookedStore runs before ahead of its nth write transaction.
type hookedStore struct {
	device.Store
	n      int
	before func()
}

func (h *hookedStore) Update(ctx context.Context, fn func(tx device.Tx) error) error {
	if h.n--; h.n == 0 {
		h.before()
	}
	return h.Store.Update(ctx, fn)
}

// testHeartbeatVersionAfterRevoke revokes a registration between a heartbeat's two
// writes: the batch that moves last_seen_at and the one that records a new client
// version. The second must see the revocation and refuse, writing nothing.
func testHeartbeatVersionAfterRevoke(t *testing.T, e *env) {
	a, en := e.clientAccount(t, false)
	r := en.Registration
	h := &hookedStore{Store: e.store, n: 2, before: func() {
		if err := e.svc.Revoke(e.ctx, a.ID, []string{r.ID}); err != nil {
			t.Errorf("Revoke: %v", err)
		}
	}}
	svc := device.NewService(h, e.clock.Now, slog.New(slog.DiscardHandler))
	_, err := svc.Heartbeat(e.ctx, r.ID, en.Token, "9.9.9")
	wantKind(t, "Heartbeat revoked before its client version is written", err,
		device.KindRevoked)
	if d := e.device(t, a.ID, r.DeviceID); d.Facts.ClientVersion == "9.9.9" {
		t.Errorf("client version %q written after the revocation", d.Facts.ClientVersion)
	}
}
