package directory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/store"
)

// userRules checks what every stored user must satisfy and puts userType in canonical case.
func userRules(t store.Tenant, attrs map[string]any) error {
	if strings.TrimSpace(scim.String(attrs, "userName")) == "" {
		return scim.BadRequest(scim.InvalidValue, "userName is required")
	}
	if ut, ok := attrs["userType"].(string); ok {
		canon := ""
		for _, allowed := range t.UserTypes {
			if strings.EqualFold(ut, allowed) {
				canon = allowed
			}
		}
		if canon == "" {
			return scim.BadRequest(scim.InvalidValue, "userType %q is not one of %s", ut, strings.Join(t.UserTypes, ", "))
		}
		attrs["userType"] = canon
	}
	if _, ok := attrs["active"].(bool); !ok {
		attrs["active"] = true
	}
	return nil
}

// CreateUser creates a user from a POST body. userType defaults to the tenant's default,
// active to true. Errors: 400 invalidValue, 409 uniqueness.
func (d *Directory) CreateUser(ctx context.Context, t store.Tenant, body map[string]any) (*scim.Resource, error) {
	if err := scim.CheckSchemas(body, scim.UserSchema); err != nil {
		return nil, d.refuse(ctx, t, EventUserCreate, resourceTypeUser, "", body, err)
	}
	attrs, err := scim.Users.Normalize(body)
	if err != nil {
		return nil, d.refuse(ctx, t, EventUserCreate, resourceTypeUser, "", body, err)
	}
	return d.createUser(ctx, t, attrs, EventUserCreate, nil)
}

// CreateJITUser creates a user from a SAML assertion's attributes (already in schema form).
// attrs[JITGroups] ([]string), when present, names the assertion's groups: with userType
// from group rules, they decide the user's userType.
// A user whose email is another user's userName or primary email is never created: the
// IdP names a person scimd already has (under an opaque NameID, say), and a second account
// would carry their address. Errors: 409 uniqueness for that, and as CreateUser.
func (d *Directory) CreateJITUser(ctx context.Context, t store.Tenant, attrs map[string]any) (*scim.Resource, error) {
	groups, _ := attrs[JITGroups].([]string)
	delete(attrs, JITGroups)
	emails, _ := attrs["emails"].([]any)
	for _, e := range emails {
		m, _ := e.(map[string]any)
		email := scim.String(m, "value")
		if email == "" {
			continue
		}
		other, err := d.FindLoginUser(ctx, t, email)
		if err != nil && !errors.Is(err, ErrAmbiguousLogin) {
			return nil, err
		}
		if other != nil || err != nil {
			err := scim.Errorf(http.StatusConflict, scim.Uniqueness, "the email %q is already the userName or primary email of another user", email)
			return nil, d.finish(ctx, t, d.event(ctx, t, EventUserJIT, resourceTypeUser, "", scim.String(attrs, "userName")), err, "")
		}
	}
	return d.createUser(ctx, t, attrs, EventUserJIT, groups)
}

func (d *Directory) createUser(ctx context.Context, t store.Tenant, attrs map[string]any, event string, jitGroups []string) (*scim.Resource, error) {
	if err := d.userTypeOnWrite(ctx, t, attrs, nil, jitGroups); err != nil {
		return nil, mapError(err, "")
	}
	if _, ok := attrs["userType"]; !ok && t.DefaultUserType != "" {
		attrs["userType"] = t.DefaultUserType
	}
	now := d.now()
	r := &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: now, LastModified: now, Version: 1}, Attrs: attrs}
	ev := d.event(ctx, t, event, resourceTypeUser, r.ID, scim.String(attrs, "userName"))
	ev.Method = http.MethodPost
	err := userRules(t, attrs)
	if err == nil {
		err = d.checkStored(scim.Users, attrs)
	}
	if err != nil {
		ev.ResourceID = ""
		return nil, d.finish(ctx, t, ev, err, "")
	}
	ev.Changed = changedAttrs(scim.Users, nil, attrs)
	if err := d.store.CreateResource(ctx, scim.Users, t.ID, r, nil, ev); err != nil {
		ev.ResourceID = ""
		return nil, d.finish(ctx, t, ev, err, fmt.Sprintf("userName %q", scim.String(attrs, "userName")))
	}
	return r, d.finish(ctx, t, ev, nil, "")
}

