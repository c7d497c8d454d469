package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"

	csaml "github.com/crewjam/saml"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/web"
)

// Single logout (SAML profiles §4.4), both directions, at /t/SLUG/saml/slo.
//
// SP-initiated: *Sign out* ends the local session first (so a failure at the IdP never
// leaves the user signed in here), then, when the tenant's IdP has a SingleLogoutService
// and the session knows the login's NameID, sends a LogoutRequest signed with the tenant's
// SP key by the HTTP-Redirect binding (a query-string signature). Its id is stored as a
// pending request bound to the browser's request-binding cookie, like an AuthnRequest,
// under the prefix sloRequestPrefix so that no login can answer it; the IdP's LogoutResponse
// must answer one of the browser's pending ids, be signed by one of the tenant's IdP
// certificates, name this endpoint as Destination and the IdP as Issuer, and be fresh; the
// pending id is then taken (DELETE … RETURNING), so a response is accepted once.
//
// IdP-initiated: a LogoutRequest by HTTP-Redirect or HTTP-POST must be signed by one of the
// tenant's IdP certificates (query-string or enveloped signature), name this endpoint and
// the tenant's IdP, have an IssueInstant within the clock skew, and not have been seen
// before (its id goes into the shared replay cache). It ends the tenant's sessions of its
// NameID (only those of its SessionIndexes when it names any, SAML core §3.7.3.2) and
// revokes the OIDC tokens of their users (or of the user the NameID names when no session
// is left), then answers with a signed LogoutResponse by the binding the request came
// with. crewjam/saml checks signature, destination, issuer, times and replay; this file
// adds the refusal of unsigned messages with their own reason, the binding of responses to
// the browser and single use, and the bounds.

// sloRequestPrefix marks a pending request that is a LogoutRequest.
const sloRequestPrefix = "slo:"

// maxRelayState is the longest RelayState accepted (saml-bindings §3.4.3: 80 bytes).
const maxRelayState = 80

// Initiators of a logout, the labels of scimd_saml_logouts_total.
const (
	logoutBySP  = "sp"
	logoutByIdP = "idp"
	// ReasonPartial: the IdP answered a LogoutRequest with a status other than Success
	// (its session may live on; scimd's has ended).
	ReasonPartial = "partial"
)

// sloReasons are the reasons a logout message is counted under.
var sloReasons = []string{ReasonSuccess, ReasonPartial, ReasonUnsigned, ReasonBadSignature, ReasonExpired, ReasonNotYetValid,
	ReasonDestination, ReasonIssuer, ReasonInResponseTo, ReasonReplay, ReasonMalformed, ReasonDoctype, ReasonTooLarge,
	ReasonNotConfigured, ReasonInternal, ReasonUnavailable}

type sloMetrics struct{ logouts *prometheus.CounterVec }

func newSLOMetrics(reg prometheus.Registerer) (*sloMetrics, error) {
	m := &sloMetrics{logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimd_saml_logouts_total",
		Help: "SAML single logout messages by initiator (sp: the IdP's LogoutResponse to a sign-out here; idp: an IdP's LogoutRequest), outcome (success, refused, error) and reason.",
	}, []string{"initiator", "outcome", "reason"})}
	if err := reg.Register(m.logouts); err != nil {
		return nil, err
	}
	for _, by := range []string{logoutBySP, logoutByIdP} {
		for _, r := range sloReasons {
			m.logouts.WithLabelValues(by, sloOutcome(r), r)
		}
	}
	return m, nil
}

func sloOutcome(reason string) string {
	if reason == ReasonPartial {
		return OutcomeSuccess
	}
	if o, ok := reasonOutcome[reason]; ok {
		return o
	}
	return OutcomeError
}

func (m *sloMetrics) count(initiator, reason string) {
	m.logouts.WithLabelValues(initiator, sloOutcome(reason), reason).Inc()
}

// loginSubject is what a login leaves for single logout: the assertion's NameID and the
// IdP's session index.
type loginSubject struct {
	NameID, Format, SessionIndex string
}

