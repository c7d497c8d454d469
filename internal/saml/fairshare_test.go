package saml

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// startFrom starts a login at slug from the client address addr and returns the status.
func (b *browser) startFrom(slug, addr string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/t/"+slug+"/saml/login", nil)
	req.RemoteAddr = addr + ":40000"
	return b.do(req)
}

// TestLoginStartThrottle: anonymous login starts are bounded per client address and per
// tenant (429 with Retry-After and the sign-in page; on a frozen clock here, so that no
// bucket refills), another tenant's logins go on, and a tenant's pending
// AuthnRequests are bounded. Before, a flood of ~200 starts a second each
// signed a request and stored a row.
func TestLoginStartThrottle(t *testing.T) {
	for _, bk := range teststores.All() {
		t.Run(bk.Name, func(t *testing.T) { testLoginStartThrottle(t, bk.Open) })
	}
}

// frozen is a clock that does not move, so that no bucket refills during a test.
func frozen() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }

func testLoginStartThrottle(t *testing.T, open func(testing.TB) store.Store) {
	var want func(rec *httptest.ResponseRecorder, status int)
	{
		e := newEnvTuned(t, open(t), cfgOpts{}, Config{PublicURL: publicURL, LoginStartsPerAddress: 5, LoginStartsPerTenant: 8, MaxPendingRequests: 100, Now: frozen}, directory.Bounds{}, slog.New(slog.DiscardHandler))
		b := e.browser()
		want = func(rec *httptest.ResponseRecorder, status int) {
			t.Helper()
			if rec.Code != status {
				t.Fatalf("login start = %d, want %d: %s", rec.Code, status, rec.Body)
			}
			if status == http.StatusTooManyRequests && (rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "try again")) {
				t.Fatalf("429 without Retry-After or page: %v %s", rec.Header(), rec.Body)
			}
		}
		for range 5 {
			want(b.startFrom("acme", "192.0.2.1"), http.StatusFound)
		}
		want(b.startFrom("acme", "192.0.2.1"), http.StatusTooManyRequests) // the address
		want(b.startFrom("beta", "192.0.2.1"), http.StatusTooManyRequests) // the address, whatever the tenant
		for i := range 3 {
			want(b.startFrom("acme", "192.0.2."+strconv.Itoa(10+i)), http.StatusFound)
		}
		want(b.startFrom("acme", "192.0.2.20"), http.StatusTooManyRequests) // the tenant
		want(b.startFrom("beta", "192.0.2.21"), http.StatusFound)           // another tenant goes on
		if e.count(ReasonThrottled) != 3 {
			t.Errorf("throttled starts counted %v, want 3", e.count(ReasonThrottled))
		}
	}
	e := newEnvTuned(t, open(t), cfgOpts{}, Config{PublicURL: publicURL, LoginStartsPerAddress: -1, LoginStartsPerTenant: -1, MaxPendingRequests: 3}, directory.Bounds{}, slog.New(slog.DiscardHandler))
	for range 3 {
		want(e.browser().startFrom("acme", "192.0.2.1"), http.StatusFound)
	}
	want(e.browser().startFrom("acme", "192.0.2.1"), http.StatusTooManyRequests)
	want(e.browser().startFrom("beta", "192.0.2.1"), http.StatusFound)
}

// TestReturnToFragmentDotSegments: return_to and RelayState /t/acme/#/../../beta/saml/login
// passed the same-tenant check, and http.Redirect cleaned the fragment as path, so the
// browser landed on another tenant's login. Both now land on the tenant's default.
func TestReturnToFragmentDotSegments(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s, cfgOpts{idpInitiated: true})
		for _, attack := range []string{"/t/acme/#/../../beta/saml/login", "/t/acme#/../../beta/saml/login", "/t/acme/#%2e%2e/%2e%2e/beta/saml/login"} {
			b := e.browser()
			id := b.startLogin("acme", attack)
			rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "ann@example.com"}), "")
			if got := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || got != "/t/acme/" {
				t.Errorf("return_to %q: %d %q, want 303 /t/acme/", attack, rec.Code, got)
			}
			rec = b.postResponse("acme", e.response("acme", assertionSpec{NameID: "ann@example.com"}), attack)
			if got := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || got != "/t/acme/" {
				t.Errorf("RelayState %q: %d %q, want 303 /t/acme/", attack, rec.Code, got)
			}
		}
	})
}

