package directory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
)

// ErrAmbiguousLogin is returned by FindLoginUser when the login name is no user's userName
// and the primary email of several users: signing in as one of them would be a guess. (A
// userName match wins over email matches: userName is unique.)
var ErrAmbiguousLogin = errors.New("directory: the login name matches more than one user")

// loginFilters are `userName eq name` and `emails[value eq name and primary eq true]`,
// built as trees: the name from the assertion is a value, never filter text.
func loginFilters(name string) (byUserName, byEmail filter.Expr, err error) {
	userName, err := scim.Users.Resolve("", "userName", "")
	if err != nil {
		return nil, nil, err
	}
	emails, err := scim.Users.Resolve("", "emails", "")
	if err != nil {
		return nil, nil, err
	}
	value, err := scim.Users.Resolve("", "emails", "value")
	if err != nil {
		return nil, nil, err
	}
	primary, err := scim.Users.Resolve("", "emails", "primary")
	if err != nil {
		return nil, nil, err
	}
	return &filter.Compare{Path: userName, Op: "eq", Value: name},
		&filter.ValuePath{Attr: emails, Filter: &filter.Logical{Op: "and",
			Left:  &filter.Compare{Path: value, Op: "eq", Value: name},
			Right: &filter.Compare{Path: primary, Op: "eq", Value: true},
		}}, nil
}

// FindLoginUser returns the user of tenant t that a SAML NameID names: the user whose
// userName is name, or else the one whose primary email is name, both compared
// case-insensitively, active or not (the caller refuses inactive users; JIT must not create
// them again). The userName match is looked up first and always wins, however many users
// have name as their primary email. It returns nil and no error when no user matches,
// ErrAmbiguousLogin when no userName matches and several primary emails do, and store
// errors (mapped as for SCIM) when the database fails.
func (d *Directory) FindLoginUser(ctx context.Context, t store.Tenant, name string) (*scim.Resource, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, nil
	}
	byUserName, byEmail, err := loginFilters(name)
	if err != nil {
		return nil, fmt.Errorf("directory: login filter: %w", err)
	}
	for _, f := range []filter.Expr{byUserName, byEmail} {
		page, err := d.store.ListResources(ctx, scim.Users, t.ID, store.Query{Filter: f, StartIndex: 1, Count: 2})
		if err != nil {
			return nil, mapError(err, "")
		}
		switch len(page.Resources) {
		case 0:
			continue
		case 1:
			return page.Resources[0], nil
		}
		return nil, ErrAmbiguousLogin
	}
	return nil, nil
}

// Why SignIn refuses a sign-in.
var (
	// ErrInactive: the user is deactivated, and a deactivated user cannot sign in.
	ErrInactive = errors.New("directory: the user is deactivated")
	// ErrNotProvisioned: no user has the login name, and just-in-time creation is off.
	ErrNotProvisioned = errors.New("directory: no user has the login name")
	// ErrJITRefused wraps the error of creating a user just in time (a *scim.Error when
	// the attributes were refused).
	ErrJITRefused = errors.New("directory: the just-in-time user was refused")
)

// CanSignIn reports whether u may sign in (or keep a session): only an active user may.
func CanSignIn(u *scim.Resource) bool { return u.Attrs["active"] != false }

// SignIn returns the user a single sign-on as name is for: the user FindLoginUser finds,
// refused with ErrInactive when deactivated; or, when no user matches and jit is not nil,
// the user created just in time from jit's attributes. jit's userType is kept only when it
// is one of the tenant's types (in the tenant's case); otherwise the tenant's default
// applies. Errors: ErrInactive; ErrNotProvisioned (no user and jit is nil);
// ErrAmbiguousLogin; ErrJITRefused wrapping the error of the create; store errors of the
// lookup (mapped as for SCIM).
func (d *Directory) SignIn(ctx context.Context, t store.Tenant, name string, jit map[string]any) (*scim.Resource, error) {
	user, err := d.FindLoginUser(ctx, t, name)
	switch {
	case err != nil:
		return nil, err
	case user != nil && !CanSignIn(user):
		return nil, ErrInactive
	case user != nil:
		return user, nil
	case jit == nil:
		return nil, ErrNotProvisioned
	}
	attrs := maps.Clone(jit)
	ut, _ := attrs["userType"].(string)
	delete(attrs, "userType")
	for _, known := range t.UserTypes {
		if strings.EqualFold(known, ut) {
			attrs["userType"] = known
		}
	}
	user, err = d.CreateJITUser(ctx, t, attrs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJITRefused, err)
	}
	return user, nil
}
