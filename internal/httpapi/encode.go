package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/warpreg/warpreg/internal/device"
)

// The registration and device endpoints are the hot path, so they encode straight
// into a pooled buffer, field by field, instead of building wire structs for
// encoding/json: no allocation per field, and about a fifth of the time. The
// output is byte-for-byte what encoding/json makes of registrationJSON and
// physicalDeviceJSON, which tests check on random input.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeRegistrations writes a success envelope whose result is one registration,
// or, when list is set, the array regs with info.
func writeRegistrations(
	w http.ResponseWriter, regs []device.Registration, list, withPolicy bool, info *resultInfo,
) {
	writeDirect(w, list, len(regs), info, func(b []byte, i int) []byte {
		return appendRegistration(b, &regs[i], withPolicy)
	})
}

// writeDirect writes a success envelope whose result is the one item that item
// appends, or, when list is set, the array of n items with info.
func writeDirect(w http.ResponseWriter, list bool, n int, info *resultInfo,
	item func(b []byte, i int) []byte,
) {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"errors":[],"messages":[],"result":`...)
	if list {
		b = append(b, '[')
	}
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = item(b, i)
	}
	if list {
		b = append(b, ']')
	}
	if info != nil {
		b = append(b, `,"result_info":{"count":`...)
		b = strconv.AppendInt(b, int64(info.Count), 10)
		b = append(b, `,"cursor":`...)
		b = appendString(b, info.Cursor)
		b = append(b, `,"per_page":`...)
		b = strconv.AppendInt(b, int64(info.PerPage), 10)
		if info.TotalCount != nil {
			b = append(b, `,"total_count":`...)
			b = strconv.AppendInt(b, int64(*info.TotalCount), 10)
		}
		b = append(b, '}')
	}
	b = append(b, ",\"success\":true}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	*bp = b
	bufPool.Put(bp)
}

// appendRegistration appends r as registrationJSON would encode.
func appendRegistration(b []byte, r *device.Registration, withPolicy bool) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, r.CreatedAt)
	b = append(b, `,"device":{"id":`...)
	b = appendString(b, r.DeviceID)
	b = append(b, `,"name":`...)
	b = appendString(b, r.DeviceName)
	if r.ClientVersion != "" {
		b = append(b, `,"client_version":`...)
		b = appendString(b, r.ClientVersion)
	}
	b = append(b, `},"key":`...)
	b = appendString(b, r.Key)
	b = append(b, `,"last_seen_at":`...)
	b = appendTime(b, r.LastSeenAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, r.UpdatedAt)
	b = append(b, `,"deleted_at":`...)
	b = appendOptionalTime(b, r.DeletedAt)
	b = append(b, `,"key_type":`...)
	b = appendOptionalString(b, string(r.KeyType))
	if withPolicy && r.Policy != nil {
		b = append(b, `,"policy":`...)
		b = appendPolicy(b, r.Policy, r.PolicyUpdatedAt)
	}
	b = append(b, `,"revoked_at":`...)
	b = appendOptionalTime(b, r.RevokedAt)
	b = append(b, `,"tunnel_type":`...)
	b = appendOptionalString(b, string(r.TunnelType))
	b = append(b, `,"user":`...)
	return append(appendUser(b, r.User), '}')
}

// appendUser appends u as a *userJSON would encode.
func appendUser(b []byte, u *device.User) []byte {
	if u == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	sep := false
	for _, f := range [3][2]string{{"id", u.ID}, {"email", u.Email}, {"name", u.Name}} {
		if f[1] == "" {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f[0]...)
		b = append(b, `":`...)
		b = appendString(b, f[1])
		sep = true
	}
	return append(b, '}')
}

// appendPolicy appends a policyJSON of p, assigned at updated.
func appendPolicy(b []byte, p *device.Profile, updated time.Time) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"default":`...)
	b = strconv.AppendBool(b, p.Default)
	b = append(b, `,"deleted":`...)
	b = strconv.AppendBool(b, !p.DeletedAt.IsZero())
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, updated)
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	t = t.UTC()
	if t.Nanosecond() == 0 {
		b = t.AppendFormat(b, time.RFC3339)
	} else {
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	return append(b, '"')
}

func appendOptionalTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	return appendTime(b, t)
}

func appendOptionalString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped exactly as encoding/json does:
// control characters, quote and backslash, the HTML-sensitive <, > and &, the line
// and paragraph separators, and invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
