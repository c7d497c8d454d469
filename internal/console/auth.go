package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"encoding/base64"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// Who is asking: admins of the tenant (SSO users whose userType is admin, or a console-only
// session from a one-time link), the CSRF token of their forms, and sign-in and sign-out.

// ---- who is asking ----

// request is an admin's request: the tenant, who the admin is, and the CSRF token of the
// session.
type request struct {
	tenant store.Tenant
	name   string // userName, or BootstrapAdmin
	userID string // "" for a console-only session
	csrf   string
	// certWarning and spCertWarning are the IdP and SP certificate expiry banners of the
	// admin pages, or "".
	certWarning, spCertWarning string
}

// actor is the audit actor of the admin's changes.
func (q *request) actor() directory.Actor { return directory.Actor{Name: "console " + q.name} }

// pageErr is an error page: the status and the sentence the admin sees.
type pageErr struct {
	status int
	title  string
	msg    string
	signIn string // a "Sign in with SSO" link, on the page for anonymous visitors
}

func (e *pageErr) Error() string { return e.title + ": " + e.msg }

// Msg is the page's sentence (for the template).
func (e *pageErr) Msg() string { return e.msg }

// SignIn is the page's sign-in link, or "" (for the template).
func (e *pageErr) SignIn() string { return e.signIn }

// eventsTable is what the events-table template shows.
type eventsTable struct {
	Slug   string
	Events []store.Event
}

var errNotFound = &pageErr{status: http.StatusNotFound, title: "Not found", msg: "There is nothing here."}

// admin wraps a handler of the console's pages: it lets in only admins of the tenant of
// the path, checks the CSRF token and origin of every POST, and renders the handler's
// error as a page.
func (s *Service) admin(h func(w http.ResponseWriter, r *http.Request, q *request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := s.authorize(w, r)
		if err == nil {
			q.certWarning, q.spCertWarning = s.certWarnings(r.Context(), q.tenant)
		}
		if err == nil && r.Method == http.MethodPost {
			err = s.checkPost(w, r, q)
		}
		if err == nil {
			err = h(w, r, q)
		}
		if err != nil {
			s.fail(w, r, q, err)
		}
	}
}

// certWarnings are the banners about the tenant's IdP signing certificates and its SP
// certificate: "" unless one expires within sso.ExpiryWarning. A store error only leaves
// the banners out (the page's own reads report it).
func (s *Service) certWarnings(ctx context.Context, t store.Tenant) (idp, sp string) {
	cfg, err := s.store.SAMLConfig(ctx, t.ID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("console: reading the SAML settings for the certificate banner", "tenant", t.Slug, "err", err)
		}
		return "", ""
	}
	return sso.ExpiryWarningText(sso.Certificates(cfg.IdPCertPEM), s.now()),
		sso.SPExpiryWarningText(sso.Certificates(cfg.SPCertPEM), t.Slug, s.now())
}

