package match

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokWord             // a field name, keyword or English operator
	tokString           // a quoted or raw string
	tokPunct            // ( ) { } [ ] * , and the symbolic operators
)

type token struct {
	kind tokenKind
	pos  int
	text string // as written
	val  string // the value of a string
}

// parser is a recursive-descent parser over a scanner that reads one token ahead.
// Literals after matches are scanned by scanRegex instead, because a quoted regular
// expression has its own escaping rules.
type parser struct {
	src    string
	pos    int
	tok    token
	tokErr error
	peeked bool
	depth  int
	budget int // regular expression instructions left
}

func (p *parser) parseTop() (*node, error) {
	p.budget = maxRegexInsts
	root, err := p.parseLevel(0, false)
	if err != nil {
		return nil, err
	}
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	if t.kind != tokEOF {
		return nil, p.unexpected(t, `"and", "or", "xor" or the end of the expression`)
	}
	return root, nil
}

// level is the binary operator of precedence level i, from the loosest binding (0)
// to the tightest.
func level(i int) kind {
	return [...]kind{kindOr, kindXor, kindAnd}[i]
}

const levelCount = 3

// parseLevel parses a chain of operands joined by the operator of level i, each
// operand being a chain of the next tighter level. elem is true inside any() and
// all(), where every comparison is on one array element.
func (p *parser) parseLevel(i int, elem bool) (*node, error) {
	if i == levelCount {
		return p.parseUnary(elem)
	}

	left, err := p.parseLevel(i+1, elem)
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if k, ok := binaryKind(t); !ok || k != level(i) {
			return left, nil
		}
		p.next()

		right, err := p.parseLevel(i+1, elem)
		if err != nil {
			return nil, err
		}
		left = join(level(i), left, right)
	}
}

// join combines two operands with a binary operator, flattening chains of it.
func join(k kind, left, right *node) *node {
	if left.kind != k {
		left = &node{kind: k, kids: []*node{left}}
	}
	if right.kind == k {
		left.kids = append(left.kids, right.kids...)
	} else {
		left.kids = append(left.kids, right)
	}
	return left
}

func binaryKind(t token) (kind, bool) {
	if t.kind != tokWord && t.kind != tokPunct {
		return 0, false
	}
	switch t.text {
	case "and", "&&":
		return kindAnd, true
	case "xor", "^^":
		return kindXor, true
	case "or", "||":
		return kindOr, true
	}
	return 0, false
}

// parseUnary parses what binds tightest: a negation, a group, any() or all(), or a
// comparison.
func (p *parser) parseUnary(elem bool) (*node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}

	switch {
	case t.text == "not" && t.kind == tokWord, t.text == "!" && t.kind == tokPunct:
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		operand, err := p.parseUnary(elem)
		if err != nil {
			return nil, err
		}
		p.depth--
		return &node{kind: kindNot, kids: []*node{operand}}, nil

	case t.text == "(" && t.kind == tokPunct:
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		inner, err := p.parseLevel(0, elem)
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		p.depth--
		return inner, nil

	case t.kind == tokWord && (t.text == "any" || t.text == "all"):
		return p.parseCall(elem)

	case t.kind == tokWord && !isKeyword(t.text):
		return p.parseComparison(elem)
	}
	return nil, p.unexpected(t, "a comparison, not, ( or any(")
}

// enter notes one more level of nesting at t and refuses to go past MaxDepth.
func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > MaxDepth {
		return &SyntaxError{t.pos, fmt.Sprintf(
			"expression nests more than %d levels deep", MaxDepth)}
	}
	return nil
}

