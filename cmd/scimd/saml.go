package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

func samlCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("saml needs a subcommand: configure, show, rotate-sp-cert")
	}
	fs := newFlagSet("saml "+args[0], stderr)
	dsn := databaseFlag(fs)
	tenant := fs.String("tenant", "", "tenant slug (required)")
	publicURL := publicURLFlag(fs)
	switch args[0] {
	case "configure":
		ssoURL := fs.String("sso-url", "", "the IdP's single sign-on URL (https; http only for loopback hosts)")
		issuer := fs.String("issuer", "", "the IdP's issuer (entity id)")
		var certFiles stringList
		fs.Var(&certFiles, "cert", "file with the IdP's signing certificate(s), PEM X.509; repeat it to accept several at once (rotation: add the new one, then drop the old one)")
		metadataFile := fs.String("idp-metadata", "", "file with the IdP's metadata XML, instead of --sso-url, --issuer and --cert")
		jit := fs.Bool("jit", false, "create unknown users at their first login (just-in-time provisioning)")
		trustType := fs.Bool("jit-trust-user-type", false, "take a JIT user's userType from the assertion (an IdP attribute userType=admin makes an admin); off, JIT users get the tenant default")
		idpInit := fs.Bool("allow-idp-initiated", false, "accept logins started at the IdP (unsolicited responses)")
		redirect := fs.String("default-redirect", "", "local path (/t/SLUG/…) a login lands on when it names none")
		requireEnc := fs.Bool("require-encrypted-assertions", false, "refuse responses whose assertion is not encrypted to the SP certificate")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if *tenant == "" || len(pos) > 0 {
			return usageErr("usage: scimd saml configure --tenant SLUG (--sso-url URL --issuer ENTITY_ID --cert FILE.pem [--cert FILE.pem …] | --idp-metadata FILE) [--jit [--jit-trust-user-type]] [--allow-idp-initiated] [--default-redirect PATH] [--require-encrypted-assertions]")
		}
		in := saml.Settings{SSOURL: *ssoURL, Issuer: *issuer, JIT: *jit, JITTrustUserType: *trustType, AllowIdPInitiated: *idpInit, DefaultRedirect: *redirect,
			RequireEncryptedAssertions: *requireEnc}
		if *metadataFile != "" {
			if in.IdPMetadata, err = os.ReadFile(*metadataFile); err != nil {
				return fmt.Errorf("cannot read the IdP metadata: %w", err)
			}
		}
		for _, f := range certFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("cannot read the IdP certificate: %w", err)
			}
			in.CertPEM = append(append(in.CertPEM, b...), '\n')
		}
		if len(certFiles) == 0 && *metadataFile == "" {
			return usageErr("--cert FILE.pem (the IdP's signing certificate) is required, or give --idp-metadata FILE")
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
			t, err := d.Tenant(ctx, *tenant)
			if err != nil {
				return err
			}
			cfg, err := saml.Configure(ctx, d, t, in, time.Now().UTC())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "configured SAML for tenant %s: IdP %s, JIT %s, IdP-initiated %s\n", t.Slug, cfg.IdPEntityID,
				onOff(cfg.JIT), onOff(cfg.AllowIdPInitiated))
			printIdPCerts(stdout, cfg.IdPCertPEM, time.Now())
			printSPValues(stdout, saml.Values(*publicURL, t.Slug, &cfg))
			return nil
		})
	case "show":
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if *tenant == "" || len(pos) > 0 {
			return usageErr("usage: scimd saml show --tenant SLUG [--public-url URL]")
		}
		return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
			t, err := d.Tenant(ctx, *tenant)
			if err != nil {
				return err
			}
			cfg, err := s.SAMLConfig(ctx, t.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				printSPValues(stdout, saml.Values(*publicURL, t.Slug, nil))
				fmt.Fprintf(stdout, "\nSAML is not configured for tenant %s yet: run scimd saml configure --tenant %s …\n", t.Slug, t.Slug)
				return nil
			case err != nil:
				return err
			}
			printSPValues(stdout, saml.Values(*publicURL, t.Slug, &cfg))
			fmt.Fprintf(stdout, "\nIdP issuer:            %s\nIdP SSO URL:           %s\nJIT provisioning:      %s\nIdP-initiated login:   %s\n",
				cfg.IdPEntityID, cfg.IdPSSOURL, onOff(cfg.JIT), onOff(cfg.AllowIdPInitiated))
			if cfg.DefaultRedirect != "" {
				fmt.Fprintf(stdout, "Default redirect:      %s\n", cfg.DefaultRedirect)
			}
			fmt.Fprintf(stdout, "Encrypted assertions:  %s\n", map[bool]string{true: "required", false: "accepted, not required"}[cfg.RequireEncryptedAssertions])
			printIdPCerts(stdout, cfg.IdPCertPEM, time.Now())
			printSPCerts(stdout, t.Slug, cfg, time.Now())
			return nil
		})
	case "rotate-sp-cert":
		return rotateSPCert(ctx, fs, dsn, tenant, publicURL, args[1:], stdout)
	}
	return usageErr("unknown saml subcommand %q (configure, show, rotate-sp-cert)", args[0])
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// printIdPCerts lists the IdP signing certificates a response may be signed with, and a
// warning line when one expires within sso.ExpiryWarning.
func printIdPCerts(w io.Writer, pemText string, now time.Time) {
	certs := sso.Certificates(pemText)
	fmt.Fprintf(w, "IdP certificates:      %d (a response signed by any of them is accepted)\n", len(certs))
	for _, c := range certs {
		fmt.Fprintf(w, "  - subject %q, SHA-256 %s, expires %s\n", c.Subject, c.Fingerprint, c.NotAfter.Format(time.DateOnly))
	}
	if warn := sso.ExpiryWarningText(certs, now); warn != "" {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
}

// printSPValues prints what the IdP admin enters on the IdP's side.
func printSPValues(w io.Writer, v saml.SPValues) {
	fmt.Fprintf(w, "SP entity ID (Audience): %s\nACS URL:                 %s\nMetadata URL:            %s\nLogin URL:               %s\n",
		v.EntityID, v.ACSURL, v.MetadataURL, v.LoginURL)
	if v.CertPEM != "" {
		fmt.Fprintf(w, "SP certificate:\n%s", strings.TrimRight(v.CertPEM, "\n")+"\n")
	}
}
