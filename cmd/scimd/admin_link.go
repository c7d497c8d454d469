package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// consoleStore returns the console's side of an opened store; every SQL store has one.
func consoleStore(s store.Store) (console.Store, error) {
	cs, ok := s.(console.Store)
	if !ok {
		return nil, errors.New("this database backend does not support the admin console")
	}
	return cs, nil
}

// consoleHook wires the admin console into serve, as samlHook does SAML: its routes go
// into server.Config before the server exists, and it is started with the server's
// directory and the SAML service (whose sessions admins sign in with) once they do.
type consoleHook struct {
	sso *samlHook
	svc *console.Service
}

// routes is the server.Config.Routes entry; the router is built after start.
func (h *consoleHook) routes() []func(chi.Router) {
	return []func(chi.Router){func(r chi.Router) { h.svc.Routes(r) }}
}

// start creates the console on s.
func (h *consoleHook) start(ctx context.Context, publicURL string, s store.Store, d *directory.Directory, log *slog.Logger) error {
	cs, err := consoleStore(s)
	if err != nil {
		return err
	}
	h.svc, err = console.New(ctx, console.Config{PublicURL: publicURL}, cs, d, h.sso.svc, log)
	return err
}

// adminCmd is `scimd admin link --tenant SLUG`: it prints a one-time sign-in URL to the
// tenant's admin console, valid for 15 minutes.
func adminCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "link" {
		return usageErr("usage: scimd admin link --tenant SLUG [--public-url URL]")
	}
	fs := newFlagSet("admin link", stderr)
	dsn := databaseFlag(fs)
	tenant := fs.String("tenant", "", "tenant slug (required)")
	publicURL := fs.String("public-url", envOr("SCIMD_PUBLIC_URL", "http://127.0.0.1:8080"),
		"absolute URL browsers reach scimd at, as given to serve (env SCIMD_PUBLIC_URL)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if *tenant == "" || len(pos) > 0 {
		return usageErr("usage: scimd admin link --tenant SLUG [--public-url URL]")
	}
	return withDirectory(ctx, *dsn, func(d *directory.Directory, s store.Store) error {
		t, err := d.Tenant(ctx, *tenant)
		if err != nil {
			return err
		}
		cs, err := consoleStore(s)
		if err != nil {
			return err
		}
		link, expires, err := console.IssueLink(ctx, cs, t, *publicURL, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, link)
		fmt.Fprintf(stderr, "This link signs one browser in to the admin console of %s. It works once, until %s.\n",
			t.Slug, expires.Local().Format("15:04 MST"))
		return nil
	})
}