// TestJITBounds: just-in-time creation keeps the directory's bounds: a NameID longer than
// an indexed column takes, or attributes over the stored size, get a clear refusal page
// (403), not a 500, on both backends.
func TestJITBounds(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvTuned(t, s, cfgOpts{}, Config{PublicURL: publicURL}, directory.Bounds{MaxResourceBytes: 2000}, slog.New(slog.DiscardHandler))
		cases := []struct {
			name, nameID, want string
			attrs              [][2]string
		}{
			{"long NameID", strings.Repeat("é", 4000) + "@example.com", "userName may be at most", nil},
			{"large attributes", "ann@example.com", "at most 2000 are allowed", [][2]string{{"displayName", strings.Repeat("x", 3000)}}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				b := e.browser()
				id := b.startLogin("acme", "")
				rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: tc.nameID, Attrs: tc.attrs}), "")
				if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), tc.want) {
					t.Fatalf("JIT = %d, want 403 with %q:\n%.500s", rec.Code, tc.want, rec.Body)
				}
			})
		}
	})
}

// TestLoginUserNameWins: the user whose userName is the NameID signs in, however many older
// users have that address as their primary email (three of them once hid the user, whose
// lookup read at most three rows); with no userName match, two email matches are refused.
func TestLoginUserNameWins(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s, cfgOpts{})
		cli := directory.WithActor(ctx, directory.Actor{Name: "cli"})
		mk := func(userName, email string) *scim.Resource {
			t.Helper()
			u, err := e.dir.CreateUser(cli, e.acme, map[string]any{"schemas": []any{scim.UserSchema}, "userName": userName,
				"emails": []any{map[string]any{"value": email, "primary": true}}})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		for i := range 4 {
			mk("older"+strconv.Itoa(i), "Dee.Lee@example.com")
		}
		dee := mk("dee.lee@example.com", "dee@personal.example")
		b := e.browser()
		id := b.startLogin("acme", "")
		rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "DEE.LEE@example.com"}), "")
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("ACS = %d: %s", rec.Code, rec.Body)
		}
		got, err := e.dir.FindLoginUser(ctx, e.acme, "dee.lee@example.com")
		if err != nil || got == nil || got.ID != dee.ID {
			t.Fatalf("FindLoginUser = %v, %v; want the userName match", got, err)
		}
		if _, err := e.dir.FindLoginUser(ctx, e.acme, "dee.lee@EXAMPLE.com "); err != nil {
			t.Fatal(err)
		}
		mk("x1", "shared@example.com")
		mk("x2", "shared@example.com")
		if _, err := e.dir.FindLoginUser(ctx, e.acme, "shared@example.com"); !errors.Is(err, directory.ErrAmbiguousLogin) {
			t.Fatalf("two email matches: %v, want ErrAmbiguousLogin", err)
		}
	})
}

// TestJITUserTypeNotTrustedByDefault: an IdP attribute userType=admin made a console admin
// at first sign-in. JIT now takes userType from the assertion only when the tenant turned
// that on; by default the user gets the tenant's default type.
func TestJITUserTypeNotTrustedByDefault(t *testing.T) {
	for _, bk := range teststores.All() {
		for _, tc := range []struct {
			trust bool
			want  string
		}{{false, "member"}, {true, "admin"}} {
			t.Run(bk.Name+"/trust="+strconv.FormatBool(tc.trust), func(t *testing.T) {
				e := newEnvOn(t, bk.Open(t), cfgOpts{trustUserType: tc.trust})
				b := e.browser()
				id := b.startLogin("acme", "")
				rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "mallory@example.com", Attrs: [][2]string{{"userType", "admin"}}}), "")
				if rec.Code != http.StatusSeeOther {
					t.Fatalf("ACS = %d: %s", rec.Code, rec.Body)
				}
				u, err := e.dir.FindLoginUser(ctx, e.acme, "mallory@example.com")
				if err != nil || u == nil || scim.String(u.Attrs, "userType") != tc.want {
					t.Fatalf("JIT user %v, %v; want userType %q", u, err, tc.want)
				}
			})
		}
	}
}

// FuzzSafeReturnTo: whatever return_to or RelayState holds, an accepted value stays in the
// tenant, has no dot segment, and is exactly what http.Redirect will send.
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/t/acme/", "/t/acme/#/../../beta/saml/login", "/t/acme/%2e%2e/x", "/t/acme/a?b=/../c#d", "//evil", "/t/acme/\\x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := SafeReturnTo("acme", raw)
		if !ok {
			return
		}
		if got != "/t/acme" && !strings.HasPrefix(got, "/t/acme/") && !strings.HasPrefix(got, "/t/acme?") && !strings.HasPrefix(got, "/t/acme#") {
			t.Fatalf("SafeReturnTo(%q) = %q leaves the tenant", raw, got)
		}
		if redirectCleaned(got) != got {
			t.Fatalf("SafeReturnTo(%q) = %q, which http.Redirect changes to %q", raw, got, redirectCleaned(got))
		}
		rec := httptest.NewRecorder()
		http.Redirect(rec, httptest.NewRequest(http.MethodGet, "/t/acme/saml/acs", nil), got, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != got {
			t.Fatalf("SafeReturnTo(%q) = %q, but the browser is sent to %q", raw, got, loc)
		}
	})
}
