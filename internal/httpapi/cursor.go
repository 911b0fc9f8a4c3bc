package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// cursorCodec turns keyset positions into opaque cursors and back. A cursor is
// signed and bound to the query it came from (account, filters and sort), so a
// tampered cursor, or one from another query or account, is refused instead of
// silently paging through something else.
type cursorCodec struct{ key []byte }

type cursorBody struct {
	Query string `json:"q"`
	Value string `json:"v"`
	ID    string `json:"i"`
}

const cursorMACSize = 16

func (c cursorCodec) encode(query string, p *device.Position) string {
	if p == nil {
		return ""
	}
	payload, _ := json.Marshal(cursorBody{Query: query, Value: p.Value, ID: p.ID})
	return base64.RawURLEncoding.EncodeToString(append(payload, c.mac(payload)...))
}

func (c cursorCodec) decode(query, cursor string) (*device.Position, error) {
	bad := invalid("cursor is not valid for this query; start again without it")
	if len(cursor) > 2048 || strings.ContainsAny(cursor, "\r\n") {
		return nil, bad
	}
	// Strict: spare bits in the last character must be zero, and line breaks (which
	// the decoder skips) are refused above, so that a cursor has one spelling, as the
	// by-key lookup's keys do.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || len(raw) <= cursorMACSize {
		return nil, bad
	}
	payload, sum := raw[:len(raw)-cursorMACSize], raw[len(raw)-cursorMACSize:]
	if !hmac.Equal(sum, c.mac(payload)) {
		return nil, bad
	}
	var b cursorBody
	if err := json.Unmarshal(payload, &b); err != nil || b.Query != query {
		return nil, bad
	}
	return &device.Position{Value: b.Value, ID: b.ID}, nil
}

func (c cursorCodec) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	return m.Sum(nil)[:cursorMACSize]
}

// queryFingerprint names the row set and order of a list query, without its page
// size or position.
func queryFingerprint(accountID string, q *device.ListQuery) string {
	ids, users := slices.Sorted(slices.Values(q.IDs)), slices.Sorted(slices.Values(q.UserIDs))
	s := fmt.Sprintf("%s|%s|%s|%s|%s|%d|%d|%s|%t", accountID, strings.Join(ids, ","),
		q.DeviceID, strings.Join(users, ","), q.Status, q.SeenAfter.UnixMicro(),
		q.SeenBefore.UnixMicro(), q.Sort, q.Desc)
	sum := sha256.Sum256([]byte(s + "|" + q.Search))
	return hex.EncodeToString(sum[:12])
}

// deviceQueryFingerprint is queryFingerprint for a device list. Its text starts
// with a tag of its own, so a registration list's cursor never continues a device
// list, nor the other way round.
func deviceQueryFingerprint(accountID string, q *device.DeviceListQuery) string {
	ids := slices.Sorted(slices.Values(q.IDs))
	s := fmt.Sprintf("devices|%s|%s|%s|%d|%d|%s|%t|%q|%q", accountID, strings.Join(ids, ","),
		q.Active, q.SeenAfter.UnixMicro(), q.SeenBefore.UnixMicro(), q.Sort, q.Desc,
		q.LastSeenUserEmail, q.Search)
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}
