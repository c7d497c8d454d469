// Package web is what the browser-facing pages of the SAML service and the admin console
// share: the security headers every page and redirect sends, and the writing of a rendered
// page. Each caller keeps its own templates and its own Content-Security-Policy.
package web

import (
	"bytes"
	"io"
	"net/http"
)

// SecurityHeaders sets the headers of every browser-facing response: the page's CSP, no
// framing, no MIME sniffing, no caching, and a referrer policy that keeps the Origin header
// of the site's own form posts (no-referrer would null it).
func SecurityHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// WritePage renders a page with render into a buffer and writes it as HTML with the security
// headers and status. A render error is answered with a bare 500 and returned, for the
// caller to log: nothing of a half-rendered page reaches the browser.
func WritePage(w http.ResponseWriter, status int, csp string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	err := render(&buf)
	if err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("internal error\n")
	}
	SecurityHeaders(w.Header(), csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return err
}
