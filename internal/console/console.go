// Package console is each tenant's admin console at /t/SLUG/admin: SAML settings, SCIM
// tokens, users, groups and the audit log, as server-rendered pages that work without
// JavaScript. Admins get in through the tenant's single sign-on (users whose userType is
// admin) or, before that exists, through a one-time link made by `scimd admin link`.
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// Defaults and bounds.
const (
	// LinkTTL is how long a sign-in link of `scimd admin link` stays valid.
	LinkTTL = 15 * time.Minute
	// DefaultSessionTTL is how long a console-only session (from a sign-in link) lasts.
	DefaultSessionTTL = 2 * time.Hour
	// AdminUserType is the userType that lets a signed-in user into the console.
	AdminUserType = "admin"
	// BootstrapAdmin names the admin of a console-only session in audit events.
	BootstrapAdmin = "bootstrap"

	adminCookie  = "scimd_admin"
	maxFormBytes = 512 << 10
	csrfField    = "csrf"
)

// Config is what the console needs to know about its deployment.
type Config struct {
	// PublicURL is the absolute URL browsers reach scimd at; the provisioning URL, the SP
	// values, the allowed Origin of form posts and the cookies' Secure flag derive from it.
	PublicURL string
	// SessionTTL is how long a console-only session lasts (default DefaultSessionTTL).
	SessionTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RecomputeBudget bounds the time one request of the user types page spends recomputing
	// users after a rule change (default DefaultRecomputeBudget; negative: none).
	RecomputeBudget time.Duration
}

// Service serves every tenant's admin console.
type Service struct {
	cfg     Config
	store   store.Store
	dir     *directory.Directory
	sso     sso.Provider
	log     *slog.Logger
	origin  string
	secure  bool
	csrfKey []byte
}

//go:embed templates/*.html static/*
var assets embed.FS

// New returns the console. dir is the directory every change goes through (the server's,
// so that events are counted); sso finds the users signed in by single sign-on. The CSRF
// key is read from (or created in) the store, so every replica accepts every other's forms.
func New(ctx context.Context, cfg Config, s store.Store, dir *directory.Directory, sp sso.Provider, log *slog.Logger) (*Service, error) {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("console: public URL %q must be an absolute http(s) URL", cfg.PublicURL)
	}
	defaults.Positive(&cfg.SessionTTL, DefaultSessionTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RecomputeBudget == 0 {
		cfg.RecomputeBudget = DefaultRecomputeBudget
	}
	key, err := s.Secret(ctx, "console_csrf_key", func() []byte { return randomBytes(32) })
	if err != nil {
		return nil, fmt.Errorf("console: CSRF key: %w", err)
	}
	return &Service{cfg: cfg, store: s, dir: dir, sso: sp, log: log, origin: u.Scheme + "://" + u.Host,
		secure: u.Scheme == "https", csrfKey: key}, nil
}

// Mount registers the console's routes on the process's router, each with its full path.
func (s *Service) Mount(r chi.Router) {
	r = r.With(s.readableText)
	r.Get("/console/{asset}", s.asset)
	r.Get("/t/{slug}/admin", s.index)
	r.Get("/t/{slug}/admin/signin", s.signinPage)
	r.Post("/t/{slug}/admin/signin", s.signin)
	r.Post("/t/{slug}/admin/signout", s.admin(s.signout))
	r.Get("/t/{slug}/admin/saml", s.admin(s.samlPage))
	r.Post("/t/{slug}/admin/saml", s.admin(s.samlSave))
	r.Post("/t/{slug}/admin/saml/sp-cert/{step}", s.admin(s.spCertStep))
	r.Get("/t/{slug}/admin/scim", s.admin(s.scimPage))
	r.Post("/t/{slug}/admin/scim/tokens", s.admin(s.tokenCreate))
	r.Post("/t/{slug}/admin/scim/tokens/{id}/revoke", s.admin(s.tokenRevoke))
	r.Get("/t/{slug}/admin/users", s.admin(s.usersPage))
	r.Get("/t/{slug}/admin/users/{id}", s.admin(s.userPage))
	r.Post("/t/{slug}/admin/users/{id}/active", s.admin(s.userActive))
	r.Get("/t/{slug}/admin/groups", s.admin(s.groupsPage))
	r.Get("/t/{slug}/admin/groups/{id}", s.admin(s.groupPage))
	r.Get("/t/{slug}/admin/events", s.admin(s.eventsPage))
	r.Get("/t/{slug}/admin/events/streams/{id}", s.admin(s.setsPage))
	r.Get("/t/{slug}/admin/user-types", s.admin(s.userTypesPage))
	r.Post("/t/{slug}/admin/user-types", s.admin(s.userTypesSave))
	r.Post("/t/{slug}/admin/user-types/recompute", s.admin(s.userTypesRecompute))
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// IssueLink makes a one-time sign-in link to tenant t's console under publicURL, valid for
// LinkTTL from now; only the hash of its token is stored. Errors are store errors.
func IssueLink(ctx context.Context, cs store.ConsoleStore, t store.Tenant, publicURL string, now time.Time) (link string, expires time.Time, err error) {
	token := randomToken()
	now = now.UTC()
	expires = now.Add(LinkTTL)
	if err := cs.CreateAdminLink(ctx, store.AdminLink{TenantID: t.ID, Hash: hash(token), CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, err
	}
	return strings.TrimRight(publicURL, "/") + "/t/" + t.Slug + "/admin/signin?token=" + token, expires, nil
}

// ---- helpers ----

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// randomToken returns 256 random bits, base64url without padding (43 characters).
func randomToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

func hash(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// redirect answers a POST with a redirect to a page of the console (303, so the browser
// GETs it).
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	securityHeaders(w.Header())
	http.Redirect(w, r, path, http.StatusSeeOther)
}
