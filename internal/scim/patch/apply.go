package patch

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

// Apply applies ops in order to a deep copy of attrs (the scim.Resource.Attrs form) and
// returns the new attributes and the sorted names of the top-level attributes whose value
// differs afterwards (schema case; an extension attribute as
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"). attrs is never
// modified. On error nothing is returned: all operations apply or none. Errors are
// *scim.Error, all 400: invalidValue for a value of the wrong type, noTarget for a remove
// whose value filter matches nothing (or a filter that matches nothing and describes no new
// value), invalidPath and mutability for operations that did not come through Parse.
func Apply(rt *scim.ResourceType, attrs map[string]any, ops []Operation) (map[string]any, []string, error) {
	return ApplyContext(context.Background(), rt, attrs, ops, Limits{})
}

type applier struct {
	rt    *scim.ResourceType
	attrs map[string]any
	ctx   context.Context
	lim   Limits
}

func (a *applier) apply(op Operation) error {
	name := strings.ToLower(op.Op)
	switch name {
	case OpAdd, OpRemove, OpReplace:
	default:
		return scim.BadRequest(scim.InvalidSyntax, "unknown op %q; it must be \"add\", \"remove\" or \"replace\"", op.Op)
	}
	p := op.Path
	switch {
	case p == nil:
		if name == OpRemove {
			return scim.BadRequest(scim.NoTarget, "a remove operation needs a \"path\"")
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			if op.Value == nil {
				return nil
			}
			return scim.BadRequest(scim.InvalidValue, "the \"value\" of an %s operation without an attribute path must be an object", name)
		}
		return a.object(name, obj)
	case p.isExtension():
		if name == OpRemove {
			delete(a.attrs, p.Attr.Extension)
			return nil
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			if op.Value == nil {
				delete(a.attrs, p.Attr.Extension)
				return nil
			}
			return scim.BadRequest(scim.InvalidValue, "%q must be an object", p.Attr.Extension)
		}
		return a.extension(name, p.Attr.Extension, obj)
	}
	if err := checkWritable(p); err != nil {
		return err
	}
	if p.Filter != nil {
		return a.filtered(name, p, op.Value)
	}
	return a.attr(name, p.Attr, op.Value)
}

// object applies a path-less add or replace: every key of obj is an attribute named plainly
// (any case), dotted ("name.givenName"), URN-qualified, a value path
// (`emails[type eq "work"].value`), or an extension URN whose value is an object of that
// extension's attributes. Unknown, read-only (Okta sends the resource's own
// id) and write-only keys are ignored, as in a POST body.
func (a *applier) object(op string, obj map[string]any) error {
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		if strings.EqualFold(k, "schemas") {
			continue
		}
		if urn, ok := a.rt.IsExtensionURN(k); ok {
			ext, isObj := v.(map[string]any)
			switch {
			case v == nil:
				if op == OpReplace {
					delete(a.attrs, urn)
				}
			case !isObj:
				return scim.BadRequest(scim.InvalidValue, "%q must be an object", urn)
			default:
				if err := a.extension(op, urn, ext); err != nil {
					return err
				}
			}
			continue
		}
		if core, ok := v.(map[string]any); ok && strings.EqualFold(k, a.rt.Schema) {
			if err := a.object(op, core); err != nil {
				return err
			}
			continue
		}
		if strings.Contains(k, "[") {
			// Entra ID (aadOptscim062020) sends "emails[type eq \"work\"].value" as a key; it
			// is parsed within the same filter bounds as a path.
			p, err := parsePath(k, a.rt, a.lim.Filter)
			if se := scim.AsError(err); se != nil && se.ScimType == scim.InvalidFilter {
				return se
			}
			if err != nil || p == nil {
				continue // unknown or read-only, as any other key
			}
			if err := a.filtered(op, p, v); err != nil {
				return err
			}
			continue
		}
		ap, err := a.rt.ResolveString(k)
		if err != nil || !writable(ap) {
			continue
		}
		if err := a.attr(op, ap, v); err != nil {
			return err
		}
	}
	return nil
}

