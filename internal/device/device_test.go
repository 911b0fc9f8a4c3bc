package device_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func TestEnrollmentKeyUsable(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Microsecond), now.Add(-time.Microsecond)
	type key = device.EnrollmentKey
	tests := []struct {
		name string
		key  key
		want bool
	}{
		{"single-use, unused, no expiry", key{}, true},
		{"single-use, used", key{UsedAt: earlier}, false},
		{"reusable, never used", key{Reusable: true}, true},
		{"reusable, used", key{Reusable: true, UsedAt: earlier}, true},
		{"expires after now", key{ExpiresAt: later}, true},
		{"expires at now", key{ExpiresAt: now}, false},
		{"expired", key{ExpiresAt: earlier}, false},
		{"reusable, expired", key{Reusable: true, ExpiresAt: earlier}, false},
		{"reusable, expires after now", key{Reusable: true, ExpiresAt: later}, true},
		{"single-use, used, not expired", key{UsedAt: earlier, ExpiresAt: later}, false},
	}
	for _, tc := range tests {
		if got := tc.key.Usable(now); got != tc.want {
			t.Errorf("%s: Usable = %t, want %t", tc.name, got, tc.want)
		}
	}
}

func TestRegistrationActive(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		r    device.Registration
		want bool
	}{
		{"live", device.Registration{}, true},
		{"revoked", device.Registration{RevokedAt: at}, false},
		{"deleted", device.Registration{DeletedAt: at}, false},
		{"revoked and deleted", device.Registration{RevokedAt: at, DeletedAt: at}, false},
	}
	for _, tc := range tests {
		if got := tc.r.Active(); got != tc.want {
			t.Errorf("%s: Active = %t, want %t", tc.name, got, tc.want)
		}
	}
}

func TestPrincipalAuthorize(t *testing.T) {
	acct, other := device.NewAccountID(), device.NewAccountID()
	writer := &device.Principal{AccountID: acct, CredentialID: "w", CanWrite: true}
	reader := &device.Principal{AccountID: acct, CredentialID: "r"}
	tests := []struct {
		name    string
		p       *device.Principal
		account string
		write   bool
		ok      bool
	}{
		{"writer reads", writer, acct, false, true},
		{"writer writes", writer, acct, true, true},
		{"reader reads", reader, acct, false, true},
		{"reader writes", reader, acct, true, false},
		{"writer on another account", writer, other, false, false},
		{"writer on an empty account id", writer, "", false, false},
		{"nil principal", nil, acct, false, false},
	}
	var refusal string
	for _, tc := range tests {
		err := tc.p.Authorize(tc.account, tc.write)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: Authorize = %v, want nil", tc.name, err)
			}
			continue
		}
		if device.KindOf(err) != device.KindUnauthorized {
			t.Errorf("%s: Authorize = %v, want an unauthorized error", tc.name, err)
			continue
		}
		// Every refusal reads the same, so a caller learns nothing about other tenants.
		if msg := device.MessageOf(err); refusal == "" {
			refusal = msg
		} else if msg != refusal {
			t.Errorf("%s: message %q differs from %q", tc.name, msg, refusal)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	cause := errors.New("disk on fire")
	e := &device.Error{Kind: device.KindConflict, Message: "key taken", Err: cause}
	wrapped := fmt.Errorf("enrol: %w", e)
	tests := []struct {
		name    string
		err     error
		kind    device.Kind
		message string
	}{
		{"domain error", device.Errorf(device.KindInvalid, "bad %s", "input"),
			device.KindInvalid, "bad input"},
		{"wrapped domain error", wrapped, device.KindConflict, "key taken"},
		{"wrapped sentinel", fmt.Errorf("read: %w", device.ErrNotFound),
			device.KindNotFound, "not found"},
		{"plain error", cause, device.KindInternal, "internal error"},
		{"internal domain error", device.Errorf(device.KindInternal, "secret detail"),
			device.KindInternal, "internal error"},
		{"nil", nil, device.KindInternal, "internal error"},
	}
	for _, tc := range tests {
		if got := device.KindOf(tc.err); got != tc.kind {
			t.Errorf("%s: KindOf = %d, want %d", tc.name, got, tc.kind)
		}
		if got := device.MessageOf(tc.err); got != tc.message {
			t.Errorf("%s: MessageOf = %q, want %q", tc.name, got, tc.message)
		}
	}
	if !errors.Is(wrapped, cause) || e.Error() != "key taken: disk on fire" {
		t.Errorf("Error() = %q, errors.Is(cause) = %t; want %q, true",
			e.Error(), errors.Is(wrapped, cause), "key taken: disk on fire")
	}
}
