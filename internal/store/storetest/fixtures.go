package storetest

import (
	"context"
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/warpreg/warpreg/internal/device"
)

// env is one subtest's world: a fresh store, a service over it and the service's
// fake clock.
type env struct {
	ctx   context.Context
	store device.Store
	svc   *device.Service
	clock *fakeClock
}

func newEnv(t *testing.T, s device.Store) *env {
	c := &fakeClock{now: startTime()}
	return &env{
		ctx:   t.Context(),
		store: s,
		svc:   device.NewService(s, c.Now, slog.New(slog.DiscardHandler)),
		clock: c,
	}
}

// startTime is the fake clock's first reading. It is in a zone other than UTC and
// carries nanoseconds, so that rows written through the service show that the
// service, not the store, brings times to UTC microseconds.
func startTime() time.Time {
	return time.Date(2025, 3, 1, 11, 0, 0, 789, time.FixedZone("CET", 3600))
}

// fakeClock is a device.Clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// cmpRows compares rows read back from a store. Empty and nil slices are equal here;
// the one place where the difference matters has a test of its own.
func cmpRows() cmp.Option { return cmpopts.EquateEmpty() }

// newCurve25519Key returns a fresh WireGuard public key in its wire form.
func newCurve25519Key() string {
	return base64.StdEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// p256Spellings are three encodings of one P-256 public key, each in standard
// base64: the SubjectPublicKeyInfo (the canonical form) and the SEC 1 points.
type p256Spellings struct {
	SPKI         string
	Uncompressed string
	Compressed   string
}

func newP256Key(t *testing.T) p256Spellings {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate P-256 key: %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		t.Fatalf("marshal P-256 key: %v", err)
	}
	point := k.PublicKey().Bytes()
	x, y := new(big.Int).SetBytes(point[1:33]), new(big.Int).SetBytes(point[33:])
	enc := base64.StdEncoding.EncodeToString
	return p256Spellings{
		SPKI:         enc(der),
		Uncompressed: enc(point),
		Compressed:   enc(elliptic.MarshalCompressed(elliptic.P256(), x, y)),
	}
}

// newAccount creates an account through the service.
func (e *env) newAccount(t *testing.T, multiUser bool) *device.Account {
	t.Helper()
	a, err := e.svc.CreateAccount(e.ctx, "Example Corp", multiUser)
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return a
}

// newEnrollKey issues an enrolment key that never expires and returns its secret.
func (e *env) newEnrollKey(t *testing.T, accountID string, reusable bool) string {
	t.Helper()
	_, secret, err := e.svc.CreateEnrollmentKey(e.ctx, accountID, reusable, 0)
	if err != nil {
		t.Fatalf("CreateEnrollmentKey: %v", err)
	}
	return secret
}

// enrollRequest returns a valid request with a fresh curve25519 key for the machine
// with hardwareID, used by email.
func enrollRequest(hardwareID, email string) device.EnrollRequest {
	return device.EnrollRequest{
		Key:     newCurve25519Key(),
		KeyType: device.KeyCurve25519,
		Device: device.DeviceFacts{
			Name: "Machine " + hardwareID, Model: "MacBookPro18,3",
			Manufacturer: "Apple Inc.", DeviceType: "mac", OSVersion: "14.4.1",
			SerialNumber: "SN-" + hardwareID, HardwareID: hardwareID,
			MACAddress: "f0:18:98:00:00:01", ClientVersion: "2024.6.415.0",
		},
		UserEmail:  email,
		UserName:   "User " + email,
		UserGroups: []string{"staff"},
	}
}

// enroll enrols req and fails the test on refusal.
func (e *env) enroll(t *testing.T, keySecret string, req device.EnrollRequest) *device.Enrollment {
	t.Helper()
	en, err := e.svc.Enroll(e.ctx, keySecret, req)
	if err != nil {
		t.Fatalf("Enroll(%s, %s): %v", req.Device.HardwareID, req.UserEmail, err)
	}
	return en
}

// update runs fn in a transaction and fails the test if it does not commit.
func (e *env) update(t *testing.T, fn func(tx device.Tx) error) {
	t.Helper()
	if err := e.store.Update(e.ctx, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// registration reads a registration, tombstones included, and fails the test if it
// is missing.
func (e *env) registration(t *testing.T, accountID, id string) *device.Registration {
	t.Helper()
	r, err := e.store.Registration(e.ctx, accountID, id)
	if err != nil {
		t.Fatalf("Registration(%s): %v", id, err)
	}
	return r
}

func (e *env) device(t *testing.T, accountID, id string) *device.Device {
	t.Helper()
	d, err := e.store.Device(e.ctx, accountID, id)
	if err != nil {
		t.Fatalf("Device(%s): %v", id, err)
	}
	return d
}

// wantKind fails the test unless err is a domain error of kind want.
func wantKind(t *testing.T, what string, err error, want device.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want kind %s", what, kindName(want))
	}
	if got := device.KindOf(err); got != want {
		t.Fatalf("%s: got kind %s (%v), want %s", what, kindName(got), err, kindName(want))
	}
}

// wantIs fails the test unless errors.Is(err, target).
func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one that is %v", what, err, target)
	}
}

func kindName(k device.Kind) string {
	switch k {
	case device.KindInternal:
		return "internal"
	case device.KindInvalid:
		return "invalid"
	case device.KindNotFound:
		return "not found"
	case device.KindConflict:
		return "conflict"
	case device.KindRevoked:
		return "revoked"
	case device.KindUnauthorized:
		return "unauthorized"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// checkUTC reports every non-zero time.Time reachable from v that is not in UTC.
func checkUTC(t *testing.T, what string, v any) {
	t.Helper()
	walkTimes(reflect.ValueOf(v), what, func(path string, tm time.Time) {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("%s: got location %v, want UTC", path, tm.Location())
		}
	})
}

func walkTimes(v reflect.Value, path string, fn func(string, time.Time)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkTimes(v.Elem(), path, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkTimes(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Struct:
		if tm, ok := v.Interface().(time.Time); ok {
			fn(path, tm)
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				walkTimes(v.Field(i), path+"."+v.Type().Field(i).Name, fn)
			}
		}
	}
}
