package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/store"
)

// metadataFetchFlags adds the bounds of IdP metadata URL fetches to fs: serve (the
// background refresh) and saml configure (the fetch at configure time) take the same flags,
// and both read them from the environment, so both refuse and allow the same targets.
func metadataFetchFlags(fs *flag.FlagSet, c *saml.MetadataConfig) {
	fs.BoolVar(&c.AllowPrivate, "saml-metadata-allow-private", false,
		"let IdP metadata URLs reach loopback, private and link-local addresses (an IdP inside your network); off, they are refused at connect time")
	fs.Int64Var(&c.MaxBytes, "saml-metadata-max-bytes", saml.DefaultMetadataMaxBytes,
		"largest IdP metadata document fetched from a metadata URL")
	fs.DurationVar(&c.Timeout, "saml-metadata-timeout", saml.DefaultMetadataTimeout,
		"longest one fetch of an IdP metadata URL may take")
	fromEnv(fs, "saml-metadata-allow-private", "saml-metadata-max-bytes", "saml-metadata-timeout")
}

// samlMetadataFlags adds serve's IdP metadata flags: the fetch bounds and the refresh
// interval.
func samlMetadataFlags(fs *flag.FlagSet, c *saml.MetadataConfig) {
	metadataFetchFlags(fs, c)
	fs.DurationVar(&c.Interval, "saml-metadata-refresh", saml.DefaultMetadataInterval,
		"longest time between two refreshes of a tenant's IdP metadata URL; a shorter cacheDuration or closer validUntil in the metadata wins, never under 5m")
}

// checkMetadataConfig refuses bounds that make no sense.
func checkMetadataConfig(c saml.MetadataConfig) error {
	switch {
	case c.MaxBytes <= 0 || c.MaxBytes > 64<<20:
		return usageErr("--saml-metadata-max-bytes %d: use a size above 0 and at most 64 MiB", c.MaxBytes)
	case c.Timeout <= 0 || c.Timeout > 5*time.Minute:
		return usageErr("--saml-metadata-timeout %s: use a duration above 0 and at most 5m", c.Timeout)
	case c.Interval != 0 && (c.Interval < saml.DefaultMetadataFloor || c.Interval > 7*24*time.Hour):
		return usageErr("--saml-metadata-refresh %s: use a duration from 5m to 168h", c.Interval)
	}
	return nil
}

// printMetadataRefresh prints where the tenant's IdP settings come from and how their last
// refresh went.
func printMetadataRefresh(ctx context.Context, w io.Writer, s store.Store, tenantID, url string) error {
	fmt.Fprintf(w, "IdP metadata URL:      %s\n", url)
	st, err := s.SAMLMetadataRefresh(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "  last refreshed:      %s\n  next refresh:        %s\n", when(st.LastSuccessAt), when(st.DueAt))
	if st.LastError != "" {
		fmt.Fprintf(w, "WARNING: the last %d refresh(es) failed (last at %s): %s. The settings of the last good refresh are in use.\n",
			st.Failures, when(st.LastErrorAt), st.LastError)
	}
	return nil
}
