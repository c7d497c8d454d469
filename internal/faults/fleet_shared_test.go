//go:build fleet

package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml/samltest"
)

// sharedState proves that what replicas share is shared: each check starts something on
// one replica and finishes it on others, talking to each replica directly (not through
// HAProxy) so that the replica is known.
func (f *fleet) sharedState(t *testing.T) {
	base := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", f.ports[i]) }
	t.Run("RFC 9865 cursor followed across replicas", func(t *testing.T) {
		const size = 7
		c := newClient(f.lb.url(), f.token)
		for i := 0; i < 4*size+1; i++ { // enough users even when the storms did not run
			if r := c.createUser(fmt.Sprintf("cursor-%d@example.com", i)); r.Status != http.StatusCreated && r.Status != http.StatusConflict {
				t.Fatalf("create: %s", r)
			}
		}
		walk := func(replicas []int) []string {
			var ids []string
			cursor := ""
			for _, i := range replicas {
				c := newClient(base(i), f.token)
				r := c.do("GET", fmt.Sprintf("/scim/v2/Users?count=%d&cursor=%s", size, url.QueryEscape(cursor)), nil)
				if r.Status != http.StatusOK {
					t.Fatalf("replica %d, cursor %q: %s", i+1, cursor, r)
				}
				res, _ := r.Body["Resources"].([]any)
				for _, u := range res {
					ids = append(ids, u.(map[string]any)["id"].(string))
				}
				if cursor = r.str("nextCursor"); cursor == "" {
					t.Fatalf("replica %d gave no nextCursor: %s", i+1, r)
				}
			}
			return ids
		}
		across, one := walk([]int{0, 1, 2, 1}), walk([]int{0, 0, 0, 0})
		if len(across) != 4*size || strings.Join(across, ",") != strings.Join(one, ",") {
			t.Fatalf("pages across replicas %v\ndiffer from one replica's %v", across, one)
		}
	})

	var console string // the console session cookie
	t.Run("console session on every replica", func(t *testing.T) {
		link := strings.TrimSpace(f.cli(t, "admin", "link", "--tenant", "default", "--public-url", f.lb.url()))
		u, err := url.Parse(link)
		if err != nil || u.Query().Get("token") == "" {
			t.Fatalf("admin link printed %q", link)
		}
		res := f.browser(t, "POST", base(0)+u.Path, url.Values{"token": {u.Query().Get("token")}}, "")
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in on replica 1: %d", res.StatusCode)
		}
		if v := cookieOf(res, "scimd_admin"); v != "" {
			console = "scimd_admin=" + v
		} else {
			t.Fatal("no console cookie")
		}
		for i := range f.replicas {
			if res := f.browser(t, "GET", base(i)+"/t/default/admin/scim", nil, console); res.StatusCode != http.StatusOK {
				t.Errorf("replica %d: console page %d with the session made on replica 1", i+1, res.StatusCode)
			}
		}
	})

	t.Run("token revoked through one replica is refused by all within the cache bound", func(t *testing.T) {
		if console == "" {
			t.Fatal("needs the console session, which the subtest before failed to make")
		}
		tok := strings.TrimSpace(f.cli(t, "token", "create", "--tenant", "default", "--label", "fleet-revoke"))
		for i := range f.replicas {
			if r := newClient(base(i), tok).do("GET", "/scim/v2/Users?count=1", nil); r.Status != http.StatusOK {
				t.Fatalf("replica %d: new token %s", i+1, r)
			}
		}
		id := ""
		for _, line := range strings.Split(f.cli(t, "token", "list", "--tenant", "default"), "\n") {
			if fields := strings.Fields(line); len(fields) > 1 && fields[1] == "fleet-revoke" {
				id = fields[0]
			}
		}
		page := f.browser(t, "GET", base(1)+"/t/default/admin/scim", nil, console)
		body, _ := io.ReadAll(page.Body)
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
		if id == "" || m == nil {
			t.Fatalf("token id %q, csrf %v", id, m)
		}
		res := f.browser(t, "POST", base(1)+"/t/default/admin/scim/tokens/"+id+"/revoke", url.Values{"csrf": {string(m[1])}}, console)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke through replica 2: %d", res.StatusCode)
		}
		// Every replica caches verified tokens: the revocation's notification reaches the
		// others in milliseconds, and directory.TokenCacheTTL bounds it if one is lost.
		revoked := time.Now()
		for i := range f.replicas {
			for {
				r := newClient(base(i), tok).do("GET", "/scim/v2/Users?count=1", nil)
				if r.Status == http.StatusUnauthorized {
					t.Logf("replica %d refuses the revoked token %v after the revoke", i+1, time.Since(revoked).Round(time.Millisecond))
					break
				}
				if r.Status != http.StatusOK || time.Since(revoked) > directory.TokenCacheTTL {
					t.Fatalf("replica %d: revoked token answered %s %v after the revoke, want 401 within %v",
						i+1, r, time.Since(revoked), directory.TokenCacheTTL)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if r := newClient(base(i), f.token).do("GET", "/scim/v2/Users?count=1", nil); r.Status != http.StatusOK {
				t.Errorf("replica %d: the other token %s", i+1, r)
			}
		}
	})

	t.Run("SAML login started on one replica, finished on another", func(t *testing.T) {
		idp := samltest.NewIdP(t, "urn:fleet:idp", 0)
		certPath := filepath.Join(f.e.dir, "idp.pem")
		os.WriteFile(certPath, idp.CertPEM, 0o644)
		f.cli(t, "saml", "configure", "--tenant", "default", "--sso-url", "http://127.0.0.1:9/sso", "--issuer", idp.EntityID,
			"--cert", certPath, "--jit", "--public-url", f.lb.url())
		res := f.browser(t, "GET", base(0)+"/t/default/saml/login", nil, "")
		binding := cookieOf(res, "scimd_saml_request")
		loc := res.Header.Get("Location")
		if res.StatusCode/100 != 3 || binding == "" || !strings.HasPrefix(loc, "http://127.0.0.1:9/sso?") {
			t.Fatalf("login on replica 1: %d, Location %q, binding cookie %q", res.StatusCode, loc, binding)
		}
		req, _ := samltest.AuthnRequest(t, loc)
		if req.ID == "" {
			t.Fatalf("AuthnRequest without an ID in %q", loc)
		}
		acs := f.lb.url() + "/t/default/saml/acs"
		samlResponse := idp.Response(t, acs, f.lb.url()+"/t/default/saml/metadata", samltest.Spec{InResponseTo: req.ID, NameID: "fleet.saml@example.com"})
		form := url.Values{"SAMLResponse": {samlResponse}}
		res = f.browser(t, "POST", base(1)+"/t/default/saml/acs", form, "scimd_saml_request="+binding)
		session := cookieOf(res, "scimd_session")
		if res.StatusCode != http.StatusSeeOther || session == "" {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("ACS on replica 2: %d, session %q: %s", res.StatusCode, session, b)
		}
		home := f.browser(t, "GET", base(2)+"/t/default/", nil, "scimd_session="+session)
		b, _ := io.ReadAll(home.Body)
		if home.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("fleet.saml@example.com")) {
			t.Fatalf("home on replica 3 with the session from replica 2: %d\n%s", home.StatusCode, b)
		}
		replay := f.browser(t, "POST", base(2)+"/t/default/saml/acs", form, "scimd_saml_request="+binding)
		if replay.StatusCode == http.StatusSeeOther || cookieOf(replay, "scimd_session") != "" {
			t.Fatalf("the same assertion replayed on replica 3 was accepted: %d", replay.StatusCode)
		}
	})

	t.Run("per-tenant rate limit holds across replicas", func(t *testing.T) {
		// Three more replicas with a low limit for every tenant; the storm's replicas run
		// without one. The bucket is a row in the database, so the three draw from one.
		const rate, burst = 10.0, 10.0
		f.cli(t, "tenant", "create", "limited")
		tok := strings.TrimSpace(f.cli(t, "token", "create", "--tenant", "limited", "--label", "fleet-rate"))
		var limited []*proc
		for range 3 {
			p := startScimd(t, f.pg.dsn, "--rate-limit", fmt.Sprint(rate), "--rate-burst", fmt.Sprint(burst))
			f.e.notePID(p.cmd.Process.Pid)
			limited = append(limited, p)
		}
		var accepted, refused, other atomic.Int64
		perReplica := make([]atomic.Int64, len(limited))
		var first, last atomic.Int64
		first.Store(time.Now().UnixNano())
		stop := time.Now().Add(3 * time.Second)
		var wg sync.WaitGroup
		for i, p := range limited {
			for range 4 {
				wg.Go(func() {
					c := newClient("http://"+p.addr, tok)
					for time.Now().Before(stop) {
						r := c.do("GET", "/scim/v2/Users?count=1", nil)
						switch {
						case r.Status == http.StatusOK:
							accepted.Add(1)
							perReplica[i].Add(1)
						case r.Status == http.StatusTooManyRequests && r.Header.Get("Retry-After") != "":
							refused.Add(1)
						default:
							other.Add(1)
							t.Errorf("replica %s: %s", p.addr, r)
						}
						last.Store(time.Now().UnixNano())
					}
				})
			}
		}
		wg.Wait()
		elapsed := time.Duration(last.Load() - first.Load())
		limit := int64(burst + rate*elapsed.Seconds() + 1)
		t.Logf("%d accepted (per replica %d, %d, %d), %d refused with 429 in %v; the limit allows %d",
			accepted.Load(), perReplica[0].Load(), perReplica[1].Load(), perReplica[2].Load(), refused.Load(), elapsed.Round(time.Millisecond), limit)
		if sent := accepted.Load() + refused.Load(); sent < 2*limit {
			t.Errorf("only %d requests sent: too few to tell one shared limit (%d) from three", sent, limit)
		}
		if accepted.Load() > limit || refused.Load() == 0 {
			t.Errorf("%d accepted, %d refused in %v: the shared limit allows %d", accepted.Load(), refused.Load(), elapsed, limit)
		}
		for i := range perReplica {
			if perReplica[i].Load() == 0 {
				t.Errorf("replica %d accepted nothing", i+1)
			}
		}
		f.rateLimit = fmt.Sprintf("%d accepted of %d sent through 3 replicas in %.1f s; limit %d (burst %.0f + %.0f/s)",
			accepted.Load(), accepted.Load()+refused.Load()+other.Load(), elapsed.Seconds(), limit, burst, rate)
	})
}

// cli runs the scimd CLI on the fleet's database and returns its standard output.
func (f *fleet) cli(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.e.scimd, append(args, "--database", f.pg.dsn)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("scimd %v: %v\n%s%s", args, err, out.String(), errb.String())
	}
	return out.String()
}

// browser sends one request as a browser on the page's origin would (HAProxy's address),
// without following redirects. form, when not nil, is the POST body; cookie the Cookie
// header.
func (f *fleet) browser(t *testing.T, method, u string, form url.Values, cookie string) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", f.lb.url())
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// cookieOf returns the value of the named cookie a response sets, or "".
func cookieOf(res *http.Response, name string) string {
	for _, c := range res.Cookies() {
		if c.Name == name && c.Value != "" {
			return c.Value
		}
	}
	return ""
}
