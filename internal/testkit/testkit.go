// Package testkit is what scimd's black-box tests share: the services wired on one router
// as cmd/scimd wires them (Stack, Server), the SCIM client (Client) and the in-process
// browser (Browser); the log buffer is internal/testlog's. It is imported by tests only.
package testkit

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store"
)

// Options says what a Stack holds beside the SCIM server.
type Options struct {
	Server server.Config
	// SAML and Console add the SAML service provider and the admin console (which needs
	// SAML) with these configurations; PublicURL defaults to Server.PublicURL.
	SAML    *saml.Config
	Console *console.Config
	// Limits are the directory's bounds (zero: the defaults).
	Limits directory.Limits
	// Bounds are what one write may store (zero: the defaults).
	Bounds directory.Bounds
	// Log is the logger (default: discard).
	Log *slog.Logger
	// TenantLabel turns on the tenant label of the provisioning event metric.
	TenantLabel bool
	// Mount adds a test's own stand-in routes to the router, behind the same middleware.
	Mount []func(chi.Router)
}

// Stack is scimd's services on one store, wired as cmd/scimd's newApp wires them: the store
// instrumented, one directory, the services' routes mounted on one router with /metrics.
type Stack struct {
	Store    store.Store // instrumented
	Dir      *directory.Directory
	Metrics  *server.Metrics
	Registry *prometheus.Registry
	SCIM     *server.Server
	SAML     *saml.Service    // nil unless Options.SAML
	Console  *console.Service // nil unless Options.Console
	Router   chi.Router
}

// New wires a Stack on st. Errors are the services' constructors'.
func New(ctx context.Context, st store.Store, o Options) (*Stack, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Log = slog.New(server.LogHandler(o.Log.Handler())) // as cmd/scimd's logger
	s := &Stack{Registry: prometheus.NewRegistry()}
	s.Metrics = server.NewMetrics(s.Registry, o.TenantLabel)
	s.Store = store.Instrument(st, s.Metrics.ObserveOp)
	s.Dir = directory.NewWithLimits(s.Store, o.Log, s.Metrics.EventObserver(s.Store), o.Limits).WithBounds(o.Bounds)
	var err error
	if s.SCIM, err = server.New(ctx, o.Server, s.Store, s.Dir, s.Metrics, o.Log); err != nil {
		return nil, err
	}
	s.Router = server.NewRouter(s.Metrics, o.Log)
	s.SCIM.Mount(s.Router)
	browser := s.Router.With(s.SCIM.SlugShare) // as newApp: each tenant's share of browser pages
	if o.SAML != nil || o.Console != nil {
		cfg := saml.Config{}
		if o.SAML != nil {
			cfg = *o.SAML
		}
		if cfg.PublicURL == "" {
			cfg.PublicURL = o.Server.PublicURL
		}
		if s.SAML, err = saml.New(cfg, s.Store, s.Dir, o.Log, s.Registry); err != nil {
			return nil, err
		}
		s.SAML.Mount(browser)
	}
	if o.Console != nil {
		cfg := *o.Console
		if cfg.PublicURL == "" {
			cfg.PublicURL = o.Server.PublicURL
		}
		if s.Console, err = console.New(ctx, cfg, s.Store, s.Dir, s.SAML, o.Log); err != nil {
			return nil, err
		}
		s.Console.Mount(browser)
	}
	for _, m := range o.Mount {
		m(s.Router)
	}
	s.Router.Method(http.MethodGet, "/metrics", server.MetricsHandler(s.Registry))
	return s, nil
}

// Server is a Stack behind a test HTTP server, with one tenant and its SCIM token.
type Server struct {
	*Stack
	URL    string // the server's base URL, also the stack's PublicURL when Options left it out
	Tenant store.Tenant
	Token  string
}

// Serve builds the Stack of st and o behind a test HTTP server (closed when tb ends) and
// creates tenant slug with a token labelled "test", made by the actor "test setup".
func Serve(tb testing.TB, st store.Store, o Options, slug string) *Server {
	tb.Helper()
	ctx := context.Background()
	hs := httptest.NewServer(nil)
	tb.Cleanup(hs.Close)
	if o.Server.PublicURL == "" {
		o.Server.PublicURL = hs.URL
	}
	stack, err := New(ctx, st, o)
	if err != nil {
		tb.Fatal(err)
	}
	hs.Config.Handler = stack.Router
	s := &Server{Stack: stack, URL: hs.URL}
	if s.Tenant, err = stack.Dir.CreateTenant(ctx, slug, ""); err != nil {
		tb.Fatal(err)
	}
	if s.Token, _, err = stack.Dir.IssueToken(directory.WithActor(ctx, directory.Actor{Name: "test setup"}), s.Tenant, "test"); err != nil {
		tb.Fatal(err)
	}
	return s
}
