package httpapi

import (
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestEncoderMatchesEncodingJSON encodes random registrations, with hostile strings,
// both ways and requires identical bytes.
func TestEncoderMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"", "a", "Ada Lovelace", `"`, `\`, "<script>", "&", "\x00", "\x1f", "\n\t\r",
		"\u2028", "\u2029", "é", "日本", "\xff", "\xe2\x82", "🙂", "\x7f"}
	str := func() string {
		s := ""
		for range rng.IntN(4) {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	tm := func() time.Time {
		if rng.IntN(4) == 0 {
			return time.Time{}
		}
		return time.UnixMicro(rng.Int64N(2e15)).UTC()
	}
	for i := range 2000 {
		r := &device.Registration{
			ID: str(), DeviceID: str(), DeviceName: str(), ClientVersion: str(), Key: str(),
			KeyType: device.KeyType(str()), TunnelType: device.TunnelType(str()),
			CreatedAt: tm(), UpdatedAt: tm(), LastSeenAt: tm(), RevokedAt: tm(), DeletedAt: tm(),
			PolicyUpdatedAt: tm(),
		}
		if rng.IntN(3) > 0 {
			r.User = &device.User{ID: str(), Email: str(), Name: str()}
		}
		if rng.IntN(3) > 0 {
			r.Policy = &device.Profile{ID: str(), Name: str(), Default: rng.IntN(2) == 0,
				DeletedAt: tm()}
		}
		withPolicy := rng.IntN(2) == 0
		info := &resultInfo{Count: rng.IntN(9), Cursor: str(), PerPage: 50, TotalCount: randomTotal(rng)}

		want := httptest.NewRecorder()
		writeResult(want, 200, []registrationJSON{toRegistrationJSON(r, withPolicy)}, info)
		got := httptest.NewRecorder()
		writeRegistrations(got, []device.Registration{*r}, true, withPolicy, info)
		if got.Body.String() != want.Body.String() {
			t.Fatalf("case %d differs:\n got %s\nwant %s", i, got.Body, want.Body)
		}
		if !json.Valid(got.Body.Bytes()) {
			t.Fatalf("case %d is not valid JSON: %s", i, got.Body)
		}
	}
}

func BenchmarkEncodeRegistrationDirect(b *testing.B) {
	regs := []device.Registration{*benchRegistration()}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		writeRegistrations(rec, regs, false, true, nil)
	}
}

// TestDeviceEncoderMatchesEncodingJSON is TestEncoderMatchesEncodingJSON for
// physical devices.
func TestDeviceEncoderMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"", "a", "MacBook Pro", `"`, `\`, "<b>", "&", "\x00", "\x1f", "\n",
		"\u2028", "é", "日本", "\xff", "\xe2\x82", "🙂"}
	str := func() string {
		s := ""
		for range rng.IntN(4) {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	tm := func() time.Time {
		if rng.IntN(4) == 0 {
			return time.Time{}
		}
		return time.UnixMicro(rng.Int64N(2e15)).UTC()
	}
	for i := range 2000 {
		d := &device.Device{
			ID: str(), ActiveRegistrations: rng.IntN(4), CreatedAt: tm(), UpdatedAt: tm(),
			LastSeenAt: tm(), DeletedAt: tm(),
			Facts: device.DeviceFacts{Name: str(), Model: str(), Manufacturer: str(),
				DeviceType: str(), OSVersion: str(), OSVersionExtra: str(),
				SerialNumber: str(), HardwareID: str(), MACAddress: str(), ClientVersion: str()},
		}
		if rng.IntN(3) > 0 {
			d.LastSeenUser = &device.User{ID: str(), Email: str(), Name: str()}
		}
		if rng.IntN(3) > 0 {
			d.LastSeen = &device.RegistrationSummary{ID: str(), PolicyUpdatedAt: tm()}
			if rng.IntN(3) > 0 {
				d.LastSeen.Policy = &device.Profile{ID: str(), Name: str(),
					Default: rng.IntN(2) == 0, DeletedAt: tm()}
			}
		}
		withPolicy, list := rng.IntN(2) == 0, rng.IntN(2) == 0
		var info *resultInfo
		var result any = toPhysicalDeviceJSON(d, withPolicy)
		if list {
			info = &resultInfo{Count: 1, Cursor: str(), PerPage: 20, TotalCount: randomTotal(rng)}
			result = []physicalDeviceJSON{toPhysicalDeviceJSON(d, withPolicy)}
		}
		want := httptest.NewRecorder()
		writeResult(want, 200, result, info)
		got := httptest.NewRecorder()
		writeDevices(got, []device.Device{*d}, list, withPolicy, info)
		if got.Body.String() != want.Body.String() {
			t.Fatalf("case %d differs:\n got %s\nwant %s", i, got.Body, want.Body)
		}
	}
}

// randomTotal returns a page total for resultInfo, unknown one time in ten.
func randomTotal(rng *rand.Rand) *int {
	return totalCount(max(device.TotalUnknown, rng.IntN(1e6)-1e5))
}