// extension merges obj, an object of extension urn's attributes, into the extension.
func (a *applier) extension(op, urn string, obj map[string]any) error {
	for _, k := range sortedKeys(obj) {
		name, sub, _ := strings.Cut(k, ".")
		ap, err := a.rt.Resolve(urn, name, sub)
		if err != nil || !writable(ap) {
			continue
		}
		if err := a.attr(op, ap, obj[k]); err != nil {
			return err
		}
	}
	return nil
}

// writable reports whether a path-less value may set ap: read-only and write-only keys are
// ignored there.
func writable(ap scim.AttrPath) bool {
	for _, x := range []*scim.Attribute{ap.Attr, ap.Sub} {
		if x != nil && (x.Mutability == scim.ReadOnly || x.Mutability == scim.WriteOnly) {
			return false
		}
	}
	return true
}

// holder returns the map that holds ap's attribute: attrs, or the extension's object (made
// when create is set; nil when absent otherwise).
func (a *applier) holder(ext string, create bool) map[string]any {
	if ext == "" {
		return a.attrs
	}
	m, ok := a.attrs[ext].(map[string]any)
	if !ok && create {
		m = map[string]any{}
		a.attrs[ext] = m
	}
	return m
}

// attr applies op to the attribute (or sub-attribute) ap, without a value filter.
func (a *applier) attr(op string, ap scim.AttrPath, value any) error {
	if ap.Attr.Mutability == scim.WriteOnly || ap.Leaf().Mutability == scim.WriteOnly {
		return nil // password: accepted, never stored
	}
	h := a.holder(ap.Extension, op != OpRemove)
	if h == nil {
		return nil
	}
	def, key, name := ap.Attr, ap.Attr.Name, ap.String()
	if ap.Sub == nil {
		if op == OpRemove {
			if value != nil && def.MultiValued {
				return a.removeValues(h, def, value, name)
			}
			delete(h, key)
			return nil
		}
		// A list longer than the bound is refused before any value of it is checked.
		if list, ok := value.([]any); ok && def.MultiValued {
			if err := a.checkCount(def, name, len(list)); err != nil {
				return err
			}
		}
		nv, err := normalize(def, value, name)
		if err != nil {
			return err
		}
		if nv == nil {
			if op == OpReplace {
				delete(h, key)
			}
			return nil
		}
		switch {
		case def.MultiValued:
			values := nv.([]any)
			if op == OpReplace {
				if err := a.checkCount(def, name, len(values)); err != nil {
					return err
				}
				h[key] = values
				fixPrimary(def, values, allIndexes(values))
				return nil
			}
			// Linear in the values: each is compared by its canonical form through a set,
			// not with every value already there.
			list := asList(h[key])
			have := make(map[string]bool, len(list)+len(values))
			for i, e := range list {
				if err := a.tick(i); err != nil {
					return err
				}
				have[canonical(e)] = true
			}
			var touched []int
			for i, v := range values {
				if err := a.tick(i); err != nil {
					return err
				}
				k := canonical(v)
				if have[k] {
					continue
				}
				have[k] = true
				list = append(list, v)
				touched = append(touched, len(list)-1)
				if err := a.checkCount(def, name, len(list)); err != nil {
					return err
				}
			}
			h[key] = list
			fixPrimary(def, list, touched)
		case def.Type == scim.TypeComplex:
			// RFC 7644 §3.5.2.1 and §3.5.2.3: the sub-attributes given are set, the others kept.
			cur, ok := h[key].(map[string]any)
			if !ok {
				cur = map[string]any{}
			}
			for k, v := range nv.(map[string]any) {
				cur[k] = v
			}
			h[key] = cur
		default:
			h[key] = nv
		}
		return nil
	}

	sub := ap.Sub
	if !def.MultiValued {
		cur, _ := h[key].(map[string]any)
		if op == OpRemove {
			delete(cur, sub.Name)
			return nil
		}
		nv, err := sub.Normalize(value, name)
		if err != nil {
			return err
		}
		switch {
		case nv != nil && cur == nil:
			h[key] = map[string]any{sub.Name: nv}
		case nv != nil:
			cur[sub.Name] = nv
		case op == OpReplace:
			delete(cur, sub.Name)
		}
		return nil
	}
	// attr.sub of a multi-valued attribute: that sub-attribute of every value.
	list := asList(h[key])
	if op == OpRemove {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				delete(m, sub.Name)
			}
		}
		return nil
	}
	nv, err := sub.Normalize(value, name)
	if err != nil {
		return err
	}
	if nv == nil {
		if op == OpReplace {
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					delete(m, sub.Name)
				}
			}
		}
		return nil
	}
	if len(list) == 0 {
		list = []any{map[string]any{sub.Name: nv}}
		h[key] = list
		return nil
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			m[sub.Name] = nv
		}
	}
	fixPrimary(def, list, allIndexes(list))
	return nil
}

