package device_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

// fakeStore is a device.Store whose used methods are function fields. A method
// without one reaches the nil embedded Store and panics, which fails the test.
type fakeStore struct {
	device.Store
	list        func(accountID string, q device.ListQuery) (device.Page, error)
	listDevices func(accountID string, q device.DeviceListQuery) (device.DevicePage, error)
	update      func(fn func(tx device.Tx) error) error
	account     func(id string) (*device.Account, error)
}

func (f *fakeStore) ListDevices(_ context.Context, accountID string,
	q device.DeviceListQuery,
) (device.DevicePage, error) {
	return f.listDevices(accountID, q)
}

func (f *fakeStore) ListRegistrations(_ context.Context, accountID string,
	q device.ListQuery,
) (device.Page, error) {
	return f.list(accountID, q)
}

func (f *fakeStore) Update(_ context.Context, fn func(tx device.Tx) error) error {
	return f.update(fn)
}

func (f *fakeStore) Account(_ context.Context, id string) (*device.Account, error) {
	return f.account(id)
}

// refusingStore fails the test on any write or list: the service must refuse
// invalid input before it reaches a store.
func refusingStore(t *testing.T) *fakeStore {
	return &fakeStore{
		list: func(string, device.ListQuery) (device.Page, error) {
			t.Error("ListRegistrations called with invalid input")
			return device.Page{}, nil
		},
		update: func(func(device.Tx) error) error {
			t.Error("Update called with invalid input")
			return nil
		},
		account: func(id string) (*device.Account, error) {
			return &device.Account{ID: id}, nil
		},
	}
}

func newService(s device.Store) *device.Service {
	clock := func() time.Time { return time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC) }
	return device.NewService(s, clock, slog.New(slog.DiscardHandler))
}

func TestListDefaults(t *testing.T) {
	var got device.ListQuery
	store := &fakeStore{list: func(_ string, q device.ListQuery) (device.Page, error) {
		got = q
		return device.Page{}, nil
	}}
	svc := newService(store)
	if _, err := svc.List(t.Context(), "acct", device.ListQuery{Search: "x"}); err != nil {
		t.Fatalf("List: %v", err)
	}
	want := device.ListQuery{Status: device.StatusActive, Sort: device.SortByID,
		Limit: device.DefaultPerPage, Search: "x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("query passed to the store (-want +got):\n%s", diff)
	}
}

func TestListValidation(t *testing.T) {
	id := device.NewID()
	many := make([]string, device.MaxPerPage+1)
	for i := range many {
		many[i] = id
	}
	valid := []device.ListQuery{
		{Limit: 1},
		{Limit: device.MaxPerPage},
		{Status: device.StatusAll, Sort: device.SortByCreatedAt, Desc: true},
		{Status: device.StatusRevoked, Sort: device.SortByUserEmail},
		{IDs: many[1:], UserIDs: many[1:], DeviceID: id},
		{Search: strings.Repeat("x", 256)},
	}
	invalid := map[string]device.ListQuery{
		"unknown status":      {Status: "deleted"},
		"unknown sort":        {Sort: "name"},
		"negative limit":      {Limit: -1},
		"limit over max":      {Limit: device.MaxPerPage + 1},
		"too many ids":        {IDs: many},
		"too many user ids":   {UserIDs: many},
		"malformed id":        {IDs: []string{id, "nope"}},
		"uppercase id":        {IDs: []string{strings.ToUpper(id)}},
		"malformed user id":   {UserIDs: []string{"nope"}},
		"malformed device id": {DeviceID: "nope"},
		"search too long":     {Search: strings.Repeat("x", 257)},
	}
	for _, q := range valid {
		store := &fakeStore{list: func(string, device.ListQuery) (device.Page, error) {
			return device.Page{}, nil
		}}
		if _, err := newService(store).List(t.Context(), "acct", q); err != nil {
			t.Errorf("List(%+v) = %v, want it accepted", q, err)
		}
	}
	for name, q := range invalid {
		_, err := newService(refusingStore(t)).List(t.Context(), "acct", q)
		if device.KindOf(err) != device.KindInvalid {
			t.Errorf("List with %s: got %v, want an invalid-input error", name, err)
		}
	}
}

func TestListWrapsStoreErrors(t *testing.T) {
	boom := errors.New("boom")
	store := &fakeStore{list: func(string, device.ListQuery) (device.Page, error) {
		return device.Page{}, boom
	}}
	_, err := newService(store).List(t.Context(), "acct", device.ListQuery{})
	if !errors.Is(err, boom) || device.KindOf(err) != device.KindInternal {
		t.Errorf("List = %v, want an internal error wrapping the store's", err)
	}
}

