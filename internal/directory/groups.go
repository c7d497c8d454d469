package directory

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/store"
)

// memberIDs takes the member ids out of a body's members attribute (JumpCloud sends objects
// with only value). Errors: 400 invalidValue for a member without a string value.
func memberIDs(body map[string]any, max int) ([]string, error) {
	raw, _ := scim.Lookup(body, "members")
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, scim.BadRequest(scim.InvalidValue, "members must be a list of {\"value\": id}")
	}
	if len(list) > max {
		return nil, scim.BadRequest(scim.TooMany, "at most %d members in one request", max)
	}
	ids := make([]string, 0, len(list))
	for _, m := range list {
		obj, _ := m.(map[string]any)
		v, _ := scim.Lookup(obj, "value")
		id, _ := v.(string)
		if id == "" {
			return nil, scim.BadRequest(scim.InvalidValue, "each member needs a \"value\" with the member's id")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// notSelf refuses a group named as its own member (400 invalidValue). Longer cycles (A in
// B, B in A) are kept as written: scimd stores direct memberships only and never expands
// nested groups, so a cycle costs nothing and loops nowhere.
func notSelf(groupID string, ids []string) error {
	for _, m := range ids {
		if strings.EqualFold(m, groupID) {
			return scim.BadRequest(scim.InvalidValue, "a group cannot be a member of itself")
		}
	}
	return nil
}

func groupRules(attrs map[string]any) error {
	if strings.TrimSpace(scim.String(attrs, "displayName")) == "" {
		return scim.BadRequest(scim.InvalidValue, "displayName is required")
	}
	return nil
}

// CreateGroup creates a group and its memberships. Errors: 400 invalidValue (also for a
// member id that is no user or group of the tenant; nothing is written), 409 uniqueness.
func (d *Directory) CreateGroup(ctx context.Context, t store.Tenant, body map[string]any) (*scim.Resource, error) {
	ev := d.event(ctx, t, EventGroupCreate, resourceTypeGroup, "", "")
	ev.Method = http.MethodPost
	attrs, members, err := d.groupBody(body)
	if err == nil {
		err = d.checkStored(scim.Groups, attrs)
	}
	if err != nil {
		ev.ResourceName = scim.String(attrs, "displayName")
		return nil, d.finish(ctx, t, ev, err, "")
	}
	now := d.now()
	r := &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: now, LastModified: now, Version: 1}, Attrs: attrs}
	ev.ResourceID, ev.ResourceName = r.ID, scim.String(attrs, "displayName")
	ev.Detail = fmt.Sprintf("members added: %d", len(members))
	if ev.Changed = changedAttrs(scim.Groups, nil, attrs); len(members) > 0 {
		ev.Changed = append(ev.Changed, "members")
	}
	if err := d.store.CreateResource(ctx, scim.Groups, t.ID, r, members, ev); err != nil {
		ev.ResourceID = ""
		return nil, d.finish(ctx, t, ev, err, fmt.Sprintf("displayName %q", ev.ResourceName))
	}
	return r, d.finish(ctx, t, ev, nil, "")
}

func (d *Directory) groupBody(body map[string]any) (map[string]any, []string, error) {
	if err := scim.CheckSchemas(body, scim.GroupSchema); err != nil {
		return nil, nil, err
	}
	attrs, err := scim.Groups.Normalize(body)
	if err != nil {
		return nil, nil, err
	}
	members, err := memberIDs(body, d.limits.MaxMembersPerRequest)
	if err != nil {
		return attrs, nil, err
	}
	return attrs, members, groupRules(attrs)
}

