package override

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The vectors were computed with an independent implementation (Python's hmac
// module) of the construction the package documents, so they pin the algorithm, not
// merely this code's output.
func TestCodeKnownVectors(t *testing.T) {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	tests := []struct {
		counter uint64
		want    map[string]string
	}{
		{1, map[string]string{"1": "4342353", "3": "6162538", "6": "2909766", "12": "7738163",
			"24": "1345265"}},
		{2, map[string]string{"1": "2898316", "3": "0399873", "6": "7637578", "12": "2332877",
			"24": "0545683"}},
		{1000, map[string]string{"1": "9666793", "3": "4062878", "6": "9464460",
			"12": "7213035", "24": "1541912"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Codes(secret, tt.counter)); diff != "" {
			t.Errorf("Codes(counter %d) (-want +got):\n%s", tt.counter, diff)
		}
	}
	if got := Code([]byte("12345678901234567890123456789012"), 24, 1); got != "5557569" {
		t.Errorf("Code(ascii secret, 24, 1) = %s, want 5557569", got)
	}
}

func TestVerifyAcceptsEachCodeOnce(t *testing.T) {
	secret := []byte("a secret of thirty-two bytes....")
	issued := Codes(secret, 3)
	last := uint64(0)

	hours, counter, ok := Verify(secret, issued["6"], last)
	if !ok || hours != 6 || counter != 3 {
		t.Fatalf("Verify(6-hour code) = %d, %d, %v; want 6, 3, true", hours, counter, ok)
	}
	last = counter
	for h, code := range issued {
		if _, _, ok := Verify(secret, code, last); ok {
			t.Errorf("the %s-hour code of a spent issue was accepted again", h)
		}
	}
	older := Code(secret, 1, 2)
	if _, _, ok := Verify(secret, older, last); ok {
		t.Error("a code issued before the accepted one was accepted")
	}
	next := Code(secret, 12, 4)
	if h, c, ok := Verify(secret, next, last); !ok || h != 12 || c != 4 {
		t.Errorf("Verify(next issue's 12-hour code) = %d, %d, %v; want 12, 4, true", h, c, ok)
	}
}

func TestVerifyReportsTheDurationTheCodeWasIssuedFor(t *testing.T) {
	secret := []byte("another secret of 32 bytes......")
	for _, h := range Durations() {
		code := Code(secret, h, 1)
		got, _, ok := Verify(secret, code, 0)
		if !ok || got != h {
			t.Errorf("Verify(%d-hour code) = %d hours, ok %v", h, got, ok)
		}
	}
	// A code for a duration that is not offered never verifies as one that is.
	for _, h := range []int{0, 2, 48} {
		if got, _, ok := Verify(secret, Code(secret, h, 1), 0); ok {
			t.Errorf("a %d-hour code verified as %d hours", h, got)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	secret := []byte("yet another secret of 32 bytes..")
	good := Code(secret, 1, 1)
	tests := []struct {
		name   string
		secret []byte
		code   string
		last   uint64
	}{
		{"other secret", []byte("a different secret of 32 bytes.."), good, 0},
		{"too short", secret, good[:Digits-1], 0},
		{"too long", secret, good + "0", 0},
		{"not digits", secret, "abcdefg", 0},
		{"beyond the window", secret, Code(secret, 1, Window+1), 0},
		{"counter overflow", secret, Code(secret, 1, 0), ^uint64(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, ok := Verify(tt.secret, tt.code, tt.last); ok {
				t.Errorf("Verify(%q, last %d) accepted", tt.code, tt.last)
			}
		})
	}
	if _, c, ok := Verify(secret, Code(secret, 1, Window), 0); !ok || c != Window {
		t.Errorf("the last counter inside the window was refused")
	}
}

func TestCodesAreDigitsOfFixedLength(t *testing.T) {
	secret := []byte("length check secret.............")
	for c := uint64(1); c <= 200; c++ {
		for h, code := range Codes(secret, c) {
			if _, err := strconv.Atoi(code); err != nil || len(code) != Digits {
				t.Fatalf("counter %d, %s hours: code %q is not %d digits", c, h, code, Digits)
			}
		}
	}
}