func validEnrollRequest() device.EnrollRequest {
	base := make([]byte, 32)
	base[0] = 9 // curve25519's base point: a valid key, if not a secret one
	return device.EnrollRequest{
		Key: std(base), KeyType: device.KeyCurve25519,
		Device:    device.DeviceFacts{Name: "Laptop", HardwareID: "hw-1"},
		UserEmail: "ann@example.com", UserName: "Ann",
	}
}

func TestEnrollValidation(t *testing.T) {
	type request = device.EnrollRequest
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := map[string]func(r *request){
		"no key type":                    func(r *request) { r.KeyType = "" },
		"unknown key type":               func(r *request) { r.KeyType = "rsa" },
		"tunnel for the other key":       func(r *request) { r.TunnelType = device.TunnelMASQUE },
		"unknown tunnel type":            func(r *request) { r.TunnelType = "ipsec" },
		"short key":                      func(r *request) { r.Key = std(make([]byte, 16)) },
		"secp256r1 type, curve25519 key": func(r *request) { r.KeyType = device.KeySecp256r1 },
		"no email":                       func(r *request) { r.UserEmail = "" },
		"malformed email":                func(r *request) { r.UserEmail = "ann.example.com" },
		"email with a display name":      func(r *request) { r.UserEmail = "Ann <ann@example.com>" },
		"email over 90 characters": func(r *request) {
			r.UserEmail = strings.Repeat("a", 79) + "@example.com"
		},
		"control character in name": func(r *request) { r.UserName = "Ann\x07" },
		"name over 256 characters":  func(r *request) { r.UserName = long(257) },
		"invalid UTF-8 in name":     func(r *request) { r.UserName = "\xff" },
		"101 groups": func(r *request) {
			r.UserGroups = strings.Split(strings.Repeat("g,", 100)+"g", ",")
		},
		"empty group name":        func(r *request) { r.UserGroups = []string{"a", ""} },
		"newline in a group":      func(r *request) { r.UserGroups = []string{"a\nb"} },
		"no device name":          func(r *request) { r.Device.Name = "   " },
		"device fact over 256":    func(r *request) { r.Device.Model = long(257) },
		"invalid UTF-8 in a fact": func(r *request) { r.Device.SerialNumber = "\xfe" },
		"DEL in a fact":           func(r *request) { r.Device.MACAddress = "aa\x7f" },
		"tab in the hardware id":  func(r *request) { r.Device.HardwareID = "hw\t1" },
	}
	for name, mutate := range tests {
		req := validEnrollRequest()
		mutate(&req)
		_, err := newService(refusingStore(t)).Enroll(t.Context(), "secret", req)
		if device.KindOf(err) != device.KindInvalid {
			t.Errorf("Enroll with %s: got %v, want an invalid-input error", name, err)
		}
	}

	boom := errors.New("reached the store")
	reached := &fakeStore{update: func(func(device.Tx) error) error { return boom }}
	req := validEnrollRequest()
	req.UserEmail, req.UserName = "  Ann@Example.COM ", long(256)
	if _, err := newService(reached).Enroll(t.Context(), "secret", req); !errors.Is(err, boom) {
		t.Errorf("Enroll with a valid request: got %v, want it to reach the store", err)
	}
}

func TestBulkValidation(t *testing.T) {
	tooMany := make([]string, device.MaxBulkIDs+1)
	for i := range tooMany {
		tooMany[i] = device.NewID()
	}
	lists := map[string][]string{
		"no ids":       nil,
		"too many ids": tooMany,
		"malformed id": {device.NewID(), "nope"},
		"uppercase id": {strings.ToUpper(device.NewID())},
	}
	for name, ids := range lists {
		svc := newService(refusingStore(t))
		calls := map[string]func() error{
			"Revoke":   func() error { return svc.Revoke(t.Context(), "acct", ids) },
			"Unrevoke": func() error { return svc.Unrevoke(t.Context(), "acct", ids) },
			"Delete":   func() error { return svc.Delete(t.Context(), "acct", ids) },
		}
		for call, fn := range calls {
			if err := fn(); device.KindOf(err) != device.KindInvalid {
				t.Errorf("%s with %s: got %v, want an invalid-input error", call, name, err)
			}
		}
	}
}

