// Package override derives WARP admin override codes: short one-time codes that an
// administrator hands to a user so that the user can turn off a locked WARP client
// for a number of hours.
//
// A code is computed from a registration's override secret, the number of hours it
// grants and an issue counter, in the manner of HOTP (RFC 4226) with HMAC-SHA256:
// the server, which keeps the secret and the counter, issues codes; the client,
// which received the secret once at enrolment, checks them offline with Verify.
// Each issue of codes takes the next counter value, so the server stores no code,
// and a client that remembers the last counter it accepted refuses any code twice.
package override

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"strconv"
)

// Digits is the length of a code. Cloudflare's override codes are seven digits, and
// users type them by hand.
const Digits = 7

// Window is how many issues past the last accepted one Verify tries. An admin may
// fetch codes several times before the user enters one; a code more than Window
// issues ahead of the client's counter is refused.
const Window = 20

// label separates these MACs from any other use of a secret.
const label = "warpreg override code v1"

// Durations returns the periods, in hours, that a code may disable the client for:
// the keys of Cloudflare's disable_for_time map, shortest first.
func Durations() []int { return []int{1, 3, 6, 12, 24} }

// Code returns the code that grants hours hours at issue counter.
func Code(secret []byte, hours int, counter uint64) string {
	msg := make([]byte, 0, len(label)+1+4+8)
	msg = append(msg, label...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint32(msg, uint32(hours))
	msg = binary.BigEndian.AppendUint64(msg, counter)
	mac := hmac.New(sha256.New, secret)
	mac.Write(msg)
	sum := mac.Sum(nil)

	// Dynamic truncation as in RFC 4226, section 5.3, over the longer digest.
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	code := strconv.FormatUint(uint64(bin%pow10(Digits)), 10)
	for len(code) < Digits {
		code = "0" + code
	}
	return code
}

// Codes returns one issue's codes, one per duration, keyed by the hours as decimal
// text, the form of Cloudflare's disable_for_time map.
func Codes(secret []byte, counter uint64) map[string]string {
	out := make(map[string]string, len(Durations()))
	for _, h := range Durations() {
		out[strconv.Itoa(h)] = Code(secret, h, counter)
	}
	return out
}

// Verify checks code as a client does, offline. It tries every duration at each
// counter from last+1 to last+Window and reports the hours the code grants and the
// counter it was issued at. The client must then keep that counter as its new last:
// from then on the code, and every code issued before it, is refused. Every
// candidate is compared, so the time taken says nothing about which one matched.
func Verify(secret []byte, code string, last uint64) (hours int, counter uint64, ok bool) {
	if len(code) != Digits {
		return 0, 0, false
	}
	for c := last + 1; c <= last+Window && c > last; c++ {
		for _, h := range Durations() {
			match := subtle.ConstantTimeCompare([]byte(Code(secret, h, c)), []byte(code)) == 1
			if match && !ok {
				hours, counter, ok = h, c, true
			}
		}
	}
	return hours, counter, ok
}

func pow10(n int) uint32 {
	p := uint32(1)
	for range n {
		p *= 10
	}
	return p
}
