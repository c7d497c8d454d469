package saml

import (
	"net/http"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/saml/samltest"
)

// TestResumeSeam: a login started at LoginURL carries ForceAuthn only when asked, ends at
// the given return path, and SignedIn then reads the session and its start.
func TestResumeSeam(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	tests := []struct {
		name  string
		force bool
	}{{"reuse IdP session", false}, {"force", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			rec := b.get(LoginURL("acme", "/t/acme/oidc/resume?id=x", tc.force))
			if rec.Code != http.StatusFound {
				t.Fatalf("login = %d %s", rec.Code, rec.Body)
			}
			req, _ := samltest.AuthnRequest(t, rec.Header().Get("Location"))
			if got := req.ForceAuthn != nil && *req.ForceAuthn; got != tc.force {
				t.Fatalf("ForceAuthn = %v, want %v", got, tc.force)
			}
			before := time.Now().Add(-time.Second)
			rec = b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: req.ID, NameID: "ann@example.com"}), "")
			if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != "/t/acme/oidc/resume?id=x" {
				t.Fatalf("ACS = %d %q", rec.Code, loc)
			}
			r, _ := http.NewRequest(http.MethodGet, "/t/acme/oidc/resume", nil)
			for _, c := range b.cookies {
				r.AddCookie(c)
			}
			user, at, deactivated, err := e.svc.SignedIn(ctx, nopWriter{}, r, e.acme)
			if err != nil || user == nil || deactivated || at.Before(before) {
				t.Fatalf("SignedIn = %v, %v, %v, %v", user, at, deactivated, err)
			}
			if _, _, _, err := e.svc.SignedIn(ctx, nopWriter{}, r, e.beta); err != nil {
				t.Fatal(err)
			}
			if u, _, _, _ := e.svc.SignedIn(ctx, nopWriter{}, r, e.beta); u != nil {
				t.Fatal("a session of acme signs in at beta")
			}
		})
	}
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}
