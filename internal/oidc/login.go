package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// bindingCookie ties an authorization request to the browser that sent it: only that
// browser can resume it after the IdP login. It is scoped to the tenant's resume path.
const bindingCookie = "scimd_oidc"

// maxOrganization bounds the organization parameter; a slug is far shorter.
const maxOrganization = 128

// bindBrowser wraps the authorization endpoint: it reads the organization parameter (which
// the library does not know) and sets the binding cookie, and passes both to
// CreateAuthRequest through the context.
func (p *Provider) bindBrowser(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, http.StatusBadRequest, "The authorization request could not be read.")
			return
		}
		org := r.Form.Get("organization")
		if len(org) > maxOrganization {
			org = org[:maxOrganization]
		}
		binding := randomString()
		if org != "" && validSlug(org) {
			http.SetCookie(w, &http.Cookie{Name: bindingCookie, Value: binding, Path: "/t/" + org + "/oidc/",
				MaxAge: int(p.cfg.RequestTTL.Seconds()), HttpOnly: true, Secure: strings.HasPrefix(p.cfg.Issuer, "https://"),
				SameSite: http.SameSiteLaxMode})
		}
		br := &browserRequest{organization: org, bindingHash: hash(binding)}
		pw := &pageWriter{ResponseWriter: w}
		next(pw, r.WithContext(context.WithValue(r.Context(), requestKey{}, br)))
		if pw.refused {
			p.errorPage(w, pw.status, "The application's sign-in request was refused: "+strings.TrimSpace(pw.body.String()))
		}
	}
}

// pageWriter turns the library's plain-text refusals of an authorization request (an
// unknown client, a redirect URI that is not registered: the application cannot be told)
// into scimd's page.
type pageWriter struct {
	http.ResponseWriter
	status  int
	refused bool
	body    strings.Builder
}

func (pw *pageWriter) WriteHeader(code int) {
	if code >= 400 && strings.HasPrefix(pw.Header().Get("Content-Type"), "text/plain") {
		pw.status, pw.refused = code, true
		pw.Header().Del("Content-Type")
		pw.Header().Del("X-Content-Type-Options")
		return
	}
	pw.ResponseWriter.WriteHeader(code)
}

func (pw *pageWriter) Write(b []byte) (int, error) {
	if pw.refused {
		if pw.body.Len() < 1024 {
			pw.body.Write(b)
		}
		return len(b), nil
	}
	return pw.ResponseWriter.Write(b)
}

// validSlug reports whether s can be a tenant slug in a path (no separators, no escapes).
func validSlug(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// login is the library's login URL: it sends the browser on to the tenant's resume path,
// where the tenant's session cookie is visible.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	a, err := p.storage.authRequest(r.Context(), id)
	if err != nil {
		p.requestGone(w, err)
		return
	}
	http.Redirect(w, r, resumeURL(a.Tenant, id), http.StatusFound)
}

