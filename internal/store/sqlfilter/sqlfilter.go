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
	"sync"

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

// Write says where an indexed column's value comes from when a resource is written.
type Write int

const (
	// ByStore: the store writes it from the resource's id and meta, not its attributes.
	ByStore Write = iota
	// Text: the attribute's string value ("" when absent).
	Text
	// TextOrNull: the attribute's string value, NULL when absent or empty.
	TextOrNull
	// Bool: the attribute's boolean value (false when absent).
	Bool
)

// Indexed is one attribute kept in a column of its own, beside the whole resource in data.
type Indexed struct {
	Attr  string // attribute path in schema case: "userName", "meta.created"
	Write Write
	Column
}

// Layout is how one resource type is kept: its table, and the attributes that have a column
// of their own. It is the one description of the resource layout: the store writes the
// columns from it (Values) and the filter compiler reads them through it (Table).
type Layout struct {
	Name    string // the table
	Type    *scim.ResourceType
	Indexed []Indexed

	columnsOnce sync.Once
	columns     map[string]Column // Table's, by attribute path
}

// The layouts of the migrations' users and groups tables.
var (
	UsersLayout = &Layout{Name: "users", Type: scim.Users, Indexed: []Indexed{
		{"id", ByStore, Column{Name: "id", UUID: true, NotNull: true}},
		{"userName", Text, Column{Name: "user_name", FoldKey: "user_name_key"}},
		{"externalId", TextOrNull, Column{Name: "external_id"}},
		{"active", Bool, Column{Name: "active", NotNull: true}},
		{"userType", TextOrNull, Column{Name: "user_type"}},
		{"displayName", TextOrNull, Column{Name: "display_name"}},
		{"meta.created", ByStore, Column{Name: "created_at", NotNull: true}},
		{"meta.lastModified", ByStore, Column{Name: "last_modified", NotNull: true}},
	}}
	GroupsLayout = &Layout{Name: "groups", Type: scim.Groups, Indexed: []Indexed{
		{"id", ByStore, Column{Name: "id", UUID: true, NotNull: true}},
		{"displayName", Text, Column{Name: "display_name", FoldKey: "display_name_key"}},
		{"externalId", TextOrNull, Column{Name: "external_id"}},
		{"meta.created", ByStore, Column{Name: "created_at", NotNull: true}},
		{"meta.lastModified", ByStore, Column{Name: "last_modified", NotNull: true}},
	}}
)

// LayoutOf returns the layout of rt.
func LayoutOf(rt *scim.ResourceType) *Layout {
	if rt.Name == scim.Groups.Name {
		return GroupsLayout
	}
	return UsersLayout
}

// Table returns the filter table of l under alias. Its Columns map is built once and
// shared: read it, never write it.
func (l *Layout) Table(alias string) Table {
	l.columnsOnce.Do(func() {
		l.columns = make(map[string]Column, len(l.Indexed))
		for _, ix := range l.Indexed {
			l.columns[ix.Attr] = ix.Column
		}
	})
	return Table{Alias: alias, Type: l.Type, Columns: l.columns}
}

// Values returns the columns written from a resource's attributes, and their values.
func (l *Layout) Values(attrs map[string]any) (cols []string, vals []any) {
	for _, ix := range l.Indexed {
		var v any
		switch ix.Write {
		case ByStore:
			continue
		case Text:
			v = scim.String(attrs, ix.Attr)
		case TextOrNull:
			if s := scim.String(attrs, ix.Attr); s != "" {
				v = s
			}
		case Bool:
			b, _ := attrs[ix.Attr].(bool)
			v = b
		}
		cols, vals = append(cols, ix.Name), append(vals, v)
		if ix.FoldKey != "" {
			s, _ := v.(string)
			cols, vals = append(cols, ix.FoldKey), append(vals, scim.FoldKey(s))
		}
	}
	return cols, vals
}

// UsersTable returns the users table of the migrations under alias.
func UsersTable(alias string) Table { return UsersLayout.Table(alias) }

// GroupsTable returns the groups table of the migrations under alias.
func GroupsTable(alias string) Table { return GroupsLayout.Table(alias) }

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
