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

// windowCounter counts events per key in fixed one-minute windows, per process. Its map is
// swept when it grows, so that a spray of keys cannot grow it without bound.
type windowCounter struct {
	limit int
	mu    sync.Mutex
	byKey map[string]*window
}

type window struct {
	start time.Time
	count int
}

func newWindowCounter(limit int) *windowCounter {
	return &windowCounter{limit: limit, byKey: map[string]*window{}}
}

// take counts one event for key and reports whether it is within the limit, and if not,
// how long until the window ends.
func (c *windowCounter) take(key string, now time.Time) (bool, time.Duration) {
	if c.limit <= 0 {
		return true, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byKey) > 100000 {
		for k, w := range c.byKey {
			if now.Sub(w.start) >= time.Minute {
				delete(c.byKey, k)
			}
		}
	}
	w := c.byKey[key]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &window{start: now}
		c.byKey[key] = w
	}
	if w.count >= c.limit {
		return false, time.Minute - now.Sub(w.start)
	}
	w.count++
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
