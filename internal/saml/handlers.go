package saml

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"

	csaml "github.com/crewjam/saml"
	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
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
	buf, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
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
	binding := ""
	if c, err := r.Cookie(requestCookie); err == nil && len(c.Value) == 43 {
		binding = c.Value
	} else {
		binding = randomToken()
	}
	now := s.now()
	if err := s.saml.CreateSAMLRequest(ctx, store.SAMLRequest{TenantID: t.ID, ID: req.ID, BindingHash: hashToken(binding),
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

// loginError is a refused or failed login: its metric reason, the status and sentence the
// browser sees, and the cause for the log.
type loginError struct {
	reason string
	status int
	msg    string
	cause  error
	admin  string // the reason for the tenant's administrator (audit log), when more than msg
}

func (e *loginError) Error() string { return e.reason + ": " + e.msg }

func refuse(reason string, status int, msg string, cause error) *loginError {
	return &loginError{reason: reason, status: status, msg: msg, cause: cause}
}

// acs is the assertion consumer service: it validates the IdP's response, finds or creates
// the user, starts a session and redirects.
func (s *Service) acs(w http.ResponseWriter, r *http.Request) {
	ctx, slug := r.Context(), chi.URLParam(r, "slug")
	t, cfg, err := s.tenantConfig(ctx, slug)
	if err != nil {
		if errors.Is(err, errNotConfigured) {
			s.metrics.login(ReasonNotConfigured)
		}
		s.pageError(w, r, slug, err)
		return
	}
	user, returnTo, lerr := s.finishLogin(ctx, w, r, t, cfg)
	if lerr != nil {
		s.metrics.login(lerr.reason)
		s.refused(ctx, w, t, lerr)
		render(w, lerr.status, page{Title: "Sign-in failed", Message: lerr.msg, Tenant: t.Name, LoginURL: loginURL(slug, lerr)})
		return
	}
	id := randomToken()
	now := s.now()
	if err := s.saml.CreateSession(ctx, store.Session{TenantID: t.ID, Hash: hashToken(id), Kind: store.SessionSSO, UserID: user.ID,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}); err != nil {
		s.metrics.login(ReasonUnavailable)
		s.pageError(w, r, slug, err)
		return
	}
	s.metrics.login(ReasonSuccess)
	s.log.InfoContext(ctx, "saml login", "tenant", slug, "user_id", user.ID)
	s.setSession(w, slug, id, int(s.cfg.SessionTTL.Seconds()))
	securityHeaders(w.Header())
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// loginURL offers a new sign-in on the failure page, except where trying again cannot help.
func loginURL(slug string, e *loginError) string {
	switch e.reason {
	case ReasonInactiveUser, ReasonJITDisabled:
		return ""
	}
	return "/t/" + slug + "/saml/login"
}

func (s *Service) finishLogin(ctx context.Context, w http.ResponseWriter, r *http.Request, t store.Tenant, cfg store.SAMLConfig) (*scim.Resource, string, *loginError) {
	if r.ContentLength > s.cfg.MaxResponseBytes {
		return nil, "", refuse(ReasonTooLarge, http.StatusRequestEntityTooLarge, "The sign-in response is too large.", nil)
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxResponseBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", refuse(ReasonTooLarge, http.StatusRequestEntityTooLarge, "The sign-in response is too large.", err)
		}
		return nil, "", refuse(ReasonMalformed, http.StatusBadRequest, "The sign-in response could not be read.", err)
	}
	if r.Form.Get("SAMLart") != "" { // in the body or the query: the artifact binding is off
		return nil, "", refuse(ReasonMalformed, http.StatusBadRequest, "The artifact binding is not supported; configure the identity provider to use HTTP-POST.", nil)
	}
	raw, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse"))
	if err != nil || len(raw) == 0 {
		return nil, "", refuse(ReasonMalformed, http.StatusBadRequest, "The request carries no SAML response.", err)
	}
	inResponseTo, signed, err := inspect(raw)
	if err != nil {
		if errors.Is(err, errDirective) {
			return nil, "", refuse(ReasonDoctype, http.StatusBadRequest, "The SAML response contains a document type declaration, which is refused.", err)
		}
		return nil, "", refuse(ReasonMalformed, http.StatusBadRequest, "The SAML response is not well-formed XML.", err)
	}
	if !signed {
		return nil, "", refuse(ReasonUnsigned, http.StatusForbidden, "The SAML response is not signed; the identity provider must sign the assertion or the response.", nil)
	}
	var pending []store.SAMLRequest
	c, err := r.Cookie(requestCookie)
	hadCookie := err == nil && c.Value != ""
	if hadCookie {
		if pending, err = s.saml.SAMLRequests(ctx, t.ID, hashToken(c.Value), s.now()); err != nil {
			return nil, "", refuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-in is unavailable; try again shortly.", err)
		}
	}
	ids := make([]string, len(pending))
	for i, p := range pending {
		ids[i] = p.ID
	}
	base, err := s.provider(t, cfg)
	if err != nil {
		return nil, "", refuse(ReasonInternal, http.StatusInternalServerError, "Sign-in failed on our side.", err)
	}
	sp := *base
	sp.ReplayCache = replayCache{ctx: ctx, store: s.saml, tenant: t.ID, now: s.now}
	assertion, err := sp.ParseResponse(r, ids)
	if err != nil {
		return nil, "", s.hintHTTP(s.explain(classify(err, inResponseTo, cfg), raw, cfg), hadCookie)
	}
	returnTo := s.defaultRedirect(t.Slug, cfg)
	if answered := answeredRequest(assertion, inResponseTo, ids); answered != "" {
		req, err := s.saml.TakeSAMLRequest(ctx, t.ID, answered)
		if err == nil {
			returnTo = req.ReturnTo
		}
	} else if rt, ok := SafeReturnTo(t.Slug, r.PostForm.Get("RelayState")); ok {
		returnTo = rt
	}
	p := profileOf(assertion)
	user, name, lerr := s.resolveUser(ctx, t, cfg, assertion, p)
	switch {
	case lerr != nil:
		return nil, "", lerr
	case user != nil && user.Attrs["active"] == false:
		return nil, "", refuse(ReasonInactiveUser, http.StatusForbidden, "Your account has been deactivated. Ask your administrator to restore access.", nil)
	case user != nil:
		return user, returnTo, nil
	case !cfg.JIT:
		return nil, "", refuse(ReasonJITDisabled, http.StatusForbidden, "Your account has not been provisioned. Ask your administrator to give you access.", nil)
	}
	user, err = s.dir.CreateJITUser(directory.WithActor(ctx, directory.Actor{Name: "saml"}), t, jitAttributes(name, p, t.UserTypes))
	if err != nil {
		return nil, "", refuse(ReasonJITFailed, http.StatusForbidden, "Your account could not be created: "+errorDetail(err), err)
	}
	s.remember(ctx, t, cfg, persistentNameID(assertion), user)
	return user, returnTo, nil
}

// errorDetail is the sentence of a SCIM error, or a generic one.
func errorDetail(err error) string {
	if se := scim.AsError(err); se != nil && se.Status < 500 {
		return se.Detail
	}
	return "an internal error occurred"
}

// answeredRequest returns the id of the pending request the validated assertion answers,
// or "" for an unsolicited response.
func answeredRequest(a *csaml.Assertion, responseInResponseTo string, ids []string) string {
	candidates := []string{responseInResponseTo}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if sc.SubjectConfirmationData != nil {
				candidates = append(candidates, sc.SubjectConfirmationData.InResponseTo)
			}
		}
	}
	for _, c := range candidates {
		for _, id := range ids {
			if c != "" && c == id {
				return id
			}
		}
	}
	return ""
}

