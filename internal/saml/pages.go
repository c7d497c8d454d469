package saml

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"io"
	"net/http"

	"github.com/scimd/scimd/internal/web"
)

// pageCSS is the only style of the pages; the CSP allows exactly it by hash, so the pages
// load nothing from anywhere.
const pageCSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1f2328}
main{max-width:36rem;margin:4rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:2rem}
h1{font-size:1.4rem;margin-top:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem}
dt{font-weight:600}dd{margin:0}ul{margin:0;padding-left:1.2rem}
.button{display:inline-block;background:#0969da;color:#fff;border:0;border-radius:6px;padding:.6rem 1.2rem;font-size:1rem;text-decoration:none;cursor:pointer}
.muted{color:#59636e;font-size:.9rem}`

var cspHeader = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

var pages = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
{{- if .User}}
<h1 id="welcome">Signed in as {{.User.Name}}</h1>
<dl>
<dt>Name</dt><dd id="name">{{.User.Name}}</dd>
<dt>userName</dt><dd id="userName">{{.User.UserName}}</dd>
<dt>Emails</dt><dd id="emails">{{if .User.Emails}}<ul>{{range .User.Emails}}<li>{{.}}</li>{{end}}</ul>{{else}}none{{end}}</dd>
<dt>userType</dt><dd id="userType">{{.User.UserType}}</dd>
<dt>Groups</dt><dd id="groups">{{if .User.Groups}}<ul>{{range .User.Groups}}<li>{{.}}</li>{{end}}</ul>{{else}}none{{end}}</dd>
</dl>
<form method="post" action="{{.LogoutURL}}"><button class="button" id="signout" type="submit">Sign out</button></form>
{{- else}}
<h1>{{.Title}}</h1>
<p id="message">{{.Message}}</p>
{{- if .LoginURL}}
<p><a class="button" id="signin" href="{{.LoginURL}}">Sign in with SSO</a></p>
{{- end}}
{{- end}}
<p class="muted">{{.Tenant}}</p>
</main>
</body>
</html>
`))

// pageUser is what the signed-in page shows.
type pageUser struct {
	Name, UserName, UserType string
	Emails, Groups           []string
}

type page struct {
	Title, Message, Tenant string
	LoginURL, LogoutURL    string
	User                   *pageUser
	CSS                    template.CSS
}

// render writes a page with the headers every page has: no caching, no framing, a CSP that
// allows only the page's own style.
func render(w http.ResponseWriter, status int, p page) {
	p.CSS = template.CSS(pageCSS)
	web.WritePage(w, status, cspHeader, func(w io.Writer) error { return pages.Execute(w, p) })
}

// securityHeaders sets the headers of every SAML page and redirect.
func securityHeaders(h http.Header) { web.SecurityHeaders(h, cspHeader) }