// subjectOf reads the login subject of a validated assertion.
func subjectOf(a *csaml.Assertion) loginSubject {
	var ls loginSubject
	if a == nil {
		return ls
	}
	if a.Subject != nil && a.Subject.NameID != nil && len(a.Subject.NameID.Value) <= maxNameIDLen {
		ls.NameID, ls.Format = a.Subject.NameID.Value, a.Subject.NameID.Format
	}
	for _, st := range a.AuthnStatements {
		if st.SessionIndex != "" && len(st.SessionIndex) <= maxNameIDLen {
			ls.SessionIndex = st.SessionIndex
			break
		}
	}
	return ls
}

// startSingleLogout sends the browser, whose session sess was just ended, to the tenant's
// IdP with a signed LogoutRequest for the session's login, and reports whether it did. It
// does nothing (false) when the IdP has no SingleLogoutService or the session has no NameID
// (a session from before single logout); a failure is logged and the local sign-out stands.
func (s *Service) startSingleLogout(w http.ResponseWriter, r *http.Request, t store.Tenant, sess store.Session) bool {
	if sess.NameID == "" {
		return false
	}
	ctx := r.Context()
	cfg, err := s.store.SAMLConfig(ctx, t.ID)
	if err != nil || cfg.IdPSLOURL == "" {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(ctx, "saml: single logout not sent", "tenant", t.Slug, "err", err)
		}
		return false
	}
	sp, err := s.provider(t, cfg)
	if err != nil {
		s.log.WarnContext(ctx, "saml: single logout not sent", "tenant", t.Slug, "err", err)
		return false
	}
	req, err := sp.MakeLogoutRequest(cfg.IdPSLOURL, sess.NameID, csaml.WithSessionIndex(sess.SessionIndex), func(lr *csaml.LogoutRequest) {
		// The NameID as the IdP sent it: its format, and no qualifiers it did not send.
		lr.NameID.Format, lr.NameID.NameQualifier, lr.NameID.SPNameQualifier = sess.NameIDFormat, "", ""
	})
	if err != nil {
		s.log.WarnContext(ctx, "saml: single logout not sent", "tenant", t.Slug, "err", err)
		return false
	}
	to, err := sp.RedirectLogoutRequestURL(req, "")
	if err != nil {
		s.log.WarnContext(ctx, "saml: single logout not sent", "tenant", t.Slug, "err", err)
		return false
	}
	binding := randomToken()
	now := s.now()
	if err := s.store.CreateSAMLRequest(ctx, store.SAMLRequest{TenantID: t.ID, ID: sloRequestPrefix + req.ID, BindingHash: hashToken(binding),
		ReturnTo: "/t/" + t.Slug + "/", CreatedAt: now, ExpiresAt: now.Add(s.cfg.RequestTTL)}); err != nil {
		s.log.WarnContext(ctx, "saml: single logout not sent", "tenant", t.Slug, "err", err)
		return false
	}
	s.setRequestCookie(w, t.Slug, binding)
	// Not a 303: the sign-out is a form post, and browsers hold a redirect after a form
	// submission to the page's CSP form-action ('self'), which the IdP is not. A page that
	// moves on by itself (meta refresh, no script) is allowed to navigate anywhere.
	web.WritePage(w, http.StatusOK, cspHeader, func(w io.Writer) error {
		return leavePage.Execute(w, struct {
			CSS    template.CSS
			URL    string
			Tenant string
		}{template.CSS(pageCSS), to.String(), t.Name})
	})
	return true
}

