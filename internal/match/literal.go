package match

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxRawHashes is the most # a raw string may put around its quotes, as in
// wirefilter.
const maxRawHashes = 255

// The literal scanners below start at the opening delimiter, at p.pos, and leave
// p.pos just past the closing one. Their rules follow wirefilter's:
//
//   - A quoted string knows the escapes \" \\, \xNN (two hex digits) and \NNN (three
//     octal digits, at most \377); NN and NNN give one byte each, which may make the
//     value invalid UTF-8. Any other escape is an error.
//   - A raw string, r"..." or r#"..."# with up to 255 #, has no escapes: it ends at
//     the first " followed by as many # as it started with.
//   - A quoted regular expression keeps every escape for the regexp parser, except
//     that \" outside a bracketed character class stands for ", and a " inside a
//     class does not end the literal.

// scanString scans a quoted or raw string and returns its value.
func (p *parser) scanString() (string, error) {
	if p.src[p.pos] == 'r' {
		return p.scanRaw()
	}

	open := p.pos
	var b []byte
	for i := open + 1; i < len(p.src); {
		c := p.src[i]
		switch c {
		case '"':
			p.pos = i + 1
			if b == nil {
				return p.src[open+1 : i], nil
			}
			return string(b), nil
		case '\\':
			if b == nil {
				b = append(make([]byte, 0, i-open+8), p.src[open+1:i]...)
			}
			v, n, err := p.escape(i)
			if err != nil {
				return "", err
			}
			b = append(b, v)
			i += n
		default:
			if b != nil {
				b = append(b, c)
			}
			i++
		}
	}
	return "", &SyntaxError{open, "string has no closing \""}
}

// escape decodes the escape sequence at p.src[i] (a backslash) and returns the
// byte it stands for and its length in the source.
func (p *parser) escape(i int) (byte, int, error) {
	rest := p.src[i+1:]
	if rest == "" {
		return 0, 0, &SyntaxError{i, "string has no closing \""}
	}

	switch c := rest[0]; {
	case c == '"' || c == '\\':
		return c, 2, nil
	case c == 'x':
		if len(rest) >= 3 && isHex(rest[1]) && isHex(rest[2]) {
			return unhex(rest[1])<<4 | unhex(rest[2]), 4, nil
		}
		return 0, 0, &SyntaxError{i, `escape \x needs two hexadecimal digits`}
	case c >= '0' && c <= '7':
		if len(rest) >= 3 && isOctal(rest[1]) && isOctal(rest[2]) && c <= '3' {
			return (c-'0')<<6 | (rest[1]-'0')<<3 | (rest[2] - '0'), 4, nil
		}
		return 0, 0, &SyntaxError{i, `octal escape needs three digits, at most \377`}
	}

	r, _ := utf8.DecodeRuneInString(rest)
	return 0, 0, &SyntaxError{i, fmt.Sprintf(`unknown escape \ before %s: strings know `+
		`\", \\, \xNN and \NNN (a raw string r"..." has none)`, quoteRune(r))}
}

// scanRaw scans a raw string, r"..." or r#"..."#.
func (p *parser) scanRaw() (string, error) {
	open := p.pos
	i := open + 1
	for i < len(p.src) && p.src[i] == '#' {
		i++
	}
	hashes := i - open - 1
	if hashes > maxRawHashes {
		return "", &SyntaxError{open, fmt.Sprintf(
			"raw string has more than %d # around its quotes", maxRawHashes)}
	}
	if i == len(p.src) || p.src[i] != '"' {
		return "", &SyntaxError{i, `raw string needs " after r and its #`}
	}

	body := i + 1
	closing := `"` + strings.Repeat("#", hashes)
	end := strings.Index(p.src[body:], closing)
	if end < 0 {
		return "", &SyntaxError{open, fmt.Sprintf("raw string has no closing %s", closing)}
	}
	p.pos = body + end + len(closing)
	return p.src[body : body+end], nil
}

