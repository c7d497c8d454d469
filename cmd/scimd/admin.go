package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	dsn := databaseFlag(fs)
	if pos, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("migrate takes no arguments")
	}
	db, applied, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "no pending migrations")
	}
	for _, m := range applied {
		fmt.Fprintf(stdout, "applied %s\n", m.Name)
	}
	return nil
}

// withDirectory opens and migrates the database and runs fn with a directory on it and a
// context whose changes are audited with the actor "cli".
func withDirectory(ctx context.Context, dsn string, fn func(ctx context.Context, d *directory.Directory, s store.Store) error) error {
	db, _, err := openMigrated(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	d := directory.New(db, slog.New(slog.DiscardHandler), nil)
	return fn(directory.WithActor(ctx, cliActor), d, db)
}

// cliActor is who the audit log says made a change from the command line.
var cliActor = directory.Actor{Name: "cli"}

func tenantCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("tenant needs a subcommand: create, list, show, user-types, user-type-rules")
	}
	fs := newFlagSet("tenant "+args[0], stderr)
	dsn := databaseFlag(fs)
	switch args[0] {
	case "create":
		name := fs.String("name", "", "display name of the tenant (default: the slug)")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageErr("usage: scimd tenant create SLUG [--name NAME]")
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, _ store.Store) error {
			t, err := d.CreateTenant(ctx, pos[0], *name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created tenant %s (%s)\n", t.Slug, t.Name)
			return nil
		})
	case "list":
		if pos, err := parseArgs(fs, args[1:]); err != nil {
			return err
		} else if len(pos) > 0 {
			return usageErr("usage: scimd tenant list")
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
			list, err := s.Tenants(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tNAME\tUSER TYPES\tDEFAULT\tCREATED")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Slug, t.Name, strings.Join(t.UserTypes, ","), t.DefaultUserType,
					t.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		})
	case "user-types":
		allowed := fs.String("allowed", strings.Join(directory.DefaultUserTypes, ","), "comma-separated allowed userType values")
		def := fs.String("default", directory.DefaultUserType, "userType given to users created without one")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageErr("usage: scimd tenant user-types SLUG --allowed a,b,c --default b")
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, _ store.Store) error {
			t, err := d.Tenant(ctx, pos[0])
			if err != nil {
				return err
			}
			t, err = d.SetUserTypes(ctx, t, strings.Split(*allowed, ","), *def)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "tenant %s: user types %s, default %s\n", t.Slug, strings.Join(t.UserTypes, ","), t.DefaultUserType)
			return nil
		})
	case "show":
		return tenantShowCmd(ctx, fs, dsn, args[1:], stdout)
	case "user-type-rules":
		return tenantUserTypeRulesCmd(ctx, fs, dsn, args[1:], stdout)
	}
	return usageErr("unknown tenant subcommand %q (create, list, show, user-types, user-type-rules)", args[0])
}

func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("token needs a subcommand: create, list, revoke")
	}
	fs := newFlagSet("token "+args[0], stderr)
	dsn := databaseFlag(fs)
	switch args[0] {
	case "create", "list":
		tenant := fs.String("tenant", "", "tenant slug (required)")
		label := fs.String("label", "", "what the token is for, e.g. the IdP's name (required to create one; at most 100 characters)")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if *tenant == "" || len(pos) > 0 {
			return usageErr("usage: scimd token %s --tenant SLUG", args[0])
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
			t, err := d.Tenant(ctx, *tenant)
			if err != nil {
				return err
			}
			if args[0] == "create" {
				tok, _, err := d.IssueToken(ctx, t, *label)
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, tok)
				return nil
			}
			list, err := s.Tokens(ctx, t.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tLABEL\tCREATED\tLAST USED\tSTATUS")
			for _, tok := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tok.ID, tok.Label, tok.CreatedAt.Format(time.RFC3339),
					timeOrNever(tok.LastUsedAt), status(tok))
			}
			return tw.Flush()
		})
	case "revoke":
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageErr("usage: scimd token revoke ID")
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
			// Token ids are unique across tenants: find the one tenant that has it.
			tenants, err := s.Tenants(ctx)
			if err != nil {
				return err
			}
			for _, t := range tenants {
				toks, err := s.Tokens(ctx, t.ID)
				if err != nil {
					return err
				}
				for _, tok := range toks {
					if tok.ID == pos[0] {
						if err := d.RevokeToken(ctx, t, tok.ID); err != nil {
							return err
						}
						fmt.Fprintf(stdout, "revoked %s\n", pos[0])
						return nil
					}
				}
			}
			return fmt.Errorf("no token %q", pos[0])
		})
	}
	return usageErr("unknown token subcommand %q (create, list, revoke)", args[0])
}

func timeOrNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func status(t store.Token) string {
	if t.Revoked() {
		return "revoked " + t.RevokedAt.Format(time.RFC3339)
	}
	return "live"
}
