package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// Browser sends requests to a handler in process as a browser does: a form is POSTed
// urlencoded with the page's Origin (which the console's and SAML's CSRF checks read), and
// the cookies given are sent. It is the one form-posting helper of the black-box tests.
type Browser struct {
	Handler http.Handler
	Origin  string // scheme://host the pages are served from, e.g. "http://scimd.test"
}

// Page is one answer of a Browser.
type Page struct {
	Status  int
	Header  http.Header
	Body    string
	Cookies []*http.Cookie
}

// Request makes a request of path (below Origin). A non-nil form makes it a form
// submission; header is name, value pairs that set (or, with an empty value, delete) headers.
func (b Browser) Request(method, path string, form url.Values, cookies []*http.Cookie, header ...string) *http.Request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, b.Origin+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.Origin)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req
}

// Do sends Request's request through the handler and returns the answer.
func (b Browser) Do(method, path string, form url.Values, cookies []*http.Cookie, header ...string) Page {
	w := httptest.NewRecorder()
	b.Handler.ServeHTTP(w, b.Request(method, path, form, cookies, header...))
	res := w.Result()
	raw, _ := io.ReadAll(res.Body)
	return Page{Status: res.StatusCode, Header: res.Header, Body: string(raw), Cookies: res.Cookies()}
}
