package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/scimd/scimd/internal/testlog"
)

// browser drives a headless Chromium for one end-to-end test.
type browser struct {
	t   *testing.T
	ctx context.Context
	log fmt.Stringer // scimd's stderr, shown when a step fails
}

// newBrowser starts Chromium at path with a profile under dir; it stops with the test.
func newBrowser(t *testing.T, path, dir string, log fmt.Stringer, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(filepath.Join(dir, "chromium")),
	}, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	return &browser{t: t, ctx: ctx, log: log}
}

// step runs actions; on failure the test stops with where the browser was, the page, and
// scimd's log. A step whose element went stale between finding and using it (the page
// replaced the node: DevTools answers "Could not find node with given id") did nothing, and
// is tried again, twice at most.
func (b *browser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	err := chromedp.Do(b.ctx, actions...)
	for try := 0; try < 2 && err != nil && strings.Contains(err.Error(), "Could not find node with given id"); try++ {
		time.Sleep(200 * time.Millisecond)
		err = chromedp.Do(b.ctx, actions...)
	}
	if err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v\nat %s\n%s\nscimd log:\n%s", what, err, loc, html, b.log.String())
	}
}

// text returns the visible text of the element the CSS selector finds.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// shot saves a full-page PNG named name in SCIMD_TEST_SCREENSHOTS, when that is set, for a
// person to look at.
func (b *browser) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("SCIMD_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// browserTestbed is what both browser tests stand on: the real serve command on a temporary
// SQLite file, the saml-idp process for tenant "default", and where Chromium is.
type browserTestbed struct {
	chromium, dir, dsn, base, idp string
	certFile                      string
	stderr                        *testlog.Buffer
}

// issuer is the test IdP's entity id.
const testIdPIssuer = "urn:scimd:browser-test-idp"

func newBrowserTestbed(t *testing.T) *browserTestbed {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPING the browser test in -short mode")
	}
	chromium := need(t, "chromium", "chromium-browser")
	node := need(t, "node", "nodejs")
	installIdP(t, need(t, "npm"))
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "scimd.db")
	addr, stderr, stop, done := startServe(t, dsn)
	t.Cleanup(func() {
		stop()
		<-done
	})
	base := "http://" + addr
	keyFile, certFile := writeIdPKeyPair(t, dir)
	idp := startIdP(t, node, base, "default", keyFile, certFile, testIdPIssuer)
	return &browserTestbed{chromium: chromium, dir: dir, dsn: dsn, base: base, idp: idp, certFile: certFile, stderr: stderr}
}

// scrapeMetrics returns the text of the server's /metrics.
func scrapeMetrics(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, res.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
