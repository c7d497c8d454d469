// Package server is scimd's HTTP surface: the chi router, its middleware (request ids,
// access log, panic recovery, body limits, bearer-token auth, metrics) and the handlers of
// /scim/v2, health and metrics. Handlers return errors; one adapter writes SCIM error bodies.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// Config is what the server needs to know about its deployment.
type Config struct {
	// PublicURL is the absolute URL clients reach scimd at, without a trailing slash; it
	// builds meta.location and $ref values.
	PublicURL string
	// MaxBodyBytes bounds a request body (default 1 MiB).
	MaxBodyBytes int64
	// DefaultPageSize and MaxPageSize bound list pages (defaults 100 and 1000).
	DefaultPageSize, MaxPageSize int
	// ReadyTimeout bounds the database ping of /readyz (default 2 s).
	ReadyTimeout time.Duration
	// ExpectedMigration is the highest migration the binary embeds: /readyz answers 503
	// while the database is behind it (0: not checked).
	ExpectedMigration int
	// RateLimit is the per-tenant request rate (per second) of /scim/v2, shared by every
	// replica; 0 turns it off (the default). RateBurst is the bucket size (default: RateLimit).
	RateLimit, RateBurst float64
	// RequestTimeout bounds the work of one SCIM request (default 30 s).
	RequestTimeout time.Duration
	// BulkMaxOperations and BulkMaxPayloadBytes bound one /Bulk request (RFC 7644 §3.7.4:
	// maxOperations and maxPayloadSize, advertised in /ServiceProviderConfig); defaults
	// 1000 operations and 2 MiB. A bulk's work is bounded by RequestTimeout like any request.
	BulkMaxOperations   int
	BulkMaxPayloadBytes int64
	// AuthFailuresPerMinute is how many refused tokens one client address may send in a
	// minute before it gets 429 (default 30; negative turns it off).
	AuthFailuresPerMinute int
	// TenantConcurrency is how many requests of one tenant work at once (SCIM and browser
	// requests counted apart, see SlugShare), well below the database pool (default 4);
	// TenantQueueWait is how long a request waits for a slot before 429 (default 2 s).
	TenantConcurrency int
	TenantQueueWait   time.Duration
	// MaxFilterTerms bounds the comparisons of one filter (default 20); a filter that
	// scans JSON arrays or matches substrings runs at most ExpensiveQueryTimeout (default 5 s).
	MaxFilterTerms        int
	ExpensiveQueryTimeout time.Duration
}

// Server serves /scim/v2, /healthz and /readyz.
type Server struct {
	edge
	cfg     Config
	store   store.Store
	dir     *directory.Directory
	auth    *directory.Authenticator
	cursors *cursorCodec
	authLim *authThrottle
	// draining is set by Drain: /readyz answers 503 so that load balancers stop sending
	// requests before the listener closes.
	draining atomic.Bool
	gate     *tenantGate
	// shareRefused counts requests refused by the tenant gate.
	shareRefused *prometheus.CounterVec
}

// Drain makes /readyz answer 503 ("draining") from now on while every other route keeps
// serving: a replica that is about to stop tells its load balancer first, and requests
// already on their way still succeed.
func (s *Server) Drain() { s.draining.Store(true) }

// New returns the SCIM server on st (the instrumented store cmd/scimd built), writing
// through dir. m is the metrics NewMetrics made; New adds the database collector to them.
// Errors are the store's (the cursor key is read or created).
func New(ctx context.Context, cfg Config, st store.Store, dir *directory.Directory, m *Metrics, log *slog.Logger) (*Server, error) {
	defaults.Positive(&cfg.MaxBodyBytes, 1<<20)
	defaults.Positive(&cfg.DefaultPageSize, 100)
	defaults.Positive(&cfg.MaxPageSize, 1000)
	defaults.Positive(&cfg.RequestTimeout, 30*time.Second)
	defaults.Positive(&cfg.BulkMaxOperations, 1000)
	defaults.Positive(&cfg.BulkMaxPayloadBytes, 2<<20)
	if cfg.AuthFailuresPerMinute == 0 {
		cfg.AuthFailuresPerMinute = 30
	}
	defaults.Positive(&cfg.ReadyTimeout, 2*time.Second)
	defaults.Positive(&cfg.TenantConcurrency, DefaultTenantConcurrency)
	defaults.Positive(&cfg.TenantQueueWait, DefaultTenantQueueWait)
	defaults.Positive(&cfg.MaxFilterTerms, DefaultMaxFilterTerms)
	defaults.Positive(&cfg.ExpensiveQueryTimeout, DefaultExpensiveQueryTimeout)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	key, err := st.Secret(ctx, "cursor_key", newCursorKey)
	if err != nil {
		return nil, err
	}
	srv := &Server{
		edge:    edge{log: log, metrics: m},
		cfg:     cfg,
		store:   st,
		dir:     dir,
		auth:    directory.NewAuthenticator(st),
		cursors: &cursorCodec{key: key},
		authLim: newAuthThrottle(cfg.AuthFailuresPerMinute),
		gate:    newTenantGate(cfg.TenantConcurrency, cfg.TenantQueueWait),
	}
	srv.shareRefused = newShareRefused(m.reg)
	if err := m.reg.Register(newDBCollector(st, srv.readiness, cfg.ReadyTimeout, cfg.ExpectedMigration)); err != nil {
		return nil, err
	}
	return srv, nil
}