func TestOtherInputValidation(t *testing.T) {
	svc := newService(refusingStore(t))
	ctx := t.Context()
	calls := map[string]func() error{
		"CreateAccount with a blank name": func() error {
			_, err := svc.CreateAccount(ctx, " \t ", false)
			return err
		},
		"CreateAccount with a 257-character name": func() error {
			_, err := svc.CreateAccount(ctx, strings.Repeat("n", 257), false)
			return err
		},
		"CreateAccount with a control character": func() error {
			_, err := svc.CreateAccount(ctx, "a\x1bb", false)
			return err
		},
		"CreateAPIToken with a 257-character name": func() error {
			_, _, err := svc.CreateAPIToken(ctx, "acct", strings.Repeat("n", 257), false)
			return err
		},
		"AuditLog with a 257-character target id": func() error {
			_, err := svc.AuditLog(ctx, "acct", device.AuditQuery{Limit: 1,
				TargetID: strings.Repeat("t", 257)})
			return err
		},
		"AuditLog with a NUL in the target type": func() error {
			_, err := svc.AuditLog(ctx, "acct", device.AuditQuery{Limit: 1, TargetType: "a\x00"})
			return err
		},
		"CreateEnrollmentKey with a negative expiry": func() error {
			_, _, err := svc.CreateEnrollmentKey(ctx, "acct", false, -time.Second)
			return err
		},
		"CreateGlobalKey with a malformed email": func() error {
			_, _, err := svc.CreateGlobalKey(ctx, "acct", "admin")
			return err
		},
		"Heartbeat with a 257-character client version": func() error {
			_, err := svc.Heartbeat(ctx, device.NewID(), "token", strings.Repeat("1", 257))
			return err
		},
		"Heartbeat with an invalid UTF-8 client version": func() error {
			_, err := svc.Heartbeat(ctx, device.NewID(), "token", "\xff")
			return err
		},
	}
	for name, call := range calls {
		if err := call(); device.KindOf(err) != device.KindInvalid {
			t.Errorf("%s: got %v, want an invalid-input error", name, err)
		}
	}
}

func TestServiceNow(t *testing.T) {
	local := time.Date(2025, 3, 1, 11, 0, 0, 123456789, time.FixedZone("CET", 3600))
	svc := device.NewService(nil, func() time.Time { return local }, slog.New(slog.DiscardHandler))
	want := time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC)
	if got := svc.Now(); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Now() = %s, want %s in UTC, truncated to microseconds", got, want)
	}
	if got := device.NewService(nil, nil, nil).Now(); time.Since(got) > time.Minute {
		t.Errorf("Now() with the wall clock = %s, want about now", got)
	}
}

// keyStore answers EnrollmentKeyByHash from key, counting the reads.
type keyStore struct {
	device.Store
	key   *device.EnrollmentKey // nil: not found
	reads int
}

func (k *keyStore) EnrollmentKeyByHash(context.Context, []byte) (*device.EnrollmentKey, error) {
	k.reads++
	if k.key == nil {
		return nil, device.ErrNotFound
	}
	return k.key, nil
}

// TestCheckEnrollmentKeyRemembers: a reusable key found usable is not read again
// for a second, nor past its expiry; a single-use key, and a refused one, are read
// every time, so a refusal is never remembered.
func TestCheckEnrollmentKeyRemembers(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name  string
		key   *device.EnrollmentKey
		steps []time.Duration // clock moves before each check
		reads int
		ok    bool
	}{
		{"reusable, within a second", &device.EnrollmentKey{Reusable: true},
			[]time.Duration{0, 500 * time.Millisecond, 400 * time.Millisecond}, 1, true},
		{"reusable, a second later", &device.EnrollmentKey{Reusable: true},
			[]time.Duration{0, time.Second}, 2, true},
		{"reusable, expiring sooner",
			&device.EnrollmentKey{Reusable: true, ExpiresAt: now.Add(100 * time.Millisecond)},
			[]time.Duration{0, 200 * time.Millisecond}, 2, false},
		{"single use", &device.EnrollmentKey{}, []time.Duration{0, 0}, 2, true},
		{"unknown", nil, []time.Duration{0, 0}, 2, false},
	}
	for _, tt := range tests {
		now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
		st := &keyStore{key: tt.key}
		svc := device.NewService(st, clock, slog.New(slog.DiscardHandler))
		var err error
		for _, d := range tt.steps {
			now = now.Add(d)
			err = svc.CheckEnrollmentKey(t.Context(), "secret")
		}
		if st.reads != tt.reads || (err == nil) != tt.ok {
			t.Errorf("%s: %d reads, last error %v; want %d reads, ok %v", tt.name, st.reads,
				err, tt.reads, tt.ok)
		}
	}
}
