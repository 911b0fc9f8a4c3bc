package device_test

import (
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// FuzzCanonicalKey feeds arbitrary text as a public key of either type. Whatever the
// input, validation must not panic, and a key it accepts must already be in its
// stored form when validated again, or one key could be stored under two spellings.
func FuzzCanonicalKey(f *testing.F) {
	f.Add(false, "mD0Tt4pbTnNz6ZvMIZyQ9HUQSqiF5aPGWVVXX6EqdSw=")
	f.Add(true, "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENuwCzy/Aq6S+A/eKa91ZA6Yz8F9i4KHNjG1ysEIO"+
		"1pP3lKLRWRzaaan1OzKmzPzuoAnQ4j2m84jKojH+TmunFQ==")
	f.Add(true, "BDbsAs8vwKukvgP3imvdWQOmM/BfYuChzYxtcrBCDtaT95Si0Vkc2mmp9Tsypsz87qAJ0OI9pvOIyqIx"+
		"/k5rpxU=")
	f.Add(true, "AzbsAs8vwKukvgP3imvdWQOmM/BfYuChzYxtcrBCDtaT")
	f.Add(false, "")
	f.Add(true, "====")
	f.Add(false, "mD0Tt4pbTnNz6ZvMIZyQ9HUQSqiF5aPGWVVXX6EqdSw=\n")
	f.Fuzz(func(t *testing.T, p256 bool, key string) {
		kt := device.KeyCurve25519
		if p256 {
			kt = device.KeySecp256r1
		}
		out, err := device.CanonicalKey(kt, key)
		if err != nil {
			if device.KindOf(err) != device.KindInvalid {
				t.Fatalf("CanonicalKey(%s, %q) failed with %v, want an invalid-input error",
					kt, key, err)
			}
			return
		}
		again, err := device.CanonicalKey(kt, out)
		if err != nil || again != out {
			t.Fatalf("stored form %q of %q does not validate to itself: %q, %v",
				out, key, again, err)
		}
	})
}
