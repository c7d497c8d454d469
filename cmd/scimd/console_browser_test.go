package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserConsole walks the admin console in headless Chromium against the real serve
// command and the test IdP: a bootstrap link signs the first admin in, who configures SAML
// against the IdP and tests it, generates a SCIM token, which the test uses to provision a
// user and a group, and then sees them and the audit events on the pages. With
// SCIMD_TEST_SCREENSHOTS=DIR it saves a PNG of each page there (docs/screenshots holds a set).
func TestBrowserConsole(t *testing.T) {
	tb := newBrowserTestbed(t)
	chromium, dir, dsn, base, idp, certFile, stderr := tb.chromium, tb.dir, tb.dsn, tb.base, tb.idp, tb.certFile, tb.stderr
	const issuer = testIdPIssuer
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}

	// The operator makes the first admin's sign-in link.
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"admin", "link", "--tenant", "default", "--database", dsn, "--public-url", base}, &out, &errb); code != 0 {
		t.Fatalf("admin link = %d: %s", code, errb.String())
	}
	link := strings.TrimSpace(out.String())
	if !strings.HasPrefix(link, base+"/t/default/admin/signin?token=") {
		t.Fatalf("admin link printed %q", link)
	}

	b := newBrowser(t, chromium, dir, stderr, chromedp.WindowSize(1280, 860))
	ctx, step, text, shot := b.ctx, b.step, b.text, b.shot

	// The bootstrap link signs the admin in, once.
	step("open the link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("continue")))
	step("use the link", chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("saml-status")))
	if got := text("#admin-name"); got != "bootstrap" {
		t.Fatalf("signed in as %q", got)
	}
	if got := text("#saml-status"); got != "Not configured" {
		t.Fatalf("SAML status %q before configuring", got)
	}

	// A mistake is shown next to its field; then SAML is configured against the test IdP.
	step("save with a bad SSO URL",
		chromedp.SetValue(chromedp.ID("sso_url"), "http://idp.example.com/sso"),
		chromedp.SetValue(chromedp.ID("issuer"), issuer),
		chromedp.SetValue(chromedp.ID("cert"), string(certPEM)),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("sso_url-error")))
	if msg := text("#sso_url-error"); !strings.Contains(msg, "must use https") {
		t.Fatalf("the SSO URL error says %q", msg)
	}
	step("save the IdP's values",
		chromedp.SetValue(chromedp.ID("sso_url"), idp+"/saml/sso"),
		chromedp.Click(chromedp.ID("jit")),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("flash")))
	if got := text("#saml-status"); got != "Configured" {
		t.Fatalf("SAML status %q after saving", got)
	}
	if got := text("#sp-acs-url"); got != base+"/t/default/saml/acs" {
		t.Fatalf("ACS URL %q", got)
	}
	step("the copy buttons work with the CSP", chromedp.WaitVisible(chromedp.CSS(`button[data-copy="sp-acs-url"]`)))
	shot("console-saml")

	// Test sign-in: through the IdP and back to the console (the IdP's user is created just
	// in time, as a viewer; the console session stays the admin's).
	step("test sign-in", chromedp.Click(chromedp.ID("test-signin")), chromedp.WaitVisible(chromedp.ID("btn-sign-in")))
	step("sign in at the IdP", chromedp.Click(chromedp.ID("btn-sign-in")), chromedp.WaitVisible(chromedp.ID("saml-status")))
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != base+"/t/default/admin/saml" {
		t.Fatalf("the test sign-in came back to %s (%v)", loc, err)
	}

	// Generate a SCIM token; it is shown once.
	step("SCIM page", chromedp.Click(chromedp.ID("nav-scim")), chromedp.WaitVisible(chromedp.ID("base-url")))
	if got := text("#base-url"); got != base+"/scim/v2/" {
		t.Fatalf("provisioning URL %q", got)
	}
	step("generate a token", chromedp.SetValue(chromedp.ID("label"), "okta"), chromedp.Click(chromedp.ID("generate")),
		chromedp.WaitVisible(chromedp.ID("new-token")), chromedp.WaitVisible(chromedp.CSS(`button[data-copy="new-token"]`)))
	token, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("new-token")))
	if err != nil || !strings.HasPrefix(token, "scimd_") {
		t.Fatalf("new token %q, %v", token, err)
	}
	if w := text("#token-warning"); !strings.Contains(w, "will not be shown again") {
		t.Fatalf("token warning %q", w)
	}
	shot("console-scim")

	// The IdP (this test) provisions with it.
	ada := scim(t, token, "POST", base+"/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"ada@example.com","name":{"givenName":"Ada","familyName":"Lovelace"},"title":"Analyst",
		"emails":[{"value":"ada@example.com","type":"work","primary":true}],"userType":"admin"}`)
	scim(t, token, "POST", base+"/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"grace@example.com","name":{"givenName":"Grace","familyName":"Hopper"},
		"emails":[{"value":"grace@example.com","type":"work","primary":true}]}`)
	adaID := ada["id"].(string)
	scim(t, token, "POST", base+"/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
		"displayName":"Engineering","members":[{"value":"`+adaID+`"}]}`)
	scim(t, token, "POST", base+"/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales"}`)
	step("reload the SCIM page", chromedp.Navigate(base+"/t/default/admin/scim"), chromedp.WaitVisible(chromedp.ID("tokens")))
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body"))); err != nil || strings.Contains(html, token) {
		t.Fatalf("the token is shown again (or the page could not be read: %v)", err)
	}

	// The admin sees the users, the user, the groups and the events.
	step("users", chromedp.Click(chromedp.ID("nav-users")), chromedp.WaitVisible(chromedp.ID("users")))
	if list := text("#users"); !strings.Contains(list, "ada@example.com") || !strings.Contains(list, "jit.user@example.com") {
		t.Fatalf("the users page lists:\n%s", list)
	}
	shot("console-users")
	step("search", chromedp.SetValue(chromedp.ID("q"), "lovelace"), chromedp.Click(chromedp.ID("search")),
		chromedp.WaitVisible(chromedp.CSS(`#q[value="lovelace"]`))) // the attribute: the answer's, not the typed value
	if list := text("#users"); !strings.Contains(list, "ada@example.com") || strings.Contains(list, "grace@example.com") {
		t.Fatalf("the search found:\n%s", list)
	}
	step("user", chromedp.Click(chromedp.CSS(`a[href$="`+adaID+`"]`)), chromedp.WaitVisible(chromedp.ID("userName")))
	if got := text("#userName"); got != "ada@example.com" {
		t.Fatalf("user page userName %q", got)
	}
	if groups := text("#user-groups"); groups != "Engineering" {
		t.Fatalf("user page groups %q", groups)
	}
	shot("console-user")
	step("deactivate", chromedp.Click(chromedp.ID("toggle-active")), chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := text("#user-status"); got != "Deactivated" {
		t.Fatalf("status after deactivation %q", got)
	}
	got := scim(t, token, "GET", base+"/scim/v2/Users/"+adaID, "")
	if got["active"] != false {
		t.Fatalf("over SCIM the user is active = %v", got["active"])
	}

	step("groups", chromedp.Click(chromedp.ID("nav-groups")), chromedp.WaitVisible(chromedp.ID("groups")))
	if list := text("#groups"); !strings.Contains(list, "Engineering") || !strings.Contains(list, "Sales") {
		t.Fatalf("the groups page lists:\n%s", list)
	}
	shot("console-groups")

	step("events", chromedp.Click(chromedp.ID("nav-events")), chromedp.WaitVisible(chromedp.CSS("tr.event")))
	log := text("main table")
	for _, want := range []string{"user_create_provision", "ada@example.com", "token okta", "user_jit_provision", "user_deprovision",
		"console bootstrap", "scim_token_create", "group_create_provision", "saml_configure"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
	shot("console-events")

	// Signing out ends the console session.
	step("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin"))) // the tenant's page
	step("console after sign-out", chromedp.Navigate(base+"/t/default/admin/users"), chromedp.WaitVisible(chromedp.ID("message")))
	if msg := text("#message"); !strings.Contains(msg, "Only administrators") {
		t.Fatalf("after sign-out the console says %q", msg)
	}
}