// authorize finds the admin of the request: a console-only session, or a signed-in user of
// the tenant whose userType is admin. Anyone else gets a 403 page (with a sign-in link when
// nobody is signed in and single sign-on is set up).
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) (*request, error) {
	ctx, slug := r.Context(), chi.URLParam(r, "slug")
	t, err := s.store.TenantBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	if c, err := r.Cookie(adminCookie); err == nil && c.Value != "" && len(c.Value) <= 64 {
		h := hash(c.Value)
		_, err := s.store.SessionByHash(ctx, t.ID, store.SessionConsole, h, s.now())
		switch {
		case err == nil:
			return &request{tenant: t, name: BootstrapAdmin, csrf: s.csrfToken(t.ID, "admin", h)}, nil
		case errors.Is(err, store.ErrNotFound):
			s.setAdminCookie(w, slug, "", -1)
		default:
			return nil, err
		}
	}
	user, err := s.sso.CurrentUser(ctx, w, r, t)
	if err != nil {
		return nil, err
	}
	if user == nil {
		e := &pageErr{status: http.StatusForbidden, title: "Sign in to the admin console",
			msg: "Only administrators of " + t.Name + " can open the admin console. Sign in first."}
		if _, err := s.store.SAMLConfig(ctx, t.ID); err == nil {
			e.signIn = "/t/" + slug + "/saml/login?return_to=" + url.QueryEscape(r.URL.Path)
		} else if errors.Is(err, store.ErrNotFound) {
			e.msg = "Single sign-on is not set up for " + t.Name + " yet. An operator can make a one-time sign-in link with: scimd admin link --tenant " + slug
		} else {
			return nil, err
		}
		return nil, e
	}
	if !strings.EqualFold(scim.String(user.Attrs, "userType"), AdminUserType) {
		return nil, &pageErr{status: http.StatusForbidden, title: "Administrators only",
			msg: "You are signed in as " + scim.String(user.Attrs, "userName") + ", who is not an administrator of " + t.Name + ". Ask an administrator to make your userType admin in your identity provider."}
	}
	c, err := r.Cookie(s.sso.SessionCookie())
	if err != nil {
		return nil, err // CurrentUser found a session, so the cookie is there
	}
	return &request{tenant: t, name: scim.String(user.Attrs, "userName"), userID: user.ID,
		csrf: s.csrfToken(t.ID, "sso", hash(c.Value))}, nil
}

// csrfToken binds a form to the session: an HMAC of the tenant and the session's hash
// under the installation's key, so it needs no storage and dies with the session.
func (s *Service) csrfToken(tenantID, kind string, sessionHash []byte) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("scimd console csrf\x00" + tenantID + "\x00" + kind + "\x00"))
	m.Write(sessionHash)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errCSRF = &pageErr{status: http.StatusForbidden, title: "Request refused",
	msg: "This form was not sent from this admin console, or it has expired. Go back, reload the page and try again."}

// checkPost refuses a POST that does not come from this site (Origin, or Referer when a
// browser sends no Origin) or lacks the session's CSRF token. It reads the form.
func (s *Service) checkPost(w http.ResponseWriter, r *http.Request, q *request) error {
	if !s.sameOrigin(r) {
		return errCSRF
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return &pageErr{status: http.StatusBadRequest, title: "Request refused", msg: "The form could not be read, or it is too large."}
	}
	if !hmac.Equal([]byte(r.PostForm.Get(csrfField)), []byte(q.csrf)) {
		return errCSRF
	}
	return nil
}

// sameOrigin reports whether a POST comes from a page of this site.
func (s *Service) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return o == s.origin
	}
	ref, err := url.Parse(r.Header.Get("Referer"))
	return err == nil && ref.Host != "" && ref.Scheme+"://"+ref.Host == s.origin
}

func (s *Service) setAdminCookie(w http.ResponseWriter, slug, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: value, Path: "/t/" + slug + "/admin", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// readableText answers 400 with the error page for a path or query parameter that holds a
// NUL character or invalid UTF-8: the database cannot compare such text (PostgreSQL
// refuses it), and no link of the console makes it.
func (s *Service) readableText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := readable(r.URL.Path)
		for k, vs := range r.URL.Query() {
			ok = ok && readable(k)
			for _, v := range vs {
				ok = ok && readable(v)
			}
		}
		if !ok {
			s.fail(w, r, nil, errUnreadable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errUnreadable = &pageErr{status: http.StatusBadRequest, title: "Bad request", msg: "The address holds characters that cannot be read (a NUL character or invalid UTF-8)."}

func readable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// fail renders err as a page: a *pageErr as it says, store errors as 404/503, anything else
// as a logged 500.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, q *request, err error) {
	var pe *pageErr
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, store.ErrInvalidText):
		pe = errUnreadable
	case errors.Is(err, store.ErrNotFound):
		pe = &pageErr{status: http.StatusNotFound, title: "Not found", msg: "There is no organisation here."}
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		pe = &pageErr{status: http.StatusServiceUnavailable, title: "Unavailable", msg: "The service is unavailable; try again shortly."}
	default:
		s.log.ErrorContext(r.Context(), "console: internal error", "path", r.URL.Path, "err", err)
		pe = &pageErr{status: http.StatusInternalServerError, title: "Error", msg: "Something went wrong on our side."}
	}
	v := &view{Title: pe.title, Slug: chi.URLParam(r, "slug"), Page: pe, req: q}
	if q == nil && pe.status != http.StatusNotFound {
		if t, err := s.store.TenantBySlug(r.Context(), v.Slug); err == nil {
			v.Tenant = t
		}
	}
	s.render(w, pe.status, "error", v)
}

