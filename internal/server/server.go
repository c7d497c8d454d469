// Package server is scimd's HTTP surface: the chi router, its middleware (request ids,
// access log, panic recovery, body limits, bearer-token auth, metrics) and the handlers of
// /scim/v2, health and metrics. Handlers return errors; one adapter writes SCIM error bodies.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
	// MetricsOnMain serves /metrics on the main handler.
	MetricsOnMain bool
	// RateLimit is the per-tenant request rate (per second) of /scim/v2, shared by every
	// replica; 0 turns it off (the default). RateBurst is the bucket size (default: RateLimit).
	RateLimit, RateBurst float64
	// RequestTimeout bounds the work of one SCIM request (default 30 s).
	RequestTimeout time.Duration
	// AuthFailuresPerMinute is how many refused tokens one client address may send in a
	// minute before it gets 429 (default 30; negative turns it off).
	AuthFailuresPerMinute int
	// Routes registers more routes (the browser-facing /t/{slug}/… pages) on the main
	// router, behind the same request id, logging, recovery and metrics middleware. Each
	// registers full paths (r.Get("/t/{slug}/saml/acs", …)), never r.Route("/t/{slug}").
	Routes []func(r chi.Router)
}

// Server serves scimd's HTTP API.
type Server struct {
	cfg     Config
	store   store.Store
	dir     *directory.Directory
	auth    *directory.Authenticator
	log     *slog.Logger
	metrics *Metrics
	reg     *prometheus.Registry
	cursors *cursorCodec
	authLim *authThrottle
}

// New returns a Server. reg is the registry metrics are registered on and /metrics serves.
func New(ctx context.Context, cfg Config, s store.Store, log *slog.Logger, reg *prometheus.Registry) (*Server, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.DefaultPageSize <= 0 {
		cfg.DefaultPageSize = 100
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = 1000
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.AuthFailuresPerMinute == 0 {
		cfg.AuthFailuresPerMinute = 30
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	m := NewMetrics(reg)
	key, err := s.Secret(ctx, "cursor_key", newCursorKey)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:     cfg,
		store:   s,
		dir:     directory.New(s, log, m.ObserveEvent),
		auth:    directory.NewAuthenticator(s),
		log:     log,
		metrics: m,
		reg:     reg,
		cursors: &cursorCodec{key: key},
		authLim: newAuthThrottle(cfg.AuthFailuresPerMinute),
	}, nil
}

// Directory returns the directory the server writes through.
func (s *Server) Directory() *directory.Directory { return s.dir }

// MetricsHandler serves the registry in the Prometheus exposition format.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

// Handler returns the router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.CleanPath, s.requestID, s.accessLog, s.recoverer, s.instrument)
	r.NotFound(s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errNotFoundRoute
	}))
	r.MethodNotAllowed(s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errMethod
	}))
	for _, add := range s.cfg.Routes {
		add(r)
	}
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if s.cfg.MetricsOnMain {
		r.Method(http.MethodGet, "/metrics", s.MetricsHandler())
	}
	r.Route("/scim/v2", func(r chi.Router) {
		r.Use(s.limitBody, s.timeout, s.authenticate, s.rateLimit)
		r.NotFound(s.wrap(func(w http.ResponseWriter, r *http.Request) error { return errNotFoundRoute }))
		r.MethodNotAllowed(s.wrap(func(w http.ResponseWriter, r *http.Request) error { return errMethod }))
		r.Get("/ServiceProviderConfig", s.wrap(s.serviceProviderConfig))
		r.Get("/ResourceTypes", s.wrap(s.resourceTypes))
		r.Get("/ResourceTypes/{id}", s.wrap(s.resourceType))
		r.Get("/Schemas", s.wrap(s.schemas))
		r.Get("/Schemas/{id}", s.wrap(s.schema))
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
	return r
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","reason":"database unreachable"}` + "\n"))
		return
	}
	w.Write([]byte(`{"status":"ready"}` + "\n"))
}