// refuse records a request refused before it reached the store.
func (d *Directory) refuse(ctx context.Context, t store.Tenant, event, rtype, id string, body map[string]any, err error) error {
	name := ""
	for k, v := range body {
		if s, ok := v.(string); ok && (strings.EqualFold(k, "userName") || strings.EqualFold(k, "displayName") && rtype == resourceTypeGroup) {
			name = s
		}
	}
	return d.finish(ctx, t, d.event(ctx, t, event, rtype, id, name), err, "")
}

// ReplaceUser replaces a user's attributes from a PUT body. active and userType change only
// through PATCH: left out, they keep their values; sent with another value, 400 mutability.
// The read-only groups attribute sent back unchanged (GET-modify-PUT) is ignored; sent
// changed, 400 mutability. With userType from group rules, a sent userType is ignored (the
// rules decide; the store recomputes it in the same transaction). Errors: 404, 412 for a
// stale If-Match, 400, 409.
func (d *Directory) ReplaceUser(ctx context.Context, t store.Tenant, id string, body map[string]any, ifMatch string) (*scim.Resource, error) {
	ev := d.event(ctx, t, EventUserUpdate, resourceTypeUser, id, "")
	ev.Method = http.MethodPut
	if err := scim.CheckSchemas(body, scim.UserSchema); err != nil {
		return nil, d.finish(ctx, t, ev, err, "")
	}
	attrs, err := scim.Users.Normalize(body)
	if err != nil {
		return nil, d.finish(ctx, t, ev, err, "")
	}
	ev.ResourceName = scim.String(attrs, "userName")
	r, err := d.store.UpdateResource(ctx, scim.Users, t.ID, id, func(r *scim.Resource) (store.Change, error) {
		if err := checkVersion(r, ifMatch); err != nil {
			return store.Change{}, err
		}
		next := copyMap(attrs)
		if err := d.userTypeOnWrite(ctx, t, next, r.Attrs, nil); err != nil {
			return store.Change{}, err
		}
		for _, name := range []string{"active", "userType"} {
			sent, ok := next[name]
			if !ok {
				if cur, had := r.Attrs[name]; had {
					next[name] = cur
				}
				continue
			}
			if name == "userType" {
				if err := userRules(t, next); err != nil {
					return store.Change{}, err
				}
				sent = next[name]
			}
			if fmt.Sprint(sent) != fmt.Sprint(r.Attrs[name]) {
				return store.Change{}, scim.BadRequest(scim.Mutability, "%s can be changed only with PATCH, not PUT", name)
			}
		}
		if err := checkGroupsUnchanged(body, r); err != nil {
			return store.Change{}, err
		}
		if err := userRules(t, next); err != nil {
			return store.Change{}, err
		}
		if err := d.checkStored(scim.Users, next); err != nil {
			return store.Change{}, err
		}
		if ev.Changed = changedAttrs(scim.Users, r.Attrs, next); len(ev.Changed) == 0 {
			return store.Change{Skip: true}, nil
		}
		return store.Change{Attrs: next, Event: ev}, nil
	})
	if err != nil {
		return nil, d.finish(ctx, t, ev, notFound(scim.Users, id, err), fmt.Sprintf("userName %q", ev.ResourceName))
	}
	return r, d.finish(ctx, t, ev, nil, "")
}

// checkGroupsUnchanged refuses a PUT body whose groups attribute differs from the user's.
func checkGroupsUnchanged(body map[string]any, r *scim.Resource) error {
	for k, v := range body {
		if !strings.EqualFold(k, "groups") || v == nil {
			continue
		}
		sent := map[string]bool{}
		list, _ := v.([]any)
		for _, g := range list {
			if m, ok := g.(map[string]any); ok {
				for mk, mv := range m {
					if s, ok := mv.(string); ok && strings.EqualFold(mk, "value") {
						sent[strings.ToLower(s)] = true
					}
				}
			}
		}
		cur := map[string]bool{}
		have, _ := r.Attrs["groups"].([]any)
		for _, g := range have {
			cur[strings.ToLower(scim.String(g.(map[string]any), "value"))] = true
		}
		if fmt.Sprint(sent) != fmt.Sprint(cur) {
			return scim.BadRequest(scim.Mutability, "groups is read-only: change group membership through /Groups")
		}
	}
	return nil
}