// ---- the sign-in link and sign-out ----

// index sends /t/SLUG/admin to the first page.
func (s *Service) index(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	http.Redirect(w, r, "/t/"+chi.URLParam(r, "slug")+"/admin/saml", http.StatusSeeOther)
}

type signinView struct {
	Token string
}

// signinPage is where a sign-in link lands. It does not use the link: a POST from its
// button does, so that a mail scanner that follows links cannot spend it.
func (s *Service) signinPage(w http.ResponseWriter, r *http.Request) {
	slug := chi.URLParam(r, "slug")
	t, err := s.store.TenantBySlug(r.Context(), slug)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 64 {
		s.fail(w, r, nil, errLink)
		return
	}
	s.render(w, http.StatusOK, "signin", &view{Title: "Sign in to the admin console", Slug: slug, Tenant: t, Page: signinView{Token: token}})
}

var errLink = &pageErr{status: http.StatusForbidden, title: "This sign-in link cannot be used",
	msg: "The link is not valid: it was used already, has expired (links last 15 minutes), or was mistyped. Make a new one with scimd admin link."}

// signin uses a sign-in link once and starts a console-only session.
func (s *Service) signin(w http.ResponseWriter, r *http.Request) {
	ctx, slug := r.Context(), chi.URLParam(r, "slug")
	if !s.sameOrigin(r) {
		s.fail(w, r, nil, errCSRF)
		return
	}
	t, err := s.store.TenantBySlug(ctx, slug)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	token := ""
	if err := r.ParseForm(); err == nil {
		token = r.PostForm.Get("token")
	}
	if token == "" || len(token) > 64 {
		s.fail(w, r, nil, errLink)
		return
	}
	now := s.now()
	if _, err := s.store.TakeAdminLink(ctx, t.ID, hash(token), now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errLink
		}
		s.fail(w, r, nil, err)
		return
	}
	id := randomToken()
	if err := s.store.CreateSession(ctx, store.Session{TenantID: t.ID, Hash: hash(id), Kind: store.SessionConsole, CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionTTL)}); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	s.log.InfoContext(ctx, "console: signed in with a one-time link", "tenant", slug)
	s.setAdminCookie(w, slug, id, int(s.cfg.SessionTTL.Seconds()))
	securityHeaders(w.Header())
	http.Redirect(w, r, "/t/"+slug+"/admin/saml", http.StatusSeeOther)
}

// signout signs the browser out of the tenant: its console-only session and its single
// sign-on session, whichever it has.
func (s *Service) signout(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx, slug := r.Context(), q.tenant.Slug
	if c, err := r.Cookie(adminCookie); err == nil && c.Value != "" {
		if err := s.store.DeleteSession(ctx, q.tenant.ID, hash(c.Value)); err != nil {
			return err
		}
		s.setAdminCookie(w, slug, "", -1)
	}
	if c, err := r.Cookie(s.sso.SessionCookie()); err == nil && c.Value != "" {
		if err := s.store.DeleteSession(ctx, q.tenant.ID, hash(c.Value)); err != nil {
			return err
		}
		http.SetCookie(w, &http.Cookie{Name: s.sso.SessionCookie(), Value: "", Path: "/t/" + slug + "/", MaxAge: -1,
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	}
	securityHeaders(w.Header())
	http.Redirect(w, r, "/t/"+slug+"/", http.StatusSeeOther)
	return nil
}
