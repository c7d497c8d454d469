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

	"github.com/scimd/scimd/internal/scim"
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

// Directory applies the product's rules on a store.
type Directory struct {
	store   store.Store
	log     *slog.Logger
	observe Observer
	now     func() time.Time
}

// New returns a Directory on s. observe may be nil.
func New(s store.Store, log *slog.Logger, observe Observer) *Directory {
	if observe == nil {
		observe = func(store.Event) {}
	}
	return &Directory{store: s, log: log, observe: observe, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
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

// mapError turns store errors into SCIM errors; what names the unique attribute.
func mapError(err error, what string) error {
	var unknown *store.UnknownMemberError
	switch {
	case scim.AsError(err) != nil:
		return err
	case errors.Is(err, store.ErrNotFound):
		return scim.Errorf(http.StatusNotFound, "", "resource not found")
	case errors.Is(err, store.ErrConflict):
		return scim.Errorf(http.StatusConflict, scim.Uniqueness, "%s is already taken", what)
	case errors.As(err, &unknown):
		return scim.BadRequest(scim.InvalidValue, "member %q is not a user or group of this tenant", unknown.ID)
	case errors.Is(err, store.ErrInvalidText):
		return scim.BadRequest(scim.InvalidValue, "a value holds text that cannot be stored (a NUL character)")
	case errors.Is(err, store.ErrUnavailable):
		return scim.Errorf(http.StatusServiceUnavailable, "", "the database is unavailable; retry later")
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
		return nil, scim.NotFound(rt.Name, id)
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
		return scim.NotFound(rt.Name, id)
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

// Record writes an administrative audit event (a token made or revoked, SAML configured) for
// the tenant, with the actor of ctx, and tells the observer. A failure to write it is
// returned: the caller's change is already made, and the operator must hear of the gap.
func (d *Directory) Record(ctx context.Context, t store.Tenant, ev store.Event) error {
	a := ActorFrom(ctx)
	ev.TenantID, ev.At, ev.Outcome, ev.Actor = t.ID, d.now(), OutcomeSuccess, a.Name
	if ev.TokenID == "" {
		ev.TokenID = a.TokenID
	}
	if err := d.store.AppendEvent(context.WithoutCancel(ctx), &ev); err != nil {
		return fmt.Errorf("audit event %s not written: %w", ev.Name, err)
	}
	d.observe(ev)
	return nil
}