// classify turns crewjam's validation error into a login error with its metric reason.
func classify(err error, inResponseTo string, cfg store.SAMLConfig) *loginError {
	var bad csaml.ErrBadStatus
	switch {
	case errors.Is(err, csaml.ErrAssertionReplayed):
		return refuse(ReasonReplay, http.StatusForbidden, "This sign-in response has already been used. Start a new sign-in.", err)
	case errors.Is(err, store.ErrUnavailable):
		return refuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-in is unavailable; try again shortly.", err)
	case errors.Is(err, csaml.ErrInvalidSignature):
		return refuse(ReasonBadSignature, http.StatusForbidden, "The SAML response's signature could not be verified with this organisation's identity provider certificate.", err)
	case errors.Is(err, csaml.ErrExpired):
		return refuse(ReasonExpired, http.StatusForbidden, "The SAML response has expired. Start a new sign-in; if this persists, check the clocks of the identity provider.", err)
	case errors.Is(err, csaml.ErrNotYetValid):
		return refuse(ReasonNotYetValid, http.StatusForbidden, "The SAML response is not valid yet. Check the clocks of the identity provider.", err)
	case errors.Is(err, csaml.ErrAudienceMismatch):
		return refuse(ReasonAudience, http.StatusForbidden, "The SAML response is meant for another service provider (audience mismatch).", err)
	case errors.Is(err, csaml.ErrDestinationMismatch):
		return refuse(ReasonDestination, http.StatusForbidden, "The SAML response was sent to another address (destination or recipient mismatch).", err)
	case errors.Is(err, csaml.ErrIssuerMismatch):
		return refuse(ReasonIssuer, http.StatusForbidden, "The SAML response comes from an identity provider this organisation does not use (issuer mismatch).", err)
	case errors.Is(err, csaml.ErrRequestIDMismatch) && inResponseTo == "" && !cfg.AllowIdPInitiated:
		return refuse(ReasonIdPInitiated, http.StatusForbidden, "Sign-in started at the identity provider is not allowed for this organisation. Use the sign-in button here.", err)
	case errors.Is(err, csaml.ErrRequestIDMismatch):
		return refuse(ReasonInResponseTo, http.StatusForbidden, "The SAML response does not answer a sign-in started in this browser. Start a new sign-in.", err)
	case errors.As(err, &bad):
		return refuse(ReasonIdPStatus, http.StatusForbidden, "The identity provider did not sign you in.", err)
	case errors.Is(err, csaml.ErrMalformedMessage), errors.Is(err, csaml.ErrMissingElement), errors.Is(err, csaml.ErrUnsupported):
		return refuse(ReasonMalformed, http.StatusBadRequest, "The SAML response is malformed or incomplete.", err)
	}
	return refuse(ReasonMalformed, http.StatusBadRequest, "The SAML response could not be validated.", err)
}

