package device

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// NewID returns a new time-ordered (version 7) UUID in its lowercase text form: the
// current Unix time in milliseconds, then 74 random bits. Ids made one after another
// sort together, so a new registration, device or user lands at the end of each
// index on its id instead of at a random leaf: enrolment writes fewer pages. The id
// tells when it was made, which the API shows as created_at anyway.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	rand.Read(b[6:])
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewAccountID returns 32 random lowercase hex characters.
func NewAccountID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// GatewayUniqueID returns the account's Gateway identifier, which every profile
// shows as gateway_unique_id: 32 hex characters derived from the account id, so
// that it is stable and the same on every instance without being stored.
func GatewayUniqueID(accountID string) string {
	sum := sha256.Sum256([]byte("warpreg gateway unique id\x00" + accountID))
	return hex.EncodeToString(sum[:16])
}

// ValidID reports whether s is a UUID in lowercase text form, the form of every
// registration, device, user and profile id.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// ValidAccountID reports whether s is 32 lowercase hex characters.
func ValidAccountID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// isLowerHex reports whether c is 0-9 or a-f. Ids are checked on every request,
// by hand rather than by a regular expression, which costs ten times as much.
func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// NewSecret returns a credential value with 240 random bits: 40 characters of
// URL-safe base64, the length and alphabet of a Cloudflare API token.
func NewSecret() string {
	var b [30]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewGlobalKeyValue returns 37 random lowercase hex characters (148 bits), the form
// of a Cloudflare global API key.
func NewGlobalKeyValue() string {
	var b [19]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])[:37]
}

// HashSecret hashes a credential for storage. The secrets carry at least 128 random
// bits, so a fast hash is enough; a slow password hash would cost every request.
//
// Admin credentials and enrolment keys are found by this hash through a unique
// index, so what the database compares is a digest, never the secret: timing can
// tell an attacker at most how many leading bytes of SHA-256 a guess shares with a
// stored digest, which gives no hold on any secret. Where Go compares (a
// registration's secret, read by the registration's id), SecretMatches does it in
// constant time.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// SecretMatches compares a presented secret with a stored hash in constant time.
func SecretMatches(secret string, hash []byte) bool {
	if len(hash) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(HashSecret(secret), hash) == 1
}

// Fingerprint returns a short, non-reversible label for a secret or key, for logs.
func Fingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

func formatMicros(t time.Time) string {
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// ParseMicros parses the Position.Value form of a timestamp.
func ParseMicros(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse timestamp position: %w", err)
	}
	return time.UnixMicro(n).UTC(), nil
}
