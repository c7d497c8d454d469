package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

// Defaults of the fair-share bounds (Config's zero fields take these).
const (
	DefaultTenantConcurrency     = 4
	DefaultTenantQueueWait       = 2 * time.Second
	DefaultMaxFilterTerms        = 20
	DefaultExpensiveQueryTimeout = 5 * time.Second
)

// tenantGate bounds how many requests of one tenant work at once, well below the database
// pool, so that one tenant's expensive requests queue behind each other instead of taking
// every connection. A request waits at most wait for a slot, then is refused (429 with
// Retry-After): the tenant's own traffic is what it waits behind. Kept per process.
type tenantGate struct {
	limit int
	wait  time.Duration
	mu    sync.Mutex
	slots map[string]*gateSlots
}

type gateSlots struct {
	sem  chan struct{}
	refs int // requests holding or waiting for a slot; the entry goes at zero
}

func newTenantGate(limit int, wait time.Duration) *tenantGate {
	return &tenantGate{limit: limit, wait: wait, slots: map[string]*gateSlots{}}
}

// acquire takes one of key's slots, waiting up to g.wait; it returns the release function,
// or false when none came free (or ctx ended).
func (g *tenantGate) acquire(ctx context.Context, key string) (func(), bool) {
	g.mu.Lock()
	s := g.slots[key]
	if s == nil {
		s = &gateSlots{sem: make(chan struct{}, g.limit)}
		g.slots[key] = s
	}
	s.refs++
	g.mu.Unlock()
	done := func() {
		g.mu.Lock()
		if s.refs--; s.refs == 0 {
			delete(g.slots, key)
		}
		g.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem; done() }, true
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem; done() }, true
	case <-t.C:
	case <-ctx.Done():
	}
	done()
	return nil, false
}

// tenantShare holds a SCIM request to its tenant's share of concurrent work.
func (s *Server) tenantShare(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := s.gate.acquire(r.Context(), "tenant:"+tenantFrom(r.Context()).ID)
		if !ok {
			s.shareRefused.WithLabelValues("scim").Inc()
			w.Header().Set("Retry-After", "1")
			s.writeError(w, r, scim.Errorf(http.StatusTooManyRequests, "",
				"this tenant already has %d requests in progress; retry after 1s", s.cfg.TenantConcurrency))
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// SlugShare holds a browser request under /t/{slug}/ (SAML login, ACS, console) to the
// tenant's share, counted apart from its SCIM requests: an IdP's provisioning burst does not
// delay its users' sign-ins. The slug is not looked up first: an unknown slug gets a share
// of its own, which costs nothing once its requests end.
func (s *Server) SlugShare(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := chi.URLParam(r, "slug")
		if slug == "" {
			next.ServeHTTP(w, r)
			return
		}
		release, ok := s.gate.acquire(r.Context(), "slug:"+slug)
		if !ok {
			s.shareRefused.WithLabelValues("browser").Inc()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "Too many requests for this account at once; try again in a moment.", http.StatusTooManyRequests)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

func newShareRefused(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimd_tenant_share_refused_total",
		Help: "Requests refused with 429 because their tenant already had --tenant-concurrency requests in progress, by surface (scim, browser).",
	}, []string{"surface"})
	reg.MustRegister(c)
	c.WithLabelValues("scim")
	c.WithLabelValues("browser")
	return c
}

// checkFilterCost refuses a filter of more than MaxFilterTerms comparisons (400
// invalidFilter) and reports whether it is expensive: a substring match (co, sw, ew) or a
// comparison inside a multi-valued attribute, which scans JSON arrays instead of using an
// index. An expensive list runs under ExpensiveQueryTimeout.
func (s *Server) checkFilterCost(e filter.Expr) (expensive bool, err error) {
	terms := 0
	var walk func(e filter.Expr, inArray bool)
	walk = func(e filter.Expr, inArray bool) {
		switch x := e.(type) {
		case *filter.Compare:
			terms++
			switch {
			case x.Op == "co" || x.Op == "sw" || x.Op == "ew":
				expensive = true
			case inArray || x.Path.Attr != nil && x.Path.Attr.MultiValued:
				expensive = true
			}
		case *filter.Logical:
			walk(x.Left, inArray)
			walk(x.Right, inArray)
		case *filter.Not:
			walk(x.X, inArray)
		case *filter.ValuePath:
			walk(x.Filter, true)
		}
	}
	walk(e, false)
	if terms > s.cfg.MaxFilterTerms {
		return false, scim.BadRequest(scim.InvalidFilter, "a filter may compare at most %d times; this one compares %d times", s.cfg.MaxFilterTerms, terms)
	}
	return expensive, nil
}

// expensiveTimeout turns the end of an expensive list's deadline into a 503 that says why.
func (s *Server) expensiveTimeout(r *http.Request, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		return err
	}
	return scim.Errorf(http.StatusServiceUnavailable, "",
		"a filter that matches substrings or looks inside multi-valued attributes may run at most %s; narrow it", s.cfg.ExpensiveQueryTimeout)
}
