package saml

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"

	csaml "github.com/crewjam/saml"
	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/store"
)

// Cookie names. The request-binding cookie ties a pending AuthnRequest to the browser that
// started it; the session cookie carries the session id. Both are scoped to the tenant's
// paths, so tenants' sessions never mix.
const (
	requestCookie = "scimd_saml_request"
	sessionCookie = "scimd_session"
)

func (s *Service) metadata(w http.ResponseWriter, r *http.Request) {
	slug := chi.URLParam(r, "slug")
	t, cfg, err := s.tenantConfig(r.Context(), slug)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	sp, err := s.provider(t, cfg)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	buf, err := xml.MarshalIndent(spMetadata(sp, cfg), "", "  ")
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write([]byte(xml.Header))
	w.Write(buf)
}

// login starts an SP-initiated login: an AuthnRequest by HTTP-Redirect, recorded in the
// database under the hash of the browser's request-binding cookie.
func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	ctx, slug := r.Context(), chi.URLParam(r, "slug")
	// Anonymous and not free (a signature and a stored row): bounded per address and per
	// tenant before anything is read.
	now := s.now()
	if ok, wait := s.startsByAddr.take(remoteHost(r), now); !ok {
		s.metrics.login(ReasonThrottled)
		throttled(w, wait, "Too many sign-ins from your network; try again in a minute.")
		return
	}
	if ok, wait := s.startsByTenant.take(slug, now); !ok {
		s.metrics.login(ReasonThrottled)
		throttled(w, wait, "Too many sign-ins to this account at once; try again in a minute.")
		return
	}
	t, cfg, err := s.tenantConfig(ctx, slug)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	sp, err := s.provider(t, cfg)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	returnTo, ok := SafeReturnTo(slug, r.URL.Query().Get("return_to"))
	if !ok {
		returnTo = s.defaultRedirect(slug, cfg)
	}
	req, err := sp.MakeAuthenticationRequest(cfg.IdPSSOURL, csaml.HTTPRedirectBinding, csaml.HTTPPostBinding)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	if r.URL.Query().Get(forceAuthnParam) == "1" {
		force := true
		req.ForceAuthn = &force
	}
	binding := ""
	if c, err := r.Cookie(requestCookie); err == nil && len(c.Value) == 43 {
		binding = c.Value
	} else {
		binding = randomToken()
	}
	if n, err := s.store.PendingSAMLRequests(ctx, t.ID, now, s.cfg.MaxPendingRequests); err != nil {
		s.pageError(w, r, slug, err)
		return
	} else if n >= s.cfg.MaxPendingRequests {
		s.metrics.login(ReasonThrottled)
		throttled(w, s.cfg.RequestTTL, "Too many sign-ins to this account are in progress; try again in a few minutes.")
		return
	}
	if err := s.store.CreateSAMLRequest(ctx, store.SAMLRequest{TenantID: t.ID, ID: req.ID, BindingHash: hashToken(binding),
		ReturnTo: returnTo, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RequestTTL)}); err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	to, err := req.Redirect("", sp)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	// The IdP posts back cross-site: over https the binding cookie must be SameSite=None to
	// come along; over plain http (loopback development) browsers refuse None without Secure.
	same := http.SameSiteLaxMode
	if s.secure {
		same = http.SameSiteNoneMode
	}
	http.SetCookie(w, &http.Cookie{Name: requestCookie, Value: binding, Path: "/t/" + slug + "/saml/",
		MaxAge: int(s.cfg.RequestTTL.Seconds()), HttpOnly: true, Secure: s.secure, SameSite: same})
	securityHeaders(w.Header())
	http.Redirect(w, r, to.String(), http.StatusFound)
}

// pageError answers a request that failed before or outside a login.
func (s *Service) pageError(w http.ResponseWriter, r *http.Request, slug string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		render(w, http.StatusNotFound, page{Title: "Not found", Message: "There is no organisation here."})
	case errors.Is(err, errNotConfigured):
		render(w, http.StatusNotFound, page{Title: "Single sign-on is not set up", Message: "Single sign-on is not configured for this organisation yet.", Tenant: slug})
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		render(w, http.StatusServiceUnavailable, page{Title: "Unavailable", Message: "The service is unavailable; try again shortly.", Tenant: slug})
	default:
		s.log.ErrorContext(r.Context(), "saml: internal error", "tenant", slug, "err", err)
		render(w, http.StatusInternalServerError, page{Title: "Error", Message: "Something went wrong on our side.", Tenant: slug})
	}
}

// randomToken returns 256 random bits, base64url without padding (43 characters).
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
