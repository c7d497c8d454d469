package sqlfilter

import (
	"fmt"

	"github.com/scimd/scimd/internal/scim"
)

// OrderBy returns the ORDER BY term for sortBy p (RFC 7644 §3.4.2.3), direction included;
// the caller appends its tiebreak (", r.created_at, r.id"). Strings sort by code point,
// case-insensitively unless caseExact; resources without a value sort last either way. A
// multi-valued attribute sorts by its primary value, or else its first: `emails` and
// `emails.value` by the address, `emails.type` by the type.
//
// Sorting by a complex attribute without a value sub-attribute, by Groups' members or
// Users' groups, or by meta.location, meta.version or meta.resourceType is a 400
// invalidValue *scim.Error. An attribute kept in JSON needs t.Dialect set; without it
// OrderBy fails with an error that is not a *scim.Error (and a text column sorts in the
// database's collation rather than by code point).
func OrderBy(p scim.AttrPath, t Table, desc bool) (string, error) {
	if err := t.check(); err != nil {
		return "", err
	}
	if p.Attr == nil {
		return "", fmt.Errorf("sqlfilter: empty sort path")
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	c := &compiler{t: t, d: t.Dialect}
	if col, ok := t.Columns[p.String()]; ok {
		o := c.column(col, p.Leaf())
		return c.sortExpr(o) + nulls(o, dir), nil
	}
	unsortable := func() error {
		return scim.BadRequest(scim.InvalidValue, "cannot sort by %q", p.String())
	}
	if p.IsCommon() && p.Extension == "" && p.Attr.Name != "externalId" || isMembership(t.Type, p) {
		return "", unsortable()
	}
	if p.Sub == nil && p.Attr.Type == scim.TypeComplex {
		if !p.Attr.MultiValued || p.Attr.Sub("value") == nil {
			return "", scim.BadRequest(scim.InvalidValue, "cannot sort by the complex attribute %q; name one of its sub-attributes", p.String())
		}
		p.Sub = p.Attr.Sub("value")
	}
	if c.d != Postgres && c.d != SQLite {
		return "", fmt.Errorf("sqlfilter: sorting by %s, kept in JSON, needs Table.Dialect", p)
	}
	if !p.Attr.MultiValued {
		o := c.jsonOperand(t.Alias+".data", jsonKeys(p), p.Leaf())
		return c.sortExpr(o) + nulls(o, dir), nil
	}
	// The primary value, or else the first.
	sc := &elemScope{c: c, path: p}
	o, err := sc.operand(p.Sub)
	if err != nil {
		return "", err
	}
	value := o.expr
	if o.ci {
		value = "lower(" + value + ")"
	}
	first := elemAlias + ".key"
	primary := "1"
	if c.d == Postgres {
		first = elemAlias + ".n"
	}
	if p.Attr.Sub("primary") != nil {
		primary = "(CASE WHEN json_type(" + elemAlias + ".value, '$.primary') = 'true' THEN 0 ELSE 1 END)"
		if c.d == Postgres {
			primary = "(CASE WHEN " + elemAlias + ".v->'primary' = 'true'::jsonb THEN 0 ELSE 1 END)"
		}
	}
	where := ""
	if c.d == SQLite {
		where = " WHERE " + elemAlias + ".type = 'object'"
	}
	expr := "(SELECT " + value + " FROM " + c.elements(p, true) + where + " ORDER BY " + primary + ", " + first + " LIMIT 1)"
	if c.d == Postgres && o.kind == kText {
		expr += ` COLLATE "C"`
	}
	return expr + dir + " NULLS LAST", nil
}

// sortExpr returns the expression to sort operand o by.
func (c *compiler) sortExpr(o operand) string {
	switch o.kind {
	case kText:
		x := o.expr
		if o.ci {
			x = "lower(" + x + ")"
		}
		if c.d == Postgres {
			x += ` COLLATE "C"`
		}
		return x
	}
	return o.expr
}

// nulls returns the direction with NULLS LAST for an operand that may be NULL; a NOT NULL
// column goes without, so that an index on it serves the sort in both directions.
func nulls(o operand, dir string) string {
	if o.notNull {
		return dir
	}
	return dir + " NULLS LAST"
}