// leavePage sends the browser on to the IdP with the LogoutRequest.
var leavePage = template.Must(template.New("leave").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.URL}}"><title>Signing out…</title><style>{{.CSS}}</style></head>
<body><main><h1>Signing out…</h1><p id="message">You are signed out here; signing you out at your identity provider.</p>
<p><a class="button" id="continue" href="{{.URL}}">Continue</a></p><p class="muted">{{.Tenant}}</p></main></body>
</html>
`))

// setRequestCookie sets the request-binding cookie. The IdP answers cross-site: over https
// it must be SameSite=None to come along; over plain http (loopback development) browsers
// refuse None without Secure.
func (s *Service) setRequestCookie(w http.ResponseWriter, slug, binding string) {
	same := http.SameSiteLaxMode
	if s.secure {
		same = http.SameSiteNoneMode
	}
	http.SetCookie(w, &http.Cookie{Name: requestCookie, Value: binding, Path: "/t/" + slug + "/saml/",
		MaxAge: int(s.cfg.RequestTTL.Seconds()), HttpOnly: true, Secure: s.secure, SameSite: same})
}

// sloError is a refused or failed logout message.
type sloError struct {
	reason string
	status int
	msg    string
	cause  error
}

func sloRefuse(reason string, status int, msg string, cause error) *sloError {
	return &sloError{reason: reason, status: status, msg: msg, cause: cause}
}

// slo is the SP's SingleLogoutService: an IdP's LogoutRequest or its LogoutResponse to ours.
func (s *Service) slo(w http.ResponseWriter, r *http.Request) {
	ctx, slug := r.Context(), chi.URLParam(r, "slug")
	initiator := logoutByIdP
	if r.URL.Query().Get("SAMLResponse") != "" {
		initiator = logoutBySP
	}
	t, cfg, err := s.tenantConfig(ctx, slug)
	if err != nil {
		if errors.Is(err, errNotConfigured) {
			s.slom.count(initiator, ReasonNotConfigured)
		}
		s.pageError(w, r, slug, err)
		return
	}
	msg, serr := s.readLogoutMessage(w, r)
	if msg.response {
		initiator = logoutBySP
	}
	if serr == nil {
		if msg.response {
			serr = s.logoutResponse(w, r, t, cfg, msg)
		} else {
			serr = s.logoutRequest(w, r, t, cfg, msg)
		}
	}
	if serr == nil {
		s.slom.count(initiator, ReasonSuccess)
		return
	}
	s.slom.count(initiator, serr.reason)
	cause := serr.cause
	var ire *csaml.InvalidResponseError
	if errors.As(cause, &ire) && ire.PrivateErr != nil {
		cause = ire.PrivateErr
	}
	level := "refused"
	if sloOutcome(serr.reason) != OutcomeRefused {
		level = "ended"
		if serr.reason != ReasonPartial {
			level = "failed"
		}
	}
	s.log.WarnContext(ctx, "saml logout "+level, "request_id", w.Header().Get(requestIDHeader), "tenant", t.Slug,
		"initiator", initiator, "reason", serr.reason, "err", cause)
	if serr.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	render(w, serr.status, page{Title: "Sign-out", Message: serr.msg, Tenant: t.Name, LoginURL: loginAgain(slug, serr)})
}

func loginAgain(slug string, e *sloError) string {
	if e.reason == ReasonPartial {
		return "/t/" + slug + "/saml/login"
	}
	return ""
}

// logoutMessage is what readLogoutMessage found out about a message before it is validated.
type logoutMessage struct {
	response    bool // a LogoutResponse (else a LogoutRequest)
	post        bool // HTTP-POST binding (else HTTP-Redirect)
	querySigned bool // a detached (query-string or SimpleSign) signature
	relay       string
}

// readLogoutMessage bounds and reads the message: it must be a SAMLRequest or SAMLResponse,
// well-formed XML without a document type declaration, and signed (a query-string
// signature, or a Signature element) — an unsigned message is refused here with its own
// reason, before the library looks at it.
func (s *Service) readLogoutMessage(w http.ResponseWriter, r *http.Request) (logoutMessage, *sloError) {
	tooLarge := sloRefuse(ReasonTooLarge, http.StatusRequestEntityTooLarge, "The sign-out message is too large.", nil)
	malformed := func(err error) *sloError {
		return sloRefuse(ReasonMalformed, http.StatusBadRequest, "The sign-out message could not be read.", err)
	}
	var m logoutMessage
	if r.Method == http.MethodPost {
		if r.ContentLength > s.cfg.MaxResponseBytes {
			return m, tooLarge
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxResponseBytes)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return m, tooLarge
			}
			return m, malformed(err)
		}
	}
	q := r.URL.Query()
	var encoded string
	switch {
	case q.Get("SAMLRequest") != "" || q.Get("SAMLResponse") != "":
		encoded, m.response, m.relay = q.Get("SAMLRequest"), false, q.Get("RelayState")
		if encoded == "" {
			encoded, m.response = q.Get("SAMLResponse"), true
		}
		m.querySigned = q.Get("Signature") != ""
	case r.Method == http.MethodPost && (r.PostForm.Get("SAMLRequest") != "" || r.PostForm.Get("SAMLResponse") != ""):
		m.post = true
		encoded, m.relay = r.PostForm.Get("SAMLRequest"), r.PostForm.Get("RelayState")
		if encoded == "" {
			encoded, m.response = r.PostForm.Get("SAMLResponse"), true
		}
		m.querySigned = r.PostForm.Get("Signature") != "" // HTTP-POST-SimpleSign
	default:
		return m, malformed(errors.New("no SAMLRequest or SAMLResponse"))
	}
	if int64(len(encoded)) > s.cfg.MaxResponseBytes {
		return m, tooLarge
	}
	if len(m.relay) > maxRelayState {
		return m, malformed(fmt.Errorf("RelayState of %d bytes (at most %d)", len(m.relay), maxRelayState))
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return m, malformed(err)
	}
	if !m.post {
		// HTTP-Redirect: DEFLATE, inflated within the same bound.
		raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), s.cfg.MaxResponseBytes+1))
		if err != nil {
			return m, malformed(err)
		}
		if int64(len(raw)) > s.cfg.MaxResponseBytes {
			return m, tooLarge
		}
	}
	_, signed, err := inspect(raw)
	switch {
	case errors.Is(err, errDirective):
		return m, sloRefuse(ReasonDoctype, http.StatusBadRequest, "The sign-out message contains a document type declaration, which is refused.", err)
	case err != nil:
		return m, malformed(err)
	case !signed && !m.querySigned:
		return m, sloRefuse(ReasonUnsigned, http.StatusForbidden, "The sign-out message is not signed; the identity provider must sign its logout messages.", nil)
	}
	return m, nil
}

// logoutResponse handles the IdP's answer to a LogoutRequest this browser sent.
func (s *Service) logoutResponse(w http.ResponseWriter, r *http.Request, t store.Tenant, cfg store.SAMLConfig, m logoutMessage) *sloError {
	ctx := r.Context()
	var ids []string
	if c, err := r.Cookie(requestCookie); err == nil && c.Value != "" && len(c.Value) <= 64 {
		pending, err := s.store.SAMLRequests(ctx, t.ID, hashToken(c.Value), s.now())
		if err != nil {
			return sloRefuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-out is unavailable; try again shortly.", err)
		}
		for _, p := range pending {
			if id, ok := strings.CutPrefix(p.ID, sloRequestPrefix); ok {
				ids = append(ids, id)
			}
		}
	}
	sp, err := s.provider(t, cfg)
	if err != nil {
		return sloRefuse(ReasonInternal, http.StatusInternalServerError, "Sign-out failed on our side.", err)
	}
	resp, err := sp.ParseLogoutResponse(r, ids)
	if err != nil {
		return classifyLogout(err, m)
	}
	req, err := s.store.TakeSAMLRequest(ctx, t.ID, sloRequestPrefix+resp.InResponseTo)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sloRefuse(ReasonReplay, http.StatusForbidden, "This sign-out response has already been used.", err)
	case err != nil:
		return sloRefuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-out is unavailable; try again shortly.", err)
	}
	s.log.InfoContext(ctx, "saml single logout completed at the IdP", "tenant", t.Slug)
	securityHeaders(w.Header())
	http.Redirect(w, r, req.ReturnTo, http.StatusSeeOther)
	return nil
}

// logoutRequest handles an IdP-initiated LogoutRequest.
func (s *Service) logoutRequest(w http.ResponseWriter, r *http.Request, t store.Tenant, cfg store.SAMLConfig, m logoutMessage) *sloError {
	ctx := r.Context()
	base, err := s.provider(t, cfg)
	if err != nil {
		return sloRefuse(ReasonInternal, http.StatusInternalServerError, "Sign-out failed on our side.", err)
	}
	sp := *base
	sp.ReplayCache = replayCache{ctx: ctx, store: s.store, tenant: t.ID, now: s.now}
	lr, err := sp.ValidateLogoutRequest(r)
	if err != nil {
		return classifyLogout(err, m)
	}
	if lr.NameID == nil || strings.TrimSpace(lr.NameID.Value) == "" || len(lr.NameID.Value) > maxNameIDLen {
		return sloRefuse(ReasonMalformed, http.StatusBadRequest, "The sign-out request names no user.", nil)
	}
	var indexes []string
	for _, si := range lr.AllSessionIndexes() {
		indexes = append(indexes, si.Value)
	}
	if len(indexes) > 32 {
		return sloRefuse(ReasonMalformed, http.StatusBadRequest, "The sign-out request names too many sessions.", nil)
	}
	users, err := s.endSessions(ctx, t, cfg, lr.NameID, indexes)
	if err != nil {
		return sloRefuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-out is unavailable; try again shortly.", err)
	}
	s.log.InfoContext(ctx, "saml single logout from the IdP", "tenant", t.Slug, "users", len(users))
	if cfg.IdPSLOURL == "" {
		// Nowhere to answer: the sessions are ended, the browser is told so.
		render(w, http.StatusOK, page{Title: "Signed out", Message: "You have been signed out.", Tenant: t.Name})
		return nil
	}
	if !m.post {
		to, err := sp.MakeRedirectLogoutResponse(lr.ID, m.relay)
		if err != nil {
			return sloRefuse(ReasonInternal, http.StatusInternalServerError, "Sign-out failed on our side.", err)
		}
		securityHeaders(w.Header())
		http.Redirect(w, r, to.String(), http.StatusSeeOther)
		return nil
	}
	resp, err := sp.MakeLogoutResponse(cfg.IdPSLOURL, lr.ID)
	if err != nil {
		return sloRefuse(ReasonInternal, http.StatusInternalServerError, "Sign-out failed on our side.", err)
	}
	nonce := randomToken()
	form := resp.PostWithNonce(m.relay, nonce)
	web.WritePage(w, http.StatusOK, postCSP(cfg.IdPSLOURL, nonce), func(w io.Writer) error {
		return postPage.Execute(w, struct {
			CSS  template.CSS
			Form template.HTML
		}{template.CSS(pageCSS), template.HTML(form)})
	})
	return nil
}

// endSessions ends the tenant's sessions of the NameID (of the session indexes, when any)
// and revokes the OIDC tokens of their users, or, when no session is left, of the user the
// NameID names. It returns the users whose tokens were revoked.
func (s *Service) endSessions(ctx context.Context, t store.Tenant, cfg store.SAMLConfig, nameID *csaml.NameID, indexes []string) ([]string, error) {
	users, err := s.store.DeleteSAMLSessions(ctx, t.ID, nameID.Value, indexes)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		if id, err := s.nameIDUser(ctx, t, cfg, nameID); err != nil {
			return nil, err
		} else if id != "" {
			users = []string{id}
		}
	}
	now := s.now()
	for _, u := range users {
		n, err := s.store.RevokeOIDCUserTokens(ctx, t.ID, u, now)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			s.log.InfoContext(ctx, "saml single logout revoked OIDC tokens", "tenant", t.Slug, "user_id", u, "tokens", n)
		}
	}
	return users, nil
}

// nameIDUser finds the user a LogoutRequest's NameID names, as a login would, without
// creating anyone: a remembered persistent NameID, else the NameID as userName or primary
// email; a transient NameID names nobody beyond its sessions. "" when nobody.
func (s *Service) nameIDUser(ctx context.Context, t store.Tenant, cfg store.SAMLConfig, nameID *csaml.NameID) (string, error) {
	switch nameID.Format {
	case string(csaml.TransientNameIDFormat):
		return "", nil
	case string(csaml.PersistentNameIDFormat):
		id, err := s.store.SAMLIdentity(ctx, t.ID, cfg.IdPEntityID, strings.TrimSpace(nameID.Value))
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return id, err
	}
	user, err := s.dir.FindLoginUser(ctx, t, strings.TrimSpace(nameID.Value))
	if err != nil || user == nil {
		return "", err
	}
	return user.ID, nil
}

// classifyLogout turns crewjam's validation error of a logout message into a refusal. The
// library leaves the failures of a detached signature unclassified; the message was read
// and parsed before (readLogoutMessage), so an unclassified error of a message with one is
// its signature's.
func classifyLogout(err error, m logoutMessage) *sloError {
	what := "sign-out request"
	if m.response {
		what = "sign-out response"
	}
	var bad csaml.ErrBadStatus
	switch {
	case errors.Is(err, csaml.ErrAssertionReplayed):
		return sloRefuse(ReasonReplay, http.StatusForbidden, "This "+what+" has already been used.", err)
	case errors.Is(err, store.ErrUnavailable):
		return sloRefuse(ReasonUnavailable, http.StatusServiceUnavailable, "Sign-out is unavailable; try again shortly.", err)
	case errors.Is(err, csaml.ErrInvalidSignature):
		return sloRefuse(ReasonBadSignature, http.StatusForbidden, "The "+what+"'s signature could not be verified with this organisation's identity provider certificate.", err)
	case errors.Is(err, csaml.ErrExpired):
		return sloRefuse(ReasonExpired, http.StatusForbidden, "The "+what+" has expired.", err)
	case errors.Is(err, csaml.ErrNotYetValid):
		return sloRefuse(ReasonNotYetValid, http.StatusForbidden, "The "+what+" is not valid yet. Check the clocks of the identity provider.", err)
	case errors.Is(err, csaml.ErrDestinationMismatch):
		return sloRefuse(ReasonDestination, http.StatusForbidden, "The "+what+" was sent to another address (destination mismatch).", err)
	case errors.Is(err, csaml.ErrIssuerMismatch):
		return sloRefuse(ReasonIssuer, http.StatusForbidden, "The "+what+" comes from an identity provider this organisation does not use (issuer mismatch).", err)
	case errors.Is(err, csaml.ErrRequestIDMismatch):
		return sloRefuse(ReasonInResponseTo, http.StatusForbidden, "The sign-out response does not answer a sign-out started in this browser.", err)
	case errors.As(err, &bad):
		return sloRefuse(ReasonPartial, http.StatusOK, "You are signed out here, but the identity provider could not end its own session. Sign out at the identity provider too.", err)
	case m.querySigned && !errors.Is(err, csaml.ErrMalformedMessage) && !errors.Is(err, csaml.ErrMissingElement) && !errors.Is(err, csaml.ErrUnsupported):
		return sloRefuse(ReasonBadSignature, http.StatusForbidden, "The "+what+"'s signature could not be verified with this organisation's identity provider certificate.", err)
	}
	return sloRefuse(ReasonMalformed, http.StatusBadRequest, "The "+what+" is malformed or incomplete.", err)
}

// postPage wraps crewjam's auto-submitting HTTP-POST form (whose script carries the nonce).
var postPage = template.Must(template.New("post").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Signing out…</title><style>{{.CSS}}</style></head>
<body><main><h1>Signing out…</h1>{{.Form}}</main></body>
</html>
`))

// postCSP is the policy of the HTTP-POST page: the page's style, its one script by nonce,
// and a form that may post only to the IdP's SingleLogoutService origin.
func postCSP(target, nonce string) string {
	origin := "'none'"
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; script-src 'nonce-" + nonce +
		"'; form-action " + origin + "; frame-ancestors 'none'; base-uri 'none'"
}

// sloFromMetadata picks the IdP's SingleLogoutService from its metadata: the HTTP-Redirect
// one, else the HTTP-POST one (scimd sends by redirect; an IdP that lists only POST takes
// the same URL for both in practice); "" when it has none.
func sloFromMetadata(eps []csaml.Endpoint) string {
	post := ""
	for _, e := range eps {
		switch e.Binding {
		case csaml.HTTPRedirectBinding:
			return e.Location
		case csaml.HTTPPostBinding:
			if post == "" {
				post = e.Location
			}
		}
	}
	return post
}
