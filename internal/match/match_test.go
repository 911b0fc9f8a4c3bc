package match

import (
	"errors"
	"strings"
	"testing"
)

// The subjects every evaluation test runs against.
var (
	alice = Subject{
		Email: "alice@example.com", Name: "Alice Liddell",
		Groups: []string{"Engineering", "SRE"},
		OSName: "windows", OSVersion: "10.0.19045",
		DeviceModel: "Surface Laptop 5", DeviceManufacturer: "Microsoft",
	}
	bob = Subject{
		Email: "bob@contractor.test", Name: `Bob "the builder" \o/`,
		Groups: []string{"Contractors"},
		OSName: "mac", OSVersion: "14.4.1",
		DeviceModel: "MacBookPro18,3", DeviceManufacturer: "Apple",
	}
	nobody = Subject{} // no groups at all
)

func TestEval(t *testing.T) {
	tests := []struct {
		src                string
		alice, bob, nobody bool
	}{
		// Each operator, both spellings.
		{`identity.email == "alice@example.com"`, true, false, false},
		{`identity.email eq "alice@example.com"`, true, false, false},
		{`identity.email != "alice@example.com"`, false, true, true},
		{`identity.email ne "alice@example.com"`, false, true, true},
		{`identity.email contains "@example."`, true, false, false},
		{`identity.email contains ""`, true, true, true},
		{`os.name in {"windows" "linux"}`, true, false, false},
		{`os.name in {}`, false, false, false},
		{`os.name in{"mac""linux"}`, false, true, false},
		{`device.manufacturer in {"a" "b" "c" "d" "e" "f" "g" "Apple" "Microsoft"}`,
			true, true, false},
		{`device.model matches "^Surface"`, true, false, false},
		{`device.model ~ "^Surface"`, true, false, false},
		{`device.model matches "MacBook(Pro|Air)\d+,\d+"`, false, true, false},
		{`os.version matches r"^1[0-3]\."`, true, false, false},
		{`identity.name matches "(?i)^alice"`, true, false, false},
		{`os.version == ""`, false, false, true},
		{`device.manufacturer == "Apple"`, false, true, false},

		// Escapes and raw strings.
		{`identity.name == "Bob \"the builder\" \\o/"`, false, true, false},
		{`identity.name == r#"Bob "the builder" \o/"#`, false, true, false},
		{`identity.name == r##"Bob "the builder" \o/"##`, false, true, false},
		{`identity.name contains "\x22the"`, false, true, false},
		{`identity.name contains "\042the"`, false, true, false},
		{`identity.name contains r"\o/"`, false, true, false},
		{`identity.name matches "\"the builder\""`, false, true, false},
		{`identity.name matches "[\"]the"`, false, true, false},
		{`identity.name matches "[a"]the"`, false, true, false},
		{`identity.name matches r#"\\o/$"#`, false, true, false},

		// Logic and precedence: not, then and, then xor, then or.
		{`os.name == "mac" or os.name == "windows" and device.manufacturer == "Apple"`,
			false, true, false},
		{`(os.name == "mac" or os.name == "windows") and device.manufacturer == "Apple"`,
			false, true, false},
		{`(os.name == "mac" or os.name == "windows") and device.manufacturer != "Apple"`,
			true, false, false},
		{`not os.name == "mac" and os.version != ""`, true, false, false},
		{`not (os.name == "mac" and os.version != "")`, true, false, true},
		{`! os.name == "mac"`, true, false, true},
		{`not not os.name == "mac"`, false, true, false},
		{`os.name == "mac" || os.name == "windows" && os.name == "linux"`, false, true, false},
		{`os.name == "mac" && os.version != "" || os.name == "windows"`, true, true, false},
		{`os.name == "mac" xor device.manufacturer == "Apple"`, false, false, false},
		{`os.name == "mac" ^^ device.manufacturer == "Microsoft"`, true, true, false},
		{`os.name == "mac" xor os.name == "mac" xor os.name == "mac"`, false, true, false},
		// xor binds tighter than or: a or (b xor c).
		{`os.name == "windows" or os.name == "mac" xor os.name == "mac"`, true, false, false},
		// and binds tighter than xor: (a and b) xor c.
		{`os.name == "mac" and os.name == "windows" xor os.name == "windows"`, true, false, false},
		{"\n\tos.name\t==\r\n\"mac\"\n", false, true, false},

		// Arrays.
		{`any(identity.groups.name[*] == "SRE")`, true, false, false},
		{`any(identity.groups.name[*] in {"Contractors" "Vendors"})`, false, true, false},
		{`any(identity.groups.name[ * ] contains "gin")`, true, false, false},
		{`all(identity.groups.name[*] != "Contractors")`, true, false, true},
		{`all(identity.groups.name[*] matches "^[A-Z]")`, true, true, true},
		{`not any(identity.groups.name[*] == "SRE")`, false, true, true},
		{`any(not identity.groups.name[*] == "SRE")`, true, true, false},
		{`any(identity.groups.name[*] == "SRE" or identity.groups.name[*] == "Contractors")`,
			true, true, false},
		{`any(identity.groups.name[*] == "SRE" and identity.groups.name[*] == "Engineering")`,
			false, false, false},
		{`any(identity.groups.name[*] == "SRE") and any(identity.groups.name[*] == "Engineering")`,
			true, false, false},
		{`all(identity.groups.name[*] == "x") and os.name == ""`, false, false, true},
	}

	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		for _, c := range []struct {
			name string
			s    Subject
			want bool
		}{{"alice", alice, tt.alice}, {"bob", bob, tt.bob}, {"nobody", nobody, tt.nobody}} {
			if got := e.Eval(c.s); got != c.want {
				t.Errorf("Parse(%q).Eval(%s) = %v, want %v", tt.src, c.name, got, c.want)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src    string
		offset int
		msg    string
	}{
		{``, 0, "expected a comparison, not, ( or any(, found the end of the expression"},
		{`   `, 3, "found the end of the expression"},
		{`identity.mail == "x"`, 0, `unknown field "identity.mail"`},
		{`identity.email`, 14, "expected a comparison operator (==, !=, contains, matches or in) " +
			"after identity.email, found the end"},
		{`identity.email = "x"`, 15, `found "="`},
		{`identity.email < "x"`, 15, `expected a comparison operator`},
		{`identity.email EQ "x"`, 15, `found "EQ"`},
		{`identity.email == x`, 18, `expected a string in quotes, found "x"`},
		{`identity.email == "x`, 18, `string has no closing "`},
		{`identity.email == "x\`, 20, `string has no closing "`},
		{`identity.email == "a\nb"`, 20, `unknown escape \ before 'n'`},
		{`identity.email == "\x4"`, 19, `escape \x needs two hexadecimal digits`},
		{`identity.email == "\x4g"`, 19, `escape \x needs two hexadecimal digits`},
		{`identity.email == "\400"`, 19, `octal escape needs three digits, at most \377`},
		{`identity.email == "\12"`, 19, `octal escape needs three digits`},
		{`identity.email == r#"x"`, 18, `raw string has no closing "#`},
		{`identity.email == r#x"#`, 20, `raw string needs " after r and its #`},
		{`identity.email == "x" and`, 25, "expected a comparison, not, ( or any(, found the end"},
		{`identity.email == "x" "y"`, 22, `expected "and", "or", "xor" or the end of the ` +
			`expression, found string "y"`},
		{`identity.email == "x" AND os.name == "y"`, 22, `found "AND"`},
		{`(identity.email == "x"`, 22, `expected ")", found the end of the expression`},
		{`identity.email == "x")`, 21, `found ")"`},
		{`os.name in {"a", "b"}`, 15, "values in a set are separated by spaces, not commas"},
		{`os.name in {"a" "b"`, 19, `expected a string or "}", found the end`},
		{`os.name in "a"`, 11, `expected "{", found string "a"`},
		{`os.name in {"a" b}`, 16, `expected a string or "}", found "b"`},
		{`os.name matches "(a"`, 16, "invalid regular expression: error parsing regexp: " +
			"missing closing )"},
		{`os.name matches "[a-" or os.name == "x"`, 16, `regular expression has no closing "`},
		{`os.name matches "(?<x"`, 16, "invalid regular expression"},
		{`os.name matches r"a**"`, 16, "invalid nested repetition operator"},
		{`os.name matches x`, 16, `expected a regular expression in quotes, found "x"`},
		{`os.name matches`, 15, `expected a regular expression in quotes, found the end`},
		{`os.name matches "abc`, 16, `regular expression has no closing "`},
		{`os.name == "x" § os.name == "y"`, 15, "unexpected character '§'"},
		{"os.name == \"x\" \u200b", 15, "unexpected character U+200B"},
		{"os.name == \"\xff\"", 12, "expression is not valid UTF-8"},

		// Types.
		{`identity.groups.name == "SRE"`, 0, "identity.groups.name is an array: compare its " +
			`elements inside any() or all(), as in any(identity.groups.name[*] == "x")`},
		{`os.name[*] == "mac"`, 7, "os.name is not an array"},
		{`identity.groups.name[*] == "SRE"`, 0, "identity.groups.name[*] is only allowed " +
			"inside any() or all()"},
		{`any(os.name == "mac")`, 4, "os.name cannot be used inside any() or all()"},
		{`any(identity.groups.name == "SRE")`, 4, "identity.groups.name is an array"},
		{`any(any(identity.groups.name[*] == "SRE"))`, 4, "any() cannot be used inside any()"},
		{`all identity.groups.name[*] == "SRE"`, 4, `expected "(", found "identity.groups.name"`},
		{`identity.groups.name[0] == "SRE"`, 21, `expected "*", found "0"`},
		{`and`, 0, `expected a comparison, not, ( or any(, found "and"`},
		{`not`, 3, `found the end of the expression`},
		{`!= "x"`, 0, `found "!="`},

		// Limits.
		{strings.Repeat("(", MaxDepth+1) + `os.name == "x"` + strings.Repeat(")", MaxDepth+1),
			MaxDepth, "expression nests more than 64 levels deep"},
		{strings.Repeat("not ", MaxDepth+1) + `os.name == "x"`, 4 * MaxDepth,
			"nests more than 64 levels"},
		{strings.Repeat("!", 100000), MaxLen, "expression is longer than 10240 bytes"},
		{`os.name == "` + strings.Repeat("\x01", MaxLen-13) + `"`, 0,
			"longer than 10240 bytes once written in canonical form"},
		{`os.name matches "a{1000}" or ` + strings.Repeat(`os.name matches "b{1000}" or `, 19) +
			`os.name matches "c{1000}"`, 567, "regular expressions too large"},
		{`os.name matches "((a{100}){100}){100}"`, 16, "invalid regular expression"},
		{`identity.email == r` + strings.Repeat("#", 256) + `"x"` + strings.Repeat("#", 256),
			18, "raw string has more than 255 #"},
	}

	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err == nil {
			t.Errorf("Parse(%.60q) = %q, want an error", tt.src, e)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%.60q) error %T %v, want a *SyntaxError", tt.src, err, err)
			continue
		}
		if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%.60q) = %d %q, want %d and a message containing %q",
				tt.src, se.Offset, se.Msg, tt.offset, tt.msg)
		}
		if !strings.HasPrefix(err.Error(), "match: at offset ") {
			t.Errorf("Parse(%.60q).Error() = %q, want it to say where", tt.src, err)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct{ src, want string }{
		{`identity.email eq "a"`, `identity.email == "a"`},
		{`identity.email ne "a"`, `identity.email != "a"`},
		{`os.name ~ "^mac"`, `os.name matches "^mac"`},
		{`os.name in {  "a"   "b" }`, `os.name in {"a" "b"}`},
		{`os.name in {}`, `os.name in {}`},
		{`((os.name == "a"))`, `os.name == "a"`},
		{`!os.name == "a" && os.name == "b" || os.name == "c" ^^ os.name == "d"`,
			`not os.name == "a" and os.name == "b" or os.name == "c" xor os.name == "d"`},
		{`os.name == "a" and (os.name == "b" and os.name == "c")`,
			`os.name == "a" and os.name == "b" and os.name == "c"`},
		{`os.name == "a" and (os.name == "b" or os.name == "c")`,
			`os.name == "a" and (os.name == "b" or os.name == "c")`},
		{`(os.name == "a" or os.name == "b") xor os.name == "c"`,
			`(os.name == "a" or os.name == "b") xor os.name == "c"`},
		{`(os.name == "a" and os.name == "b") xor os.name == "c"`,
			`os.name == "a" and os.name == "b" xor os.name == "c"`},
		{`not (os.name == "a" or os.name == "b")`, `not (os.name == "a" or os.name == "b")`},
		{`not (not os.name == "a")`, `not not os.name == "a"`},
		{`any ( identity.groups.name [*] == "x" )`, `any(identity.groups.name[*] == "x")`},
		{`all(identity.groups.name[*] == "x" or identity.groups.name[*] == "y")`,
			`all(identity.groups.name[*] == "x" or identity.groups.name[*] == "y")`},

		// Strings: printable characters stay, the rest is escaped byte by byte.
		{`os.name == r#"a"b\c"#`, `os.name == "a\"b\\c"`},
		{`os.name == "\x41\102\xff\x00"`, `os.name == "AB\xFF\x00"`},
		{"os.name == \"caf\u00e9 \u4e16\"", "os.name == \"caf\u00e9 \u4e16\""},
		{"os.name == \"a\tb\u202ec\"", `os.name == "a\x09b\xE2\x80\xAEc"`},

		// Regular expressions keep their text; a raw string only when needed.
		{`os.name matches r"^a\.b$"`, `os.name matches "^a\.b$"`},
		{`os.name matches "a\"b"`, `os.name matches "a\"b"`},
		{`os.name matches "[\"]"`, `os.name matches "[\"]"`},
		{`os.name matches "["]"`, `os.name matches "["]"`},
		{`os.name matches r#"a\"b"#`, `os.name matches r#"a\"b"#`},
		{`os.name matches r##"\"#"##`, `os.name matches r##"\"#"##`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String() =\n\t%s\nwant\n\t%s", tt.src, got, tt.want)
		}
		checkRoundTrip(t, tt.src, e)
	}
}

