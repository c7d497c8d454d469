package directory

import (
	"context"
	"errors"
	"fmt"
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
