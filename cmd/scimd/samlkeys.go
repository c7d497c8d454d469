package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// rotateSPCert is `scimd saml rotate-sp-cert`: without --activate it publishes the next SP
// certificate in the metadata (beside the current one, both decrypting); with --activate it
// makes that one current and retires the old.
func rotateSPCert(ctx context.Context, fs *flag.FlagSet, dsn, tenant, publicURL *string, args []string, stdout io.Writer) error {
	activate := fs.Bool("activate", false, "make the published next SP certificate the current one and retire the old (after the IdP has the new one)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *tenant == "" || len(pos) > 0 {
		return usageErr("usage: scimd saml rotate-sp-cert --tenant SLUG [--activate] [--public-url URL]")
	}
	return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
		t, err := d.Tenant(ctx, *tenant)
		if err != nil {
			return err
		}
		step, now := saml.RotateSPCert, time.Now().UTC()
		if *activate {
			step = saml.ActivateSPCert
		}
		cfg, err := step(ctx, d, s, t, now)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("SAML is not configured for tenant %s: run scimd saml configure --tenant %s … first", t.Slug, t.Slug)
		case errors.Is(err, store.ErrConflict):
			return fmt.Errorf("the SP certificate of tenant %s changed while rotating (another rotation?); run scimd saml show --tenant %s and try again", t.Slug, t.Slug)
		case err != nil:
			return err
		}
		v := saml.Values(*publicURL, t.Slug, &cfg)
		if *activate {
			fmt.Fprintf(stdout, "activated the new SP certificate of tenant %s: it signs requests from now on; the old one is retired\n", t.Slug)
			printSPCerts(stdout, t.Slug, cfg, now)
			return nil
		}
		fmt.Fprintf(stdout, "published the next SP certificate of tenant %s in %s beside the current one; assertions encrypted to either decrypt.\n"+
			"Give it to the IdP (or let it re-read the metadata), then run: scimd saml rotate-sp-cert --tenant %s --activate\n", t.Slug, v.MetadataURL, t.Slug)
		printSPCerts(stdout, t.Slug, cfg, now)
		fmt.Fprintf(stdout, "Next SP certificate:\n%s", v.NextCertPEM)
		return nil
	})
}

// printSPCerts lists the SP certificate (and the next one while a rotation is under way),
// and a warning line when the current one expires within sso.ExpiryWarning.
func printSPCerts(w io.Writer, slug string, cfg store.SAMLConfig, now time.Time) {
	current := sso.Certificates(cfg.SPCertPEM)
	for _, c := range current {
		fmt.Fprintf(w, "SP certificate:        subject %q, SHA-256 %s, expires %s\n", c.Subject, c.Fingerprint, c.NotAfter.Format(time.DateOnly))
	}
	for _, c := range sso.Certificates(cfg.SPNextCertPEM) {
		fmt.Fprintf(w, "Next SP certificate:   subject %q, SHA-256 %s, expires %s (published, decrypts; activate with rotate-sp-cert --activate)\n",
			c.Subject, c.Fingerprint, c.NotAfter.Format(time.DateOnly))
	}
	if warn := sso.SPExpiryWarningText(current, slug, now); warn != "" {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
}
