package main

import (
	"flag"
	"io"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/server"
)

// TestFairshareDefaults: the bounds that keep one tenant from taking the service are on
// by default, the per-tenant rate limit among them, and a bound below 1 is refused.
func TestFairshareDefaults(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := serveFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.RateLimit != defaultRateLimit || c.RateBurst != defaultRateBurst || c.RateLimit <= 0 {
		t.Errorf("rate limit %v burst %v; want on by default", c.RateLimit, c.RateBurst)
	}
	b := c.fairshareConfig.bounds()
	if b.MaxValuesPerAttribute != directory.DefaultMaxValuesPerAttribute || b.MaxResourceBytes != directory.DefaultMaxResourceBytes {
		t.Errorf("bounds %+v", b)
	}
	if c.TenantConcurrency != server.DefaultTenantConcurrency || c.MaxFilterTerms != server.DefaultMaxFilterTerms {
		t.Errorf("share %d, filter terms %d", c.TenantConcurrency, c.MaxFilterTerms)
	}
	if err := c.fairshareConfig.check(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--tenant-concurrency", "0"}, {"--max-resource-bytes", "0"}, {"--tenant-queue-wait", "0s"}} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c := serveFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := c.fairshareConfig.check(); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
