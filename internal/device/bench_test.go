package device

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"testing"
)

func BenchmarkCanonicalKeyCurve25519(b *testing.B) {
	k, _ := ecdh.X25519().GenerateKey(rand.Reader)
	key := base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CanonicalKey(KeyCurve25519, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLowOrder is the part of BenchmarkCanonicalKeyCurve25519 that rejects
// low-order points: one X25519 scalar multiplication, paid by every enrolment and
// key rotation before its write transaction.
func BenchmarkLowOrder(b *testing.B) {
	k, _ := ecdh.X25519().GenerateKey(rand.Reader)
	raw := k.PublicKey().Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if lowOrder(raw) {
			b.Fatal("a generated key is of low order")
		}
	}
}

func BenchmarkCanonicalKeyP256(b *testing.B) {
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(k.PublicKey())
	key := base64.StdEncoding.EncodeToString(der)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CanonicalKey(KeySecp256r1, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSecretMatches is the credential check itself, after the lookup by hash.
func BenchmarkSecretMatches(b *testing.B) {
	secret := NewSecret()
	hash := HashSecret(secret)
	b.ReportAllocs()
	for b.Loop() {
		if !SecretMatches(secret, hash) {
			b.Fatal("no match")
		}
	}
}
