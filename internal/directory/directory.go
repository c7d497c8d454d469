// Package directory holds the rules of this product for users and groups: what a create,
// a PUT, a PATCH and a delete may do, defaults, mutability, uniqueness, and the audit event
// of every provisioning change. SCIM handlers and SAML just-in-time provisioning both go
// through it; nothing else writes users or groups.
package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/store"
)

// Event names, as the IdP logs them on its side.
const (
	EventUserCreate  = "user_create_provision"
	EventUserUpdate  = "user_update_provision"
	EventUserDeprov  = "user_deprovision"
	EventUserDelete  = "user_delete_provision"
	EventUserJIT     = "user_jit_provision"
	EventGroupCreate = "group_create_provision"
	EventGroupUpdate = "group_update_provision"
	EventGroupDelete = "group_delete_provision"
	EventAuthFailure = "auth_failure"
	// Administrative changes, from the CLI or the admin console.
	EventTokenCreate   = "scim_token_create"
	EventTokenRevoke   = "scim_token_revoke"
	EventSAMLConfigure = "saml_configure"
	EventUserTypes     = "user_types_update"
	// Sign-ins to the application through scimd's OpenID Connect provider: granted, or
	// refused with the reason in the detail; and a grant revoked because its code or
	// refresh token was replayed.
	EventAppSignIn        = "app_sign_in"
	EventAppFamilyRevoked = "app_token_family_revoked"
	// EventSAMLLoginRefused is a refused or failed SAML login; its detail is the reason in
	// words for the tenant's administrator (what the SAML library found, which certificate
	// signed, by how much a clock is off).
	EventSAMLLoginRefused = "saml_login_refused"
	OutcomeSuccess        = "success"
	OutcomeClientErr      = "client_error"
	OutcomeServerErr      = "server_error"
	resourceTypeUser      = "User"
	resourceTypeGroup     = "Group"
)

// ActorSAML is the actor of just-in-time provisioning at a SAML login.
const ActorSAML = "saml"

// Actor is who makes a change: a SCIM token, SAML just-in-time provisioning, or the CLI.
type Actor struct {
	Name    string // "token <label>", "saml", "cli"
	TokenID string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor of the changes made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor carried by ctx, or "unknown".
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Name: "unknown"}
}

// Observer is told of every audit event written (metrics count them).
type Observer func(ev store.Event)

// MaxMembersPerRequest is the default bound on the member values one request may carry.
const MaxMembersPerRequest = 10000

// Limits are the bounds on one request's input that the directory's callers apply through
// it (ParseFilter, ParsePatch) and that it applies itself (members). They travel as a value
// from scimd serve's flags; a zero field is its default.
type Limits struct {
	Filter               filter.Limits
	MaxPatchOperations   int // default patch.MaxOperations
	MaxMembersPerRequest int // default MaxMembersPerRequest
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	defaults.Positive(&l.Filter.MaxLength, filter.MaxLength)
	defaults.Positive(&l.Filter.MaxDepth, filter.MaxDepth)
	defaults.Positive(&l.MaxPatchOperations, patch.MaxOperations)
	defaults.Positive(&l.MaxMembersPerRequest, MaxMembersPerRequest)
	return l
}

// Directory applies the product's rules on a store.
type Directory struct {
	store   store.Store
	log     *slog.Logger
	observe Observer
	limits  Limits
	now     func() time.Time
	bounds  Bounds
}

// New returns a Directory on s with the default Limits. observe may be nil.
func New(s store.Store, log *slog.Logger, observe Observer) *Directory {
	return NewWithLimits(s, log, observe, Limits{})
}