func resumeURL(slug, id string) string {
	return "/t/" + slug + "/oidc/resume?id=" + url.QueryEscape(id)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// resume finishes an authorization request for the browser's signed-in user of the
// request's tenant, or sends the browser through the tenant's SAML login and back here.
func (p *Provider) resume(w http.ResponseWriter, r *http.Request) {
	ctx, slug, id := r.Context(), chi.URLParam(r, "slug"), r.URL.Query().Get("id")
	a, err := p.storage.authRequest(ctx, id)
	if err != nil {
		p.requestGone(w, err)
		return
	}
	t, err := p.st.Tenant(ctx, a.tenantID())
	if err != nil {
		p.requestGone(w, err)
		return
	}
	// The request is of the tenant it names; a path of another tenant carries another
	// tenant's session and is refused, never answered.
	if t.Slug != slug {
		p.errorPage(w, http.StatusBadRequest, "This sign-in belongs to another organization.")
		return
	}
	c, err := r.Cookie(bindingCookie)
	if err != nil || subtle.ConstantTimeCompare(hash(c.Value), a.rec.BindingHash) != 1 {
		p.metrics.refused("other_browser")
		p.errorPage(w, http.StatusForbidden, "This sign-in was started in another browser. Start it again from the application.")
		return
	}
	if a.Done() {
		// The code was already issued (a reload, or the library's callback): never a second.
		p.errorPage(w, http.StatusBadRequest, "This sign-in is already complete. Start it again from the application.")
		return
	}
	user, authTime, deactivated, err := p.signIn.SignedIn(ctx, w, r, t)
	if err != nil {
		p.authError(w, r, a, zoidc.ErrServerError().WithParent(err))
		return
	}
	if deactivated {
		p.refusedEvent(ctx, t, a.ClientID, "", "user_deactivated")
		p.authError(w, r, a, zoidc.ErrAccessDenied().WithDescription("the user is deactivated"))
		return
	}
	now := p.now()
	fresh := a.MaxAge == nil || !authTime.Before(now.Add(-time.Duration(*a.MaxAge)*time.Second)) ||
		(!a.rec.LoginStartedAt.IsZero() && !authTime.Before(a.rec.LoginStartedAt))
	if user == nil || !fresh {
		force := a.MaxAge != nil
		if force {
			if err := p.st.StartOIDCLogin(ctx, t.ID, a.GetID(), now.Truncate(time.Second)); err != nil {
				p.authError(w, r, a, zoidc.ErrServerError().WithParent(err))
				return
			}
		}
		http.Redirect(w, r, p.signIn.LoginURL(t.Slug, resumeURL(t.Slug, a.GetID()), force), http.StatusFound)
		return
	}
	if _, _, err := p.activeUser(ctx, t.ID, user.ID, a.ClientID); errors.Is(err, errNoAccess) {
		p.authError(w, r, a, zoidc.ErrAccessDenied().WithDescription("the user no longer has access"))
		return
	} else if err != nil {
		p.authError(w, r, a, zoidc.ErrServerError().WithParent(err))
		return
	}
	if err := p.st.CompleteOIDCAuthRequest(ctx, t.ID, a.GetID(), user.ID, authTime); err != nil {
		p.authError(w, r, a, zoidc.ErrServerError().WithParent(err))
		return
	}
	a.rec.UserID, a.rec.AuthTime = user.ID, authTime
	p.metrics.signIn.Observe(now.Sub(a.rec.CreatedAt).Seconds())
	p.event(ctx, t, store.Event{Name: EventSignIn, Outcome: directory.OutcomeSuccess, Actor: "oidc client " + a.ClientID,
		ResourceType: "User", ResourceID: user.ID, ResourceName: userName(user.Attrs)})
	http.SetCookie(w, &http.Cookie{Name: bindingCookie, Value: "", Path: "/t/" + t.Slug + "/oidc/", MaxAge: -1})
	op.AuthResponse(a, p.op, w, r.WithContext(op.ContextWithIssuer(ctx, p.cfg.Issuer)))
}

func userName(attrs map[string]any) string {
	s, _ := attrs["userName"].(string)
	return s
}

// authError sends an error to the application's (already checked) redirect URI.
func (p *Provider) authError(w http.ResponseWriter, r *http.Request, a *authRequest, err error) {
	op.AuthRequestError(w, r.WithContext(op.ContextWithIssuer(r.Context(), p.cfg.Issuer)), a, err, p.op)
}

// requestGone answers a resume or login of a request that is unknown or expired.
func (p *Provider) requestGone(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		p.errorPage(w, http.StatusBadRequest, "This sign-in has expired or is unknown. Start it again from the application.")
		return
	}
	p.log.Error("oidc: reading an authorization request failed", "err", err)
	p.errorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable; try again shortly.")
}

var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title></head>
<body><h1>Sign-in failed</h1><p>{{.}}</p></body></html>
`))

// errorPage is the page a browser sees when the application cannot be told (no valid
// redirect URI, or a request that is gone).
func (p *Provider) errorPage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	errorTemplate.Execute(w, msg)
}

// Audit event names (the directory's, so that the console's audit log offers them).
const (
	EventSignIn        = directory.EventAppSignIn
	EventFamilyRevoked = directory.EventAppFamilyRevoked
)

// event writes an audit event of the tenant.
func (p *Provider) event(ctx context.Context, t store.Tenant, ev store.Event) {
	ev.TenantID, ev.At = t.ID, p.now()
	if err := p.st.AppendEvent(context.WithoutCancel(ctx), &ev); err != nil {
		p.log.ErrorContext(ctx, "oidc: audit event not written", "event", ev.Name, "err", err)
	}
}

// refusedEvent records a refused sign-in, code or refresh, with its reason.
func (p *Provider) refusedEvent(ctx context.Context, t store.Tenant, clientID, userID, reason string) {
	p.metrics.refused(reason)
	ev := store.Event{Name: EventSignIn, Outcome: directory.OutcomeClientErr, Actor: "oidc client " + clientID, Detail: reason}
	if userID != "" {
		ev.ResourceType, ev.ResourceID = "User", userID
	}
	p.event(ctx, t, ev)
}

// revokeFamily revokes every token of a grant whose code or refresh token was replayed.
func (p *Provider) revokeFamily(ctx context.Context, tenantID, family, reason string) {
	ctx = context.WithoutCancel(ctx)
	p.metrics.refused(reason)
	n, err := p.st.RevokeOIDCFamily(ctx, tenantID, family, p.now())
	if err != nil {
		p.log.ErrorContext(ctx, "oidc: revoking a replayed grant failed", "err", err)
		return
	}
	t, err := p.st.Tenant(ctx, tenantID)
	if err != nil {
		return
	}
	p.log.WarnContext(ctx, "oidc: replay; token family revoked", "tenant", t.Slug, "reason", reason, "tokens", n)
	p.event(ctx, t, store.Event{Name: EventFamilyRevoked, Outcome: directory.OutcomeClientErr, Actor: "oidc", Detail: reason})
}
