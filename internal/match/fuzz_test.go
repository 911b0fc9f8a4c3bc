package match

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns is a
// *SyntaxError inside the source, and that what it accepts survives the round trip
// through its canonical form with the same verdicts.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`identity.email == "alice@example.com"`,
		`any(identity.groups.name[*] in {"Engineering" "SRE"}) and os.name != "android"`,
		`not os.version matches r"^1[0-3]\." or device.model contains "Surface"`,
		`all(not identity.groups.name[*] ~ "(?i)^contract")`,
		`os.name eq "a" && os.name ne "b" || !os.name == "c" ^^ os.name == "d"`,
		`identity.name == "\x41\102\"\\" xor identity.name == r##"a"#b"##`,
		`device.manufacturer matches "[\"]" and device.model matches "a\"b"`,
		`((os.name == "a")) and not (os.name == "b" or os.name == "c")`,
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", src, err)
			}
			if se.Offset < 0 || se.Offset > max(len(src), MaxLen) {
				t.Fatalf("Parse(%q) error offset %d outside the source", src, se.Offset)
			}
			return
		}
		checkRoundTrip(t, src, e)
	})
}
