package saml

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults of the login-start bounds (Config's zero fields take these; negative turns a
// bound off).
const (
	DefaultLoginStartsPerAddress = 60
	DefaultLoginStartsPerTenant  = 1200
	DefaultMaxPendingRequests    = 10000
)

// startLimiter is a token bucket per key, per process: at most limit starts at once, refilled
// evenly at limit a minute, so that after a burst a flood gets a steady trickle instead of
// a new minute's worth. Its map is swept when it
// grows, so that a spray of keys cannot grow it without bound.
type startLimiter struct {
	limit int
	mu    sync.Mutex
	byKey map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newStartLimiter(limit int) *startLimiter {
	return &startLimiter{limit: limit, byKey: map[string]*bucket{}}
}

func (c *startLimiter) burst() float64 { return float64(c.limit) }

// take takes one start for key and reports whether there was one, and if not, how long
// until there will be.
func (c *startLimiter) take(key string, now time.Time) (bool, time.Duration) {
	if c.limit <= 0 {
		return true, 0
	}
	rate := float64(c.limit) / 60 // per second
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byKey) > 100000 {
		for k, b := range c.byKey {
			if now.Sub(b.at).Seconds()*rate+b.tokens >= c.burst() {
				delete(c.byKey, k) // full again: the same as absent
			}
		}
	}
	b := c.byKey[key]
	if b == nil {
		b = &bucket{tokens: c.burst(), at: now}
		c.byKey[key] = b
	}
	b.tokens = min(c.burst(), b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// remoteHost is the client address of r (the peer: a load balancer in front hides the
// browser's, which is why the per-address bound is a flag).
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// throttled answers 429 with Retry-After and the sign-in error page.
func throttled(w http.ResponseWriter, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
	render(w, http.StatusTooManyRequests, page{Title: "Too many sign-ins", Message: msg})
}
