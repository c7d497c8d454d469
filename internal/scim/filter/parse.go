package filter

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/internal/scim"
)

// Parse parses the SCIM filter s (RFC 7644 §3.4.2.2) and checks it against rt: attribute
// names are resolved case-insensitively (with or without a schema URN prefix), values are
// converted to the attribute's type, and operators are checked against it.
//
// It tolerates what identity providers send beyond the RFC: bare string values
// (externalId eq jyoung, meta.created gt 2015-10-10T14:38:21Z), booleans as strings
// ("True"), numbers compared with string attributes, white space other than single spaces.
// `emails eq "x"` on a multi-valued complex attribute with a value sub-attribute means
// `emails.value eq "x"`; `x eq null` means `not (x pr)` and `x ne null` means `x pr`.
//
// Every error is a *scim.Error with status 400 and scimType invalidFilter whose detail names
// the attribute, or the position, at fault. Filters longer than MaxLength bytes or nested
// deeper than MaxDepth are refused; Limits.Parse takes other bounds.
func Parse(s string, rt *scim.ResourceType) (Expr, error) { return Limits{}.Parse(s, rt) }

// Parse is filter.Parse within the bounds of l.
func (l Limits) Parse(s string, rt *scim.ResourceType) (Expr, error) {
	lx, err := lex(s, l)
	if err != nil {
		return nil, err
	}
	if x, ok := simple(lx); ok {
		return check(x, rt, nil)
	}
	raw, err := parseTokens(lx)
	if err != nil {
		return nil, err
	}
	return check(raw, rt, nil)
}

// parseTokens hands the rebuilt filter to the parser and turns its failure into a message a
// person can act on.
func parseTokens(l *lexed) (x fp.Expression, err error) {
	defer func() {
		// The parser is third-party code reading network input: a panic in it is a refused
		// filter, not a crashed request.
		if r := recover(); r != nil {
			x, err = nil, invalid("the filter could not be parsed; check it against RFC 7644 §3.4.2.2")
		}
	}()
	x, err = fp.ParseFilterNumber([]byte(l.out))
	if err == nil {
		return x, nil
	}
	if d := diagnose(l); d != nil {
		return nil, d
	}
	return nil, invalid("the filter could not be parsed; check it against RFC 7644 §3.4.2.2")
}

// check converts the parser's tree into the checked tree. vp is the value path whose
// brackets hold x, or nil at the top level.
func check(x fp.Expression, rt *scim.ResourceType, vp *scim.AttrPath) (Expr, error) {
	switch x := x.(type) {
	case *fp.AttributeExpression:
		return checkCompare(x, rt, vp)
	case *fp.LogicalExpression:
		left, err := check(x.Left, rt, vp)
		if err != nil {
			return nil, err
		}
		right, err := check(x.Right, rt, vp)
		if err != nil {
			return nil, err
		}
		return &Logical{Op: strings.ToLower(string(x.Operator)), Left: left, Right: right}, nil
	case *fp.NotExpression:
		inner, err := check(x.Expression, rt, vp)
		if err != nil {
			return nil, err
		}
		return &Not{X: inner}, nil
	case *fp.ValuePath:
		if vp != nil {
			return nil, invalid("value paths cannot be nested: %s[…] is inside %s[…]", x.AttributePath, vp)
		}
		return checkValuePath(x, rt)
	}
	return nil, invalid("the filter could not be parsed; check it against RFC 7644 §3.4.2.2")
}

