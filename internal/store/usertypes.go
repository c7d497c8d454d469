package store

import (
	"context"
	"time"
)

// Sources of a tenant's users' userType.
const (
	// UserTypeFromIdP: what the IdP sends, else the tenant's default (PATCH changes it).
	UserTypeFromIdP = "idp"
	// UserTypeFromGroups: the tenant's ordered group rules, first match wins, else the default.
	UserTypeFromGroups = "groups"
)

// UserTypeRule gives the users of a group a userType. Group names the group by its
// displayName (case-insensitively) or its id.
type UserTypeRule struct {
	Group    string
	UserType string
}

// UserTypeRules is a tenant's source of userType and, for UserTypeFromGroups, its rules in
// order (the first rule naming one of a user's groups wins). GroupsAttr is the SAML attribute
// naming a just-in-time user's groups ("" for the default).
type UserTypeRules struct {
	Source     string
	Rules      []UserTypeRule
	GroupsAttr string
}

// UserTypeProgress is where the recomputation of every user after a rule change stands.
type UserTypeProgress struct {
	Pending bool // a recomputation is due or under way
	Done    int  // users recomputed so far (those up to the batch position)
	Total   int  // users of the tenant
	Changed int  // users whose userType the last batch changed
	Started time.Time
}

// UserTypeStore keeps a tenant's userType rules and recomputes its users' userType from them.
//
// With UserTypeFromGroups, the other writes recompute in their own transaction the userType of
// the users they can affect, set-based (one statement per set of users, never a loop over
// them): a group's membership edits (the users added or removed; on a replace, the old and
// the new members), a group renamed or deleted while a rule names it (its members), a user
// updated (that user). The tenant's source is read share-locked, so a rule change waits for
// these writes and they for it. Each user whose userType changes gets an audit event
// user_update_provision (changed userType, the detail naming the rule), with the actor of the
// write's event. Only direct memberships count.
type UserTypeStore interface {
	// UserTypeRules returns the tenant's source, rules and SAML groups attribute; ErrNotFound.
	UserTypeRules(ctx context.Context, tenantID string) (UserTypeRules, error)
	// SetUserTypeRules replaces the tenant's source, rules and groups attribute, writes ev,
	// and (with UserTypeFromGroups) starts a recomputation of every user, in one transaction;
	// ErrNotFound.
	SetUserTypeRules(ctx context.Context, tenantID string, rules UserTypeRules, ev *Event) error
	// RecomputeUserTypes recomputes the next batch of at most n users (by id) of the tenant's
	// pending recomputation in one transaction, with actor's Actor and TokenID on the audit
	// events, and returns the progress after it. Nothing pending: Pending false. Batches of
	// concurrent callers serialise; an interrupted recomputation resumes where it stopped.
	RecomputeUserTypes(ctx context.Context, tenantID string, n int, actor Event) (UserTypeProgress, error)
	// UserTypeProgress returns the progress of the tenant's pending recomputation.
	UserTypeProgress(ctx context.Context, tenantID string) (UserTypeProgress, error)
}