// NewWithLimits returns a Directory on s whose requests are bounded by lim. observe may be
// nil.
func NewWithLimits(s store.Store, log *slog.Logger, observe Observer, lim Limits) *Directory {
	if observe == nil {
		observe = func(store.Event) {}
	}
	return &Directory{store: s, log: log, observe: observe, limits: lim.withDefaults(), bounds: Bounds{}.withDefaults(),
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// Limits returns the directory's bounds, defaults filled in.
func (d *Directory) Limits() Limits { return d.limits }

// ParseFilter parses a filter of rt within the directory's bounds (filter.Parse).
func (d *Directory) ParseFilter(s string, rt *scim.ResourceType) (filter.Expr, error) {
	return d.limits.Filter.Parse(s, rt)
}

// ParsePatch parses a PatchOp body of rt within the directory's bounds (patch.Parse).
func (d *Directory) ParsePatch(body map[string]any, rt *scim.ResourceType) ([]patch.Operation, error) {
	return d.patchLimits().Parse(body, rt)
}

func (d *Directory) event(ctx context.Context, t store.Tenant, name, rtype, id, resName string) *store.Event {
	a := ActorFrom(ctx)
	if _, ok := ctx.Value(actorKey{}).(Actor); !ok && name == EventUserJIT {
		a = Actor{Name: ActorSAML} // a login names no other actor
	}
	return &store.Event{TenantID: t.ID, At: d.now(), Name: name, Outcome: OutcomeSuccess, Actor: a.Name, TokenID: a.TokenID,
		ResourceType: rtype, ResourceID: id, ResourceName: resName}
}

// finish maps a store error to the SCIM error the client sees, records a refused or
// failed change as an audit event of its own, and tells the observer.
func (d *Directory) finish(ctx context.Context, t store.Tenant, ev *store.Event, err error, what string) error {
	if err == nil {
		if ev != nil {
			d.observe(*ev)
		}
		return nil
	}
	err = mapError(err, what)
	if ev == nil {
		return err
	}
	failed := *ev
	failed.Outcome = OutcomeServerErr
	if se := scim.AsError(err); se != nil && se.Status < 500 {
		failed.Outcome = OutcomeClientErr
		failed.Detail = se.Detail
	}
	failed.Changed = nil
	if se := scim.AsError(err); se == nil || se.Status != http.StatusServiceUnavailable {
		if aerr := d.store.AppendEvent(context.WithoutCancel(ctx), &failed); aerr != nil {
			d.log.ErrorContext(ctx, "audit event not written", "event", failed.Name, "err", aerr)
		}
	}
	d.observe(failed)
	return err
}

// mapError turns store errors into SCIM errors (store.SCIMError); what names the unique
// attribute. Other errors are returned as they are.
func mapError(err error, what string) error {
	if se := store.SCIMError(err, what); se != nil {
		return se
	}
	return err
}

// checkVersion implements If-Match: ifMatch is "", "*", or a list of entity tags.
func checkVersion(r *scim.Resource, ifMatch string) error {
	if ifMatch == "" || strings.TrimSpace(ifMatch) == "*" {
		return nil
	}
	want := strings.TrimPrefix(r.Meta.ETag(), "W/")
	for _, tag := range strings.Split(ifMatch, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == want {
			return nil
		}
	}
	return scim.Errorf(http.StatusPreconditionFailed, "", "the resource has changed (version %s); read it again", r.Meta.ETag())
}

// Get returns one resource. withMembers as in store.Query.
func (d *Directory) Get(ctx context.Context, rt *scim.ResourceType, t store.Tenant, id string, withMembers bool) (*scim.Resource, error) {
	r, err := d.store.Resource(ctx, rt, t.ID, id, withMembers)
	if errors.Is(err, store.ErrNotFound) {
		return nil, scim.NotFound(rt.Name, id).Wrap(err)
	}
	return r, mapError(err, "")
}

// List returns a page of resources.
func (d *Directory) List(ctx context.Context, rt *scim.ResourceType, t store.Tenant, q store.Query) (store.Page, error) {
	p, err := d.store.ListResources(ctx, rt, t.ID, q)
	return p, mapError(err, "")
}

func notFound(rt *scim.ResourceType, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return scim.NotFound(rt.Name, id).Wrap(err)
	}
	return err
}

// changedAttrs lists the top-level attributes whose values differ between a and b (names,
// never values; extension attributes as URN:name).
func changedAttrs(rt *scim.ResourceType, a, b map[string]any) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if seen[k] || k == "groups" || k == "members" {
				continue
			}
			seen[k] = true
			if rt.Extension(k) != nil {
				ea, _ := a[k].(map[string]any)
				eb, _ := b[k].(map[string]any)
				for _, name := range changedAttrs(rt, ea, eb) {
					out = append(out, k+":"+name)
				}
				continue
			}
			if fmt.Sprint(a[k]) != fmt.Sprint(b[k]) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// RecordAuthFailure writes the audit event of a refused token whose tenant is known (a
// revoked token; unknown tokens name no tenant), in its own transaction, and tells the
// observer. The write outlives the request: the refusal is already on its way to the client.
func (d *Directory) RecordAuthFailure(ctx context.Context, tok store.Token, reason string) {
	ev := &store.Event{TenantID: tok.TenantID, At: d.now(), Name: EventAuthFailure, Outcome: OutcomeClientErr,
		Actor: "token " + tok.Label, TokenID: tok.ID, Detail: "token " + reason}
	if err := d.store.AppendEvent(context.WithoutCancel(ctx), ev); err != nil {
		d.log.WarnContext(ctx, "audit event not written", "err", err)
	}
	d.observe(*ev)
}
