package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserSingleLogout runs single logout in both directions with headless Chromium and
// the independent test IdP (saml-idp, which implements the SLO profile): a sign-out here
// sends a signed LogoutRequest to the IdP, whose LogoutResponse brings the browser back
// signed out; a sign-out started at the IdP (its /signout) posts a LogoutRequest to scimd,
// which ends the session on the server (the browser still holds the cookie) and answers
// with a signed LogoutResponse that the IdP accepts.
func TestBrowserSingleLogout(t *testing.T) {
	tb := newBrowserTestbed(t)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"saml", "configure", "--tenant", "default", "--sso-url", tb.idp + "/saml/sso",
		"--issuer", testIdPIssuer, "--cert", tb.certFile, "--jit", "--slo-url", tb.idp + "/saml/slo",
		"--database", tb.dsn, "--public-url", tb.base}, &out, &errb); code != 0 {
		t.Fatalf("saml configure = %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "single logout through "+tb.idp+"/saml/slo") {
		t.Fatalf("saml configure output:\n%s", out.String())
	}
	b := newBrowser(t, tb.chromium, tb.dir, tb.stderr)
	ctx, step, shot := b.ctx, b.step, b.shot
	home := tb.base + "/t/default/"
	signIn := func() {
		t.Helper()
		step("open the app", chromedp.Navigate(home), chromedp.WaitVisible(chromedp.ID("signin")))
		step("sign in with SSO", chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("btn-sign-in")))
		step("sign in at the IdP", chromedp.Click(chromedp.ID("btn-sign-in")), chromedp.WaitVisible(chromedp.ID("welcome")))
	}

	// SP-initiated: Sign out → the IdP's SLO endpoint → its LogoutResponse → signed out here.
	signIn()
	step("sign out (single logout)", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin")))
	shot("slo-sp-initiated")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != home {
		t.Fatalf("after single logout the browser is at %s, want %s", loc, home)
	}

	// IdP-initiated: a new login, then sign-out at the IdP.
	signIn()
	step("sign out at the IdP", chromedp.Navigate(tb.idp+"/signout"))
	// The IdP posts its LogoutRequest to scimd, scimd posts its LogoutResponse back, and the
	// IdP ends the flow with a plain "OK" page of its own.
	deadline := time.Now().Add(30 * time.Second)
	for {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if strings.HasPrefix(loc, tb.idp+"/saml/slo") && strings.TrimSpace(body) == "OK" {
			break
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("the IdP-initiated logout did not finish at the IdP: at %s\n%s\nscimd log:\n%s", loc, html, tb.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	shot("slo-idp-initiated")
	step("the app after the IdP's logout", chromedp.Navigate(home), chromedp.WaitVisible(chromedp.ID("signin")))

	metrics := scrapeMetrics(t, tb.base)
	for _, line := range []string{
		`scimd_saml_logouts_total{initiator="sp",outcome="success",reason="success"} 1`,
		`scimd_saml_logouts_total{initiator="idp",outcome="success",reason="success"} 1`,
		`scimd_saml_logins_total{outcome="success",reason="success"} 2`,
	} {
		if !strings.Contains(metrics, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
