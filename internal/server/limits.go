package server

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// rateLimit enforces the per-tenant token bucket (Config.RateLimit requests per second,
// Config.RateBurst at once), kept in the database so that every replica draws from the same
// bucket; one tenant's traffic never empties another's. Refused requests get 429 with
// Retry-After. If the database cannot answer, the request goes on: the next store call will
// fail or succeed on its own.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	if s.cfg.RateLimit <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait, err := s.takeToken(r.Context(), tenantFrom(r.Context())); err != nil {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// takeToken draws one request from tenant t's bucket: a request, or one operation of a
// bulk request. When the bucket is empty it returns 429 and how long to wait; when the
// limit is off or the database cannot answer, nil. Tokens are taken from the shared bucket
// a batch at a time (tokenLeases), so that the database is not written on every request.
func (s *Server) takeToken(ctx context.Context, t store.Tenant) (time.Duration, error) {
	if s.cfg.RateLimit <= 0 {
		return 0, nil
	}
	now := time.Now()
	if s.leases.take(t.ID, now) {
		return 0, nil
	}
	burst := s.cfg.RateBurst
	if burst < 1 {
		burst = max(1, s.cfg.RateLimit)
	}
	batch := leaseBatch(s.cfg.RateLimit, burst)
	taken, wait, err := s.store.TakeTokens(ctx, t.ID, s.cfg.RateLimit, burst, batch, now)
	if err != nil {
		return 0, nil
	}
	if taken > 0 {
		s.leases.add(t.ID, taken-1, now)
		return 0, nil
	}
	s.metrics.rateLimited.Inc()
	return wait, scim.Errorf(http.StatusTooManyRequests, "", "too many requests for this tenant; retry after %s", wait.Round(time.Millisecond))
}

// leaseBatch is how many tokens a replica takes from the shared bucket at once: a tenth of a
// second's worth of the rate (at the default 100/s, 10: one database write per 10 requests
// instead of one per request), at least 1 and at most a tenth of the burst, so that a
// replica never holds much of what the others could use.
func leaseBatch(rate, burst float64) int {
	return max(1, int(min(rate/10, burst/10)))
}

// leaseTTL is how long a replica may spend tokens it took: those not spent by then are
// dropped, so a tenant gets at most that many fewer requests, never more than its rate.
const leaseTTL = time.Second

// tokenLeases are the tokens this process took from tenants' shared buckets and has not
// spent yet: tenant id → lease.
type tokenLeases struct {
	mu sync.Mutex
	m  map[string]tokenLease
}

type tokenLease struct {
	left  int
	until time.Time
}

func newTokenLeases() *tokenLeases { return &tokenLeases{m: map[string]tokenLease{}} }

// take spends one leased token of the tenant, if it has one that has not expired.
func (l *tokenLeases) take(tenantID string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	le, ok := l.m[tenantID]
	if !ok || le.left < 1 || !now.Before(le.until) {
		if ok {
			delete(l.m, tenantID)
		}
		return false
	}
	le.left--
	l.m[tenantID] = le
	return true
}

// add keeps n more tokens of the tenant, spendable until now+leaseTTL.
func (l *tokenLeases) add(tenantID string, n int, now time.Time) {
	if n < 1 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.m[tenantID]
	if !now.Before(le.until) {
		le.left = 0
	}
	le.left += n
	le.until = now.Add(leaseTTL)
	l.m[tenantID] = le
}

// timeout bounds a request's work (Config.RequestTimeout): database calls give up at the
// deadline and the client gets 503 with Retry-After instead of a hanging connection.
func (s *Server) timeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authThrottle counts refused tokens per client address; past AuthFailuresPerMinute the
// address's refused tokens are answered 429 instead of 401, with Retry-After, which tells a
// guesser of the 256-bit token space (already hopeless) to slow down. A valid token from the
// same address is never refused: behind a load balancer every tenant's IdP may share one.
// Kept per process: a guesser spread over replicas gets at most replicas × the limit.
type authThrottle struct {
	limit int
	mu    sync.Mutex
	byIP  map[string]*failureWindow
}

type failureWindow struct {
	start time.Time
	count int
}

func newAuthThrottle(limit int) *authThrottle {
	return &authThrottle{limit: limit, byIP: map[string]*failureWindow{}}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether ip has used up its failures in the current minute.
func (a *authThrottle) blocked(ip string, now time.Time) bool {
	if a.limit <= 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.byIP[ip]
	return w != nil && now.Sub(w.start) < time.Minute && w.count >= a.limit
}

// fail records a refused token from ip.
func (a *authThrottle) fail(ip string, now time.Time) {
	if a.limit <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.byIP) > 100000 { // bound memory under a spray of addresses
		for k, w := range a.byIP {
			if now.Sub(w.start) >= time.Minute {
				delete(a.byIP, k)
			}
		}
	}
	w := a.byIP[ip]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &failureWindow{start: now}
		a.byIP[ip] = w
	}
	w.count++
}
