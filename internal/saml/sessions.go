package saml

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// Browser sessions and the signed-in page.

func (s *Service) setSession(w http.ResponseWriter, slug, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/t/" + slug + "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// currentUser returns the signed-in user of the request, checking on every request that
// the session is live and the user still exists and is active. A session of a user that is
// gone or deactivated is deleted. It returns nil and no error when nobody is signed in;
// inactive reports a session that ended because the user is deactivated.
func (s *Service) currentUser(ctx context.Context, w http.ResponseWriter, r *http.Request, t store.Tenant) (user *scim.Resource, inactive bool, err error) {
	user, _, inactive, err = s.currentSession(ctx, w, r, t)
	return user, inactive, err
}

// currentSession is currentUser with the session's start, the time of the IdP login.
func (s *Service) currentSession(ctx context.Context, w http.ResponseWriter, r *http.Request, t store.Tenant) (user *scim.Resource, started time.Time, inactive bool, err error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return nil, time.Time{}, false, nil
	}
	hash := hashToken(c.Value)
	sess, err := s.store.SessionByHash(ctx, t.ID, store.SessionSSO, hash, s.now())
	if errors.Is(err, store.ErrNotFound) {
		s.setSession(w, t.Slug, "", -1)
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, err
	}
	user, err = s.dir.Get(ctx, scim.Users, t, sess.UserID, true)
	if errors.Is(err, store.ErrNotFound) {
		user, err = nil, nil
	}
	if err != nil {
		return nil, time.Time{}, false, err
	}
	if user == nil || !directory.CanSignIn(user) {
		if err := s.store.DeleteSession(ctx, t.ID, hash); err != nil {
			return nil, time.Time{}, false, err
		}
		s.setSession(w, t.Slug, "", -1)
		return nil, time.Time{}, user != nil, nil
	}
	return user, sess.CreatedAt, false, nil
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
	if _, err := s.store.SAMLConfig(ctx, t.ID); err == nil {
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
	if p.Name = scim.PersonName(u.Attrs); p.Name == "" {
		p.Name = p.UserName
	}
	p.Emails = scim.Values(u.Attrs, "emails")
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

// logout ends the session, then starts single logout at the IdP when the tenant has it
// (startSingleLogout). The session cookie is SameSite=Lax, so a cross-site form cannot
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
	var sess store.Session // the login's NameID and session index, for single logout
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if len(c.Value) <= 64 {
			if sess, err = s.store.SessionByHash(ctx, t.ID, store.SessionSSO, hashToken(c.Value), s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.pageError(w, r, slug, err)
				return
			}
		}
		if err := s.store.DeleteSession(ctx, t.ID, hashToken(c.Value)); err != nil {
			s.pageError(w, r, slug, err)
			return
		}
	}
	s.setSession(w, slug, "", -1)
	if s.startSingleLogout(w, r, t, sess) {
		return
	}
	securityHeaders(w.Header())
	http.Redirect(w, r, "/t/"+slug+"/", http.StatusSeeOther)
}