// resolve resolves a parsed attribute path, turning an unknown attribute into invalidFilter.
func resolve(ap fp.AttributePath, rt *scim.ResourceType) (scim.AttrPath, error) {
	p, err := rt.Resolve(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if err != nil {
		if se := scim.AsError(err); se != nil {
			return p, invalid("%s in the filter", se.Detail)
		}
		return p, err
	}
	if p.Leaf().Returned == scim.ReturnedNever {
		return p, invalid("attribute %q cannot be used in a filter", p.String())
	}
	return p, nil
}

func checkValuePath(x *fp.ValuePath, rt *scim.ResourceType) (Expr, error) {
	p, err := resolve(x.AttributePath, rt)
	if err != nil {
		return nil, err
	}
	if p.Sub != nil {
		return nil, invalid("%s[…]: a value filter applies to an attribute, not to the sub-attribute %q", x.AttributePath, p.String())
	}
	if p.Attr.Type != scim.TypeComplex || !p.Attr.MultiValued {
		return nil, invalid("%q is not a multi-valued complex attribute, so it takes no [value filter]; compare it directly", p.String())
	}
	inner, err := check(x.ValueFilter, rt, &p)
	if err != nil {
		return nil, err
	}
	return &ValuePath{Attr: p, Filter: inner}, nil
}

func checkCompare(x *fp.AttributeExpression, rt *scim.ResourceType, vp *scim.AttrPath) (Expr, error) {
	var p scim.AttrPath
	if vp != nil {
		ap := x.AttributePath
		if ap.URIPrefix != nil || ap.SubAttribute != nil {
			return nil, invalid("%q inside %s[…] must name a sub-attribute of %q", ap.String(), vp, vp)
		}
		sub := vp.Attr.Sub(ap.AttributeName)
		if sub == nil {
			return nil, invalid("unknown sub-attribute %q of %q in the filter", ap.AttributeName, vp.String())
		}
		if sub.Returned == scim.ReturnedNever {
			return nil, invalid("attribute %q cannot be used in a filter", vp.String()+"."+sub.Name)
		}
		p = scim.AttrPath{Extension: vp.Extension, Attr: vp.Attr, Sub: sub}
	} else {
		var err error
		if p, err = resolve(x.AttributePath, rt); err != nil {
			return nil, err
		}
	}
	op := strings.ToLower(string(x.Operator))
	if op == "pr" {
		return &Compare{Path: p, Op: op}, nil
	}
	if x.CompareValue == nil {
		switch op {
		case "eq":
			return &Not{X: &Compare{Path: p, Op: "pr"}}, nil
		case "ne":
			return &Compare{Path: p, Op: "pr"}, nil
		}
		return nil, invalid("%s %s null: null can be compared only with eq or ne", p, op)
	}
	value := x.CompareValue
	if s, ok := value.(string); ok {
		// The parser leaves JSON escapes in place.
		var decoded string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &decoded); err != nil {
			return nil, invalid("the string %q compared with %q is not a valid JSON string", s, p.String())
		}
		if strings.ContainsRune(decoded, 0) {
			return nil, invalid("the string compared with %q contains a NUL character", p.String())
		}
		value = decoded
	}
	if p.Sub == nil && p.Attr.Type == scim.TypeComplex {
		if p.Attr.MultiValued {
			p.Sub = p.Attr.Sub("value")
		}
		if p.Sub == nil {
			return nil, invalid("%q is a complex attribute: compare one of its sub-attributes, such as %q, or use \"%s pr\"", p.String(), example(p), p)
		}
	}
	v, err := convert(p.Leaf(), p.String(), op, value)
	if err != nil {
		return nil, err
	}
	return &Compare{Path: p, Op: op, Value: v}, nil
}

// example returns a sub-attribute path of the complex attribute p, for messages.
func example(p scim.AttrPath) string {
	if len(p.Attr.SubAttributes) == 0 {
		return p.String() + ".value"
	}
	return p.String() + "." + p.Attr.SubAttributes[0].Name
}

// convert checks op against attribute a (named name in messages) and converts v, a parser
// value (string, bool or json.Number), to a's Go type.
func convert(a *scim.Attribute, name, op string, v any) (any, error) {
	ordering := op == "gt" || op == "ge" || op == "lt" || op == "le"
	substring := op == "co" || op == "sw" || op == "ew"
	switch a.Type {
	case scim.TypeString, scim.TypeReference, scim.TypeBinary:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			// Normalize takes numbers for strings, and so does the filter.
			return x.String(), nil
		}
		return nil, invalid("%q is a string attribute; compare it with a quoted string, not %v", name, v)
	case scim.TypeBoolean:
		if ordering || substring {
			return nil, invalid("%q cannot be used with the boolean attribute %q; use eq or ne", op, name)
		}
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			// Entra ID sends booleans as strings.
			switch strings.ToLower(x) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, invalid("%q is a boolean attribute; compare it with true or false, not %s", name, show(v))
	case scim.TypeDateTime:
		if substring {
			return nil, invalid("%q cannot be used with the dateTime attribute %q; use eq, ne, gt, ge, lt or le", op, name)
		}
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				if y := t.UTC().Year(); y < 1 || y > 9999 {
					return nil, invalid("the date-time %q for %q is out of range", s, name)
				}
				return scim.FormatTime(t), nil
			}
		}
		return nil, invalid("%q is a dateTime attribute; compare it with an RFC 3339 date-time such as \"2015-10-10T14:38:21Z\", not %s", name, show(v))
	case scim.TypeInteger:
		if substring {
			return nil, invalid("%q cannot be used with the integer attribute %q", op, name)
		}
		if n, ok := v.(json.Number); ok {
			if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
				return i, nil
			}
		}
		return nil, invalid("%q is an integer attribute; compare it with an integer, not %s", name, show(v))
	case scim.TypeDecimal:
		if substring {
			return nil, invalid("%q cannot be used with the decimal attribute %q", op, name)
		}
		if n, ok := v.(json.Number); ok {
			if f, err := strconv.ParseFloat(n.String(), 64); err == nil && !math.IsInf(f, 0) {
				return f, nil
			}
		}
		return nil, invalid("%q is a decimal attribute; compare it with a number, not %s", name, show(v))
	}
	return nil, invalid("attribute %q of type %q cannot be compared", name, a.Type)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return quote(s)
	}
	return string(formatValue(v))
}
