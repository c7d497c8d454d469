package oidc_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/oidc"
	"github.com/scimd/scimd/internal/store/teststores"
)

// FuzzNetworkInput sends arbitrary codes, refresh tokens, organizations and authorization
// request ids, the handles the provider parses, through the real router: never a 5xx,
// never a token.
func FuzzNetworkInput(f *testing.F) {
	e := newEnv(f, teststores.SQLite(f))
	tenant := e.acme.ID
	for _, s := range []string{"", ".", "..", "x.y.z", tenant + ".", tenant + ".x", tenant + "." + tenant + ".secret",
		strings.Repeat("a", 600), "%00", "../../t/beta", "acme", "ACME", "a/b", "\x00\xff"} {
		f.Add(s)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(t *testing.T, path string, form url.Values, basic bool) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(url.QueryEscape(e.conf.ID), url.QueryEscape(e.confSecret))
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	get := func(t *testing.T, path string) *http.Response {
		res, err := client.Get(e.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	f.Fuzz(func(t *testing.T, s string) {
		responses := map[string]*http.Response{
			"code":       post(t, oidc.TokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {s}, "redirect_uri": {e.conf.RedirectURIs[0]}}, true),
			"refresh":    post(t, oidc.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s}}, true),
			"revoke":     post(t, oidc.RevokePath, url.Values{"token": {s}}, true),
			"introspect": post(t, oidc.IntrospectPath, url.Values{"token": {s}}, true),
			"authorize":  get(t, oidc.AuthorizePath+"?"+url.Values{"client_id": {e.conf.ID}, "redirect_uri": {e.conf.RedirectURIs[0]}, "response_type": {"code"}, "scope": {"openid"}, "organization": {s}}.Encode()),
			"login":      get(t, "/oidc/login?id="+url.QueryEscape(s)),
			"resume":     get(t, "/t/acme/oidc/resume?id="+url.QueryEscape(s)),
		}
		for name, res := range responses {
			if res.StatusCode >= 500 {
				t.Fatalf("%s with %q: %d", name, s, res.StatusCode)
			}
			if name == "code" || name == "refresh" {
				if res.StatusCode == http.StatusOK {
					t.Fatalf("%s with %q got tokens", name, s)
				}
			}
			if loc := res.Header.Get("Location"); strings.Contains(loc, "code=") {
				t.Fatalf("%s with %q issued a code: %s", name, s, loc)
			}
		}
	})
}
