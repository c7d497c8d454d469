package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/postgres/pgtest"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

// TestTokenRevocationAcrossReplicas: two scimd servers (each its own store, connection pools
// and token cache) on one PostgreSQL database, as two replicas. A token both have accepted
// (and cached) is revoked through the first: the first refuses it at once, the second within
// the cache's bound (directory.TokenCacheTTL), in practice when the NOTIFY arrives.
func TestTokenRevocationAcrossReplicas(t *testing.T) {
	dsn := pgtest.NewDatabase(t, "")
	open := func() store.Store {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := testkit.Serve(t, open(), testkit.Options{}, "acme")
	b := testkit.Serve(t, open(), testkit.Options{}, "other")
	ca := &testkit.Client{Base: a.URL, Token: a.Token}
	cb := &testkit.Client{Base: b.URL, Token: a.Token} // the first replica's tenant, on the second
	for _, c := range []*testkit.Client{ca, cb, ca, cb} {
		if r, err := c.Do("GET", "/scim/v2/Users?count=1", nil); err != nil || r.Status != http.StatusOK {
			t.Fatalf("before revocation: %v %v %s", r.Status, err, r.Raw)
		}
	}
	toks, err := a.Store.Tokens(context.Background(), a.Tenant.ID)
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens: %v %v", toks, err)
	}
	revoked := time.Now()
	if err := a.Dir.RevokeToken(context.Background(), a.Tenant, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := ca.Do("GET", "/scim/v2/Users?count=1", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the replica that revoked: status %d right after, want 401", r.Status)
	}
	for {
		r, err := cb.Do("GET", "/scim/v2/Users?count=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == http.StatusUnauthorized {
			t.Logf("the other replica refused the revoked token %v after the revocation", time.Since(revoked).Round(time.Millisecond))
			break
		}
		if r.Status != http.StatusOK {
			t.Fatalf("other replica: status %d", r.Status)
		}
		if time.Since(revoked) > directory.TokenCacheTTL+time.Second {
			t.Fatalf("the other replica still accepts the token %v after its revocation (bound %v)", time.Since(revoked), directory.TokenCacheTTL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deaf is a store whose change announcements never arrive: a replica whose NOTIFY was lost.
type deaf struct{ store.Store }

func (deaf) SubscribeTenantChanges(func(store.TenantChange)) func() { return func() {} }

// TestTokenCacheBoundWithoutNotification: with every announcement lost, a revoked token is
// still refused once the cache's lifetime has passed, and a found token is not read again
// from the database within it (the cache is used).
func TestTokenCacheBoundWithoutNotification(t *testing.T) {
	for _, be := range teststores.All() {
		t.Run(be.Name, func(t *testing.T) {
			s := be.Open(t)
			ctx := context.Background()
			d := directory.New(s, nil, nil)
			tn, token, tok := acmeToken(t, d)
			auth := directory.NewAuthenticator(deaf{s})
			now := time.Now().UTC()
			auth.SetClock(func() time.Time { return now })
			if _, _, err := auth.Authenticate(ctx, "Bearer "+token); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeToken(ctx, tn.ID, tok.ID, now, nil); err != nil {
				t.Fatal(err)
			}
			now = now.Add(directory.TokenCacheTTL - time.Millisecond)
			if _, _, err := auth.Authenticate(ctx, "Bearer "+token); err != nil {
				t.Fatalf("within the lifetime the cached token is used (no database read): %v", err)
			}
			now = now.Add(time.Millisecond)
			if _, _, err := auth.Authenticate(ctx, "Bearer "+token); err == nil || err.Error() != "token revoked" {
				t.Fatalf("after the lifetime: %v, want token revoked", err)
			}
			// Heard (in process, both backends): refused at once.
			heard := directory.NewAuthenticator(s)
			token2, tok2, err := d.IssueToken(ctx, tn, "okta2")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := heard.Authenticate(ctx, "Bearer "+token2); err != nil {
				t.Fatal(err)
			}
			if err := d.RevokeToken(ctx, tn, tok2.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := heard.Authenticate(ctx, "Bearer "+token2); err == nil || err.Error() != "token revoked" {
				t.Fatalf("right after a revocation in the same process: %v, want token revoked", err)
			}
		})
	}
}

// acmeToken creates tenant acme through d and issues it a token labelled okta.
func acmeToken(t *testing.T, d *directory.Directory) (store.Tenant, string, store.Token) {
	t.Helper()
	tn, err := d.CreateTenant(context.Background(), "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	token, tok, err := d.IssueToken(context.Background(), tn, "okta")
	if err != nil {
		t.Fatal(err)
	}
	return tn, token, tok
}

// relay is a store whose change announcements come from the test only.
type relay struct {
	store.Store
	fn func(store.TenantChange)
}

func (r *relay) SubscribeTenantChanges(fn func(store.TenantChange)) func() {
	r.fn = fn
	return func() {}
}

// TestTokenCacheTrustedWhileHeartbeatsArrive: a cached token older than the cache's TTL is
// still used while heartbeats say no change was missed (here a revocation made without an
// announcement shows it), and refused once the heartbeats stop for the TTL.
func TestTokenCacheTrustedWhileHeartbeatsArrive(t *testing.T) {
	s := teststores.SQLite(t)
	ctx := context.Background()
	d := directory.New(s, nil, nil)
	tn, token, tok := acmeToken(t, d)
	r := &relay{Store: s}
	auth := directory.NewAuthenticator(r)
	start := time.Now().UTC()
	now := start
	auth.SetClock(func() time.Time { return now })
	if _, _, err := auth.Authenticate(ctx, "Bearer "+token); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tn.ID, tok.ID, now, nil); err != nil {
		t.Fatal(err)
	}
	ttl := directory.TokenCacheTTL
	now = start.Add(3 * ttl)
	r.fn(store.TenantChange{Through: now.Add(-ttl / 2)})
	if _, _, err := auth.Authenticate(ctx, "Bearer "+token); err != nil {
		t.Fatalf("3 TTLs old, heartbeat half a TTL ago: %v, want the cached token used", err)
	}
	now = now.Add(ttl)
	if _, _, err := auth.Authenticate(ctx, "Bearer "+token); err == nil || err.Error() != "token revoked" {
		t.Fatalf("heartbeat 1.5 TTLs ago: %v, want token revoked", err)
	}
}

// TestTenantChangeHeartbeats: on PostgreSQL a subscriber hears heartbeats (its own
// notifications come back through the listening connection) about every second.
func TestTenantChangeHeartbeats(t *testing.T) {
	s := teststores.Postgres(t)
	beats := make(chan time.Time, 10)
	defer s.SubscribeTenantChanges(func(ch store.TenantChange) {
		if !ch.Through.IsZero() {
			select {
			case beats <- ch.Through:
			default:
			}
		}
	})()
	for range 2 {
		select {
		case at := <-beats:
			if d := time.Since(at); d < 0 || d > 2*time.Second {
				t.Fatalf("a heartbeat sent %v ago", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat within 5 s")
		}
	}
}
