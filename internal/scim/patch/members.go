package patch

import (
	"strings"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

// SplitMembers takes out of ops every operation on the multi-valued attribute attr of the
// core schema (e.g. "members"), whose values a caller keeps apart from the resource's JSON,
// and returns the member edits in order plus the remaining operations. It understands:
// add with a value list (Okta, JumpCloud: objects with only "value"); remove with path
// members[value eq "id"] (any filter of that form joined with or); remove with path members
// and a value list of {"value": id} (Entra ID); remove with path members and no value
// (removeAll); replace with path members (the whole membership, an empty list allowed); a
// path-less add or replace whose value object has a members key (any case), which stays in
// the rest without that key when it has others. ops is not modified.
//
// Errors are *scim.Error, 400: invalidValue for a member without a non-empty string
// "value", invalidFilter for a filter on members other than value eq, invalidPath for a path
// into a member's sub-attributes.
func SplitMembers(ops []Operation, attr string) ([]scim.MemberEdit, []Operation, error) {
	var edits []scim.MemberEdit
	rest := make([]Operation, 0, len(ops))
	for i, op := range ops {
		got, keep, err := splitOne(op, attr)
		if err != nil {
			return nil, nil, inOp(i, err)
		}
		edits = append(edits, got...)
		if keep != nil {
			rest = append(rest, *keep)
		}
	}
	return edits, rest, nil
}

// splitOne returns the member edits op makes, and what remains of op (nil for nothing).
func splitOne(op Operation, attr string) ([]scim.MemberEdit, *Operation, error) {
	kind := strings.ToLower(op.Op)
	p := op.Path
	if p == nil {
		obj, ok := op.Value.(map[string]any)
		if !ok || (kind != OpAdd && kind != OpReplace) {
			return nil, &op, nil
		}
		var edits []scim.MemberEdit
		restValue := make(map[string]any, len(obj))
		for _, k := range sortedKeys(obj) {
			v := obj[k]
			if !strings.EqualFold(k, attr) {
				restValue[k] = v
				continue
			}
			ids, err := memberIDs(v, attr, false)
			if err != nil {
				return nil, nil, err
			}
			edits = append(edits, scim.MemberEdit{Kind: scim.MemberKind(kind), IDs: ids})
		}
		if len(edits) == 0 {
			return nil, &op, nil
		}
		if len(restValue) == 0 {
			return edits, nil, nil
		}
		op.Value = restValue
		return edits, &op, nil
	}
	if p.isExtension() || p.Attr.Extension != "" || !strings.EqualFold(p.Attr.Attr.Name, attr) {
		return nil, &op, nil
	}
	if p.Attr.Sub != nil || p.Sub != nil {
		return nil, nil, scim.BadRequest(scim.InvalidPath, "path %q: %s can only be changed as whole values", p.String(), p.Attr.Attr.Name)
	}
	var filterIDs []string
	if p.Filter != nil {
		var ok bool
		if filterIDs, ok = valueEqIDs(p.Filter); !ok {
			return nil, nil, scim.BadRequest(scim.InvalidFilter, "path %q: the only filter on %s is value eq \"id\", joined with or", p.String(), p.Attr.Attr.Name)
		}
	}
	switch kind {
	case OpRemove:
		switch {
		case p.Filter != nil:
			return []scim.MemberEdit{{Kind: scim.MembersRemove, IDs: filterIDs}}, nil, nil
		case op.Value == nil:
			return []scim.MemberEdit{{Kind: scim.MembersRemoveAll}}, nil, nil
		}
		ids, err := memberIDs(op.Value, attr, false)
		if err != nil {
			return nil, nil, err
		}
		return []scim.MemberEdit{{Kind: scim.MembersRemove, IDs: ids}}, nil, nil
	case OpAdd, OpReplace:
		ids, err := memberIDs(op.Value, attr, p.Filter != nil)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case p.Filter == nil && kind == OpAdd:
			return []scim.MemberEdit{{Kind: scim.MembersAdd, IDs: ids}}, nil, nil
		case p.Filter == nil:
			return []scim.MemberEdit{{Kind: scim.MembersReplace, IDs: ids}}, nil, nil
		}
		// A filter path replaces the members it selects with the value (add: the same, RFC
		// 7644 §3.5.2.1); a value without an id keeps the selected members.
		if len(ids) == 0 {
			return []scim.MemberEdit{{Kind: scim.MembersAdd, IDs: filterIDs}}, nil, nil
		}
		var edits []scim.MemberEdit
		if kind == OpReplace {
			edits = append(edits, scim.MemberEdit{Kind: scim.MembersRemove, IDs: filterIDs})
		}
		return append(edits, scim.MemberEdit{Kind: scim.MembersAdd, IDs: ids}), nil, nil
	}
	return nil, &op, nil
}

// memberIDs reads the ids of a member value: an object or a list of objects, each with a
// non-empty string "value" (any case); with optional set, an object may have no "value".
// null and [] are no members.
func memberIDs(v any, attr string, optional bool) ([]string, error) {
	if v == nil {
		return []string{}, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	ids := make([]string, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, scim.BadRequest(scim.InvalidValue, "each value of %q must be an object with a \"value\"", attr)
		}
		raw, has := scim.Lookup(m, "value")
		if !has && optional {
			continue
		}
		id, ok := raw.(string)
		if !ok || strings.TrimSpace(id) == "" {
			return nil, scim.BadRequest(scim.InvalidValue, "each value of %q must have a non-empty string \"value\"", attr)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// valueEqIDs reads a filter of the form value eq "a" or value eq "b" ….
func valueEqIDs(f filter.Expr) ([]string, bool) {
	switch x := f.(type) {
	case *filter.Compare:
		id, ok := x.Value.(string)
		if x.Op != "eq" || x.Path.Sub == nil || x.Path.Sub.Name != "value" || !ok || id == "" {
			return nil, false
		}
		return []string{id}, true
	case *filter.Logical:
		if x.Op != "or" {
			return nil, false
		}
		l, ok := valueEqIDs(x.Left)
		if !ok {
			return nil, false
		}
		r, ok := valueEqIDs(x.Right)
		return append(l, r...), ok
	}
	return nil, false
}