// ReplaceGroup replaces a group's attributes and its whole membership from a PUT body.
func (d *Directory) ReplaceGroup(ctx context.Context, t store.Tenant, id string, body map[string]any, ifMatch string) (*scim.Resource, error) {
	ev := d.event(ctx, t, EventGroupUpdate, resourceTypeGroup, id, "")
	ev.Method = http.MethodPut
	attrs, members, err := d.groupBody(body)
	if err == nil {
		err = d.checkStored(scim.Groups, attrs)
	}
	if err != nil {
		return nil, d.finish(ctx, t, ev, err, "")
	}
	if err := notSelf(id, members); err != nil {
		return nil, d.finish(ctx, t, ev, err, "")
	}
	ev.ResourceName = scim.String(attrs, "displayName")
	ev.Detail = fmt.Sprintf("members replaced: %d", len(members))
	r, err := d.store.UpdateResource(ctx, scim.Groups, t.ID, id, func(r *scim.Resource) (store.Change, error) {
		if err := checkVersion(r, ifMatch); err != nil {
			return store.Change{}, err
		}
		ev.Changed = append(changedAttrs(scim.Groups, r.Attrs, attrs), "members")
		return store.Change{Attrs: copyMap(attrs), Members: []scim.MemberEdit{{Kind: scim.MembersReplace, IDs: members}}, Event: ev}, nil
	})
	if err != nil {
		return nil, d.finish(ctx, t, ev, notFound(scim.Groups, id, err), fmt.Sprintf("displayName %q", ev.ResourceName))
	}
	return r, d.finish(ctx, t, ev, nil, "")
}

// PatchGroup applies PATCH operations: membership operations become row edits (a group of
// 100,000 members is never read or rewritten whole), the rest apply to the attributes; all
// in one transaction.
func (d *Directory) PatchGroup(ctx context.Context, t store.Tenant, id string, ops []patch.Operation, ifMatch string) (*scim.Resource, error) {
	ev := d.event(ctx, t, EventGroupUpdate, resourceTypeGroup, id, "")
	ev.Method = http.MethodPatch
	edits, rest, err := patch.SplitMembers(ops, "members")
	if err != nil {
		return nil, d.finish(ctx, t, ev, err, "")
	}
	added, removed, total := 0, 0, 0
	for _, e := range edits {
		// Counted over the whole request: three operations of 6,000 members are 18,000.
		if total += len(e.IDs); total > d.limits.MaxMembersPerRequest {
			return nil, d.finish(ctx, t, ev, scim.BadRequest(scim.TooMany, "at most %d members in one request", d.limits.MaxMembersPerRequest), "")
		}
		if e.Kind == scim.MembersAdd || e.Kind == scim.MembersReplace {
			if err := notSelf(id, e.IDs); err != nil {
				return nil, d.finish(ctx, t, ev, err, "")
			}
		}
		switch e.Kind {
		case scim.MembersAdd, scim.MembersReplace:
			added += len(e.IDs)
		case scim.MembersRemove:
			removed += len(e.IDs)
		}
	}
	r, err := d.store.UpdateResource(ctx, scim.Groups, t.ID, id, func(r *scim.Resource) (store.Change, error) {
		if err := checkVersion(r, ifMatch); err != nil {
			return store.Change{}, err
		}
		next, changed, err := patch.ApplyContext(ctx, scim.Groups, r.Attrs, rest, d.patchLimits())
		if err != nil {
			return store.Change{}, err
		}
		if err := groupRules(next); err != nil {
			return store.Change{}, err
		}
		if err := d.checkStored(scim.Groups, next); err != nil {
			return store.Change{}, err
		}
		ev.ResourceName = scim.String(next, "displayName")
		if len(edits) > 0 {
			changed = append(changed, "members")
			ev.Detail = fmt.Sprintf("members added: %d, removed: %d", added, removed)
		}
		if len(changed) == 0 {
			return store.Change{Skip: true}, nil
		}
		ev.Changed = changed
		return store.Change{Attrs: next, Members: edits, Event: ev}, nil
	})
	if err != nil {
		return nil, d.finish(ctx, t, ev, notFound(scim.Groups, id, err), fmt.Sprintf("displayName %q", ev.ResourceName))
	}
	return r, d.finish(ctx, t, ev, nil, "")
}

// DeleteGroup deletes a group and its memberships; its members stay.
func (d *Directory) DeleteGroup(ctx context.Context, t store.Tenant, id, ifMatch string) error {
	return d.delete(ctx, scim.Groups, t, id, ifMatch, EventGroupDelete, "displayName")
}
