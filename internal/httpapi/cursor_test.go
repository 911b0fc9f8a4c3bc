package httpapi

import (
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// TestCursorHasOneSpelling: a cursor whose last character carries spare bits is
// refused with any of them set, which a lenient decoder reads as the same bytes.
func TestCursorHasOneSpelling(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	codec := cursorCodec{key: []byte("k")}
	for n := range 3 { // one of three payload lengths leaves no spare bits
		cursor := codec.encode("q", &device.Position{Value: strings.Repeat("v", n), ID: "i"})
		if _, err := codec.decode("q", cursor); err != nil {
			t.Fatalf("decode(encode) = %v", err)
		}
		if len(cursor)%4 == 0 {
			continue
		}
		last := strings.IndexByte(alphabet, cursor[len(cursor)-1])
		respelt := cursor[:len(cursor)-1] + string(alphabet[last^1])
		if _, err := codec.decode("q", respelt); err == nil {
			t.Errorf("cursor %s, respelt %s: accepted", cursor, respelt)
		}
	}
}
