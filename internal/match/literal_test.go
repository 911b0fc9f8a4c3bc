package match

import (
	"regexp/syntax"
	"testing"
)

// TestRegexSize checks that the size estimate the regular expression budget uses
// stays within a factor of two of what Go's compiler really produces.
func TestRegexSize(t *testing.T) {
	for _, pattern := range []string{
		`a{1000}`, `abc`, `(?i)[\pL\pN]{1000}`, `(a|b|c)*x+y?`, `^a{2,5}(b{3,}){4}$`,
		`[a-z]{1,64}@example\.com`, `(?s:.{10,20})`, `((ab){10}c{0,10}){10}`,
		`^(?:[a-z0-9._%+-]+)@(?:[a-z0-9-]+\.)+[a-z]{2,}$`,
	} {
		parsed, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(parsed.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		got, want := regexSize(parsed), len(prog.Inst)
		if got < want/2 || got > want*2 {
			t.Errorf("regexSize(%q) = %d, compiled size %d", pattern, got, want)
		}
	}
}
