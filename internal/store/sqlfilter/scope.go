package sqlfilter

import (
	"fmt"

	"github.com/scimd/scimd/internal/scim"
)

// multiScope returns the scope over the values of the multi-valued attribute p.Attr.
func (c *compiler) multiScope(p scim.AttrPath) (scope, error) {
	if isMembership(c.t.Type, p) {
		return &memberScope{c: c, path: p, userGroups: c.t.Type.Name == "User"}, nil
	}
	if !p.Attr.MultiValued || p.Attr.Type != scim.TypeComplex {
		return nil, fmt.Errorf("sqlfilter: %s is not a multi-valued complex attribute", p)
	}
	return &elemScope{c: c, path: p}, nil
}

// elemScope ranges over the elements of a JSON array in data (emails, phoneNumbers, …).
type elemScope struct {
	c    *compiler
	path scim.AttrPath
}

func (s *elemScope) operand(sub *scim.Attribute) (operand, error) {
	if sub == nil {
		return operand{}, fmt.Errorf("sqlfilter: no sub-attribute of %s", s.path)
	}
	base := elemAlias + ".value"
	if s.c.d == Postgres {
		base = elemAlias + ".v"
	}
	return s.c.jsonOperand(base, []string{sub.Name}, sub), nil
}

func (s *elemScope) exists(cond string) string {
	if s.c.d == SQLite {
		// json_extract fails on an element that is not JSON text (a string), so only
		// objects are looked into; CASE, unlike AND, guarantees the order.
		cond = "CASE WHEN " + elemAlias + ".type = 'object' THEN " + cond + " END"
	}
	return "EXISTS (SELECT 1 FROM " + s.c.elements(s.path, false) + " WHERE " + cond + ")"
}

// elements returns the FROM item over the elements of the JSON array p.Attr, aliased e: the
// element is e.v in PostgreSQL, e.value in SQLite. numbered adds e.n, the element's position,
// in PostgreSQL (SQLite has e.key).
func (c *compiler) elements(p scim.AttrPath, numbered bool) string {
	keys := jsonKeys(scim.AttrPath{Extension: p.Extension, Attr: p.Attr})
	base := c.t.Alias + ".data"
	if c.d == Postgres {
		arr := jsonb(base, keys)
		// A value that is not an array (never written so) yields no elements rather than an error.
		from := "jsonb_array_elements(CASE WHEN jsonb_typeof(" + arr + ") = 'array' THEN " + arr + " END)"
		if numbered {
			return from + " WITH ORDINALITY AS " + elemAlias + "(v, n)"
		}
		return from + " AS " + elemAlias + "(v)"
	}
	return "json_each(" + base + ", " + jsonPath(keys) + ") AS " + elemAlias
}

// memberScope ranges over the rows of group_members: the members of a group, or the groups
// of a user.
type memberScope struct {
	c          *compiler
	path       scim.AttrPath
	userGroups bool // Users' groups rather than Groups' members
	join       bool // the groups table is needed (groups.display)
}

func (s *memberScope) operand(sub *scim.Attribute) (operand, error) {
	if sub == nil {
		return operand{}, fmt.Errorf("sqlfilter: no sub-attribute of %s", s.path)
	}
	p := s.path
	p.Sub = sub
	switch {
	case sub.Name == "value" && s.userGroups:
		return operand{expr: memberAlias + ".group_id", kind: kUUID, ci: !sub.CaseExact, notNull: true}, nil
	case sub.Name == "value":
		return operand{expr: memberAlias + ".member_id", kind: kUUID, ci: !sub.CaseExact, notNull: true}, nil
	case sub.Name == "display" && s.userGroups:
		s.join = true
		return operand{expr: groupAlias + ".display_name", kind: kText, ci: !sub.CaseExact, notNull: true}, nil
	case sub.Name == "type" && !s.userGroups:
		return operand{expr: memberAlias + ".member_type", kind: kText, ci: !sub.CaseExact, notNull: true}, nil
	}
	return operand{}, notFilterable(p)
}

func (s *memberScope) exists(cond string) string {
	r, m, g := s.c.t.Alias, memberAlias, groupAlias
	from := "group_members " + m
	if s.join {
		from += " JOIN groups " + g + " ON " + g + ".tenant_id = " + m + ".tenant_id AND " + g + ".id = " + m + ".group_id"
	}
	link := m + ".tenant_id = " + r + ".tenant_id AND " + m + ".group_id = " + r + ".id"
	if s.userGroups {
		link = m + ".tenant_id = " + r + ".tenant_id AND " + m + ".member_id = " + r + ".id"
	}
	if cond == "TRUE" {
		return "EXISTS (SELECT 1 FROM " + from + " WHERE " + link + ")"
	}
	return "EXISTS (SELECT 1 FROM " + from + " WHERE " + link + " AND (" + cond + "))"
}
