package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/scimd/scimd/internal/testkit"
	"github.com/scimd/scimd/internal/testlog"
)

// The browser test signs in through an independent IdP process (the npm package saml-idp,
// in internal/saml/testdata/idp) with headless Chromium, against the real serve command.
// Outside CI a missing Chromium or Node.js skips it loudly; under CI=true it fails.

const idpDir = "../../internal/saml/testdata/idp"

// need returns the path of a program the browser test needs, or skips (fails under CI).
func need(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("the browser test needs %s (apt-get install -y chromium nodejs npm; .ci/run installs them)", names[0])
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING: " + msg)
	return ""
}

// installIdP runs npm ci in the IdP's folder when its node_modules is missing.
func installIdP(t *testing.T, npm string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(idpDir, "node_modules", "saml-idp", "bin", "run.js")); err == nil {
		return
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = idpDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", idpDir, err, out)
	}
}

// writeIdPKeyPair writes the IdP's signing key and certificate as PEM files.
func writeIdPKeyPair(t *testing.T, dir string) (keyFile, certFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "scimd browser test IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile = filepath.Join(dir, "idp-key.pem"), filepath.Join(dir, "idp-cert.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, certFile
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startIdP starts saml-idp on loopback for the SP at base (tenant slug) and returns its
// base URL; the process is killed when the test ends.
func startIdP(t *testing.T, node, base, slug, keyFile, certFile, issuer string) string {
	t.Helper()
	port := freePort(t)
	abs, err := filepath.Abs(idpDir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(abs, "node_modules", "saml-idp", "bin", "run.js"),
		"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--issuer", issuer,
		"--acsUrl", base+"/t/"+slug+"/saml/acs", "--audience", base+"/t/"+slug+"/saml/metadata",
		"--cert", certFile, "--key", keyFile, "--configFile", filepath.Join(abs, "config.js"))
	cmd.Dir = abs
	out := &testlog.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting saml-idp: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("saml-idp output:\n%s", out.String())
		}
	})
	idp := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(idp + "/metadata")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return idp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("saml-idp did not answer on %s: %v\n%s", idp, err, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scim sends a SCIM request with the tenant's token and decodes the answer.
func scim(t *testing.T, token, method, u string, body string) map[string]any {
	t.Helper()
	r, err := (&testkit.Client{Token: token}).Do(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status >= 300 {
		t.Fatalf("%s %s = %d %v", method, u, r.Status, r.Body)
	}
	return r.Body
}

func TestBrowserSSO(t *testing.T) {
	tb := newBrowserTestbed(t)
	chromium, dir, dsn, base, idp, certFile, stderr := tb.chromium, tb.dir, tb.dsn, tb.base, tb.idp, tb.certFile, tb.stderr
	const issuer = testIdPIssuer
	token := bootstrapToken(t, stderr.String())

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"saml", "configure", "--tenant", "default", "--sso-url", idp + "/saml/sso",
		"--issuer", issuer, "--cert", certFile, "--jit", "--jit-trust-user-type", "--database", dsn, "--public-url", base}, &out, &errb); code != 0 {
		t.Fatalf("saml configure = %d: %s", code, errb.String())
	}

	b := newBrowser(t, chromium, dir, stderr)
	ctx, step, shot := b.ctx, b.step, b.shot
	text := func(id string) string { t.Helper(); return b.text("#" + id) }
	signIn := func() {
		t.Helper()
		step("open the app", chromedp.Navigate(base+"/t/default/"), chromedp.WaitVisible(chromedp.ID("signin")))
		step("sign in with SSO", chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("btn-sign-in")))
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if !strings.HasPrefix(loc, idp+"/saml/sso") {
			t.Fatalf("the sign-in button led to %s, not the IdP", loc)
		}
		step("sign in at the IdP", chromedp.Click(chromedp.ID("btn-sign-in")), chromedp.WaitVisible(chromedp.CSS("main")))
	}

	// SP-initiated login; the IdP's form auto-posts to the ACS; the user is created just in time.
	signIn()
	step("signed-in page", chromedp.WaitVisible(chromedp.ID("welcome")))
	shot("signed-in")
	want := map[string]string{"name": "Jit User", "userName": "jit.user@example.com", "emails": "jit.user@example.com", "userType": "viewer"}
	for id, v := range want {
		if got := text(id); got != v {
			t.Errorf("signed-in page #%s = %q, want %q", id, got, v)
		}
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if loc != base+"/t/default/" {
		t.Errorf("landed on %s", loc)
	}

	// Sign out.
	step("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin")))
	shot("signed-out")

	// Deactivate the user over SCIM; the next login is refused.
	list := scim(t, token, "GET", base+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "jit.user@example.com"`), "")
	users, _ := list["Resources"].([]any)
	if len(users) != 1 {
		t.Fatalf("JIT user over SCIM: %v", list)
	}
	id := users[0].(map[string]any)["id"].(string)
	scim(t, token, "PATCH", base+"/scim/v2/Users/"+id,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
	signIn()
	step("refusal page", chromedp.WaitVisible(chromedp.ID("message")))
	shot("deactivated")
	if msg := text("message"); !strings.Contains(msg, "deactivated") {
		t.Fatalf("login of the deactivated user shows %q", msg)
	}
	if _, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("welcome"), chromedp.AtLeast(0))); err == nil {
		if s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body"))); err != nil || strings.Contains(s, `id="welcome"`) {
			t.Fatalf("the deactivated user is signed in (or the page could not be read: %v)", err)
		}
	}
	list = scim(t, token, "GET", base+"/scim/v2/Users", "")
	if n := fmt.Sprint(list["totalResults"]); n != "1" {
		t.Fatalf("users after the refused login: %v", list["totalResults"])
	}
	// The logins are counted on the server's registry.
	metrics := scrapeMetrics(t, base)
	for _, line := range []string{
		`scimd_saml_logins_total{outcome="success",reason="success"} 1`,
		`scimd_saml_logins_total{outcome="refused",reason="inactive_user"} 1`,
	} {
		if !strings.Contains(metrics, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
