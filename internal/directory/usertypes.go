package directory

import (
	"context"
	"fmt"
	"strings"

	"github.com/scimd/scimd/internal/store"
)

// userType from IdP groups. A tenant's source of userType is "idp" (what the IdP sends, else
// the default) or "groups": an ordered list of rules "group → userType", where a group is
// named by its displayName (case-insensitively) or its id, the first rule naming one of the
// user's groups wins, and no match gives the tenant's default. The rules are checked and
// evaluated here (EvaluateUserType; SAML just-in-time users); the store applies the same
// rule set-based inside every write that can change a user's groups (store.UserTypeStore).

// EventUserTypeRules is the audit event of a change of a tenant's userType source or rules.
const EventUserTypeRules = "user_type_rules_update"

// JITGroups is the key, in the attributes of a just-in-time user, under which SAML passes
// the groups the assertion names ([]string); it is never stored.
const JITGroups = "groups"

// Bounds of the rules.
const (
	// MaxUserTypeRules is the most rules a tenant may have: each write that recomputes a
	// user compares its groups with every rule.
	MaxUserTypeRules = 50
	// MaxRuleGroupLen bounds a rule's group reference, in bytes.
	MaxRuleGroupLen = 256
	// RecomputeBatch is how many users one recomputation batch after a rule change covers.
	RecomputeBatch = 5000
)

