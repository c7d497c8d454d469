package saml

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// The seam through which another browser flow (the OpenID Connect provider's authorization
// endpoint) signs a user in with the tenant's IdP and resumes afterwards: it sends the
// browser to LoginURL with its own resume path as returnTo, and the ACS, having started the
// session, redirects there; the resumed flow reads the session with SignedIn.

// forceAuthnParam on /t/SLUG/saml/login asks the IdP to authenticate the user afresh.
const forceAuthnParam = "force_authn"

// LoginURL returns the local URL that starts an SP-initiated login of tenant slug and, after
// the ACS, sends the browser to returnTo (a local path of the tenant, /t/SLUG/…). With
// forceAuthn the AuthnRequest carries ForceAuthn="true", so that the IdP does not reuse its
// own session (OIDC prompt=login and max_age).
func LoginURL(slug, returnTo string, forceAuthn bool) string {
	q := url.Values{"return_to": {returnTo}}
	if forceAuthn {
		q.Set(forceAuthnParam, "1")
	}
	return "/t/" + url.PathEscape(slug) + "/saml/login?" + q.Encode()
}

// LoginURL is the package's LoginURL, as a method, so that the service is all a resumed
// flow needs.
func (s *Service) LoginURL(slug, returnTo string, forceAuthn bool) string {
	return LoginURL(slug, returnTo, forceAuthn)
}

// SignedIn returns the browser's signed-in, active user of tenant t, with the time its
// session started (when the IdP last authenticated the user), checking the session and the
// user in the database as every page does. user is nil when nobody is signed in;
// deactivated reports a session that ended because the user has been deactivated. The
// session cookie is scoped to /t/SLUG/, so only a request under the tenant's path carries
// it. Errors are store errors.
func (s *Service) SignedIn(ctx context.Context, w http.ResponseWriter, r *http.Request, t store.Tenant) (user *scim.Resource, authTime time.Time, deactivated bool, err error) {
	return s.currentSession(ctx, w, r, t)
}
