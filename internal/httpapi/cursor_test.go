package httpapi

import (
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// TestCursorHasOneSpelling: a cursor is refused with a line break in it, or with any
// spare bit of its last character set, which a lenient decoder reads as the same.
func TestCursorHasOneSpelling(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	codec := cursorCodec{key: []byte("k")}
	for n := range 3 { // one of three payload lengths leaves no spare bits
		cursor := codec.encode("q", &device.Position{Value: strings.Repeat("v", n), ID: "i"})
		if _, err := codec.decode("q", cursor); err != nil {
			t.Fatalf("decode(encode) = %v", err)
		}
		for _, respelt := range []string{cursor[:4] + "\n" + cursor[4:], cursor + "\r\n"} {
			if _, err := codec.decode("q", respelt); err == nil {
				t.Errorf("cursor %s, respelt %q: accepted", cursor, respelt)
			}
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
