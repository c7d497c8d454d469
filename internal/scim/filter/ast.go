// Package filter parses SCIM filters (RFC 7644 §3.4.2.2) with
// github.com/scim2/filter-parser/v2 and checks them against a resource type: every
// attribute resolved to its schema definition, every value converted to the attribute's type.
// Store backends compile the checked tree to SQL (package sqlfilter); PATCH evaluates value
// filters on one resource's values in memory (Match).
package filter

import (
	"github.com/scimd/scimd/internal/scim"
)

// Expr is a checked filter expression: *Compare, *Logical, *Not or *ValuePath.
type Expr interface{ isExpr() }

// Compare is `attrPath op value`, or `attrPath pr` (Value nil).
// Inside a ValuePath, Path names the sub-attribute of the value path's attribute (Path.Attr is
// the multi-valued attribute, Path.Sub the sub-attribute).
type Compare struct {
	Path scim.AttrPath
	Op   string // one of eq ne co sw ew gt ge lt le pr, lower case
	// Value has the Go type of the attribute: string (string, reference, binary and
	// dateTime, the last in scim.TimeFormat), bool, int64 (integer), float64 (decimal), or
	// nil for pr.
	Value any
}

// Logical is `left and right` or `left or right`.
type Logical struct {
	Op          string // "and" or "or"
	Left, Right Expr
}

// Not is `not (x)`.
type Not struct{ X Expr }

// ValuePath is `attr[filter]` on a multi-valued complex attribute: Filter's Compare nodes
// name sub-attributes of Attr.
type ValuePath struct {
	Attr   scim.AttrPath
	Filter Expr
}

func (*Compare) isExpr()   {}
func (*Logical) isExpr()   {}
func (*Not) isExpr()       {}
func (*ValuePath) isExpr() {}