// rulesErrorf is a rule set refused for its content: an *InputError whose Field is "source",
// "rules" or "groups_attribute".
func rulesErrorf(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ParseUserTypeRule reads a rule written "GROUP=USERTYPE" (the CLI's --rule, one line of the
// console's rules box). The group is everything before the last "=", so a group name may
// hold "=". Errors: *InputError.
func ParseUserTypeRule(s string) (store.UserTypeRule, error) {
	i := strings.LastIndex(s, "=")
	if i < 0 {
		return store.UserTypeRule{}, rulesErrorf("rules", "rule %q: write it as GROUP=USERTYPE, such as \"Monday Admins=admin\"", s)
	}
	return store.UserTypeRule{Group: strings.TrimSpace(s[:i]), UserType: strings.TrimSpace(s[i+1:])}, nil
}

// CheckUserTypeRules checks a rule set for tenant t and returns it in canonical form: source
// "idp" or "groups", at most MaxUserTypeRules rules, each naming a group (at most
// MaxRuleGroupLen bytes, no group twice) and one of the tenant's user types (in the tenant's
// case). Errors: *InputError.
func CheckUserTypeRules(t store.Tenant, in store.UserTypeRules) (store.UserTypeRules, error) {
	out := store.UserTypeRules{Source: strings.ToLower(strings.TrimSpace(in.Source)), GroupsAttr: strings.TrimSpace(in.GroupsAttr)}
	switch out.Source {
	case "":
		out.Source = store.UserTypeFromIdP
	case store.UserTypeFromIdP, store.UserTypeFromGroups:
	default:
		return out, rulesErrorf("source", "source %q: use %q (what the IdP sends) or %q (group rules)", in.Source, store.UserTypeFromIdP, store.UserTypeFromGroups)
	}
	if len(in.Rules) > MaxUserTypeRules {
		return out, rulesErrorf("rules", "%d rules: at most %d", len(in.Rules), MaxUserTypeRules)
	}
	if len(out.GroupsAttr) > MaxRuleGroupLen {
		return out, rulesErrorf("groups_attribute", "the groups attribute name is longer than %d bytes", MaxRuleGroupLen)
	}
	seen := map[string]int{}
	for i, r := range in.Rules {
		g := strings.TrimSpace(r.Group)
		switch {
		case g == "":
			return out, rulesErrorf("rules", "rule %d names no group", i+1)
		case len(g) > MaxRuleGroupLen:
			return out, rulesErrorf("rules", "rule %d: the group is longer than %d bytes", i+1, MaxRuleGroupLen)
		case strings.ContainsAny(g, "\x00\r\n"):
			return out, rulesErrorf("rules", "rule %d: the group holds a line break or NUL", i+1)
		}
		if j, dup := seen[strings.ToLower(g)]; dup {
			return out, rulesErrorf("rules", "rule %d names %q again (rule %d already does; only the first could match)", i+1, g, j)
		}
		seen[strings.ToLower(g)] = i + 1
		ut := ""
		for _, known := range t.UserTypes {
			if strings.EqualFold(known, strings.TrimSpace(r.UserType)) {
				ut = known
			}
		}
		if ut == "" {
			return out, rulesErrorf("rules", "rule %d (%s): userType %q is not one of %s", i+1, g, r.UserType, strings.Join(t.UserTypes, ", "))
		}
		out.Rules = append(out.Rules, store.UserTypeRule{Group: g, UserType: ut})
	}
	if out.Source == store.UserTypeFromGroups && len(out.Rules) == 0 {
		return out, rulesErrorf("rules", "source %q needs at least one rule (without rules every user gets the default %q)", store.UserTypeFromGroups, t.DefaultUserType)
	}
	return out, nil
}

// GroupRef is a group as the rules see it.
type GroupRef struct{ ID, DisplayName string }

// EvaluateUserType returns the userType the rules give a member of groups, and the index of
// the deciding rule (-1: none matches, the default def).
func EvaluateUserType(rules []store.UserTypeRule, def string, groups []GroupRef) (string, int) {
	for i, r := range rules {
		for _, g := range groups {
			if strings.EqualFold(r.Group, g.DisplayName) || g.ID != "" && strings.EqualFold(r.Group, g.ID) {
				return r.UserType, i
			}
		}
	}
	return def, -1
}

// UserTypeRules returns tenant t's source of userType, its rules and SAML groups attribute.
func (d *Directory) UserTypeRules(ctx context.Context, t store.Tenant) (store.UserTypeRules, error) {
	return d.store.UserTypeRules(ctx, t.ID)
}

// SetUserTypeRules checks and stores tenant t's source of userType and rules, audited as
// user_type_rules_update in the same transaction; with source "groups", every user is then
// due for recomputation (RecomputeUserTypes). It returns the tenant and rules as stored.
// Errors: *InputError; store errors.
func (d *Directory) SetUserTypeRules(ctx context.Context, t store.Tenant, in store.UserTypeRules) (store.Tenant, store.UserTypeRules, error) {
	rules, err := CheckUserTypeRules(t, in)
	if err != nil {
		return t, rules, err
	}
	ev := d.adminEvent(ctx, t, EventUserTypeRules, "Tenant", t.ID, t.Slug)
	ev.Detail = describeRules(rules)
	if err := d.store.SetUserTypeRules(ctx, t.ID, rules, ev); err != nil {
		return t, rules, err
	}
	d.observe(*ev)
	t.UserTypeSource = rules.Source
	return t, rules, nil
}

// describeRules is a rule set in one line, for the audit log and the CLI.
func describeRules(r store.UserTypeRules) string {
	if r.Source != store.UserTypeFromGroups {
		return "userType from the IdP"
	}
	parts := make([]string, len(r.Rules))
	for i, rule := range r.Rules {
		parts[i] = fmt.Sprintf("%q=%s", rule.Group, rule.UserType)
	}
	return "userType from groups: " + strings.Join(parts, ", ")
}

// RecomputeUserTypes recomputes the next batch (RecomputeBatch users) of tenant t's pending
// recomputation, each change audited with the actor of ctx, and returns the progress.
func (d *Directory) RecomputeUserTypes(ctx context.Context, t store.Tenant) (store.UserTypeProgress, error) {
	a := ActorFrom(ctx)
	p, err := d.store.RecomputeUserTypes(ctx, t.ID, RecomputeBatch, store.Event{Actor: a.Name, TokenID: a.TokenID})
	for range p.Changed {
		// The store wrote one event per changed user; the observer (metrics) counts them.
		d.observe(store.Event{TenantID: t.ID, Name: EventUserUpdate, Outcome: OutcomeSuccess, Actor: a.Name, ResourceType: resourceTypeUser})
	}
	return p, err
}

// UserTypeProgress returns where tenant t's recomputation stands.
func (d *Directory) UserTypeProgress(ctx context.Context, t store.Tenant) (store.UserTypeProgress, error) {
	return d.store.UserTypeProgress(ctx, t.ID)
}

// userTypeOnWrite applies the source of userType to the attributes of a user being created
// (or, when cur is not nil, updated from cur): in groups mode a userType the IdP sent is
// ignored; a new user starts with the default (it has no groups yet) or, just in time, with
// what the rules give the assertion's groups; an updated one keeps its stored value, which
// the store recomputes in the same transaction. jitGroups is nil outside SAML.
func (d *Directory) userTypeOnWrite(ctx context.Context, t store.Tenant, attrs, cur map[string]any, jitGroups []string) error {
	if t.UserTypeSource != store.UserTypeFromGroups {
		return nil
	}
	delete(attrs, "userType")
	if cur != nil {
		if ut, ok := cur["userType"]; ok {
			attrs["userType"] = ut
		}
		return nil
	}
	attrs["userType"] = t.DefaultUserType
	if len(jitGroups) == 0 {
		return nil
	}
	rules, err := d.store.UserTypeRules(ctx, t.ID)
	if err != nil {
		return err
	}
	refs := make([]GroupRef, len(jitGroups))
	for i, g := range jitGroups {
		refs[i] = GroupRef{ID: g, DisplayName: g} // IdPs send names or ids (Entra: object ids)
	}
	attrs["userType"], _ = EvaluateUserType(rules.Rules, t.DefaultUserType, refs)
	return nil
}
