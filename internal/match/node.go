package match

import (
	"regexp"
	"strings"
)

// field is one of the subject's attributes an expression can name.
type field uint8

const (
	fieldEmail field = iota
	fieldName
	fieldGroups
	fieldOSName
	fieldOSVersion
	fieldModel
	fieldManufacturer
)

// lookupField maps a field name as written in an expression to the field.
func lookupField(name string) (field, bool) {
	switch name {
	case "identity.email":
		return fieldEmail, true
	case "identity.name":
		return fieldName, true
	case "identity.groups.name":
		return fieldGroups, true
	case "os.name":
		return fieldOSName, true
	case "os.version":
		return fieldOSVersion, true
	case "device.model":
		return fieldModel, true
	case "device.manufacturer":
		return fieldManufacturer, true
	}
	return 0, false
}

func (f field) String() string {
	switch f {
	case fieldEmail:
		return "identity.email"
	case fieldName:
		return "identity.name"
	case fieldGroups:
		return "identity.groups.name"
	case fieldOSName:
		return "os.name"
	case fieldOSVersion:
		return "os.version"
	case fieldModel:
		return "device.model"
	}
	return "device.manufacturer"
}

// isArray reports whether the field holds several values, compared one at a time
// inside any() or all().
func (f field) isArray() bool { return f == fieldGroups }

// value is the field's value in s; elem stands for the array element under
// any() or all().
func (f field) value(s *Subject, elem string) string {
	switch f {
	case fieldEmail:
		return s.Email
	case fieldName:
		return s.Name
	case fieldOSName:
		return s.OSName
	case fieldOSVersion:
		return s.OSVersion
	case fieldModel:
		return s.DeviceModel
	case fieldManufacturer:
		return s.DeviceManufacturer
	}
	return elem
}

// op is a comparison operator.
type op uint8

const (
	opEq op = iota
	opNe
	opContains
	opMatches
	opIn
)

func (o op) String() string {
	switch o {
	case opEq:
		return "=="
	case opNe:
		return "!="
	case opContains:
		return "contains"
	case opMatches:
		return "matches"
	}
	return "in"
}

type kind uint8

const (
	kindCompare kind = iota
	kindNot
	kindAnd
	kindXor
	kindOr
	kindAny
	kindAll
)

// setIndexMin is the set size from which `in` looks values up in a map instead of
// scanning the list.
const setIndexMin = 8

// node is one node of a parsed expression. And, xor and or are n-ary: a chain of
// the same operator is one node, which is also what makes the canonical form drop
// redundant parentheses.
type node struct {
	kind  kind
	kids  []*node // the operands of not, and, xor, or, any and all
	field field
	op    op
	str   string              // the operand of ==, != and contains
	set   []string            // the values of in, as written
	index map[string]struct{} // set as a map, for large sets
	re    *regexp.Regexp      // the operand of matches
}

func (n *node) eval(s *Subject, elem string) bool {
	switch n.kind {
	case kindCompare:
		return n.compare(n.field.value(s, elem))
	case kindNot:
		return !n.kids[0].eval(s, elem)
	case kindAnd:
		for _, k := range n.kids {
			if !k.eval(s, elem) {
				return false
			}
		}
		return true
	case kindOr:
		for _, k := range n.kids {
			if k.eval(s, elem) {
				return true
			}
		}
		return false
	case kindXor:
		r := false
		for _, k := range n.kids {
			r = r != k.eval(s, elem)
		}
		return r
	case kindAny:
		for _, g := range s.Groups {
			if n.kids[0].eval(s, g) {
				return true
			}
		}
		return false
	}

	// all() of no elements is true, as in wirefilter.
	for _, g := range s.Groups {
		if !n.kids[0].eval(s, g) {
			return false
		}
	}
	return true
}

func (n *node) compare(v string) bool {
	switch n.op {
	case opEq:
		return v == n.str
	case opNe:
		return v != n.str
	case opContains:
		return strings.Contains(v, n.str)
	case opMatches:
		return n.re.MatchString(v)
	}
	if n.index != nil {
		_, ok := n.index[v]
		return ok
	}
	for _, x := range n.set {
		if v == x {
			return true
		}
	}
	return false
}

// precedence orders the kinds as wirefilter does: not and every simple expression
// bind tightest, then and, xor, or.
func (k kind) precedence() int {
	switch k {
	case kindOr:
		return 1
	case kindXor:
		return 2
	case kindAnd:
		return 3
	}
	return 4
}

// keyword is how the canonical form spells the kind.
func (k kind) keyword() string {
	switch k {
	case kindNot:
		return "not"
	case kindAnd:
		return "and"
	case kindXor:
		return "xor"
	case kindOr:
		return "or"
	case kindAny:
		return "any"
	case kindAll:
		return "all"
	}
	return ""
}

// write appends the canonical form of n to b.
func (n *node) write(b *strings.Builder) {
	switch n.kind {
	case kindAnd, kindXor, kindOr:
		for i, k := range n.kids {
			if i > 0 {
				b.WriteByte(' ')
				b.WriteString(n.kind.keyword())
				b.WriteByte(' ')
			}
			k.writeOperand(b, n.kind.precedence())
		}
	case kindNot:
		b.WriteString("not ")
		n.kids[0].writeOperand(b, kindNot.precedence())
	case kindAny, kindAll:
		b.WriteString(n.kind.keyword())
		b.WriteByte('(')
		n.kids[0].write(b)
		b.WriteByte(')')
	default:
		n.writeComparison(b)
	}
}

// writeOperand writes n in parentheses when it binds more loosely than its parent.
func (n *node) writeOperand(b *strings.Builder, parent int) {
	if n.kind.precedence() >= parent {
		n.write(b)
		return
	}
	b.WriteByte('(')
	n.write(b)
	b.WriteByte(')')
}

func (n *node) writeComparison(b *strings.Builder) {
	b.WriteString(n.field.String())
	if n.field.isArray() {
		b.WriteString("[*]")
	}
	b.WriteByte(' ')
	b.WriteString(n.op.String())
	b.WriteByte(' ')

	switch n.op {
	case opMatches:
		writeRegex(b, n.re.String())
	case opIn:
		b.WriteByte('{')
		for i, v := range n.set {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeQuoted(b, v)
		}
		b.WriteByte('}')
	default:
		writeQuoted(b, n.str)
	}
}