// scanRegex scans the literal after matches and compiles it. budget is what is
// left of maxRegexInsts and is reduced by the size of this pattern.
func (p *parser) scanRegex(budget *int) (*regexp.Regexp, error) {
	open := p.pos
	if p.pos == len(p.src) || (p.src[p.pos] != '"' && !p.rawStringAhead()) {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		return nil, p.unexpected(t, "a regular expression in quotes")
	}

	var pattern string
	var err error
	if p.src[p.pos] == 'r' {
		pattern, err = p.scanRaw()
	} else {
		pattern, err = p.scanQuotedRegex()
	}
	if err != nil {
		return nil, err
	}

	re, err := compileRegex(pattern, budget)
	if err != nil {
		return nil, &SyntaxError{open, err.Error()}
	}
	return re, nil
}

func (p *parser) scanQuotedRegex() (string, error) {
	open := p.pos
	var b strings.Builder
	inClass := false
	for i := open + 1; i < len(p.src); i++ {
		switch c := p.src[i]; {
		case c == '\\':
			if i+1 == len(p.src) {
				return "", &SyntaxError{open, "regular expression has no closing \""}
			}
			i++
			if inClass || p.src[i] != '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(p.src[i])
		case c == '"' && !inClass:
			p.pos = i + 1
			return b.String(), nil
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return "", &SyntaxError{open, "regular expression has no closing \""}
}

// compileRegex compiles pattern with Go's RE2 syntax, refusing it when its size
// would exceed what is left of the budget. The size is estimated from the parse tree
// before compiling, so that refusing a huge pattern costs little.
func compileRegex(pattern string, budget *int) (*regexp.Regexp, error) {
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	size := regexSize(parsed)
	if size > *budget {
		return nil, fmt.Errorf("regular expressions too large: together they may compile "+
			"to at most %d instructions", maxRegexInsts)
	}
	*budget -= size

	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	return re, nil
}

// regexSize estimates how many instructions re compiles to: about one per node and
// per literal character, with repetitions expanded as the compiler expands them.
// syntax.Parse has already bounded nesting depth and repetition counts, so this
// neither recurses deeply nor overflows.
func regexSize(re *syntax.Regexp) int {
	n := 1
	if re.Op == syntax.OpLiteral {
		n = max(1, len(re.Rune))
	}
	for _, sub := range re.Sub {
		n += regexSize(sub)
	}
	if re.Op == syntax.OpRepeat {
		sub := n - 1
		optional := 1 // x{n,} ends in x*
		if re.Max >= 0 {
			optional = re.Max - re.Min // x{n,m} ends in m-n of (x)?
		}
		n = 1 + re.Min*sub + optional*(sub+1)
	}
	return n
}

// writeQuoted writes s as a quoted string. Printable characters stay as they are;
// every byte of anything else (control and format characters, invalid UTF-8) is
// written as \xNN, so the canonical form shows nothing invisible.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r == utf8.RuneError && size == 1, !unicode.IsPrint(r):
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(b, `\x%02X`, c)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// writeRegex writes a pattern as a quoted regular expression when one reads back as
// the same pattern, and as a raw string otherwise (a pattern holding \" outside a
// character class, which only a raw string can carry).
func writeRegex(b *strings.Builder, pattern string) {
	if quoted, ok := quoteRegex(pattern); ok {
		b.WriteString(quoted)
		return
	}

	hashes := 0
	for i := strings.IndexByte(pattern, '"'); i >= 0; {
		n := 1
		for i+n < len(pattern) && pattern[i+n] == '#' {
			n++
		}
		hashes = max(hashes, n)
		next := strings.IndexByte(pattern[i+1:], '"')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	b.WriteByte('r')
	b.WriteString(strings.Repeat("#", hashes))
	b.WriteByte('"')
	b.WriteString(pattern)
	b.WriteByte('"')
	b.WriteString(strings.Repeat("#", hashes))
}

// quoteRegex mirrors scanQuotedRegex: it escapes what that scanner would read
// differently and reports false when no quoted literal gives back pattern.
func quoteRegex(pattern string) (string, bool) {
	var b strings.Builder
	b.WriteByte('"')
	inClass := false
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\':
			if i+1 == len(pattern) || (!inClass && pattern[i+1] == '"') {
				return "", false
			}
			b.WriteByte(c)
			i++
			b.WriteByte(pattern[i])
		case c == '"' && !inClass:
			b.WriteString(`\"`)
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return "", false
	}
	b.WriteByte('"')
	return b.String(), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
