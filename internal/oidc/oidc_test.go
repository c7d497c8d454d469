package oidc_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/scimd/scimd/internal/oidc"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

const verifier = "a-verifier-of-at-least-forty-three-characters-0123456789"

// TestSignIn: the application signs a user in with go-oidc and x/oauth2, verifies the ID
// token against the JWKS, reads the same claims from userinfo, and refreshes.
func TestSignIn(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s)
		ann := e.newUser(e.acme, "ann@acme.test")
		for _, style := range []struct {
			name  string
			style oauth2.AuthStyle
		}{{"client_secret_basic", oauth2.AuthStyleInHeader}, {"client_secret_post", oauth2.AuthStyleInParams}} {
			run(t, e, style.name, func(t *testing.T, e *env) {
				code := e.code(e.conf, ann, verifier)
				tok, err := e.oauth2Config(e.conf, e.confSecret, style.style).Exchange(ctx, code, oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatal(err)
				}
				idt, claims, err := e.verify(tok, e.conf.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"iss": e.issuer, "sub": ann.ID, "aud": []any{e.conf.ID}, "nonce": "n-acme", "email": "ann@acme.test",
					"email_verified": false, "name": "Ann Lee", "given_name": "Ann", "family_name": "Lee",
					"preferred_username": "ann@acme.test", "tenant": "acme", "tenant_id": e.acme.ID, "user_type": "admin",
					"groups": []any{"Sales ann@acme.test"}}
				checkClaims(t, "ID token", claims, want)
				for _, c := range []string{"exp", "iat", "auth_time"} {
					if _, ok := claims[c]; !ok {
						t.Errorf("the ID token has no %s", c)
					}
				}
				if ttl := time.Until(tok.Expiry); ttl < 9*time.Minute || ttl > 10*time.Minute+5*time.Second {
					t.Errorf("the access token lives %v, want 10 minutes", ttl)
				}
				if idt.Expiry.Sub(idt.IssuedAt) > 10*time.Minute {
					t.Errorf("the ID token lives %v", idt.Expiry.Sub(idt.IssuedAt))
				}
				info, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
				if err != nil {
					t.Fatal(err)
				}
				var ui map[string]any
				info.Claims(&ui)
				delete(want, "iss")
				delete(want, "aud")
				delete(want, "nonce")
				checkClaims(t, "userinfo", ui, want)
				// Refresh: a new refresh token each time, and a new ID token.
				next, err := e.refresh(e.conf, e.confSecret, tok.RefreshToken)
				if err != nil {
					t.Fatal(err)
				}
				if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
					t.Fatal("the refresh token was not rotated")
				}
				if _, _, err := e.verify(next, e.conf.ID); err != nil {
					t.Fatalf("refreshed ID token: %v", err)
				}
			})
		}
	})
}

func checkClaims(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g := got[k]
		if gs, ok := g.([]any); ok {
			ws, _ := w.([]any)
			if !slices.EqualFunc(gs, ws, func(a, b any) bool { return a == b }) {
				t.Errorf("%s claim %s = %v, want %v", what, k, g, w)
			}
			continue
		}
		if g != w {
			t.Errorf("%s claim %s = %v (%T), want %v", what, k, g, g, w)
		}
	}
}

