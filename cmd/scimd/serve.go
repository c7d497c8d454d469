package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/server"
)

// serveConfig is scimd serve's configuration: flags, each with a SCIMD_* environment
// variable as its default.
type serveConfig struct {
	Addr            string
	database        *string
	PublicURL       string
	MetricsAddr     string
	PprofAddr       string
	LogFormat       string
	LogLevel        string
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	RequestTimeout  time.Duration
	RateLimit       float64
	RateBurst       float64
	AuthFailures    int
	SAMLClockSkew   time.Duration
	SAMLMetadata    saml.MetadataConfig
	opsConfig
	limitsConfig
	eventsConfig
	fairshareConfig
	oidcConfig
}

func serveFlags(fs *flag.FlagSet) *serveConfig {
	c := &serveConfig{}
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	c.database = databaseFlag(fs)
	fs.StringVar(&c.PublicURL, "public-url", "",
		"absolute URL clients reach scimd at; builds meta.location and SAML URLs; default http://ADDR")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "",
		"serve /metrics on this address instead of the main one")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "",
		"serve Go's profiler (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; off when empty")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 1<<20, "largest request body accepted")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 30*time.Second,
		"longest a SCIM request may work before it is answered 503")
	fs.Float64Var(&c.RateLimit, "rate-limit", defaultRateLimit,
		"SCIM requests per second per tenant, shared by all replicas; 0 is no limit")
	fs.Float64Var(&c.RateBurst, "rate-burst", defaultRateBurst,
		"requests a tenant may send at once above --rate-limit; 0 means equal to it")
	fs.IntVar(&c.AuthFailures, "auth-failures-per-minute", 30,
		"refused tokens one client address may send per minute before 429; negative is no limit")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second,
		"how long in-flight requests may take to finish on SIGTERM")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 0,
		"on SIGTERM, answer /readyz 503 and keep serving this long before closing the listener, so that a load balancer's health checks take the replica out first")
	fs.DurationVar(&c.SAMLClockSkew, "saml-clock-skew", saml.DefaultClockSkew,
		"how far an IdP's clock may be ahead of or behind this server's when SAML responses are checked")
	samlMetadataFlags(fs, &c.SAMLMetadata)
	opsFlags(fs, &c.opsConfig)
	limitsFlags(fs, &c.limitsConfig)
	eventsFlags(fs, &c.eventsConfig)
	fairshareFlags(fs, &c.fairshareConfig)
	oidcFlags(fs, &c.oidcConfig)
	fromEnv(fs)
	return c
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErr("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(server.LogHandler(slog.NewJSONHandler(w, opts))), nil
	case "text":
		return slog.New(server.LogHandler(slog.NewTextHandler(w, opts))), nil
	}
	return nil, usageErr("--log-format %q: use json or text", format)
}

func serveCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	c := serveFlags(fs)
	if pos, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("serve takes no arguments, got %q", pos[0])
	}
	tuneGC()
	return serve(ctx, c, stderr, nil)
}

// serve runs the server until ctx is done; listening (if not nil) receives the bound
// address once the listener is open.
func serve(ctx context.Context, c *serveConfig, stderr io.Writer, listening chan<- string) error {
	log, err := newLogger(stderr, c.LogFormat, c.LogLevel)
	if err != nil {
		return err
	}
	if err := c.limitsConfig.check(); err != nil {
		return err
	}
	if err := c.fairshareConfig.check(); err != nil {
		return err
	}
	if c.SAMLClockSkew <= 0 || c.SAMLClockSkew > time.Hour {
		return usageErr("--saml-clock-skew %s: use a duration above 0 and at most 1h", c.SAMLClockSkew)
	}
	if err := checkMetadataConfig(c.SAMLMetadata); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", c.Addr, err)
	}
	defer ln.Close()
	var metricsLn net.Listener
	if c.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", c.MetricsAddr); err != nil {
			return fmt.Errorf("cannot listen on %s for metrics: %w", c.MetricsAddr, err)
		}
		defer metricsLn.Close()
	}
	pprofLn, err := listenPprof(c.PprofAddr)
	if err != nil {
		return err
	}
	if pprofLn != nil {
		defer pprofLn.Close()
	}
	publicURL := c.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	if !strings.HasPrefix(publicURL, "http://") && !strings.HasPrefix(publicURL, "https://") {
		return usageErr("--public-url %q must be an absolute http(s) URL", publicURL)
	}
	db, applied, err := openMigrated(ctx, *c.database)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, m := range applied {
		log.Info("migration applied", "name", m.Name)
	}
	expected, stopOps, err := startOps(ctx, c.opsConfig, db, log)
	if err != nil {
		return err
	}
	defer stopOps()
	a, err := newApp(ctx, c, db, publicURL, expected, log)
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, a.dir, stderr); err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           a.router,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	var ms *http.Server
	if metricsLn != nil {
		ms = &http.Server{Handler: a.metrics, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- ms.Serve(metricsLn) }()
	}
	if pprofLn != nil {
		ps := &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second}
		go ps.Serve(pprofLn) // closed with its listener
		log.Info("profiler listening", "addr", pprofLn.Addr().String())
	}
	log.Info("scimd listening", "addr", ln.Addr().String(), "public_url", publicURL, "database", redact(*c.database))
	if listening != nil {
		listening <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if c.DrainDelay > 0 {
		a.drain()
		log.Info("draining: /readyz answers 503, still serving", "delay", c.DrainDelay.String())
		select {
		case <-time.After(c.DrainDelay):
		case err := <-errc:
			return err
		}
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", c.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if ms != nil {
		ms.Shutdown(sctx)
	}
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// bootstrap creates tenant "default" and its first token on a database with no tenant, and
// prints the token once.
func bootstrap(ctx context.Context, d *directory.Directory, stderr io.Writer) error {
	tenants, err := d.Tenants(ctx)
	if err != nil || len(tenants) > 0 {
		return err
	}
	t, err := d.CreateTenant(ctx, "default", "Default")
	if err != nil {
		return err
	}
	tok, _, err := d.IssueToken(directory.WithActor(ctx, directory.Actor{Name: "serve bootstrap"}), t, "bootstrap")
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Created tenant \"default\". Its SCIM bearer token is below; it will not be shown again:\n%s\n", tok)
	return nil
}
