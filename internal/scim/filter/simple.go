package filter

import (
	"encoding/json"
	"regexp"
	"strings"

	fp "github.com/scim2/filter-parser/v2"
)

// nameRE is ATTRNAME of RFC 7644 §3.10.
var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_$-]*$`)

// simple builds the parser's tree for the filter IdPs send on every lookup, one comparison
// (`userName eq "x"`, `externalId eq jyoung`, `title pr`), without the third-party parser,
// which costs a hundred microseconds even for that. ok is false for anything else, which
// then takes the parser's way; TestSimpleMatchesParser holds the two to the same result.
func simple(l *lexed) (*fp.AttributeExpression, bool) {
	t := l.toks
	var x fp.AttributeExpression
	switch {
	case len(t) == 2 && t[1].is("pr"):
	case len(t) == 3 && isCompareOp(t[1]) && !t[1].is("pr"):
		v, ok := simpleValue(t[2])
		if !ok {
			return nil, false
		}
		x.CompareValue = v
	default:
		return nil, false
	}
	if t[0].kind != tokWord || isKeyword(t[0]) || isCompareOp(t[0]) {
		return nil, false
	}
	ap, ok := simplePath(t[0].text)
	if !ok {
		return nil, false
	}
	x.AttributePath = ap
	x.Operator = fp.CompareOperator(strings.ToLower(t[1].text))
	return &x, true
}

// simpleValue reads a quoted string, true, false, null or a JSON number, in the form the
// parser gives them.
func simpleValue(t token) (any, bool) {
	switch {
	case t.kind == tokString:
		// As the parser does: the text between the quotes, escapes left for check to decode.
		if len(t.text) < 2 || t.text[0] != '"' || t.text[len(t.text)-1] != '"' {
			return nil, false
		}
		return t.text[1 : len(t.text)-1], true
	case t.kind != tokWord:
		return nil, false
	case t.text == "true":
		return true, true
	case t.text == "false":
		return false, true
	case t.text == "null":
		return nil, true
	case isJSONNumber(t.text):
		return json.Number(t.text), true
	}
	return nil, false
}

// simplePath splits an attribute path: an optional schema URN, a name and an optional
// sub-attribute name.
func simplePath(s string) (fp.AttributePath, bool) {
	var ap fp.AttributePath
	if len(s) > 4 && strings.EqualFold(s[:4], "urn:") {
		i := strings.LastIndexByte(s, ':')
		uri := s[:i]
		ap.URIPrefix = &uri
		s = s[i+1:]
	}
	name, sub, hasSub := strings.Cut(s, ".")
	if !nameRE.MatchString(name) || hasSub && !nameRE.MatchString(sub) {
		return ap, false
	}
	ap.AttributeName = name
	if hasSub {
		ap.SubAttribute = &sub
	}
	return ap, true
}
