package console

import (
	"html/template"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/web"

	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/store"
)

// ---- rendering ----

// view is what every page template gets.
type view struct {
	Title  string
	Nav    string // the navigation entry of the page
	Slug   string
	Tenant store.Tenant
	Flash  string
	Script bool // the page has copy buttons
	Page   any
	req    *request
}

// Admin is the signed-in admin's name, or "" on pages for visitors.
func (v *view) Admin() string {
	if v.req == nil {
		return ""
	}
	return v.req.name
}

// CSRF is the session's CSRF token for the page's forms.
func (v *view) CSRF() string {
	if v.req == nil {
		return ""
	}
	return v.req.csrf
}

// CertWarning is the banner of the tenant's admin pages when one of its IdP signing
// certificates expires within sso.ExpiryWarning, or "".
func (v *view) CertWarning() string {
	if v.req == nil {
		return ""
	}
	return v.req.certWarning
}

// SPCertWarning is the banner of the tenant's admin pages when its SP certificate expires
// within sso.ExpiryWarning, or "".
func (v *view) SPCertWarning() string {
	if v.req == nil {
		return ""
	}
	return v.req.spCertWarning
}

// TenantName is the tenant's name, or "" on pages with no tenant.
func (v *view) TenantName() string {
	if v.req != nil {
		return v.req.tenant.Name
	}
	return v.Tenant.Name
}

// when formats a time for people; the zero time is "never".
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

var funcs = template.FuncMap{
	"when":   when,
	"stamp":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04:05") },
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":   strings.Join,
	"events": func(slug string, evs []store.Event) eventsTable { return eventsTable{Slug: slug, Events: evs} },
	"add":    func(a, b int) int { return a + b },
}

var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", n))
	}
	return out
}()

// render writes a page with the headers every page has.
func (s *Service) render(w http.ResponseWriter, status int, name string, v *view) {
	err := web.WritePage(w, status, cspHeader, func(w io.Writer) error { return pages[name].ExecuteTemplate(w, "layout", v) })
	if err != nil {
		s.log.Error("console: template", "page", name, "err", err)
	}
}

// cspHeader allows the console's own stylesheet and script and nothing else: no inline
// script or style, no framing, forms only to this site.
const cspHeader = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'none'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers of every console page and redirect.
func securityHeaders(h http.Header) { web.SecurityHeaders(h, cspHeader) }

// asset serves the stylesheet and the copy-button script.
func (s *Service) asset(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "asset")
	types := map[string]string{"console.css": "text/css; charset=utf-8", "copy.js": "text/javascript; charset=utf-8"}
	ct, ok := types[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := assets.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}
