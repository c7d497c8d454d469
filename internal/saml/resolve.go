package saml

import (
	"context"
	"errors"
	"net/http"
	"strings"

	csaml "github.com/crewjam/saml"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// maxNameIDLen bounds a persistent NameID that is remembered (SAML core §8.3.7 allows 256
// characters; anything longer is used for this login and not stored).
const maxNameIDLen = 1024

// persistentNameID returns the assertion's NameID when its format is persistent: an
// opaque, stable id for the user at this IdP, which names no account by itself.
func persistentNameID(a *csaml.Assertion) string {
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Format != string(csaml.PersistentNameIDFormat) {
		return ""
	}
	return strings.TrimSpace(a.Subject.NameID.Value)
}

// resolveUser finds the user an assertion signs in, before JIT creates anyone: by the
// IdP's persistent NameID remembered from an earlier login, then by the NameID as a
// userName or primary email (when it is not transient), then by the email attribute. The
// persistent NameID of a user found is remembered, so that a later login with a changed
// email still finds them. It returns the user (nil when none matches, active or not: the
// caller refuses inactive users), the name directory.SignIn looks up and JIT names the
// user by (the email for a persistent NameID, never the opaque id when an email came),
// and a login error.
func (s *Service) resolveUser(ctx context.Context, t store.Tenant, cfg store.SAMLConfig, a *csaml.Assertion, p profile) (*scim.Resource, string, *loginError) {
	unavailable := func(err error) *loginError {
		return refuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-in is unavailable; try again shortly.", err)
	}
	persistent := persistentNameID(a)
	name := loginName(a, p)
	if persistent != "" && p.Email != "" {
		name = p.Email
	}
	if name == "" {
		return nil, "", refuse(ReasonNoNameID, http.StatusForbidden, "The identity provider sent no NameID (or email) to sign in with.", nil)
	}
	if persistent != "" && len(persistent) <= maxNameIDLen {
		id, err := s.store.SAMLIdentity(ctx, t.ID, cfg.IdPEntityID, persistent)
		switch {
		case err == nil:
			user, err := s.dir.Get(ctx, scim.Users, t, id, true)
			if err == nil {
				return user, name, nil
			}
			if se := scim.AsError(err); se == nil || se.Status != http.StatusNotFound {
				return nil, "", unavailable(err)
			}
			// Deleted since the lookup: resolve by name below.
		case !errors.Is(err, store.ErrNotFound):
			return nil, "", unavailable(err)
		}
	}
	var candidates []string
	if id := loginName(a, profile{}); id != "" {
		candidates = append(candidates, id) // the NameID, unless transient
	}
	if p.Email != "" && (len(candidates) == 0 || !strings.EqualFold(candidates[0], p.Email)) {
		candidates = append(candidates, p.Email)
	}
	for _, c := range candidates {
		user, err := s.dir.FindLoginUser(ctx, t, c)
		switch {
		case errors.Is(err, directory.ErrAmbiguousLogin):
			return nil, "", refuse(ReasonAmbiguousUser, http.StatusForbidden, "Your sign-in name matches more than one account; ask your administrator.", err)
		case err != nil:
			return nil, "", unavailable(err)
		case user != nil:
			s.remember(ctx, t, cfg, persistent, user)
			return user, name, nil
		}
	}
	return nil, name, nil
}

// remember stores the persistent NameID of user; a failure is logged, not fatal (the
// login succeeds, and the next one resolves the user by email again).
func (s *Service) remember(ctx context.Context, t store.Tenant, cfg store.SAMLConfig, persistent string, user *scim.Resource) {
	if persistent == "" || len(persistent) > maxNameIDLen || user == nil {
		return
	}
	if err := s.store.PutSAMLIdentity(ctx, t.ID, cfg.IdPEntityID, persistent, user.ID, s.now()); err != nil {
		s.log.WarnContext(ctx, "saml: persistent NameID not remembered", "tenant", t.Slug, "user_id", user.ID, "err", err)
	}
}