func (p *parser) parseCall(elem bool) (*node, error) {
	t, _ := p.next()
	if elem {
		return nil, &SyntaxError{t.pos, t.text + "() cannot be used inside any() or all()"}
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	if err := p.enter(t); err != nil {
		return nil, err
	}
	inner, err := p.parseLevel(0, true)
	if err != nil {
		return nil, err
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	p.depth--

	k := kindAny
	if t.text == "all" {
		k = kindAll
	}
	return &node{kind: k, kids: []*node{inner}}, nil
}

func (p *parser) parseComparison(elem bool) (*node, error) {
	name, _ := p.next()
	f, ok := lookupField(name.text)
	if !ok {
		return nil, &SyntaxError{name.pos, fmt.Sprintf("unknown field %q; fields are "+
			"identity.email, identity.name, identity.groups.name, os.name, os.version, "+
			"device.model and device.manufacturer", name.text)}
	}
	if err := p.checkElement(name, f, elem); err != nil {
		return nil, err
	}

	t, err := p.next()
	if err != nil {
		return nil, err
	}
	o, ok := comparisonOp(t)
	if !ok {
		return nil, p.unexpected(t, fmt.Sprintf(
			"a comparison operator (==, !=, contains, matches or in) after %s", f))
	}

	n := &node{kind: kindCompare, field: f, op: o}
	switch n.op {
	case opMatches:
		p.skipSpace()
		n.re, err = p.scanRegex(&p.budget)
	case opIn:
		err = p.parseSet(n)
	default:
		n.str, err = p.parseString()
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

func comparisonOp(t token) (op, bool) {
	if t.kind != tokWord && t.kind != tokPunct {
		return 0, false
	}
	switch t.text {
	case "==", "eq":
		return opEq, true
	case "!=", "ne":
		return opNe, true
	case "contains":
		return opContains, true
	case "matches", "~":
		return opMatches, true
	case "in":
		return opIn, true
	}
	return 0, false
}

// checkElement parses the [*] after an array field and checks that array fields
// are used element-wise, inside any() or all(), and only there.
func (p *parser) checkElement(name token, f field, elem bool) error {
	t, err := p.peek()
	if err != nil {
		return err
	}
	star := t.kind == tokPunct && t.text == "["
	if star {
		p.next()
		if err := p.expect("*"); err != nil {
			return err
		}
		if err := p.expect("]"); err != nil {
			return err
		}
	}

	switch {
	case star && !f.isArray():
		return &SyntaxError{t.pos, fmt.Sprintf("%s is not an array; [*] applies to "+
			"identity.groups.name only", f)}
	case f.isArray() && !star:
		return &SyntaxError{name.pos, fmt.Sprintf("%s is an array: compare its elements "+
			`inside any() or all(), as in any(%[1]s[*] == "x")`, f)}
	case star && !elem:
		return &SyntaxError{name.pos, fmt.Sprintf("%s[*] is only allowed inside any() or all()", f)}
	case elem && !star:
		return &SyntaxError{name.pos, fmt.Sprintf("%s cannot be used inside any() or all(), "+
			"where every comparison is on identity.groups.name[*]", f)}
	}
	return nil
}

func (p *parser) parseString() (string, error) {
	t, err := p.next()
	if err != nil {
		return "", err
	}
	if t.kind != tokString {
		return "", p.unexpected(t, "a string in quotes")
	}
	return t.val, nil
}

// parseSet parses the {...} after in: strings separated by whitespace.
func (p *parser) parseSet(n *node) error {
	if err := p.expect("{"); err != nil {
		return err
	}
	for {
		t, err := p.next()
		if err != nil {
			return err
		}
		switch {
		case t.kind == tokString:
			n.set = append(n.set, t.val)
			continue
		case t.kind == tokPunct && t.text == "}":
		case t.kind == tokPunct && t.text == ",":
			return &SyntaxError{t.pos, "values in a set are separated by spaces, not commas"}
		default:
			return p.unexpected(t, `a string or "}"`)
		}
		break
	}

	if len(n.set) >= setIndexMin {
		n.index = make(map[string]struct{}, len(n.set))
		for _, v := range n.set {
			n.index[v] = struct{}{}
		}
	}
	return nil
}

func (p *parser) expect(text string) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.kind != tokPunct || t.text != text {
		return p.unexpected(t, strconv.Quote(text))
	}
	return nil
}

// unexpected is the error for finding t where want was expected.
func (p *parser) unexpected(t token, want string) error {
	return &SyntaxError{t.pos, fmt.Sprintf("expected %s, found %s", want, describe(t))}
}

func describe(t token) string {
	if t.kind == tokEOF {
		return "the end of the expression"
	}
	text := t.text
	if len(text) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "..."
	}
	if t.kind == tokString {
		return "string " + text
	}
	return strconv.Quote(text)
}

// isKeyword reports whether a word is an operator rather than a possible field.
func isKeyword(w string) bool {
	switch w {
	case "and", "or", "xor", "not", "eq", "ne", "contains", "matches", "in":
		return true
	}
	return false
}

func (p *parser) peek() (token, error) {
	if !p.peeked {
		p.tok, p.tokErr = p.scan()
		p.peeked = true
	}
	return p.tok, p.tokErr
}

func (p *parser) next() (token, error) {
	t, err := p.peek()
	p.peeked = false
	return t, err
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

// rawStringAhead reports whether a raw string starts at p.pos.
func (p *parser) rawStringAhead() bool {
	return p.src[p.pos] == 'r' && p.pos+1 < len(p.src) &&
		(p.src[p.pos+1] == '"' || p.src[p.pos+1] == '#')
}

// scan reads the token at p.pos.
func (p *parser) scan() (token, error) {
	p.skipSpace()
	start := p.pos
	if start == len(p.src) {
		return token{kind: tokEOF, pos: start}, nil
	}

	c := p.src[start]
	switch {
	case c == '"' || p.rawStringAhead():
		v, err := p.scanString()
		if err != nil {
			return token{}, err
		}
		return token{kind: tokString, pos: start, text: p.src[start:p.pos], val: v}, nil
	case isWordByte(c):
		for p.pos < len(p.src) && (isWordByte(p.src[p.pos]) || p.src[p.pos] == '.') {
			p.pos++
		}
		return token{kind: tokWord, pos: start, text: p.src[start:p.pos]}, nil
	}

	if start+1 < len(p.src) {
		switch two := p.src[start : start+2]; two {
		case "==", "!=", "&&", "||", "^^", "<=", ">=":
			p.pos += 2
			return token{kind: tokPunct, pos: start, text: two}, nil
		}
	}
	switch c {
	case '(', ')', '{', '}', '[', ']', '*', ',', '!', '~', '<', '>', '=':
		p.pos++
		return token{kind: tokPunct, pos: start, text: p.src[start:p.pos]}, nil
	}

	r, _ := utf8.DecodeRuneInString(p.src[start:])
	return token{}, &SyntaxError{start, "unexpected character " + quoteRune(r)}
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// quoteRune shows r in a message, spelling out what would not print.
func quoteRune(r rune) string {
	if unicode.IsPrint(r) {
		return "'" + string(r) + "'"
	}
	return fmt.Sprintf("%U", r)
}
