package device

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"slices"
	"strings"
)

// KeyType is the kind of public key a WARP client uses.
type KeyType string

// TunnelType is the tunnel protocol a WARP client speaks.
type TunnelType string

// The key and tunnel types Cloudflare reports. WireGuard uses curve25519 keys and
// MASQUE uses P-256 (secp256r1) keys.
const (
	KeyCurve25519 KeyType = "curve25519"
	KeySecp256r1  KeyType = "secp256r1"

	TunnelWireGuard TunnelType = "wireguard"
	TunnelMASQUE    TunnelType = "masque"
)

// TunnelFor returns the tunnel type that key type kt belongs to.
func TunnelFor(kt KeyType) TunnelType {
	if kt == KeySecp256r1 {
		return TunnelMASQUE
	}
	return TunnelWireGuard
}

// CanonicalKey validates a public key of type kt and returns the form it is stored
// in. A curve25519 key must be 32 bytes in standard base64, not of low order (see
// lowOrder), and is kept as given. A
// secp256r1 key may be the base64 of its X.509 SubjectPublicKeyInfo or of its SEC 1
// point (compressed or not); either way it must lie on the curve, and it is stored as
// base64 of the SubjectPublicKeyInfo, so that one key has one spelling and the
// uniqueness rule cannot be dodged by re-encoding it.
func CanonicalKey(kt KeyType, key string) (string, error) {
	// The decoder skips line breaks; a key is one line, so refuse them outright.
	raw, err := base64.StdEncoding.Strict().DecodeString(key)
	if err != nil || strings.ContainsAny(key, "\r\n") {
		return "", Errorf(KindInvalid, "key is not valid standard base64")
	}
	switch kt {
	case KeyCurve25519:
		if len(raw) != 32 {
			return "", Errorf(KindInvalid, "curve25519 key must be 32 bytes, got %d", len(raw))
		}
		if lowOrder(raw) {
			return "", Errorf(KindInvalid, "curve25519 key is a low-order point, "+
				"with which every peer would share an all-zero secret")
		}
		return key, nil
	case KeySecp256r1:
		pub, err := parseP256(raw)
		if err != nil {
			return "", err
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", Errorf(KindInvalid, "secp256r1 key cannot be encoded")
		}
		return base64.StdEncoding.EncodeToString(der), nil
	default:
		return "", Errorf(KindInvalid, "key_type must be curve25519 or secp256r1")
	}
}

// lowOrderPoints are the u-coordinates of curve25519's points of small order, as
// 32 little-endian bytes with the top bit clear: 0, 1, the two points of order 8,
// p-1, and the spellings p and p+1 of 0 and 1 (p = 2^255-19). Every other u in 255
// bits names a point of large order.
var lowOrderPoints = func() [][]byte {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	order8a, _ := new(big.Int).SetString("32560625091655743179598362635611063129400811572784"+
		"8805560023387167927233504", 10)
	order8b, _ := new(big.Int).SetString("39382357235489614581723060781553021112529911719440"+
		"698176882885853963445705823", 10)
	us := []*big.Int{big.NewInt(0), big.NewInt(1), order8a, order8b,
		new(big.Int).Sub(p, big.NewInt(1)), p, new(big.Int).Add(p, big.NewInt(1))}
	points := make([][]byte, len(us))
	for i, u := range us {
		points[i] = u.FillBytes(make([]byte, 32))
		slices.Reverse(points[i])
	}
	return points
}()

// lowOrder reports whether the curve25519 public key raw (32 bytes) is a point of
// small order, with which X25519 yields the all-zero shared secret whatever the
// private key: the all-zero key, for one. X25519 ignores the top bit, so the
// comparison does too. A table, not a trial X25519 (crypto/ecdh reports the zero
// result as an error), because that costs a scalar multiplication, about 50 µs,
// on every enrolment.
func lowOrder(raw []byte) bool {
	for _, pt := range lowOrderPoints {
		if bytes.Equal(raw[:31], pt[:31]) && raw[31]&0x7f == pt[31] {
			return true
		}
	}
	return false
}

func parseP256(raw []byte) (*ecdh.PublicKey, error) {
	if len(raw) > 0 && raw[0] == 0x30 {
		pub, err := x509.ParsePKIXPublicKey(raw)
		if err != nil {
			return nil, Errorf(KindInvalid, "secp256r1 key is not a valid SubjectPublicKeyInfo")
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, Errorf(KindInvalid, "secp256r1 key is not a P-256 public key")
		}
		key, err := ec.ECDH()
		if err != nil {
			return nil, Errorf(KindInvalid, "secp256r1 key is not on the curve")
		}
		return key, nil
	}
	if len(raw) == 33 && (raw[0] == 2 || raw[0] == 3) {
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), raw)
		if x == nil {
			return nil, Errorf(KindInvalid, "secp256r1 key is not on the curve")
		}
		//nolint:staticcheck // Marshal only re-encodes a point already checked
		raw = elliptic.Marshal(elliptic.P256(), x, y)
	}
	key, err := ecdh.P256().NewPublicKey(raw)
	if err != nil {
		return nil, Errorf(KindInvalid, "secp256r1 key is not a valid point on the curve")
	}
	return key, nil
}
