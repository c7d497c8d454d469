package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/sqlite"
	"github.com/scimd/scimd/internal/store/teststores"
)

// busyStore makes one tenant's lists take a while (as an expensive filter does) and counts
// how many of them run at once.
type busyStore struct {
	store.Store
	tenant     *string
	running    atomic.Int32
	maxRunning atomic.Int32
}

func (s *busyStore) ListResources(ctx context.Context, rt *scim.ResourceType, tenantID string, q store.Query) (store.Page, error) {
	if tenantID == *s.tenant {
		n := s.running.Add(1)
		defer s.running.Add(-1)
		for {
			m := s.maxRunning.Load()
			if n <= m || s.maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-time.After(600 * time.Millisecond):
		case <-ctx.Done():
			return store.Page{}, ctx.Err()
		}
	}
	return s.Store.ListResources(ctx, rt, tenantID, q)
}

// TestTenantShare: one tenant's requests work at most --tenant-concurrency at once; the
// rest wait briefly, then get 429 with Retry-After, while another tenant's lookups go on.
// Before, every request of the noisy tenant ran at once and held a database connection.
func TestTenantShare(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		noisy := ""
		bs := &busyStore{Store: s, tenant: &noisy}
		e := newEnvConfig(t, bs, func(c *server.Config) {
			c.TenantConcurrency = 2
			c.TenantQueueWait = 100 * time.Millisecond
		})
		noisy = e.tenant.ID
		_, quietToken := e.newTenant("quiet")

		var wg sync.WaitGroup
		statuses := make(chan resp, 6)
		for range 6 {
			wg.Go(func() { statuses <- e.doNoFatal("GET", "/scim/v2/Users", nil) })
		}
		time.Sleep(150 * time.Millisecond)
		start := time.Now()
		e.want(e.doToken(quietToken, "GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "x"`), nil), http.StatusOK, "")
		// Generous: the machine running the suite may be loaded; what matters is that the
		// quiet tenant is not queued behind the noisy one's 600 ms lists.
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the quiet tenant's lookup took %v behind the noisy tenant", took)
		}
		wg.Wait()
		close(statuses)
		ok, refused := 0, 0
		for r := range statuses {
			switch r.Status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				refused++
				e.want(r, http.StatusTooManyRequests, "")
				if r.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			default:
				t.Errorf("status %d: %s", r.Status, r.Raw)
			}
		}
		if got := bs.maxRunning.Load(); got > 2 {
			t.Errorf("%d of the noisy tenant's lists ran at once; the share is 2", got)
		}
		if ok < 2 || refused == 0 {
			t.Errorf("%d answered, %d refused; want the share answered and the rest refused", ok, refused)
		}
	})
}

// holdPool takes every connection of the store's main pool until the test ends, as a load
// of expensive queries would.
func holdPool(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	switch db := s.(type) {
	case *postgres.Store:
		for range db.Pool.Config().MaxConns {
			c, err := db.Pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Release)
		}
	case *sqlite.Store:
		for range db.DB.Stats().MaxOpenConnections {
			c, err := db.DB.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
		}
	default:
		t.Fatalf("holdPool: unknown backend %T", s)
	}
}

// TestReservedPool: with every connection of the main pool taken, a refused token is still
// refused at once and /readyz still answers 200: both run on a small pool of their own.
// Before, both waited for the pool (the token check until the request timeout, /readyz
// until it turned 503 and Kubernetes would have marked the replica unready).
func TestReservedPool(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvConfig(t, s, func(c *server.Config) {
			c.RequestTimeout = 3 * time.Second
			c.ReadyTimeout = 2 * time.Second
		})
		holdPool(t, s)
		start := time.Now()
		e.want(e.doToken("scimd_"+strings.Repeat("0", 43), "GET", "/scim/v2/Users", nil), http.StatusUnauthorized, "")
		if took := time.Since(start); took > time.Second {
			t.Errorf("refusing a token took %v with the pool busy", took)
		}
		start = time.Now()
		res, err := http.Get(e.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("/readyz %d with the pool busy, want 200", res.StatusCode)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("/readyz took %v with the pool busy", took)
		}
	})
}

// TestFilterCost: a filter of more than --max-filter-terms comparisons is 400
// invalidFilter (100 emails[value co "…"] terms held the pool for 30 s); a filter that
// scans JSON arrays or matches substrings runs under --expensive-query-timeout and is 503
// past it, while an indexed lookup under the same settings is not limited.
func TestFilterCost(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvConfig(t, s, func(c *server.Config) { c.ExpensiveQueryTimeout = time.Nanosecond })
		e.createUser("ann@example.com", map[string]any{"emails": emails(0, 3)})
		terms := func(n int) string {
			parts := make([]string, n)
			for i := range parts {
				parts[i] = `userName eq "u` + itoa(i) + `"`
			}
			return url.QueryEscape(strings.Join(parts, " or "))
		}
		e.want(e.do("GET", "/scim/v2/Users?filter="+terms(server.DefaultMaxFilterTerms+1), nil), http.StatusBadRequest, "invalidFilter")
		e.want(e.do("GET", "/scim/v2/Users?filter="+terms(server.DefaultMaxFilterTerms), nil), http.StatusOK, "")
		for _, f := range []string{`emails[value co "alias"]`, `emails.value co "alias"`, `title sw "x"`, `emails[type eq "work"]`} {
			e.want(e.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(f), nil), http.StatusServiceUnavailable, "")
		}
		e.want(e.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "ann@example.com"`), nil), http.StatusOK, "")
	})
}
