package saml

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"

	csaml "github.com/crewjam/saml"
	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// The assertion consumer service: a POSTed response checked, its user found or created
// through the directory, and a session started.

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
	if err := s.store.CreateSession(ctx, store.Session{TenantID: t.ID, Hash: hashToken(id), Kind: store.SessionSSO, UserID: user.ID,
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
	form := formOf(raw) // an encrypted assertion's signature is inside the encryption
	if !signed && !form.encrypted {
		return nil, "", refuse(ReasonUnsigned, http.StatusForbidden, "The SAML response is not signed; the identity provider must sign the assertion or the response.", nil)
	}
	if lerr := checkEncryption(cfg, form); lerr != nil {
		return nil, "", lerr
	}
	var pending []store.SAMLRequest
	c, err := r.Cookie(requestCookie)
	hadCookie := err == nil && c.Value != ""
	if hadCookie {
		if pending, err = s.store.SAMLRequests(ctx, t.ID, hashToken(c.Value), s.now()); err != nil {
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
	sp.ReplayCache = replayCache{ctx: ctx, store: s.store, tenant: t.ID, now: s.now}
	assertion, err := sp.ParseResponse(r, ids)
	if err != nil {
		return nil, "", s.hintHTTP(explainEncrypted(s.explain(classify(err, inResponseTo, cfg), raw, cfg), err, form, signed, cfg), hadCookie)
	}
	returnTo := s.defaultRedirect(t.Slug, cfg)
	if answered := answeredRequest(assertion, inResponseTo, ids); answered != "" {
		req, err := s.store.TakeSAMLRequest(ctx, t.ID, answered)
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
	case user != nil && !directory.CanSignIn(user):
		return nil, "", refuse(ReasonInactiveUser, http.StatusForbidden, "Your account has been deactivated. Ask your administrator to restore access.", nil)
	case user != nil:
		return user, returnTo, nil
	}
	var jit map[string]any
	if cfg.JIT {
		jit = jitAttributes(name, p)
		if t.UserTypeSource == store.UserTypeFromGroups {
			// The rules give the userType from the groups the assertion names, until SCIM
			// provisions the user's memberships.
			rules, err := s.dir.UserTypeRules(ctx, t)
			if err != nil {
				return nil, "", refuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-in is unavailable; try again shortly.", err)
			}
			jit[directory.JITGroups] = assertionGroups(assertion, rules.GroupsAttr)
		}
		if !cfg.JITTrustUserType {
			// The assertion's userType makes admins: only a tenant that chose so trusts it.
			delete(jit, "userType")
		}
	}
	user, err = s.dir.SignIn(directory.WithActor(ctx, directory.Actor{Name: directory.ActorSAML}), t, name, jit)
	switch {
	case errors.Is(err, directory.ErrAmbiguousLogin):
		return nil, "", refuse(ReasonAmbiguousUser, http.StatusForbidden, "Your sign-in name matches more than one account; ask your administrator.", err)
	case errors.Is(err, directory.ErrInactive):
		return nil, "", refuse(ReasonInactiveUser, http.StatusForbidden, "Your account has been deactivated. Ask your administrator to restore access.", nil)
	case errors.Is(err, directory.ErrNotProvisioned):
		return nil, "", refuse(ReasonJITDisabled, http.StatusForbidden, "Your account has not been provisioned. Ask your administrator to give you access.", nil)
	case errors.Is(err, directory.ErrJITRefused):
		return nil, "", refuse(ReasonJITFailed, http.StatusForbidden, "Your account could not be created: "+errorDetail(err), err)
	case err != nil:
		return nil, "", refuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-in is unavailable; try again shortly.", err)
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
