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

// loginFilter is `userName eq name or emails[value eq name and primary eq true]`, built as a
// tree: the name from the assertion is a value, never filter text.
func loginFilter(name string) (filter.Expr, error) {
	userName, err := scim.Users.Resolve("", "userName", "")
	if err != nil {
		return nil, err
	}
	emails, err := scim.Users.Resolve("", "emails", "")
	if err != nil {
		return nil, err
	}
	value, err := scim.Users.Resolve("", "emails", "value")
	if err != nil {
		return nil, err
	}
	primary, err := scim.Users.Resolve("", "emails", "primary")
	if err != nil {
		return nil, err
	}
	return &filter.Logical{Op: "or",
		Left: &filter.Compare{Path: userName, Op: "eq", Value: name},
		Right: &filter.ValuePath{Attr: emails, Filter: &filter.Logical{Op: "and",
			Left:  &filter.Compare{Path: value, Op: "eq", Value: name},
			Right: &filter.Compare{Path: primary, Op: "eq", Value: true},
		}},
	}, nil
}

// FindLoginUser returns the user of tenant t that a SAML NameID names: the user whose
// userName is name, or else the one whose primary email is name, both compared
// case-insensitively, active or not (the caller refuses inactive users; JIT must not create
// them again). It returns nil and no error when no user matches, ErrAmbiguousLogin when the
// match is not unique, and store errors (mapped as for SCIM) when the database fails.
func (d *Directory) FindLoginUser(ctx context.Context, t store.Tenant, name string) (*scim.Resource, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, nil
	}
	f, err := loginFilter(name)
	if err != nil {
		return nil, fmt.Errorf("directory: login filter: %w", err)
	}
	page, err := d.store.ListResources(ctx, scim.Users, t.ID, store.Query{Filter: f, StartIndex: 1, Count: 3})
	if err != nil {
		return nil, mapError(err, "")
	}
	var byUserName, byEmail []*scim.Resource
	for _, r := range page.Resources {
		if strings.EqualFold(scim.String(r.Attrs, "userName"), name) {
			byUserName = append(byUserName, r)
		} else {
			byEmail = append(byEmail, r)
		}
	}
	switch {
	case len(byUserName) == 1:
		return byUserName[0], nil
	case len(byUserName) == 0 && len(byEmail) == 1:
		return byEmail[0], nil
	case len(byUserName) == 0 && len(byEmail) == 0:
		return nil, nil
	}
	return nil, ErrAmbiguousLogin
}
