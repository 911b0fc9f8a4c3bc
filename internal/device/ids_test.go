package device_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func TestNewID(t *testing.T) {
	v7 := regexp.MustCompile(
		`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	before := time.Now().UnixMilli()
	last := ""
	for range 1000 {
		id := device.NewID()
		if !v7.MatchString(id) || !device.ValidID(id) {
			t.Fatalf("NewID() = %q, want a lowercase version 7 UUID that ValidID accepts", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true

		// The first 48 bits are the time in milliseconds, so ids sort by it.
		ms, err := strconv.ParseInt(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
		if err != nil || ms < before || ms > time.Now().UnixMilli() {
			t.Fatalf("NewID() = %q: time %d (%v), want between %d and now", id, ms, err, before)
		}
		if id[:13] < last {
			t.Fatalf("NewID() = %q sorts before an earlier id's time %q", id, last)
		}
		last = id[:13]
	}
}

func TestValidID(t *testing.T) {
	tests := map[string]bool{
		"f174e90a-fafe-4643-bbbc-4a0ed4fc8415":   true,
		"00000000-0000-0000-0000-000000000000":   true,
		"F174E90A-FAFE-4643-BBBC-4A0ED4FC8415":   false,
		"{f174e90a-fafe-4643-bbbc-4a0ed4fc8415}": false,
		"f174e90afafe4643bbbc4a0ed4fc8415":       false,
		"f174e90a-fafe-4643-bbbc-4a0ed4fc841":    false,
		"f174e90a-fafe-4643-bbbc-4a0ed4fc8415\n": false,
		"g174e90a-fafe-4643-bbbc-4a0ed4fc8415":   false,
		"":                                       false,
	}
	for id, want := range tests {
		if got := device.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %t, want %t", id, got, want)
		}
	}
}

func TestAccountIDs(t *testing.T) {
	id := device.NewAccountID()
	if !device.ValidAccountID(id) || len(id) != 32 {
		t.Errorf("NewAccountID() = %q, want 32 lowercase hex characters", id)
	}
	for _, bad := range []string{"", strings.ToUpper(id), id[:31], id + "0", device.NewID()} {
		if device.ValidAccountID(bad) {
			t.Errorf("ValidAccountID(%q) = true, want false", bad)
		}
	}
}

func TestNewSecret(t *testing.T) {
	alphabet := regexp.MustCompile(`^[A-Za-z0-9_-]{40}$`)
	seen := map[string]bool{}
	for range 1000 {
		s := device.NewSecret()
		if !alphabet.MatchString(s) {
			t.Fatalf("NewSecret() = %q, want 40 characters of URL-safe base64 without padding", s)
		}
		if seen[s] {
			t.Fatalf("NewSecret() repeated %q", s)
		}
		seen[s] = true
	}
}

func TestNewGlobalKeyValue(t *testing.T) {
	hex37 := regexp.MustCompile(`^[0-9a-f]{37}$`)
	if k := device.NewGlobalKeyValue(); !hex37.MatchString(k) {
		t.Errorf("NewGlobalKeyValue() = %q, want 37 lowercase hex characters", k)
	}
}

// TestSecretsCarryAtLeast128RandomBits checks that every character of every kind
// of secret varies: each base64 position must take at least 32 values over 2,000
// draws (5 bits each, 200 in all) and each hex position all 16 (4 bits each, 148 in
// all). A secret with a constant or low-entropy part fails.
func TestSecretsCarryAtLeast128RandomBits(t *testing.T) {
	kinds := []struct {
		name   string
		gen    func() string
		values int // distinct values each position must show
	}{
		{"NewSecret (API tokens, enrolment keys, registration tokens)", device.NewSecret, 32},
		{"NewGlobalKeyValue", device.NewGlobalKeyValue, 16},
	}
	for _, k := range kinds {
		var seen []map[byte]bool
		for range 2000 {
			s := k.gen()
			for len(seen) < len(s) {
				seen = append(seen, map[byte]bool{})
			}
			for i := range len(s) {
				seen[i][s[i]] = true
			}
		}
		bits := 0
		for i, vals := range seen {
			if len(vals) < k.values {
				t.Errorf("%s: position %d took only %d values", k.name, i, len(vals))
			}
			for n := len(vals); n > 1; n /= 2 {
				bits++
			}
		}
		if bits < 128 {
			t.Errorf("%s: about %d random bits, want at least 128", k.name, bits)
		}
	}
}

func TestSecretMatches(t *testing.T) {
	secret := device.NewSecret()
	hash := device.HashSecret(secret)
	tests := []struct {
		name   string
		secret string
		hash   []byte
		want   bool
	}{
		{"the secret", secret, hash, true},
		{"another secret", device.NewSecret(), hash, false},
		{"secret with a changed last character", secret[:39] + flip(secret[39]), hash, false},
		{"empty secret", "", hash, false},
		{"nil hash", secret, nil, false},
		{"empty hash", secret, []byte{}, false},
		{"short hash", secret, hash[:31], false},
		{"long hash", secret, append(append([]byte{}, hash...), 0), false},
		{"empty secret and its hash", "", device.HashSecret(""), true},
	}
	for _, tc := range tests {
		if got := device.SecretMatches(tc.secret, tc.hash); got != tc.want {
			t.Errorf("SecretMatches(%s) = %t, want %t", tc.name, got, tc.want)
		}
	}
	if len(hash) != 32 {
		t.Errorf("HashSecret gives %d bytes, want 32", len(hash))
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestFingerprint(t *testing.T) {
	secret := device.NewSecret()
	fp := device.Fingerprint(secret)
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(fp) || strings.Contains(secret, fp) {
		t.Errorf("Fingerprint(%q) = %q, want 8 hex characters not taken from the secret",
			secret, fp)
	}
	if device.Fingerprint(secret) != fp {
		t.Errorf("Fingerprint is not deterministic")
	}
}

func TestSortValueTimesRoundTrip(t *testing.T) {
	times := []time.Time{
		time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Unix(0, 0).UTC(),
	}
	for _, tm := range times {
		r := &device.Registration{LastSeenAt: tm, CreatedAt: tm}
		for _, f := range []device.SortField{device.SortByLastSeenAt, device.SortByCreatedAt} {
			got, err := device.ParseMicros(device.SortValue(r, f))
			if err != nil || !got.Equal(tm) || got.Location() != time.UTC {
				t.Errorf("ParseMicros(SortValue(%s, %s)) = %v, %v; want %v in UTC",
					tm, f, got, err, tm)
			}
		}
	}
	for _, bad := range []string{"", "abc", "1.5", "99999999999999999999"} {
		if _, err := device.ParseMicros(bad); err == nil {
			t.Errorf("ParseMicros(%q) succeeded, want an error", bad)
		}
	}
}

func TestSortValue(t *testing.T) {
	u := &device.User{Email: "ann@example.com", Name: "Ann"}
	r := &device.Registration{ID: device.NewID(), User: u}
	tests := []struct {
		r    *device.Registration
		f    device.SortField
		want string
	}{
		{r, device.SortByID, r.ID},
		{r, device.SortByUserName, "Ann"},
		{r, device.SortByUserEmail, "ann@example.com"},
		{&device.Registration{ID: r.ID}, device.SortByUserName, ""},
		{&device.Registration{ID: r.ID}, device.SortByUserEmail, ""},
	}
	for _, tc := range tests {
		if got := device.SortValue(tc.r, tc.f); got != tc.want {
			t.Errorf("SortValue(%s) = %q, want %q", tc.f, got, tc.want)
		}
	}
}
