package filter

import (
	"strings"
	"unicode/utf8"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/scim"
)

// The default bounds on hostile input, checked before the filter reaches the parser.
const (
	// MaxLength is the longest filter accepted by default, in bytes.
	MaxLength = 4096
	// MaxDepth is the deepest nesting of parentheses and brackets accepted by default.
	MaxDepth = 32
)

// Limits bounds the filters Limits.Parse accepts (scimd serve's --max-filter-length and
// --max-filter-depth). A zero field is its default (MaxLength, MaxDepth).
type Limits struct {
	MaxLength int
	MaxDepth  int
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	defaults.Positive(&l.MaxLength, MaxLength)
	defaults.Positive(&l.MaxDepth, MaxDepth)
	return l
}

type tokKind int

const (
	tokWord   tokKind = iota // attribute path, operator, keyword or bare value
	tokString                // a double-quoted string, escapes and all
	tokOpen                  // (
	tokClose                 // )
	tokLBrack                // [
	tokRBrack                // ]
)

// token is one lexical unit of a filter. pos is its byte offset in the original text; text
// is what goes to the parser (a bare value comes out quoted).
type token struct {
	kind tokKind
	pos  int
	text string
	// spaced reports whether white space separates the token from the one before it.
	spaced bool
}

func (t token) is(word string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, word)
}

// lexed is a filter split into tokens and put back together in the form the parser takes:
// white space between tokens normalised to one space, bare values quoted.
type lexed struct {
	src  string
	toks []token
	out  string
}

func invalid(format string, args ...any) *scim.Error {
	return scim.BadRequest(scim.InvalidFilter, format, args...)
}

// position returns the 1-based character position of byte offset off in s, for messages.
func position(s string, off int) int {
	if off > len(s) {
		off = len(s)
	}
	return utf8.RuneCountInString(s[:off]) + 1
}

// lex splits s into tokens, enforcing lim, balanced brackets and
// terminated strings, and rebuilds the text for the parser. It changes nothing inside a
// quoted string but the case of \u escape digits (the parser takes only upper case).
func lex(s string, lim Limits) (*lexed, error) {
	lim = lim.withDefaults()
	if len(s) > lim.MaxLength {
		return nil, invalid("the filter is %d bytes long; the limit is %d", len(s), lim.MaxLength)
	}
	if !utf8.ValidString(s) {
		return nil, invalid("the filter is not valid UTF-8")
	}
	l := &lexed{src: s}
	var stack []token
	spaced := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			spaced = true
			i++
			continue
		case c == '"':
			end, text, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			l.toks = append(l.toks, token{kind: tokString, pos: i, text: text, spaced: spaced})
			i = end
		case c == '(' || c == '[':
			k := tokOpen
			if c == '[' {
				k = tokLBrack
			}
			t := token{kind: k, pos: i, text: string(c), spaced: spaced}
			stack = append(stack, t)
			if len(stack) > lim.MaxDepth {
				return nil, invalid("the filter nests parentheses and brackets more than %d deep (at position %d)", lim.MaxDepth, position(s, i))
			}
			l.toks = append(l.toks, t)
			i++
		case c == ')' || c == ']':
			k, want := tokClose, byte('(')
			if c == ']' {
				k, want = tokRBrack, '['
			}
			if len(stack) == 0 || stack[len(stack)-1].text[0] != want {
				return nil, invalid("unbalanced %q at position %d", string(c), position(s, i))
			}
			stack = stack[:len(stack)-1]
			l.toks = append(l.toks, token{kind: k, pos: i, text: string(c), spaced: spaced})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r\"()[]", rune(s[j])) {
				j++
			}
			l.toks = append(l.toks, token{kind: tokWord, pos: i, text: s[i:j], spaced: spaced})
			i = j
		}
		spaced = false
	}
	if len(stack) > 0 {
		t := stack[len(stack)-1]
		closer := ")"
		if t.kind == tokLBrack {
			closer = "]"
		}
		return nil, invalid("%q at position %d is never closed with %q", t.text, position(s, t.pos), closer)
	}
	if len(l.toks) == 0 {
		return nil, invalid("the filter is empty")
	}
	l.quoteBareValues()
	l.rebuild()
	return l, nil
}

// lexString reads the quoted string starting at s[start] and returns the offset after it.
func lexString(s string, start int) (int, string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for i := start + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteByte('"')
			return i + 1, b.String(), nil
		case c == '\\':
			if i+1 >= len(s) {
				return 0, "", invalid("the string starting at position %d is not terminated", position(s, start))
			}
			b.WriteByte('\\')
			i++
			if s[i] == 'u' && i+4 < len(s) && isHex(s[i+1:i+5]) {
				b.WriteByte('u')
				b.WriteString(strings.ToUpper(s[i+1 : i+5]))
				i += 4
				continue
			}
			if !strings.ContainsRune(`"\/bfnrt`, rune(s[i])) {
				return 0, "", invalid("invalid escape %q in the string at position %d", s[i-1:i+1], position(s, start))
			}
			b.WriteByte(s[i])
		case c < 0x20:
			return 0, "", invalid("the string at position %d holds a control character; escape it (\\n, \\t, \\u00XX)", position(s, start))
		default:
			b.WriteByte(c)
		}
	}
	return 0, "", invalid("the string starting at position %d is not terminated", position(s, start))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

var compareOps = []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"}

func isCompareOp(t token) bool {
	for _, op := range compareOps {
		if t.is(op) {
			return true
		}
	}
	return false
}

func isKeyword(t token) bool {
	return t.is("and") || t.is("or") || t.is("not")
}

// isLiteral reports whether a bare word is a JSON literal the parser reads as such.
func isLiteral(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "null":
		return true
	}
	return isJSONNumber(s)
}

// isJSONNumber reports whether s is a number in JSON's grammar (RFC 8259 §6).
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// quoteBareValues quotes the value of `attrPath op value` when it is a bare word that is not
// a JSON literal, as Entra ID sends them: externalId eq jyoung, meta.created gt
// 2015-10-10T14:38:21Z. A bare word glued to a following string or word is left alone, so
// that nothing ambiguous is guessed at.
func (l *lexed) quoteBareValues() {
	t := l.toks
	for i := 1; i+1 < len(t); i++ {
		if !isCompareOp(t[i]) || t[i-1].kind != tokWord || isKeyword(t[i-1]) || isCompareOp(t[i-1]) {
			continue
		}
		v := t[i+1]
		if v.kind != tokWord || isKeyword(v) || isLiteral(v.text) {
			i++
			continue
		}
		if i+2 < len(t) && !t[i+2].spaced && (t[i+2].kind == tokWord || t[i+2].kind == tokString) {
			i++
			continue
		}
		t[i+1].text = quote(v.text)
		t[i+1].kind = tokString
		i++
	}
}

// rebuild joins the tokens with single spaces where the parser wants them.
func (l *lexed) rebuild() {
	var b strings.Builder
	for i, t := range l.toks {
		if i > 0 {
			prev := l.toks[i-1]
			glue := prev.kind == tokOpen || prev.kind == tokLBrack || t.kind == tokClose ||
				t.kind == tokRBrack || t.kind == tokLBrack && prev.kind == tokWord && !t.spaced ||
				!t.spaced && prev.kind == tokRBrack && t.kind == tokWord && strings.HasPrefix(t.text, ".")
			if !glue {
				b.WriteByte(' ')
			}
		}
		b.WriteString(t.text)
	}
	l.out = b.String()
}