// normalize checks value against def. A singular complex attribute that has a "value"
// sub-attribute also takes that value alone: Entra ID sends the enterprise manager as
// "value": "<id>".
func normalize(def *scim.Attribute, value any, name string) (any, error) {
	if s, ok := value.(string); ok && !def.MultiValued && def.Type == scim.TypeComplex && def.Sub("value") != nil {
		value = map[string]any{"value": s}
	}
	return def.Normalize(value, name)
}

// removeValues removes from a multi-valued attribute the values given: Entra ID removes
// members with {"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}. A given
// object with a "value" removes every value with that "value"; any other given value removes
// the values equal to it.
func (a *applier) removeValues(h map[string]any, def *scim.Attribute, value any, name string) error {
	nv, err := def.Normalize(value, name)
	if err != nil || nv == nil {
		return err
	}
	given := nv.([]any)
	valueSub := def.Sub("value")
	// Sets of what goes, so that the cost is linear: whole values by canonical form, and the
	// "value" sub-attributes given, by the key under which sameScalar holds.
	whole := make(map[string]bool, len(given))
	byValue := map[string]bool{}
	for i, g := range given {
		if err := a.tick(i); err != nil {
			return err
		}
		whole[canonical(g)] = true
		if gm, ok := g.(map[string]any); ok && valueSub != nil {
			if gv, has := gm[valueSub.Name]; has {
				byValue[scalarKey(gv, valueSub.CaseExact)] = true
			}
		}
	}
	var tickErr error
	i := 0
	gone := func(e any) bool {
		if tickErr = cmpOr(tickErr, a.tick(i)); tickErr != nil {
			return false
		}
		i++
		if whole[canonical(e)] {
			return true
		}
		em, ok := e.(map[string]any)
		if !ok || valueSub == nil || len(byValue) == 0 {
			return false
		}
		return byValue[scalarKey(em[valueSub.Name], valueSub.CaseExact)]
	}
	if list := asList(h[def.Name]); len(list) > 0 {
		h[def.Name] = slices.DeleteFunc(list, gone)
	}
	return tickErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// filtered applies op to the values of p.Attr that p.Filter selects.
func (a *applier) filtered(op string, p *Path, value any) error {
	def := p.Attr.Attr
	if !def.MultiValued {
		return scim.BadRequest(scim.InvalidPath, "path %q: attribute %q is not multi-valued and takes no value filter", p.String(), p.Attr.String())
	}
	h := a.holder(p.Attr.Extension, op != OpRemove)
	var elems []any
	if h != nil {
		elems = asList(h[def.Name])
	}
	var matched []int
	for i, e := range elems {
		if m, ok := e.(map[string]any); ok && filter.Match(p.Filter, m) {
			matched = append(matched, i)
		}
	}
	store := func() { h[def.Name] = slices.DeleteFunc(elems, func(e any) bool { return e == nil }) }

	if op == OpRemove {
		if len(matched) == 0 {
			return scim.BadRequest(scim.NoTarget, "no value of %q matches the filter in %q", p.Attr.String(), p.String())
		}
		for _, i := range matched {
			if p.Sub == nil {
				elems[i] = nil
			} else {
				delete(elems[i].(map[string]any), p.Sub.Name)
			}
		}
		store()
		return nil
	}

	var nv any
	var err error
	if p.Sub != nil {
		nv, err = p.Sub.Normalize(value, p.String())
	} else {
		if list, ok := value.([]any); ok && len(list) == 1 {
			value = list[0] // one value, sent as a list
		}
		nv, err = def.NormalizeSingle(value, p.String())
	}
	if err != nil {
		return err
	}
	var touched []int
	if len(matched) == 0 {
		if nv == nil {
			return nil
		}
		// Nothing matches: add the value the filter describes, as Entra ID expects for
		// emails[type eq "work"].value on a user without a work email.
		elem, ok := described(p.Filter)
		if !ok {
			return scim.BadRequest(scim.NoTarget, "no value of %q matches the filter in %q, and the filter does not describe a new value (it needs sub-attribute eq conditions joined with and)", p.Attr.String(), p.String())
		}
		if p.Sub != nil {
			elem[p.Sub.Name] = nv
		} else {
			for k, v := range nv.(map[string]any) {
				elem[k] = v
			}
		}
		elems = append(elems, elem)
		touched = []int{len(elems) - 1}
		if err := a.checkCount(def, p.Attr.String(), len(elems)); err != nil {
			return err
		}
	} else {
		for _, i := range matched {
			switch m := elems[i].(map[string]any); {
			case p.Sub != nil && nv == nil:
				delete(m, p.Sub.Name)
			case p.Sub != nil:
				m[p.Sub.Name] = nv
			case nv == nil:
				elems[i] = nil
			default:
				elems[i] = deepCopy(nv)
			}
		}
		touched = matched
	}
	fixPrimary(def, elems, touched)
	store()
	return nil
}

// described returns the value that filter f describes: its sub-attribute eq conditions joined
// with and. It fails for or, not, and for a filter without an eq condition.
func described(f filter.Expr) (map[string]any, bool) {
	elem := map[string]any{}
	var walk func(filter.Expr) bool
	walk = func(e filter.Expr) bool {
		switch x := e.(type) {
		case *filter.Compare:
			if x.Op == "eq" && x.Path.Sub != nil && x.Path.Sub.Mutability != scim.ReadOnly {
				if v, ok := stored(x.Value); ok {
					elem[x.Path.Sub.Name] = v
				}
			}
			return true
		case *filter.Logical:
			return x.Op == "and" && walk(x.Left) && walk(x.Right)
		}
		return false
	}
	if !walk(f) || len(elem) == 0 {
		return nil, false
	}
	return elem, true
}

// stored converts a checked filter value to the stored form of attribute values.
func stored(v any) (any, bool) {
	switch x := v.(type) {
	case string, bool:
		return x, true
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), true
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), true
	}
	return nil, false
}

