package server_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// TestRateLimitPerTenant: a noisy tenant is refused with 429 and Retry-After once its
// bucket is empty, while another tenant's requests go through.
func TestRateLimitPerTenant(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvConfig(t, s, func(c *server.Config) { c.RateLimit, c.RateBurst = 1, 5 })
		_, quietToken := e.newTenant("quiet")
		limited := 0
		for range 20 {
			r := e.do("GET", "/scim/v2/Users?count=1", nil)
			switch r.Status {
			case http.StatusOK:
			case http.StatusTooManyRequests:
				limited++
				e.want(r, http.StatusTooManyRequests, "")
				if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
					t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
				}
			default:
				t.Fatalf("status %d: %s", r.Status, r.Raw)
			}
		}
		if limited < 14 {
			t.Fatalf("%d of 20 requests limited, want at least 14 with a burst of 5 at 1/s", limited)
		}
		for range 5 {
			e.want(e.doToken(quietToken, "GET", "/scim/v2/Users?count=1", nil), http.StatusOK, "")
		}
	})
}

// TestRateLimitOffByDefault: without a configured rate, a burst goes through.
func TestRateLimitOffByDefault(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	for range 50 {
		e.want(e.do("GET", "/scim/v2/Users?count=1", nil), http.StatusOK, "")
	}
}

// TestAuthThrottle: an address that keeps sending wrong tokens is slowed down with 429, and
// a right token from the same address (another tenant's IdP behind the same load balancer)
// still goes through.
func TestAuthThrottle(t *testing.T) {
	e := newEnvConfig(t, teststores.SQLite(t), func(c *server.Config) { c.AuthFailuresPerMinute = 5 })
	for i := range 5 {
		e.want(e.doToken("scimd_guess"+strconv.Itoa(i), "GET", "/scim/v2/Users", nil), http.StatusUnauthorized, "")
	}
	r := e.doToken("scimd_guess", "GET", "/scim/v2/Users", nil)
	e.want(r, http.StatusTooManyRequests, "")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	e.want(e.do("GET", "/scim/v2/Users", nil), http.StatusOK, "")
	e.want(e.doToken("scimd_guess-again", "GET", "/scim/v2/Users", nil), http.StatusTooManyRequests, "")
}

// slowStore makes list queries wait for their context, like a database that hangs.
type slowStore struct{ store.Store }

func (s slowStore) ListResources(ctx context.Context, rt *scim.ResourceType, tenantID string, q store.Query) (store.Page, error) {
	<-ctx.Done()
	return store.Page{}, ctx.Err()
}

// TestRequestTimeout: a request whose database work hangs is answered 503 with Retry-After
// at the configured deadline.
func TestRequestTimeout(t *testing.T) {
	e := newEnvConfig(t, slowStore{teststores.SQLite(t)}, func(c *server.Config) { c.RequestTimeout = 200 * time.Millisecond })
	start := time.Now()
	r := e.do("GET", "/scim/v2/Users", nil)
	e.want(r, http.StatusServiceUnavailable, "")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("answered after %v", d)
	}
}

// countingTakes is a store that counts the takes from the shared rate-limit buckets.
type countingTakes struct {
	store.Store
	takes *atomic.Int64
}

func (c countingTakes) TakeTokens(ctx context.Context, tenantID string, rate, burst float64, n int, now time.Time) (int, time.Duration, error) {
	c.takes.Add(1)
	return c.Store.TakeTokens(ctx, tenantID, rate, burst, n, now)
}

// TestRateLimitTakesInBatches: a replica takes a tenth of a second's worth of the rate from
// the shared bucket at once, so that 50 requests at 1,000/s write the bucket once, not 50
// times (the rate limit was a database write on every request).
func TestRateLimitTakesInBatches(t *testing.T) {
	var takes atomic.Int64
	e := newEnvConfig(t, countingTakes{teststores.SQLite(t), &takes}, func(c *server.Config) { c.RateLimit, c.RateBurst = 1000, 1000 })
	start := time.Now()
	for range 50 {
		e.want(e.do("GET", "/scim/v2/Users?count=1", nil), http.StatusOK, "")
	}
	// A batch is spent within a second (leaseTTL): on a slow machine 50 requests may take
	// several, each a new batch; never one take per request.
	if n, most := takes.Load(), int64(time.Since(start)/time.Second)+1; n > most || n >= 50 {
		t.Fatalf("50 requests in %v took from the shared bucket %d times, want at most %d (a batch of 100 a second)", time.Since(start), n, most)
	}
}
