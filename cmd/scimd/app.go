package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/oidc"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
)

// app is scimd serve's parts, built and wired in one place (newApp): the one store value,
// instrumented; the one directory every change goes through; and the services whose routes
// are mounted on the one router.
type app struct {
	dir     *directory.Directory
	router  http.Handler // every route, behind the shared middleware
	metrics http.Handler // /metrics, for --metrics-addr
	drain   func()       // turns /readyz to 503 before shutdown (--drain-delay)
}

// mounter is a service with routes: each mounts its full paths on the process's router.
type mounter interface{ Mount(r chi.Router) }

// newApp is the composition root. A new service is one constructor call here and one entry
// in the list of mounted services; a goroutine it needs starts here, bounded by ctx.
func newApp(ctx context.Context, c *serveConfig, db store.Store, publicURL string, expectedMigration int, log *slog.Logger) (*app, error) {
	reg := prometheus.NewRegistry()
	m := server.NewMetrics(reg, c.MetricsTenantLabel)
	st := store.Instrument(db, m.ObserveOp)
	dir := directory.NewWithLimits(st, log, m.EventObserver(st), c.directoryLimits()).WithBounds(c.fairshareConfig.bounds())

	scim, err := server.New(ctx, server.Config{PublicURL: publicURL, MaxBodyBytes: c.MaxBodyBytes, MaxPageSize: c.MaxPageSize,
		BulkMaxOperations: c.BulkMaxOperations, BulkMaxPayloadBytes: c.BulkMaxPayloadBytes,
		RequestTimeout: c.RequestTimeout, RateLimit: c.RateLimit, RateBurst: c.RateBurst, AuthFailuresPerMinute: c.AuthFailures,
		ExpectedMigration: expectedMigration, TenantConcurrency: c.TenantConcurrency, TenantQueueWait: c.TenantQueueWait,
		MaxFilterTerms: c.MaxFilterTerms, ExpensiveQueryTimeout: c.ExpensiveQueryTimeout}, st, dir, m, log)
	if err != nil {
		return nil, err
	}
	ssoCfg := c.fairshareConfig.saml()
	ssoCfg.PublicURL = publicURL
	ssoCfg.ClockSkew = c.SAMLClockSkew
	ssoCfg.TenantLabel = c.MetricsTenantLabel
	ssoCfg.Metadata = c.SAMLMetadata
	sso, err := saml.New(ssoCfg, st, dir, log, reg)
	if err != nil {
		return nil, err
	}
	admin, err := console.New(ctx, console.Config{PublicURL: publicURL}, st, dir, sso, log)
	if err != nil {
		return nil, err
	}

	// The deployment's one key set signs OIDC tokens and SETs, published at one JWKS URL.
	keys := signing.New(st, signing.Options{})
	// The application's OpenID Connect provider signs users in through the SAML service.
	// zitadel/oidc logs through slog's default logger: make it scimd's.
	slog.SetDefault(log)
	apps, err := oidc.New(ctx, c.oidcConfig.provider(publicURL), st, dir, keys, sso, log, reg)
	if err != nil {
		return nil, err
	}
	ev, err := newEventsService(ctx, c.eventsConfig, publicURL, st, keys, log, reg)
	if err != nil {
		return nil, err
	}

	r := server.NewRouter(m, log)
	scim.Mount(r)
	ev.Mount(r)
	// Browser pages under /t/{slug}/ get their tenant's share of concurrent work, apart
	// from its SCIM requests.
	browser := r.With(scim.SlugShare)
	for _, svc := range []mounter{sso, admin, apps} {
		svc.Mount(browser)
	}
	metrics := server.MetricsHandler(reg)
	if c.MetricsAddr == "" {
		r.Method(http.MethodGet, "/metrics", metrics)
	}
	go chore{name: "expired SAML requests, assertion ids and sessions", every: 10 * time.Minute, run: sso.Prune}.loop(ctx, log)
	go chore{name: "expired OIDC requests and tokens, retired signing keys", every: 10 * time.Minute, run: apps.Prune}.loop(ctx, log)
	go chore{name: "IdP metadata URLs due for a refresh", every: time.Minute, run: sso.RefreshMetadata}.loop(ctx, log)
	return &app{dir: dir, router: r, metrics: metrics, drain: scim.Drain}, nil
}