// fixPrimary keeps primary=true on at most one value (RFC 7643 §2.4): when the values at
// touched, just written, include a primary one, the last such stays primary and the others
// lose it.
func fixPrimary(def *scim.Attribute, list []any, touched []int) {
	if !def.MultiValued || def.Sub("primary") == nil {
		return
	}
	winner := -1
	for _, i := range touched {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			winner = i
		}
	}
	if winner < 0 {
		return
	}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && i != winner && m["primary"] == true {
			delete(m, "primary")
		}
	}
}

func allIndexes(list []any) []int {
	idx := make([]int, len(list))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// asList returns v as a list: a single stored value becomes a one-element list.
func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// changed returns the sorted names of the top-level attributes that differ between before
// and after; an extension's attributes are compared one by one.
func changed(rt *scim.ResourceType, before, after map[string]any) []string {
	var names []string
	for _, k := range unionKeys(before, after) {
		if rt.Extension(k) == nil {
			if !reflect.DeepEqual(before[k], after[k]) {
				names = append(names, k)
			}
			continue
		}
		b, _ := before[k].(map[string]any)
		a, _ := after[k].(map[string]any)
		for _, ek := range unionKeys(b, a) {
			if !reflect.DeepEqual(b[ek], a[ek]) {
				names = append(names, k+":"+ek)
			}
		}
	}
	slices.Sort(names)
	return names
}

func unionKeys(a, b map[string]any) []string {
	keys := sortedKeys(a)
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// pruneMap drops, in place, null values, empty lists and empty objects, at every depth, as
// scim Normalize does; it returns m.
func pruneMap(m map[string]any) map[string]any {
	for k, v := range m {
		if nv, keep := prune(v); keep {
			m[k] = nv
		} else {
			delete(m, k)
		}
	}
	return m
}

func prune(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case map[string]any:
		pruneMap(x)
		return x, len(x) > 0
	case []any:
		out := x[:0]
		for _, e := range x {
			if ne, keep := prune(e); keep {
				out = append(out, ne)
			}
		}
		clear(x[len(out):])
		return out, len(out) > 0
	}
	return v, true
}

func deepCopyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
