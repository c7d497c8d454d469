package sqlfilter

import (
	"fmt"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

// Compile returns a boolean SQL expression, for the WHERE clause of a query over t, that
// holds for the rows e matches; its parameters are added to a, in the order they appear in
// the text. The expression never is NULL where it matters: not (x) treats an unknown x as
// false.
//
// A filter on an attribute this layout cannot filter on (members.display, meta.location)
// is a 400 invalidFilter *scim.Error; any other error is a fault of the caller (a Table or
// Args that is not set up).
func Compile(e filter.Expr, t Table, a *Args) (string, error) {
	if err := t.check(); err != nil {
		return "", err
	}
	d := a.Dialect()
	if d != Postgres && d != SQLite {
		return "", fmt.Errorf("sqlfilter: Args has no dialect")
	}
	if t.Dialect != 0 && t.Dialect != d {
		return "", fmt.Errorf("sqlfilter: Table is %v but Args are %v", t.Dialect, d)
	}
	if e == nil {
		return "", fmt.Errorf("sqlfilter: nil filter")
	}
	c := &compiler{t: t, a: a, d: d}
	return c.expr(e, nil)
}

type compiler struct {
	t Table
	a *Args
	d Dialect
}

// kind is how a compiled operand holds its value.
type kind int

const (
	kText   kind = iota // text (strings, references, binary; date-times kept in JSON)
	kUUID               // uuid in PostgreSQL, text in SQLite
	kBool               // boolean in PostgreSQL, 0/1 in SQLite
	kTime               // timestamptz column in PostgreSQL, scim.TimeFormat text in SQLite
	kNumber             // numeric
)

// operand is an SQL expression for one attribute's value, NULL where the attribute is absent.
type operand struct {
	expr    string
	kind    kind
	ci      bool   // compare case-insensitively
	notNull bool   // always present
	foldKey string // column of scim.FoldKey(expr), compared by eq when ci
}

// scope resolves the sub-attributes named inside a value path, or by a comparison on a
// multi-valued attribute, to operands over one element; exists wraps a condition on the
// element in an EXISTS over the elements of the row.
type scope interface {
	operand(sub *scim.Attribute) (operand, error)
	exists(cond string) string
}

func notFilterable(p scim.AttrPath) error {
	return scim.BadRequest(scim.InvalidFilter, "attribute %q is not filterable", p.String())
}

func (c *compiler) expr(e filter.Expr, sc scope) (string, error) {
	switch e := e.(type) {
	case *filter.Compare:
		if sc != nil {
			o, err := sc.operand(e.Path.Sub)
			if err != nil {
				return "", err
			}
			return c.cond(o, e.Op, e.Value)
		}
		return c.compare(e)
	case *filter.Logical:
		var terms []filter.Expr
		var collect func(x filter.Expr)
		collect = func(x filter.Expr) {
			if l, ok := x.(*filter.Logical); ok && l.Op == e.Op {
				collect(l.Left)
				collect(l.Right)
				return
			}
			terms = append(terms, x)
		}
		collect(e)
		parts := make([]string, len(terms))
		for i, x := range terms {
			s, err := c.expr(x, sc)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		op := " AND "
		if e.Op == "or" {
			op = " OR "
		}
		return balanced(parts, op), nil
	case *filter.Not:
		x, err := c.expr(e.X, sc)
		if err != nil {
			return "", err
		}
		return "NOT COALESCE(" + x + ", FALSE)", nil
	case *filter.ValuePath:
		if sc != nil {
			return "", scim.BadRequest(scim.InvalidFilter, "value paths cannot be nested")
		}
		vs, err := c.multiScope(e.Attr)
		if err != nil {
			return "", err
		}
		cond, err := c.expr(e.Filter, vs)
		if err != nil {
			return "", err
		}
		return vs.exists(cond), nil
	}
	return "", fmt.Errorf("sqlfilter: unknown filter node %T", e)
}

// balanced joins a chain of and (or or) terms as a balanced tree, so that a long chain does
// not nest deeper than SQLite's expression depth limit allows.
func balanced(parts []string, op string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	m := len(parts) / 2
	return "(" + balanced(parts[:m], op) + op + balanced(parts[m:], op) + ")"
}

func (c *compiler) compare(e *filter.Compare) (string, error) {
	p := e.Path
	if col, ok := c.t.Columns[p.String()]; ok {
		return c.cond(c.column(col, p.Leaf()), e.Op, e.Value)
	}
	if p.IsCommon() && p.Extension == "" {
		switch {
		case p.Attr.Name == "meta" && p.Sub == nil && e.Op == "pr":
			return "TRUE", nil
		case p.Attr.Name == "meta" && p.Sub != nil && p.Sub.Name == "resourceType":
			// A constant: the resource type of every row.
			if filter.Match(e, map[string]any{"resourceType": c.t.Type.Name}) {
				return "TRUE", nil
			}
			return "FALSE", nil
		case p.Attr.Name != "externalId":
			// id and meta live in columns or nowhere; externalId is in data too.
			return "", notFilterable(p)
		}
	}
	if isMembership(c.t.Type, p) || p.Attr.MultiValued {
		sc, err := c.multiScope(p)
		if err != nil {
			return "", err
		}
		if p.Sub == nil {
			if e.Op != "pr" {
				return "", fmt.Errorf("sqlfilter: %s %s on a multi-valued attribute without sub-attribute", p, e.Op)
			}
			return sc.exists("TRUE"), nil
		}
		o, err := sc.operand(p.Sub)
		if err != nil {
			return "", err
		}
		if e.Op == "ne" {
			// ne is not (eq): no value equals.
			cond, err := c.cond(o, "eq", e.Value)
			if err != nil {
				return "", err
			}
			return "NOT " + sc.exists(cond), nil
		}
		cond, err := c.cond(o, e.Op, e.Value)
		if err != nil {
			return "", err
		}
		return sc.exists(cond), nil
	}
	keys := jsonKeys(p)
	base := c.t.Alias + ".data"
	if p.Leaf().Type == scim.TypeComplex {
		if e.Op != "pr" {
			return "", fmt.Errorf("sqlfilter: %s %s on a complex attribute", p, e.Op)
		}
		if c.d == Postgres {
			return "(jsonb_typeof(" + jsonb(base, keys) + ") = 'object')", nil
		}
		return "(json_type(" + base + ", " + jsonPath(keys) + ") = 'object')", nil
	}
	return c.cond(c.jsonOperand(base, keys, p.Leaf()), e.Op, e.Value)
}

// isMembership reports whether p names Groups' members or Users' groups, which live in the
// group_members table.
func isMembership(rt *scim.ResourceType, p scim.AttrPath) bool {
	if p.Extension != "" {
		return false
	}
	return rt.Name == "Group" && p.Attr.Name == "members" || rt.Name == "User" && p.Attr.Name == "groups"
}

// jsonKeys returns the keys under which data holds the value p names.
func jsonKeys(p scim.AttrPath) []string {
	var keys []string
	if p.Extension != "" {
		keys = append(keys, p.Extension)
	}
	keys = append(keys, p.Attr.Name)
	if p.Sub != nil {
		keys = append(keys, p.Sub.Name)
	}
	return keys
}

// literal writes s as an SQL string literal. s comes from the schema, never from input.
func literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// jsonb returns the PostgreSQL jsonb expression for base's member at keys.
func jsonb(base string, keys []string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, k := range keys {
		b.WriteString("->")
		b.WriteString(literal(k))
	}
	return b.String()
}

// jsonPath returns the SQLite JSON path literal for keys: '$.name.givenName', with keys
// that are not plain names quoted: '$."urn:…:User".department'.
func jsonPath(keys []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		b.WriteByte('.')
		if isIdent(k) {
			b.WriteString(k)
		} else {
			b.WriteString(`"` + strings.ReplaceAll(k, `"`, `\"`) + `"`)
		}
	}
	return literal(b.String())
}

// jsonText returns an expression for the text of base's member at keys.
func (c *compiler) jsonText(base string, keys []string) string {
	if c.d == Postgres {
		return "(" + jsonb(base, keys[:len(keys)-1]) + "->>" + literal(keys[len(keys)-1]) + ")"
	}
	return "json_extract(" + base + ", " + jsonPath(keys) + ")"
}

// jsonOperand returns the operand for the value of attribute a kept in JSON at base's keys.
func (c *compiler) jsonOperand(base string, keys []string, a *scim.Attribute) operand {
	pg := c.d == Postgres
	switch a.Type {
	case scim.TypeBoolean:
		if pg {
			j := jsonb(base, keys)
			return operand{expr: "(CASE WHEN jsonb_typeof(" + j + ") = 'boolean' THEN (" + j + ")::boolean END)", kind: kBool}
		}
		path := jsonPath(keys)
		return operand{expr: "(CASE WHEN json_type(" + base + ", " + path + ") IN ('true', 'false') THEN json_extract(" + base + ", " + path + ") END)", kind: kBool}
	case scim.TypeInteger, scim.TypeDecimal:
		if pg {
			j := jsonb(base, keys)
			return operand{expr: "(CASE WHEN jsonb_typeof(" + j + ") = 'number' THEN (" + j + ")::numeric END)", kind: kNumber}
		}
		path := jsonPath(keys)
		return operand{expr: "(CASE WHEN json_type(" + base + ", " + path + ") IN ('integer', 'real') THEN json_extract(" + base + ", " + path + ") END)", kind: kNumber}
	case scim.TypeDateTime:
		// Kept in scim.TimeFormat, whose text order is time order.
		return operand{expr: c.jsonText(base, keys), kind: kText}
	}
	return operand{expr: c.jsonText(base, keys), kind: kText, ci: !a.CaseExact}
}

// column returns the operand for attribute a kept in column col.
func (c *compiler) column(col Column, a *scim.Attribute) operand {
	o := operand{expr: c.t.Alias + "." + col.Name, notNull: col.NotNull}
	switch {
	case a.Type == scim.TypeDateTime:
		o.kind = kTime
	case a.Type == scim.TypeBoolean:
		o.kind = kBool
	case col.UUID:
		o.kind = kUUID
	default:
		o.kind, o.ci = kText, !a.CaseExact
		if col.FoldKey != "" {
			o.foldKey = c.t.Alias + "." + col.FoldKey
		}
	}
	return o
}

// cond compiles `o op v`.
func (c *compiler) cond(o operand, op string, v any) (string, error) {
	x := o.expr
	switch op {
	case "pr":
		switch {
		case o.notNull:
			return "TRUE", nil
		case o.kind == kText:
			return "(" + x + " IS NOT NULL AND " + x + " <> '')", nil
		}
		return "(" + x + " IS NOT NULL)", nil
	case "eq":
		return c.eq(o, v)
	case "ne":
		eq, err := c.eq(o, v)
		if err != nil {
			return "", err
		}
		if o.notNull {
			return "NOT (" + eq + ")", nil
		}
		return "(" + x + " IS NULL OR NOT (" + eq + "))", nil
	case "co", "sw", "ew":
		return c.like(o, op, v)
	case "gt", "ge", "lt", "le":
		return c.order(o, op, v)
	}
	return "", fmt.Errorf("sqlfilter: unknown operator %q", op)
}

func (c *compiler) eq(o operand, v any) (string, error) {
	x := o.expr
	switch o.kind {
	case kText:
		s, ok := v.(string)
		if !ok {
			return "", typeFault(o, v)
		}
		if o.ci && o.foldKey != "" {
			return o.foldKey + " = " + c.a.Add(scim.FoldKey(s)), nil
		}
		if o.ci {
			return "lower(" + x + ") = lower(" + c.a.Add(s) + ")", nil
		}
		return x + " = " + c.a.Add(s), nil
	case kUUID:
		s, ok := v.(string)
		if !ok {
			return "", typeFault(o, v)
		}
		u, ok := canonicalUUID(s)
		if !ok {
			// Not an id at all: in PostgreSQL the cast would fail; it matches nothing.
			return "FALSE", nil
		}
		return x + " = " + c.a.Add(u), nil
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return "", typeFault(o, v)
		}
		if c.d == SQLite {
			n := int64(0)
			if b {
				n = 1
			}
			return x + " = " + c.a.Add(n), nil
		}
		return x + " = " + c.a.Add(b), nil
	case kTime, kNumber:
		p, err := c.param(o, v)
		if err != nil {
			return "", err
		}
		return x + " = " + p, nil
	}
	return "", typeFault(o, v)
}

