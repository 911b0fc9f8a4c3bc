package device

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

// TestLowOrderAgreesWithX25519 checks the table of low-order points against
// X25519 itself, which yields the all-zero secret (an error from crypto/ecdh)
// exactly for them: every table entry, with and without the top bit, and random
// keys, which X25519 accepts.
func TestLowOrderAgreesWithX25519(t *testing.T) {
	probe, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	zeroSecret := func(raw []byte) bool {
		pub, err := ecdh.X25519().NewPublicKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = probe.ECDH(pub)
		return err != nil
	}
	var keys [][]byte
	for _, pt := range lowOrderPoints {
		high := append([]byte(nil), pt...)
		high[31] |= 0x80
		keys = append(keys, pt, high)
	}
	for range 200 {
		raw := make([]byte, 32)
		rand.Read(raw)
		keys = append(keys, raw)
	}
	low := 0
	for _, raw := range keys {
		if got, want := lowOrder(raw), zeroSecret(raw); got != want {
			t.Errorf("%x: lowOrder %v, X25519 gives the zero secret: %v", raw, got, want)
		} else if got {
			low++
		}
	}
	if low != 2*len(lowOrderPoints) || len(lowOrderPoints) != 7 {
		t.Errorf("%d low-order encodings of %d points, want 14 of 7", low, len(lowOrderPoints))
	}
}