// checkRoundTrip checks that e's canonical form parses to an expression with the same
// canonical form and the same verdict on every test subject.
func checkRoundTrip(t *testing.T, src string, e *Expr) {
	t.Helper()
	again, err := Parse(e.String())
	if err != nil {
		t.Fatalf("Parse(%q).String() = %q does not parse: %v", src, e, err)
	}
	if again.String() != e.String() {
		t.Fatalf("Parse(%q).String() = %q, but parsed again it is %q", src, e, again)
	}
	for _, s := range roundTripSubjects() {
		if e.Eval(s) != again.Eval(s) {
			t.Fatalf("Parse(%q) and Parse(%q) disagree on %+v", src, e, s)
		}
	}
}

func roundTripSubjects() []Subject {
	return []Subject{alice, bob, nobody, {
		Email: "a\"b\\c", Name: "\x00\xff", Groups: []string{"", "a", "\"", "x"},
		OSName: "a", OSVersion: "b", DeviceModel: "c", DeviceManufacturer: "[\"]",
	}}
}

func TestNilExpr(t *testing.T) {
	var e *Expr
	if e.Eval(alice) || e.String() != "" {
		t.Errorf("nil Expr: Eval = %v, String = %q; want false and empty", e.Eval(alice), e)
	}
}

func TestLimitsAccepted(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth) + `os.name == "x"` + strings.Repeat(")", MaxDepth)
	long := `os.name in {` + strings.Repeat(`"abcdefgh" `, (MaxLen-13)/11) + `}`
	for _, src := range []string{deep, long} {
		e, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%.60q...) (%d bytes): %v", src, len(src), err)
			continue
		}
		checkRoundTrip(t, src, e)
	}
}
