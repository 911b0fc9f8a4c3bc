package device_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

var std = base64.StdEncoding.EncodeToString

func TestCanonicalKeyCurve25519(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, 32)
	valid := std(raw) // holds '+' and '/' in standard base64
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"32 bytes", valid, true},
		{"32 zero bytes", std(make([]byte, 32)), false},
		{"31 bytes", std(make([]byte, 31)), false},
		{"33 bytes", std(make([]byte, 33)), false},
		{"64 bytes", std(make([]byte, 64)), false},
		{"empty", "", false},
		{"not base64", "!!!!" + valid[4:], false},
		{"url-safe alphabet", base64.URLEncoding.EncodeToString(raw), false},
		{"no padding", strings.TrimRight(valid, "="), false},
		{"non-zero padding bits", valid[:42] + "9=", false},
		{"surrounding space", " " + valid + " ", false},
		{"embedded newline", valid[:20] + "\n" + valid[20:], false},
		{"embedded carriage return and newline", valid[:20] + "\r\n" + valid[20:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := device.CanonicalKey(device.KeyCurve25519, tc.key)
			switch {
			case tc.ok && (err != nil || got != tc.key):
				t.Errorf("CanonicalKey(%q) = %q, %v; want the key unchanged", tc.key, got, err)
			case !tc.ok && err == nil:
				t.Errorf("CanonicalKey(%q) = %q, nil; want an invalid-input error", tc.key, got)
			case !tc.ok && device.KindOf(err) != device.KindInvalid:
				t.Errorf("CanonicalKey(%q) error kind = %d, want KindInvalid",
					tc.key, device.KindOf(err))
			}
		})
	}
}

// TestCanonicalKeyCurve25519LowOrder: every encoding of a point of small order is
// refused, since X25519 with it yields the all-zero secret whatever the private
// key; the high bit, which X25519 ignores, does not hide one.
func TestCanonicalKeyCurve25519LowOrder(t *testing.T) {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	order8a, _ := new(big.Int).SetString("325606250916557431795983626356110631294008115727848"+
		"805560023387167927233504", 10)
	order8b, _ := new(big.Int).SetString("393823572354896145817230607815530211125299117194406"+
		"98176882885853963445705823", 10)
	points := map[string]*big.Int{
		"0": big.NewInt(0), "1": big.NewInt(1), "p-1": new(big.Int).Sub(p, big.NewInt(1)),
		"p": p, "p+1": new(big.Int).Add(p, big.NewInt(1)),
		"order 8, first": order8a, "order 8, second": order8b,
	}
	for name, u := range points {
		for _, high := range []bool{false, true} {
			raw := littleEndian32(u)
			if high {
				raw[31] |= 0x80
			}
			_, err := device.CanonicalKey(device.KeyCurve25519, std(raw))
			if device.KindOf(err) != device.KindInvalid {
				t.Errorf("u = %s (high bit %v): error %v, want an invalid-input error",
					name, high, err)
			}
		}
	}
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := device.CanonicalKey(device.KeyCurve25519, std(k.PublicKey().Bytes())); err != nil {
		t.Errorf("a generated key: %v", err)
	}
}

// littleEndian32 encodes u in 32 bytes, least significant first, as curve25519 keys
// are.
func littleEndian32(u *big.Int) []byte {
	raw := u.FillBytes(make([]byte, 32))
	slices.Reverse(raw)
	return raw
}

// p256Forms returns a fresh P-256 key's SubjectPublicKeyInfo and its SEC 1 points,
// each in standard base64.
func p256Forms(t *testing.T) (spki, uncompressed, compressed string) {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	point := k.PublicKey().Bytes()
	x, y := new(big.Int).SetBytes(point[1:33]), new(big.Int).SetBytes(point[33:])
	return std(der), std(point), std(elliptic.MarshalCompressed(elliptic.P256(), x, y))
}

// offCurveX returns an x coordinate for which no P-256 point exists.
func offCurveX(t *testing.T) []byte {
	t.Helper()
	for i := byte(1); i < 255; i++ {
		x := make([]byte, 32)
		x[31] = i
		px, _ := elliptic.UnmarshalCompressed(elliptic.P256(), append([]byte{2}, x...))
		if px == nil {
			return x
		}
	}
	t.Fatal("no x off the curve among the first candidates")
	return nil
}

func TestCanonicalKeySecp256r1(t *testing.T) {
	spki, uncompressed, compressed := p256Forms(t)
	for name, key := range map[string]string{
		"SubjectPublicKeyInfo": spki,
		"SEC 1 uncompressed":   uncompressed,
		"SEC 1 compressed":     compressed,
	} {
		got, err := device.CanonicalKey(device.KeySecp256r1, key)
		if err != nil || got != spki {
			t.Errorf("%s: CanonicalKey = %q, %v; want the SubjectPublicKeyInfo %q",
				name, got, err, spki)
		}
	}

	raw, _ := base64.StdEncoding.DecodeString(uncompressed)
	offPoint := bytes.Clone(raw)
	offPoint[64] ^= 1
	x := offCurveX(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatalf("generate P-384 key: %v", err)
	}
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	spkiRaw, _ := base64.StdEncoding.DecodeString(spki)

	invalid := map[string]string{
		"uncompressed point off the curve":         std(offPoint),
		"compressed x off the curve":               std(append([]byte{3}, x...)),
		"compressed with prefix 4":                 std(append([]byte{4}, raw[1:33]...)),
		"point at infinity":                        std([]byte{0}),
		"bare 32-byte coordinate":                  std(raw[1:33]),
		"P-384 SubjectPublicKeyInfo":               std(p384DER),
		"Ed25519 SubjectPublicKeyInfo":             std(edDER),
		"truncated SubjectPublicKeyInfo":           std(spkiRaw[:len(spkiRaw)-1]),
		"SubjectPublicKeyInfo with trailing bytes": std(append(bytes.Clone(spkiRaw), 0)),
		"empty": "",
	}
	// URL-safe base64 differs from standard only where '+' or '/' would appear.
	if urlSafe := base64.URLEncoding.EncodeToString(spkiRaw); urlSafe != spki {
		invalid["url-safe base64"] = urlSafe
	} else {
		invalid["url-safe base64"] = "-" + spki[1:]
	}
	for name, key := range invalid {
		got, err := device.CanonicalKey(device.KeySecp256r1, key)
		if device.KindOf(err) != device.KindInvalid || err == nil {
			t.Errorf("%s: CanonicalKey = %q, %v; want an invalid-input error", name, got, err)
		}
	}
}

func TestCanonicalKeyUnknownType(t *testing.T) {
	key := std(make([]byte, 32))
	for _, kt := range []device.KeyType{"", "ed25519", "Curve25519"} {
		_, err := device.CanonicalKey(kt, key)
		if device.KindOf(err) != device.KindInvalid || err == nil {
			t.Errorf("CanonicalKey(%q, ...) error = %v, want an invalid-input error", kt, err)
		}
	}
}

func TestTunnelFor(t *testing.T) {
	tests := map[device.KeyType]device.TunnelType{
		device.KeyCurve25519: device.TunnelWireGuard,
		device.KeySecp256r1:  device.TunnelMASQUE,
	}
	for kt, want := range tests {
		if got := device.TunnelFor(kt); got != want {
			t.Errorf("TunnelFor(%s) = %s, want %s", kt, got, want)
		}
	}
}
