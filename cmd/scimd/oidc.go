package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/oidc"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
)

// oidcConfig is serve's OpenID Connect provider settings.
type oidcConfig struct {
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
}

// oidcFlags adds the provider's flags of serve to fs.
func oidcFlags(fs *flag.FlagSet, c *oidcConfig) {
	fs.DurationVar(&c.AccessTokenTTL, "oidc-access-token-ttl", oidc.DefaultAccessTokenTTL,
		"lifetime of the access tokens applications get")
	fs.DurationVar(&c.RefreshTokenTTL, "oidc-refresh-token-ttl", oidc.DefaultRefreshTokenTTL,
		"lifetime of a refresh token (each use rotates it)")
}

// provider is the provider's configuration for the deployment at publicURL.
func (c oidcConfig) provider(publicURL string) oidc.Config {
	return oidc.Config{Issuer: publicURL, AccessTokenTTL: c.AccessTokenTTL, RefreshTokenTTL: c.RefreshTokenTTL}
}

// appCmd manages the applications that sign users in through scimd (OIDC clients).
func appCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("app needs a subcommand: create, list, delete, rotate-secret")
	}
	fs := newFlagSet("app "+args[0], stderr)
	dsn := databaseFlag(fs)
	switch args[0] {
	case "create":
		name := fs.String("name", "", "the application's name (required)")
		var uris stringList
		fs.Var(&uris, "redirect-uri", "a redirect URI, matched exactly (repeat for more)")
		public := fs.Bool("public", false, "a public client (browser or native application): no secret, PKCE required")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if *name == "" || len(uris) == 0 || len(pos) > 0 {
			return usageErr("usage: scimd app create --name NAME --redirect-uri URL [--redirect-uri URL…] [--public]")
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, _ *directory.Directory, s store.Store) error {
			c, secret, err := oidc.NewClient(ctx, s, *name, uris, *public, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, c.ID)
			if secret != "" {
				fmt.Fprintln(stdout, secret)
				fmt.Fprintln(stderr, "scimd: the client id and secret are above; the secret is shown only now and stored only as a hash")
			}
			return nil
		})
	case "list":
		if _, err := parseArgs(fs, args[1:]); err != nil {
			return err
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, _ *directory.Directory, s store.Store) error {
			clients, err := s.OIDCClients(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tREDIRECT URIS\tCREATED")
			for _, c := range clients {
				kind := "confidential"
				if c.Public {
					kind = "public"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, strings.Join(c.RedirectURIs, " "), c.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		})
	case "delete", "rotate-secret":
		grace := fs.Duration("grace", 24*time.Hour, "rotate-secret: how long the old secret keeps working")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageErr("usage: scimd app %s CLIENT_ID", args[0])
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, _ *directory.Directory, s store.Store) error {
			if args[0] == "delete" {
				err := s.DeleteOIDCClient(ctx, pos[0])
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no application %q", pos[0])
				}
				return err
			}
			secret, err := oidc.RotateSecret(ctx, s, pos[0], *grace, time.Now())
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no application %q", pos[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, secret)
			fmt.Fprintf(stderr, "scimd: the new secret is above, shown only now; the old one works until %s\n",
				time.Now().Add(*grace).UTC().Format(time.RFC3339))
			return nil
		})
	}
	return usageErr("app needs a subcommand: create, list, delete, rotate-secret")
}

// oidcCmd is `scimd oidc rotate-key`: a new signing key, published at once in the JWKS and
// signing after the publish lead; the old key stays published until its tokens expired.
func oidcCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate-key" {
		return usageErr("usage: scimd oidc rotate-key [--publish-lead 10m]")
	}
	fs := newFlagSet("oidc rotate-key", stderr)
	dsn := databaseFlag(fs)
	lead := fs.Duration("publish-lead", signing.DefaultPublishLead, "how long the new key is published before it signs")
	if pos, err := parseArgs(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("usage: scimd oidc rotate-key [--publish-lead 10m]")
	}
	return withDirectory(ctx, *dsn, func(ctx context.Context, _ *directory.Directory, s store.Store) error {
		k, err := signing.New(s, signing.Options{PublishLead: *lead}).Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", k.ID)
		fmt.Fprintf(stderr, "scimd: key %s is published now and signs from %s\n", k.ID, k.NotBefore.UTC().Format(time.RFC3339))
		return nil
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