// PatchUser applies PATCH operations. Turning active to false is a user_deprovision event.
// With userType from group rules, an operation on userType is ignored.
func (d *Directory) PatchUser(ctx context.Context, t store.Tenant, id string, ops []patch.Operation, ifMatch string) (*scim.Resource, error) {
	ev := d.event(ctx, t, EventUserUpdate, resourceTypeUser, id, "")
	ev.Method = http.MethodPatch
	r, err := d.store.UpdateResource(ctx, scim.Users, t.ID, id, func(r *scim.Resource) (store.Change, error) {
		if err := checkVersion(r, ifMatch); err != nil {
			return store.Change{}, err
		}
		next, changed, err := patch.ApplyContext(ctx, scim.Users, copyMap(r.Attrs), ops, d.patchLimits())
		if err != nil {
			return store.Change{}, err
		}
		if t.UserTypeSource == store.UserTypeFromGroups {
			// The rules decide: a userType the IdP sends is ignored, not refused.
			if err := d.userTypeOnWrite(ctx, t, next, r.Attrs, nil); err != nil {
				return store.Change{}, err
			}
			changed = slices.DeleteFunc(changed, func(c string) bool { return c == "userType" })
		}
		if err := keepsAccessAttrs(r.Attrs, next); err != nil {
			return store.Change{}, err
		}
		if err := userRules(t, next); err != nil {
			return store.Change{}, err
		}
		if err := d.checkStored(scim.Users, next); err != nil {
			return store.Change{}, err
		}
		ev.ResourceName = scim.String(next, "userName")
		if len(changed) == 0 {
			return store.Change{Skip: true}, nil
		}
		ev.Changed, ev.Name = changed, EventUserUpdate
		if r.Attrs["active"] == true && next["active"] == false {
			ev.Name = EventUserDeprov
		}
		return store.Change{Attrs: next, Event: ev}, nil
	})
	if err != nil {
		return nil, d.finish(ctx, t, ev, notFound(scim.Users, id, err), fmt.Sprintf("userName %q", ev.ResourceName))
	}
	return r, d.finish(ctx, t, ev, nil, "")
}

// keepsAccessAttrs refuses a PATCH that takes active or userType away, whatever its form (a
// remove by path, URN-qualified path or value path, a replace with null): without a value
// the rules would restore the defaults, so a remove of active would silently re-activate a
// deprovisioned user. Errors: 400 mutability, naming the attribute and the replace to send.
func keepsAccessAttrs(before, after map[string]any) error {
	for _, name := range []string{"active", "userType"} {
		if _, had := before[name]; !had {
			continue
		}
		if _, has := after[name]; !has {
			return scim.BadRequest(scim.Mutability, "%s cannot be removed; use a replace operation with the new value", name)
		}
	}
	return nil
}

// DeleteUser deletes a user and their memberships.
func (d *Directory) DeleteUser(ctx context.Context, t store.Tenant, id, ifMatch string) error {
	return d.delete(ctx, scim.Users, t, id, ifMatch, EventUserDelete, "userName")
}

// SetUserActive deactivates or reactivates a user (admin console, tests).
func (d *Directory) SetUserActive(ctx context.Context, t store.Tenant, id string, active bool) (*scim.Resource, error) {
	ops := []patch.Operation{{Op: "replace", Path: nil, Value: map[string]any{"active": active}}}
	return d.PatchUser(ctx, t, id, ops, "")
}

func (d *Directory) delete(ctx context.Context, rt *scim.ResourceType, t store.Tenant, id, ifMatch, event, nameAttr string) error {
	ev := d.event(ctx, t, event, rt.Name, id, "")
	ev.Method = http.MethodDelete
	err := d.store.DeleteResource(ctx, rt, t.ID, id, func(r *scim.Resource) (*store.Event, error) {
		if err := checkVersion(r, ifMatch); err != nil {
			return nil, err
		}
		ev.ResourceName = scim.String(r.Attrs, nameAttr)
		return ev, nil
	})
	return d.finish(ctx, t, ev, notFound(rt, id, err), "")
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