var errDirective = errors.New("saml: XML directive (DOCTYPE or ENTITY) in the response")

// inspect reads the decoded response as XML before anything else does: a document type
// declaration or entity (any directive) is refused outright, and it reports the
// Response's InResponseTo and whether a Signature appears anywhere (an unsigned response
// is refused with its own reason). Nothing it reads is trusted beyond that.
func inspect(raw []byte) (inResponseTo string, signed bool, err error) {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", false, err
		}
		switch tok := tok.(type) {
		case xml.Directive:
			return "", false, errDirective
		case xml.StartElement:
			depth++
			if depth == 1 {
				for _, a := range tok.Attr {
					if a.Name.Space == "" && a.Name.Local == "InResponseTo" {
						inResponseTo = a.Value
					}
				}
			}
			if tok.Name.Local == "Signature" && tok.Name.Space == "http://www.w3.org/2000/09/xmldsig#" {
				signed = true
			}
		case xml.EndElement:
			depth--
		}
	}
	return inResponseTo, signed, nil
}

func (s *Service) defaultRedirect(slug string, cfg store.SAMLConfig) string {
	if rt, ok := SafeReturnTo(slug, cfg.DefaultRedirect); ok {
		return rt
	}
	return "/t/" + slug + "/"
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

// ---- sessions and the signed-in page ----

func (s *Service) setSession(w http.ResponseWriter, slug, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/t/" + slug + "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// currentUser returns the signed-in user of the request, checking on every request that
// the session is live and the user still exists and is active. A session of a user that is
// gone or deactivated is deleted. It returns nil and no error when nobody is signed in;
// inactive reports a session that ended because the user is deactivated.
func (s *Service) currentUser(ctx context.Context, w http.ResponseWriter, r *http.Request, t store.Tenant) (user *scim.Resource, inactive bool, err error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return nil, false, nil
	}
	hash := hashToken(c.Value)
	sess, err := s.saml.SessionByHash(ctx, t.ID, store.SessionSSO, hash, s.now())
	if errors.Is(err, store.ErrNotFound) {
		s.setSession(w, t.Slug, "", -1)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	user, err = s.dir.Get(ctx, scim.Users, t, sess.UserID, true)
	if se := scim.AsError(err); se != nil && se.Status == http.StatusNotFound {
		user, err = nil, nil
	}
	if err != nil {
		return nil, false, err
	}
	if user == nil || user.Attrs["active"] == false {
		if err := s.saml.DeleteSession(ctx, t.ID, hash); err != nil {
			return nil, false, err
		}
		s.setSession(w, t.Slug, "", -1)
		return nil, user != nil, nil
	}
	return user, false, nil
}

// SessionCookie is the name of the cookie that carries a browser's session id (scoped to
// /t/SLUG/); the admin console binds its CSRF tokens to it.
const SessionCookie = sessionCookie

// CurrentUser returns the signed-in, active user of tenant t for the request, or nil when
// nobody is signed in (a session that is unknown, expired, or of a user since deleted or
// deactivated is ended, as on every page). Errors are store errors.
func (s *Service) CurrentUser(ctx context.Context, w http.ResponseWriter, r *http.Request, t store.Tenant) (*scim.Resource, error) {
	user, _, err := s.currentUser(ctx, w, r, t)
	return user, err
}

// home is the tenant's page: the signed-in user, or a sign-in button. /t/SLUG redirects to
// /t/SLUG/, the path the session cookie is scoped to.
func (s *Service) home(w http.ResponseWriter, r *http.Request) {
	ctx, slug := r.Context(), chi.URLParam(r, "slug")
	if !strings.HasSuffix(r.URL.Path, "/") {
		securityHeaders(w.Header())
		http.Redirect(w, r, "/t/"+slug+"/", http.StatusMovedPermanently)
		return
	}
	t, err := s.store.TenantBySlug(ctx, slug)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	user, inactive, err := s.currentUser(ctx, w, r, t)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	if inactive {
		render(w, http.StatusForbidden, page{Title: "Account deactivated", Tenant: t.Name,
			Message: "Your account has been deactivated, so you have been signed out. Ask your administrator to restore access."})
		return
	}
	if user != nil {
		render(w, http.StatusOK, page{Title: t.Name, Tenant: t.Name, LogoutURL: "/t/" + slug + "/logout", User: describe(user)})
		return
	}
	p := page{Title: "Sign in to " + t.Name, Tenant: t.Name, Message: "You are not signed in."}
	if _, err := s.saml.SAMLConfig(ctx, t.ID); err == nil {
		p.LoginURL = "/t/" + slug + "/saml/login"
	} else if errors.Is(err, store.ErrNotFound) {
		p.Message = "You are not signed in, and single sign-on is not configured for this organisation yet."
	} else {
		s.pageError(w, r, slug, err)
		return
	}
	render(w, http.StatusOK, p)
}

// describe picks what the signed-in page shows of a user.
func describe(u *scim.Resource) *pageUser {
	p := &pageUser{UserName: scim.String(u.Attrs, "userName"), UserType: scim.String(u.Attrs, "userType")}
	if n, ok := u.Attrs["name"].(map[string]any); ok {
		p.Name = scim.String(n, "formatted")
		if p.Name == "" {
			p.Name = strings.TrimSpace(scim.String(n, "givenName") + " " + scim.String(n, "familyName"))
		}
	}
	if p.Name == "" {
		p.Name = scim.String(u.Attrs, "displayName")
	}
	if p.Name == "" {
		p.Name = p.UserName
	}
	if list, ok := u.Attrs["emails"].([]any); ok {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && scim.String(m, "value") != "" {
				p.Emails = append(p.Emails, scim.String(m, "value"))
			}
		}
	}
	if list, ok := u.Attrs["groups"].([]any); ok {
		for _, g := range list {
			if m, ok := g.(map[string]any); ok {
				name := scim.String(m, "display")
				if name == "" {
					name = scim.String(m, "value")
				}
				p.Groups = append(p.Groups, name)
			}
		}
	}
	return p
}

// logout ends the session. The session cookie is SameSite=Lax, so a cross-site form cannot
// send it; a foreign Origin is refused as well.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	ctx, slug := r.Context(), chi.URLParam(r, "slug")
	if o := r.Header.Get("Origin"); o != "" && o != s.origin {
		render(w, http.StatusForbidden, page{Title: "Refused", Message: "Sign-out must come from this site.", Tenant: slug})
		return
	}
	t, err := s.store.TenantBySlug(ctx, slug)
	if err != nil {
		s.pageError(w, r, slug, err)
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.saml.DeleteSession(ctx, t.ID, hashToken(c.Value)); err != nil {
			s.pageError(w, r, slug, err)
			return
		}
	}
	s.setSession(w, slug, "", -1)
	securityHeaders(w.Header())
	http.Redirect(w, r, "/t/"+slug+"/", http.StatusSeeOther)
}
