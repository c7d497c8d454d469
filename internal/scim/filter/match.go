package filter

import (
	"cmp"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/scim"
)

// Match reports whether elem, one element of a multi-valued complex attribute as
// scim.Resource.Attrs holds it, satisfies e: the filter of a value path, whose Compare nodes
// name sub-attributes (a *ValuePath is matched by its filter). PATCH uses it for paths such
// as emails[type eq "work"].value.
//
// Strings compare case-insensitively unless the sub-attribute is caseExact; `pr` needs a
// value that is not null or empty; `ne` holds when the sub-attribute is absent; a stored
// value of the wrong type matches nothing but `ne`.
func Match(e Expr, elem map[string]any) bool {
	switch e := e.(type) {
	case *Compare:
		return matchCompare(e, elem)
	case *Logical:
		if e.Op == "or" {
			return Match(e.Left, elem) || Match(e.Right, elem)
		}
		return Match(e.Left, elem) && Match(e.Right, elem)
	case *Not:
		return !Match(e.X, elem)
	case *ValuePath:
		return Match(e.Filter, elem)
	}
	return false
}

func matchCompare(c *Compare, elem map[string]any) bool {
	a := c.Path.Leaf()
	v, _ := scim.Lookup(elem, a.Name)
	present := !isEmpty(v)
	switch c.Op {
	case "pr":
		return present
	case "ne":
		return !present || !compareValue(a, "eq", v, c.Value)
	}
	return present && compareValue(a, c.Op, v, c.Value)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// compareValue applies op (not pr or ne) to the stored value v and the filter value want,
// both of attribute a's type.
func compareValue(a *scim.Attribute, op string, v, want any) bool {
	switch a.Type {
	case scim.TypeString, scim.TypeReference, scim.TypeBinary:
		s, ok := v.(string)
		w, _ := want.(string)
		if !ok {
			return false
		}
		if !a.CaseExact {
			s, w = strings.ToLower(s), strings.ToLower(w)
		}
		switch op {
		case "co":
			return strings.Contains(s, w)
		case "sw":
			return strings.HasPrefix(s, w)
		case "ew":
			return strings.HasSuffix(s, w)
		}
		return ordered(op, strings.Compare(s, w))
	case scim.TypeBoolean:
		b, ok := v.(bool)
		if s, isString := v.(string); isString {
			b, ok = strings.EqualFold(s, "true"), strings.EqualFold(s, "true") || strings.EqualFold(s, "false")
		}
		return ok && op == "eq" && b == want
	case scim.TypeDateTime:
		s, _ := v.(string)
		w, _ := want.(string)
		t, err1 := time.Parse(time.RFC3339Nano, s)
		u, err2 := time.Parse(time.RFC3339Nano, w)
		return err1 == nil && err2 == nil && ordered(op, t.Compare(u))
	case scim.TypeInteger:
		n, ok := toInt(v)
		w, _ := want.(int64)
		return ok && ordered(op, cmp.Compare(n, w))
	case scim.TypeDecimal:
		f, ok := toFloat(v)
		w, _ := want.(float64)
		return ok && ordered(op, cmp.Compare(f, w))
	}
	return false
}

// ordered reports whether a comparison result c satisfies op (eq, gt, ge, lt or le).
func ordered(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(x.String(), 10, 64)
		return i, err == nil
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		return int64(x), float64(int64(x)) == x
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}
