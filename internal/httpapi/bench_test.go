package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func benchRegistration() *device.Registration {
	at := time.Date(2025, 2, 14, 13, 17, 0, 123456000, time.UTC)
	return &device.Registration{
		ID: "11ffb86f-3f0c-4306-b4a2-e62f872b166a", AccountID: "0123456789abcdef0123456789abcdef",
		DeviceID: "32aa0404-78f1-49a4-99e0-97f575081356", DeviceName: "My Device",
		ClientVersion: "2025.1.861.0", Key: "U+QTP50RsWfeLGHF4tlGDnmGeuwtsz46KCHr5OyhWq0=",
		KeyType: device.KeyCurve25519, TunnelType: device.TunnelWireGuard,
		CreatedAt: at, UpdatedAt: at, LastSeenAt: at, PolicyUpdatedAt: at,
		User: &device.User{ID: "f174e90a-fafe-4643-bbbc-4a0ed4fc8415",
			Email: "user@example.com", Name: "John Appleseed"},
		Policy: &device.Profile{ID: "b1a2c3d4-0000-4000-8000-000000000000", Name: "Default",
			Default: true},
	}
}

// BenchmarkEncodeRegistration measures turning a registration into its v4 response
// body, the work every get does after its query.
func BenchmarkEncodeRegistration(b *testing.B) {
	r := benchRegistration()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		writeResult(rec, 200, toRegistrationJSON(r, true), nil)
	}
}

// BenchmarkEncodeRegistrationBaseline is the floor: the same body, pre-encoded.
func BenchmarkEncodeRegistrationBaseline(b *testing.B) {
	body, _ := json.Marshal(envelope{Errors: []message{}, Messages: []message{},
		Result: toRegistrationJSON(benchRegistration(), true), Success: true})
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(200)
		rec.Write(body)
	}
}

func BenchmarkCursorRoundTrip(b *testing.B) {
	c := cursorCodec{key: []byte("bench key")}
	q := device.ListQuery{Sort: device.SortByLastSeenAt, Status: device.StatusActive}
	fp := queryFingerprint("0123456789abcdef0123456789abcdef", &q)
	cur := c.encode(fp, &device.Position{Value: "1739539020123456", ID: benchRegistration().ID})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.decode(fp, cur); err != nil {
			b.Fatal(err)
		}
	}
}
