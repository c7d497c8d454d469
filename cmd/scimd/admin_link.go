package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// adminCmd is `scimd admin link --tenant SLUG`: it prints a one-time sign-in URL to the
// tenant's admin console, valid for 15 minutes.
func adminCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "link" {
		return usageErr("usage: scimd admin link --tenant SLUG [--public-url URL]")
	}
	fs := newFlagSet("admin link", stderr)
	dsn := databaseFlag(fs)
	tenant := fs.String("tenant", "", "tenant slug (required)")
	publicURL := publicURLFlag(fs)
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if *tenant == "" || len(pos) > 0 {
		return usageErr("usage: scimd admin link --tenant SLUG [--public-url URL]")
	}
	return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
		t, err := d.Tenant(ctx, *tenant)
		if err != nil {
			return err
		}
		link, expires, err := console.IssueLink(ctx, s, t, *publicURL, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, link)
		fmt.Fprintf(stderr, "This link signs one browser in to the admin console of %s. It works once, until %s.\n",
			t.Slug, expires.Local().Format("15:04 MST"))
		return nil
	})
}
