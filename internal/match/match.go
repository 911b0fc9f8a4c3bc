// Package match parses and evaluates the match expressions of Cloudflare device
// settings profiles (the `match` field of a custom profile), a small subset of the
// wirefilter-based Rules language.
//
// An expression compares fields of the enrolling user and device with literals:
//
//	identity.email == "alice@example.com"
//	any(identity.groups.name[*] in {"Engineering" "SRE"}) and os.name != "android"
//	not os.version matches r"^1[0-3]\." or device.model contains "Surface"
//
// Parse checks the whole expression up front: field names, operators, the type of
// every operand (the one array field, identity.groups.name, is only usable
// element-wise inside any() or all()), string escapes and regular expressions. An
// expression that parses therefore always evaluates; Eval has no error and never
// panics. String comparisons are byte-wise and case-sensitive, as in wirefilter.
//
// Parse is bounded so that hostile input costs little: the source is at most MaxLen
// bytes, groups nest at most MaxDepth deep, and all regular expressions of one
// expression together compile to at most about 20,000 instructions. Go's regexp
// (RE2) matches in time linear in the input, so no pattern can backtrack
// catastrophically.
package match

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest source, in bytes, that Parse accepts. It is also a bound on
// the canonical form: Parse refuses an expression whose String() would be longer, so
// that the canonical form of anything Parse accepted parses again. Cloudflare limits
// rule expressions to 4,096 characters; profiles that list many users in one set need
// more.
const MaxLen = 10 << 10

// MaxDepth is how deeply parentheses, not, any() and all() may nest.
const MaxDepth = 64

// maxRegexInsts bounds the compiled size of all regular expressions in one
// expression together, so that a short pattern such as `a{1000}` repeated many
// times cannot make Parse allocate megabytes.
const maxRegexInsts = 20000

// Subject is what an expression is evaluated against: the identity of the user who
// enrolls and the device they enroll.
type Subject struct {
	Email, Name        string   // identity.email, identity.name
	Groups             []string // identity.groups.name (array)
	OSName, OSVersion  string   // os.name, os.version
	DeviceModel        string   // device.model
	DeviceManufacturer string   // device.manufacturer
}

// Expr is a parsed, checked expression. It is immutable and safe for concurrent
// use. A nil *Expr matches nothing and prints as "".
type Expr struct {
	root *node
	text string
}

// SyntaxError is the error Parse returns: where the source stops making sense and
// why, in words that say what was expected and what was found.
type SyntaxError struct {
	Offset int // byte offset into the source
	Msg    string
}

// Error says where, as a byte offset, and what went wrong.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("match: at offset %d: %s", e.Offset, e.Msg)
}

// Parse parses and checks src. Every error it returns is a *SyntaxError.
func Parse(src string) (*Expr, error) {
	if len(src) > MaxLen {
		return nil, &SyntaxError{MaxLen, fmt.Sprintf("expression is longer than %d bytes", MaxLen)}
	}
	if !utf8.ValidString(src) {
		return nil, &SyntaxError{invalidUTF8At(src), "expression is not valid UTF-8"}
	}

	p := &parser{src: src}
	root, err := p.parseTop()
	if err != nil {
		return nil, err
	}

	var b strings.Builder
	root.write(&b)
	if b.Len() > MaxLen {
		return nil, &SyntaxError{0, fmt.Sprintf(
			"expression is longer than %d bytes once written in canonical form", MaxLen)}
	}
	return &Expr{root: root, text: b.String()}, nil
}

// Eval reports whether s matches the expression.
func (e *Expr) Eval(s Subject) bool {
	if e == nil {
		return false
	}
	return e.root.eval(&s, "")
}

// String returns the canonical form of the expression: English logical operators,
// == and != for equality, single spaces, parentheses only where precedence needs
// them, and strings quoted with escapes for what is not printable. Parse(e.String())
// gives an expression with the same String() and the same Eval.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.text
}

func invalidUTF8At(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(s)
}
