// Package sqlfilter compiles checked SCIM filters and sort orders to SQL for both backends,
// PostgreSQL and SQLite. Attribute names come from the schema and the table layout, values
// are always parameters: no SQL is ever made from input text.
//
// Semantics, the same on both backends: strings compare case-insensitively unless the
// attribute is caseExact (eq on userName and group displayName compares the folded key
// column, scim.FoldKey, the same Unicode folding on both; elsewhere lower() on both sides,
// and SQLite's lower() folds ASCII only); co, sw
// and ew are substring matches; gt, ge, lt and le order strings by code point, date-times by
// time and numbers numerically; pr means present, not null and, for strings, not empty;
// `x ne v` is `not (x eq v)`, so it matches resources without x, and on a multi-valued
// attribute it means that no value equals v; every other comparison on a multi-valued
// attribute matches when any value does.
package sqlfilter

import (
	"fmt"
	"strconv"

	"github.com/scimd/scimd/internal/scim"
)

// Dialect is the SQL dialect of a backend.
type Dialect int

// The dialects. The zero Dialect is none, so that a Table that was not told its dialect is
// noticed rather than guessed.
const (
	Postgres Dialect = iota + 1
	SQLite
)

// String returns the dialect's name: postgres or sqlite.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case SQLite:
		return "sqlite"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Args collects the parameters of one statement.
type Args struct {
	d    Dialect
	vals []any
}

// NewArgs returns an Args for dialect d whose first parameters are existing: placeholders
// that Add returns number on after them.
func NewArgs(d Dialect, existing ...any) *Args {
	return &Args{d: d, vals: append([]any(nil), existing...)}
}

// Add appends the parameter v and returns its placeholder: $n in PostgreSQL, ?n in SQLite;
// numbered, so that a query may use one placeholder twice.
func (a *Args) Add(v any) string {
	a.vals = append(a.vals, v)
	if a.d == SQLite {
		return "?" + strconv.Itoa(len(a.vals))
	}
	return "$" + strconv.Itoa(len(a.vals))
}

// Values returns the parameters in placeholder order.
func (a *Args) Values() []any { return a.vals }

// Dialect returns the dialect the placeholders are written in.
func (a *Args) Dialect() Dialect { return a.d }

// Column is a real column that holds one attribute.
type Column struct {
	Name    string // without the table alias
	UUID    bool   // uuid in PostgreSQL, text in SQLite
	NotNull bool   // always set, so that pr is always true
	// FoldKey names the column holding scim.FoldKey of this one: eq and ne compare it, so
	// that case-insensitive equality is the same Unicode folding on every backend.
	FoldKey string
}

// Table describes the table being filtered: its alias in the query, the resource type its
// rows hold, and the attributes that have their own column (by attribute path in schema case,
// such as "userName" or "meta.created"). Every other attribute is read from the JSON column
// data, in which attributes are stored by schema name as scim.Resource.Attrs holds them.
// Groups' members and Users' groups are read from the group_members table.
//
// Compile takes the dialect from its Args; OrderBy needs Dialect set for attributes kept in
// JSON.
type Table struct {
	Alias   string
	Type    *scim.ResourceType
	Dialect Dialect
	Columns map[string]Column
}

// UsersTable returns the users table of the migrations under alias.
func UsersTable(alias string) Table {
	return Table{Alias: alias, Type: scim.Users, Columns: map[string]Column{
		"id":                {Name: "id", UUID: true, NotNull: true},
		"userName":          {Name: "user_name", FoldKey: "user_name_key"},
		"externalId":        {Name: "external_id"},
		"active":            {Name: "active", NotNull: true},
		"userType":          {Name: "user_type"},
		"displayName":       {Name: "display_name"},
		"meta.created":      {Name: "created_at", NotNull: true},
		"meta.lastModified": {Name: "last_modified", NotNull: true},
	}}
}

// GroupsTable returns the groups table of the migrations under alias.
func GroupsTable(alias string) Table {
	return Table{Alias: alias, Type: scim.Groups, Columns: map[string]Column{
		"id":                {Name: "id", UUID: true, NotNull: true},
		"displayName":       {Name: "display_name", FoldKey: "display_name_key"},
		"externalId":        {Name: "external_id"},
		"meta.created":      {Name: "created_at", NotNull: true},
		"meta.lastModified": {Name: "last_modified", NotNull: true},
	}}
}

// The aliases of the subqueries Compile and OrderBy write; a Table may not use them.
const (
	elemAlias   = "e"
	memberAlias = "m"
	groupAlias  = "g"
)

func (t Table) check() error {
	if t.Type == nil {
		return fmt.Errorf("sqlfilter: Table has no resource type")
	}
	if !isIdent(t.Alias) || t.Alias == elemAlias || t.Alias == memberAlias || t.Alias == groupAlias {
		return fmt.Errorf("sqlfilter: table alias %q is not a plain identifier other than e, m and g", t.Alias)
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