// MetricsHandler serves reg in the Prometheus exposition format; the handler's own error
// counter (promhttp_metric_handler_errors_total) is registered on reg too.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// edge is what every route shares, whichever service mounts it: the logger and metrics of
// the middleware, and the adapter that writes a handler's error.
type edge struct {
	log     *slog.Logger
	metrics *Metrics
}

// NewRouter returns the one router of the process with the middleware every route runs
// behind: path cleaning, request id, access log, panic recovery and HTTP metrics, and SCIM
// error bodies for unknown routes and methods. Services mount their routes on it (Mount),
// each with full paths (r.Get("/t/{slug}/saml/acs", …)), never r.Route("/t/{slug}").
func NewRouter(m *Metrics, log *slog.Logger) *chi.Mux {
	e := &edge{log: log, metrics: m}
	r := chi.NewRouter()
	r.Use(middleware.CleanPath, canonicalRoute, e.requestID, e.accessLog, e.recoverer, e.instrument)
	r.NotFound(e.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errNotFoundRoute
	}))
	r.MethodNotAllowed(e.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errMethod
	}))
	return r
}

// Mount registers /healthz, /readyz and /scim/v2 on r (from NewRouter).
func (s *Server) Mount(r chi.Router) {
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Route("/scim/v2", func(r chi.Router) {
		r.Use(s.limitBody, s.timeout, s.authenticate, s.tenantShare, s.rateLimit)
		r.NotFound(s.wrap(func(w http.ResponseWriter, r *http.Request) error { return errNotFoundRoute }))
		r.MethodNotAllowed(s.wrap(func(w http.ResponseWriter, r *http.Request) error { return errMethod }))
		r.Get("/ServiceProviderConfig", s.wrap(s.serviceProviderConfig))
		r.Get("/ResourceTypes", s.wrap(s.resourceTypes))
		r.Get("/ResourceTypes/{id}", s.wrap(s.resourceType))
		r.Get("/Schemas", s.wrap(s.schemas))
		r.Get("/Schemas/{id}", s.wrap(s.schema))
		r.Post(strings.TrimPrefix(bulkPath, "/scim/v2"), s.wrap(s.bulk))
		r.Post("/.search", s.wrap(s.rootSearch))
		for _, h := range []*resourceHandlers{s.users(), s.groups()} {
			r.Route(h.rt.Endpoint, func(r chi.Router) {
				r.Get("/", s.wrap(h.list))
				r.Post("/", s.wrap(h.create))
				r.Post("/.search", s.wrap(h.search))
				r.Get("/{id}", s.wrap(h.get))
				r.Put("/{id}", s.wrap(h.replace))
				r.Patch("/{id}", s.wrap(h.patch))
				r.Delete("/{id}", s.wrap(h.delete))
			})
		}
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// readiness is the state of the database as /readyz and scimd_db_up see it.
type readiness struct {
	reachable bool   // the database answered a ping
	version   int    // highest migration applied; -1 when unknown
	reason    string // why the server is not ready; "" when it is
}

// readiness pings the database and reads its migration version. The server is ready when
// the database answers and its schema is not behind ExpectedMigration; a schema ahead of it
// (a newer replica migrated first during a rolling upgrade) is ready, since migrations only
// add.
func (s *Server) readiness(ctx context.Context) readiness {
	rd := readiness{version: -1}
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "database unreachable", "err", err)
		rd.reason = "database unreachable"
		return rd
	}
	rd.reachable = true
	version, err := s.store.Version(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "migration version unreadable", "err", err)
		rd.reason = "migration version unreadable"
		return rd
	}
	rd.version = version
	if version < s.cfg.ExpectedMigration {
		rd.reason = fmt.Sprintf("database at migration %d, expected %d", version, s.cfg.ExpectedMigration)
	}
	return rd
}

// readyz answers 200 when the database answers within ReadyTimeout and its migrations are
// at the expected version, else 503 with the reason.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	rd := s.readiness(ctx)
	if s.draining.Load() {
		rd.reason = "draining: shutting down"
	}
	w.Header().Set("Content-Type", "application/json")
	if rd.reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]any{"status": "unavailable", "reason": rd.reason})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"status": "ready", "migration": rd.version})
}