// param adds the parameter for a time or number operand.
func (c *compiler) param(o operand, v any) (string, error) {
	switch o.kind {
	case kTime:
		s, ok := v.(string)
		if !ok {
			return "", typeFault(o, v)
		}
		if c.d == SQLite {
			return c.a.Add(s), nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return "", fmt.Errorf("sqlfilter: date-time %q: %w", s, err)
		}
		return c.a.Add(t), nil
	case kNumber:
		switch v.(type) {
		case int64, float64:
			return c.a.Add(v), nil
		}
	}
	return "", typeFault(o, v)
}

func typeFault(o operand, v any) error {
	return fmt.Errorf("sqlfilter: value %v (%T) does not fit %s", v, v, o.expr)
}

// text returns o's expression as text, for substring matches and ordering.
func (c *compiler) text(o operand) string {
	if o.kind == kUUID && c.d == Postgres {
		return o.expr + "::text"
	}
	return o.expr
}

// likeEscaper escapes LIKE's wildcards and its escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (c *compiler) like(o operand, op string, v any) (string, error) {
	s, ok := v.(string)
	if !ok || (o.kind != kText && o.kind != kUUID) {
		return "", typeFault(o, v)
	}
	x := c.text(o)
	if !o.ci && c.d == SQLite {
		// SQLite's LIKE ignores ASCII case; a case-exact match compares substrings.
		switch op {
		case "co":
			return "(instr(" + x + ", " + c.a.Add(s) + ") > 0)", nil
		case "sw":
			return "(substr(" + x + ", 1, length(" + c.a.Add(s) + ")) = " + c.a.Add(s) + ")", nil
		default:
			return "(length(" + x + ") >= length(" + c.a.Add(s) + ") AND substr(" + x + ", length(" + x + ") - length(" + c.a.Add(s) + ") + 1) = " + c.a.Add(s) + ")", nil
		}
	}
	pattern := likeEscaper.Replace(s)
	switch op {
	case "co":
		pattern = "%" + pattern + "%"
	case "sw":
		pattern = pattern + "%"
	default:
		pattern = "%" + pattern
	}
	if o.ci {
		return "(lower(" + x + ") LIKE lower(" + c.a.Add(pattern) + `) ESCAPE '\')`, nil
	}
	return "(" + x + " LIKE " + c.a.Add(pattern) + ` ESCAPE '\')`, nil
}

var sqlOps = map[string]string{"gt": ">", "ge": ">=", "lt": "<", "le": "<="}

func (c *compiler) order(o operand, op string, v any) (string, error) {
	switch o.kind {
	case kText, kUUID:
		s, ok := v.(string)
		if !ok {
			return "", typeFault(o, v)
		}
		x, p := c.text(o), c.a.Add(s)
		if o.ci {
			x, p = "lower("+x+")", "lower("+p+")"
		}
		if c.d == Postgres {
			// Code-point order, as in SQLite, whatever the database's collation.
			x += ` COLLATE "C"`
		}
		return "(" + x + " " + sqlOps[op] + " " + p + ")", nil
	case kTime, kNumber:
		p, err := c.param(o, v)
		if err != nil {
			return "", err
		}
		return "(" + o.expr + " " + sqlOps[op] + " " + p + ")", nil
	}
	return "", typeFault(o, v)
}

// canonicalUUID returns s in the lower-case hyphenated form ids are stored in, if s is a UUID.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return "", false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", false
		}
	}
	return strings.ToLower(s), true
}