// TestDiscovery: the discovery document names what the application needs, and only that.
func TestDiscovery(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	resp, err := http.Get(e.issuer + oidc.DiscoveryPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"issuer": e.issuer, "authorization_endpoint": e.issuer + oidc.AuthorizePath,
		"token_endpoint": e.issuer + oidc.TokenPath, "userinfo_endpoint": e.issuer + oidc.UserinfoPath,
		"revocation_endpoint": e.issuer + oidc.RevokePath, "jwks_uri": e.issuer + oidc.JWKSPath}
	checkClaims(t, "discovery", doc, want)
	if _, ok := doc["end_session_endpoint"]; ok {
		t.Error("discovery names an end-session endpoint scimd does not serve")
	}
	lists := map[string][]string{"code_challenge_methods_supported": {"S256"}, "response_types_supported": {"code"},
		"id_token_signing_alg_values_supported": {"RS256"}}
	for k, w := range lists {
		var got []string
		for _, v := range doc[k].([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s = %v, want %v", k, got, w)
		}
	}
	methods := doc["token_endpoint_auth_methods_supported"].([]any)
	for _, m := range []string{"client_secret_basic", "client_secret_post", "none"} {
		if !slices.Contains(methods, any(m)) {
			t.Errorf("token_endpoint_auth_methods_supported %v lacks %s", methods, m)
		}
	}
}

// TestRefusals is the refusal catalogue, each case through the real router, on both
// backends.
func TestRefusals(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s)
		ann := e.newUser(e.acme, "ann@acme.test")
		page := func(t *testing.T, e *env, q url.Values, want string) {
			t.Helper()
			b := e.browser()
			b.signIn(e.acme, ann, e.clock.Now())
			r := b.authorize(q)
			if r.location != nil || r.status != http.StatusBadRequest || !strings.Contains(r.body, want) ||
				!strings.Contains(r.body, "<h1>Sign-in failed</h1>") {
				t.Fatalf("got %d %v %q; want a 400 page saying %q", r.status, r.location, r.body, want)
			}
		}
		redirected := func(t *testing.T, b *browser, q url.Values, wantErr string) result {
			t.Helper()
			r := b.authorize(q)
			if r.location == nil || r.location.Host == "" || r.param("error") != wantErr || r.param("code") != "" {
				t.Fatalf("got %d %v %q; want a redirect to the application with error=%s", r.status, r.location, r.body, wantErr)
			}
			if r.param("state") != q.Get("state") {
				t.Fatalf("state %q not echoed in the error", q.Get("state"))
			}
			return r
		}
		signedIn := func(e *env) *browser {
			b := e.browser()
			b.signIn(e.acme, ann, e.clock.Now())
			return b
		}

		run(t, e, "wrong redirect_uri", func(t *testing.T, e *env) {
			q := authParams(e.conf, "acme")
			q.Set("redirect_uri", "https://app.example/cb/evil")
			page(t, e, q, "redirect_uri")
		})
		run(t, e, "redirect_uri of another client", func(t *testing.T, e *env) {
			q := authParams(e.conf, "acme")
			q.Set("redirect_uri", e.other.RedirectURIs[0])
			page(t, e, q, "redirect_uri")
		})
		run(t, e, "missing redirect_uri", func(t *testing.T, e *env) {
			q := authParams(e.conf, "acme")
			q.Del("redirect_uri")
			page(t, e, q, "redirect_uri")
		})
		run(t, e, "unknown client", func(t *testing.T, e *env) {
			q := authParams(e.conf, "acme")
			q.Set("client_id", "app_nope")
			page(t, e, q, "client")
		})
		run(t, e, "missing PKCE for a public client", func(t *testing.T, e *env) {
			redirected(t, signedIn(e), authParams(e.pub, "acme"), "invalid_request")
		})
		run(t, e, "plain PKCE", func(t *testing.T, e *env) {
			q := authParams(e.pub, "acme")
			q.Set("code_challenge", verifier)
			q.Set("code_challenge_method", "plain")
			redirected(t, signedIn(e), q, "invalid_request")
		})
		run(t, e, "missing organization", func(t *testing.T, e *env) {
			q := authParams(e.conf, "acme")
			q.Del("organization")
			redirected(t, signedIn(e), q, "invalid_request")
		})
		run(t, e, "unknown tenant", func(t *testing.T, e *env) {
			redirected(t, signedIn(e), authParams(e.conf, "nope"), "invalid_request")
		})
		run(t, e, "tenant without SSO", func(t *testing.T, e *env) {
			redirected(t, signedIn(e), authParams(e.conf, "gamma"), "invalid_request")
		})
		run(t, e, "organization of another tenant with an existing session", func(t *testing.T, e *env) {
			r := signedIn(e).authorize(authParams(e.conf, "beta"))
			if r.location == nil || !strings.HasPrefix(r.location.Path, "/t/beta/saml/login") || r.param("code") != "" {
				t.Fatalf("got %d %v; want beta's SAML login, no code", r.status, r.location)
			}
		})
		run(t, e, "no session goes to the IdP", func(t *testing.T, e *env) {
			r := e.browser().authorize(authParams(e.conf, "acme"))
			if r.location == nil || r.location.Path != "/t/acme/saml/login" {
				t.Fatalf("got %d %v", r.status, r.location)
			}
			rt := r.location.Query().Get("return_to")
			if !strings.HasPrefix(rt, "/t/acme/oidc/resume?id=") || r.location.Query().Get("force_authn") != "" {
				t.Fatalf("SAML login %v; want a return to the resume path, no ForceAuthn", r.location)
			}
		})
		run(t, e, "prompt=login forces a fresh IdP login", func(t *testing.T, e *env) {
			q := authParams(e.conf, "acme")
			q.Set("prompt", "login")
			r := signedIn(e).authorize(q)
			if r.location == nil || r.location.Path != "/t/acme/saml/login" || r.location.Query().Get("force_authn") != "1" {
				t.Fatalf("got %d %v; want a forced SAML login", r.status, r.location)
			}
		})
		run(t, e, "max_age older than the session forces a fresh IdP login", func(t *testing.T, e *env) {
			b := e.browser()
			b.signIn(e.acme, ann, e.clock.Now().Add(-time.Hour))
			q := authParams(e.conf, "acme")
			q.Set("max_age", "600")
			r := b.authorize(q)
			if r.location == nil || r.location.Query().Get("force_authn") != "1" {
				t.Fatalf("got %d %v; want a forced SAML login", r.status, r.location)
			}
			q.Set("max_age", "7200")
			if r := b.authorize(q); r.param("code") == "" {
				t.Fatalf("a session within max_age got %d %v", r.status, r.location)
			}
		})
		run(t, e, "resume from another browser", func(t *testing.T, e *env) {
			b := e.browser()
			r := b.authorize(authParams(e.conf, "acme"))
			thief := signedIn(e)
			resp, err := thief.c.Get(e.issuer + r.location.Query().Get("return_to"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
				t.Fatalf("another browser resumed the request: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
		run(t, e, "a completed authorization is not resumed twice", func(t *testing.T, e *env) {
			b := signedIn(e)
			r := b.authorize(authParams(e.conf, "acme"))
			if r.param("code") == "" {
				t.Fatalf("no code: %v", r.location)
			}
			// Resume the same request again, as a reload or the library's callback would.
			res, err := b.c.Get(e.issuer + oidc.AuthorizePath + "?" + authParams(e.conf, "acme").Encode())
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			login, _ := res.Request.URL.Parse(res.Header.Get("Location"))
			res, _ = b.c.Get(login.String())
			res.Body.Close()
			resume, _ := res.Request.URL.Parse(res.Header.Get("Location"))
			if res, _ = b.c.Get(resume.String()); res.StatusCode != http.StatusFound {
				t.Fatalf("first resume = %d", res.StatusCode)
			}
			res.Body.Close()
			res, _ = b.c.Get(resume.String())
			res.Body.Close()
			if res.StatusCode < 400 || res.Header.Get("Location") != "" {
				t.Fatalf("second resume of one request = %d %s; want a page, no second code", res.StatusCode, res.Header.Get("Location"))
			}
		})
		run(t, e, "introspection by another client", func(t *testing.T, e *env) {
			tok, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, ann, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				id, secret string
				active     bool
			}{{e.conf.ID, e.confSecret, true}, {e.other.ID, e.otherSecret, false}} {
				req, _ := http.NewRequest(http.MethodPost, e.issuer+oidc.IntrospectPath, strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(url.QueryEscape(tc.id), url.QueryEscape(tc.secret))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var body struct {
					Active bool   `json:"active"`
					Sub    string `json:"sub"`
				}
				json.NewDecoder(res.Body).Decode(&body)
				res.Body.Close()
				if body.Active != tc.active || (tc.active && body.Sub != ann.ID) {
					t.Fatalf("introspection by %s = %+v, want active %v", tc.id, body, tc.active)
				}
			}
		})
		run(t, e, "nonce and state echoed", func(t *testing.T, e *env) {
			code := e.code(e.conf, ann, "")
			tok, err := e.exchange(e.conf, e.confSecret, code, "")
			if err != nil {
				t.Fatal(err)
			}
			_, claims, err := e.verify(tok, e.conf.ID)
			if err != nil || claims["nonce"] != "n-acme" {
				t.Fatalf("nonce = %v, %v", claims["nonce"], err)
			}
			b := signedIn(e)
			r := b.authorize(authParams(e.conf, "acme"))
			if r.param("state") != "st-acme" || r.location.Scheme+"://"+r.location.Host+r.location.Path != e.conf.RedirectURIs[0] {
				t.Fatalf("redirect %v; want the registered URI with state st-acme", r.location)
			}
		})
		run(t, e, "oversized request", func(t *testing.T, e *env) {
			body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {strings.Repeat("x", 70<<10)}}.Encode()
			res, err := http.Post(e.issuer+oidc.TokenPath, "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("a 70 KiB token request = %d, want 413", res.StatusCode)
			}
		})
		run(t, e, "wrong secret", func(t *testing.T, e *env) {
			code := e.code(e.conf, ann, "")
			if _, err := e.exchange(e.conf, "scimd_cs_wrong", code, ""); oauthError(err) != "invalid_client" {
				t.Fatalf("exchange with a wrong secret: %v", err)
			}
		})
		run(t, e, "wrong verifier", func(t *testing.T, e *env) {
			code := e.code(e.pub, ann, verifier)
			if _, err := e.exchange(e.pub, "", code, verifier+"x"); oauthError(err) != "invalid_grant" {
				t.Fatalf("exchange with a wrong verifier: %v", err)
			}
		})
		run(t, e, "missing verifier", func(t *testing.T, e *env) {
			code := e.code(e.pub, ann, verifier)
			if _, err := e.exchange(e.pub, "", code, ""); oauthError(err) != "invalid_grant" && oauthError(err) != "invalid_request" {
				t.Fatalf("exchange without the verifier: %v", err)
			}
		})
		run(t, e, "public client with PKCE", func(t *testing.T, e *env) {
			code := e.code(e.pub, ann, verifier)
			tok, err := e.exchange(e.pub, "", code, verifier)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.verify(tok, e.pub.ID); err != nil {
				t.Fatal(err)
			}
		})
		run(t, e, "code reuse", func(t *testing.T, e *env) {
			code := e.code(e.conf, ann, "")
			tok, err := e.exchange(e.conf, e.confSecret, code, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.exchange(e.conf, e.confSecret, code, ""); oauthError(err) != "invalid_grant" {
				t.Fatalf("second exchange: %v", err)
			}
			// The tokens the first exchange produced are revoked.
			if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Fatal("userinfo accepts an access token of a replayed code")
			}
			if _, err := e.refresh(e.conf, e.confSecret, tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh with a token of a replayed code: %v", err)
			}
		})
		run(t, e, "expired code", func(t *testing.T, e *env) {
			code := e.code(e.conf, ann, "")
			e.clock.Add(61 * time.Second)
			defer e.clock.Add(-61 * time.Second)
			if _, err := e.exchange(e.conf, e.confSecret, code, ""); oauthError(err) != "invalid_grant" {
				t.Fatalf("exchange of an expired code: %v", err)
			}
		})
		run(t, e, "code from another client", func(t *testing.T, e *env) {
			code := e.code(e.conf, ann, "")
			cfg := e.oauth2Config(e.other, e.otherSecret, oauth2.AuthStyleInHeader)
			cfg.RedirectURL = e.conf.RedirectURIs[0]
			if _, err := cfg.Exchange(ctx, code); oauthError(err) != "invalid_grant" {
				t.Fatalf("another client's exchange: %v", err)
			}
		})
		run(t, e, "code with another redirect_uri", func(t *testing.T, e *env) {
			code := e.code(e.conf, ann, "")
			cfg := e.oauth2Config(e.conf, e.confSecret, oauth2.AuthStyleInHeader)
			cfg.RedirectURL = e.conf.RedirectURIs[1]
			if _, err := cfg.Exchange(ctx, code); oauthError(err) != "invalid_grant" {
				t.Fatalf("exchange with another redirect_uri: %v", err)
			}
		})
		run(t, e, "refresh token reuse", func(t *testing.T, e *env) {
			tok, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, ann, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			next, err := e.refresh(e.conf, e.confSecret, tok.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.refresh(e.conf, e.confSecret, tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("reused refresh token: %v", err)
			}
			// The whole family is revoked: the rotated token too.
			if _, err := e.refresh(e.conf, e.confSecret, next.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh with the family's newest token after a replay: %v", err)
			}
			events, _ := e.st.Events(ctx, e.acme.ID, store.EventQuery{Name: oidc.EventFamilyRevoked})
			if len(events) == 0 {
				t.Fatal("no audit event for the revoked family")
			}
		})
		run(t, e, "refresh token of another client", func(t *testing.T, e *env) {
			tok, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, ann, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.refresh(e.other, e.otherSecret, tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("another client's refresh: %v", err)
			}
		})
		run(t, e, "no refresh token without offline_access", func(t *testing.T, e *env) {
			b := signedIn(e)
			r := b.authorize(authParams(e.conf, "acme", "openid"))
			tok, err := e.exchange(e.conf, e.confSecret, r.param("code"), "")
			if err != nil || tok.RefreshToken != "" {
				t.Fatalf("exchange = %v, refresh token %q", err, tok.RefreshToken)
			}
		})
		run(t, e, "revoked refresh token", func(t *testing.T, e *env) {
			tok, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, ann, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
			req, _ := http.NewRequest(http.MethodPost, e.issuer+oidc.RevokePath, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(e.conf.ID), url.QueryEscape(e.confSecret))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("revocation = %d", resp.StatusCode)
			}
			if _, err := e.refresh(e.conf, e.confSecret, tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh with a revoked token: %v", err)
			}
			if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Fatal("userinfo accepts an access token of a revoked grant")
			}
		})
		run(t, e, "rotated secret keeps working for its grace period", func(t *testing.T, e *env) {
			c, secret, err := oidc.NewClient(ctx, e.st, "Rotating", []string{"https://rot.example/cb"}, false, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := oidc.RotateSecret(ctx, e.st, c.ID, time.Hour, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, sec := range []string{secret, fresh} {
				if _, err := e.exchange(c, sec, e.code(c, ann, ""), ""); err != nil {
					t.Fatalf("exchange with a current secret: %v", err)
				}
			}
			e.clock.Add(time.Hour)
			defer e.clock.Add(-time.Hour)
			code := e.code(c, ann, "")
			if _, err := e.exchange(c, fresh, e.code(c, ann, ""), ""); err != nil {
				t.Fatalf("exchange with the new secret after the grace period: %v", err)
			}
			if _, err := e.exchange(c, secret, code, ""); oauthError(err) != "invalid_client" {
				t.Fatalf("the old secret after its grace period: %v", err)
			}
		})
		run(t, e, "deactivated user", func(t *testing.T, e *env) {
			bob := e.newUser(e.acme, "bob@acme.test")
			tok, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, bob, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			code := e.code(e.conf, bob, "") // issued before the deactivation
			b := e.browser()
			b.signIn(e.acme, bob, e.clock.Now())
			if _, err := e.node.dir.SetUserActive(ctx, e.acme, bob.ID, false); err != nil {
				t.Fatal(err)
			}
			redirected(t, b, authParams(e.conf, "acme"), "access_denied")
			if _, err := e.exchange(e.conf, e.confSecret, code, ""); oauthError(err) != "invalid_grant" {
				t.Fatalf("exchange of a deactivated user's code: %v", err)
			}
			if _, err := e.refresh(e.conf, e.confSecret, tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh of a deactivated user: %v", err)
			}
			if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Fatal("userinfo answers for a deactivated user")
			}
			events, _ := e.st.Events(ctx, e.acme.ID, store.EventQuery{Name: oidc.EventSignIn, Outcome: "client_error"})
			found := false
			for _, ev := range events {
				found = found || ev.Detail == "user_deactivated"
			}
			if !found {
				t.Fatalf("no refused sign-in event for the deactivated user: %+v", events)
			}
		})
		run(t, e, "deleted user", func(t *testing.T, e *env) {
			cy := e.newUser(e.acme, "cy@acme.test")
			tok, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, cy, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			if err := e.node.dir.DeleteUser(ctx, e.acme, cy.ID, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := e.refresh(e.conf, e.confSecret, tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh of a deleted user: %v", err)
			}
		})
		run(t, e, "JWKS rotation", func(t *testing.T, e *env) {
			before, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, ann, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			old, _ := e.node.keys.Current(ctx)
			fresh, err := e.node.keys.Rotate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Add(2 * time.Minute) // past the publish lead
			defer e.clock.Add(-2 * time.Minute)
			after, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, ann, ""), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				tok *oauth2.Token
				kid string
			}{{before, old.ID}, {after, fresh.ID}} {
				if _, _, err := e.verify(tc.tok, e.conf.ID); err != nil {
					t.Fatalf("token of key %s: %v", tc.kid, err)
				}
				if kid := headerKID(t, tc.tok); kid != tc.kid {
					t.Fatalf("signed by %s, want %s", kid, tc.kid)
				}
			}
		})
	})
}

func headerKID(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	head, _, _ := strings.Cut(raw, ".")
	var h struct {
		Kid string `json:"kid"`
	}
	b, err := decodeSegment(head)
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("bad JWS header %q", head)
	}
	return h.Kid
}

// TestRotationKeepsOldTokensUntilExpiry: after a rotation, an ID token of the previous key
// still verifies with a fresh go-oidc key set until it expires.
func TestRotationKeepsOldTokensUntilExpiry(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	ann := e.newUser(e.acme, "ann@acme.test")
	tok, err := e.exchange(e.conf, e.confSecret, e.code(e.conf, ann, ""), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.node.keys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(5 * time.Minute) // the new key signs; the old token has not expired
	raw, _ := tok.Extra("id_token").(string)
	keySet := gooidc.NewRemoteKeySet(ctx, e.issuer+oidc.JWKSPath)
	v := gooidc.NewVerifier(e.issuer, keySet, &gooidc.Config{ClientID: e.conf.ID, Now: e.clock.Now})
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("an unexpired token of the previous key: %v", err)
	}
	e.clock.Add(6 * time.Minute) // the token has expired
	var expired *gooidc.TokenExpiredError
	if _, err := v.Verify(ctx, raw); !errors.As(err, &expired) {
		t.Fatalf("an expired token: %v", err)
	}
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
