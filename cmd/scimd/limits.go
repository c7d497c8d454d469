package main

import (
	"flag"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/scim/patch"
)

// limitsConfig is scimd serve's bounds on hostile or runaway input that have no flag of
// their own elsewhere: page size, filter, PATCH, bulk and member counts, header size and
// connection timeouts. docs/configuration.md lists them all under "Limits".
type limitsConfig struct {
	MaxPageSize          int
	MaxFilterLength      int
	MaxFilterDepth       int
	MaxPatchOperations   int
	MaxMembersPerRequest int
	BulkMaxOperations    int
	BulkMaxPayloadBytes  int64
	MaxHeaderBytes       int
	ReadHeaderTimeout    time.Duration
	ReadTimeout          time.Duration
	WriteTimeout         time.Duration
	IdleTimeout          time.Duration
}

func limitsFlags(fs *flag.FlagSet, c *limitsConfig) {
	fs.IntVar(&c.MaxPageSize, "max-page-size", 1000,
		"largest list page; a larger count is clamped to it and it is advertised as filter.maxResults")
	fs.IntVar(&c.MaxFilterLength, "max-filter-length", filter.MaxLength,
		"longest filter in bytes; longer is 400 invalidFilter")
	fs.IntVar(&c.MaxFilterDepth, "max-filter-depth", filter.MaxDepth,
		"deepest nesting of parentheses and brackets in a filter; deeper is 400 invalidFilter")
	fs.IntVar(&c.MaxPatchOperations, "max-patch-operations", patch.MaxOperations,
		"most operations in one PATCH; more is 400 tooMany")
	fs.IntVar(&c.MaxMembersPerRequest, "max-members-per-request", directory.MaxMembersPerRequest,
		"most group member values in one request; more is 400 tooMany")
	fs.IntVar(&c.BulkMaxOperations, "bulk-max-operations", 1000,
		"most operations in one /Bulk request, advertised as bulk.maxOperations; more is 413")
	fs.Int64Var(&c.BulkMaxPayloadBytes, "bulk-max-payload-bytes", 2<<20,
		"largest /Bulk request body, advertised as bulk.maxPayloadSize; larger is 413")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", 64<<10,
		"largest request line and headers; larger is 431")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 10*time.Second,
		"how long a client may take to send its request headers")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 60*time.Second,
		"how long a client may take to send a whole request")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 120*time.Second,
		"how long a response may take to write, from the end of the request headers")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 120*time.Second,
		"how long an idle keep-alive connection stays open")
}

// check refuses bounds below 1.
func (c limitsConfig) check() error {
	for _, b := range []struct {
		name string
		v    int
	}{
		{"--max-filter-length", c.MaxFilterLength},
		{"--max-filter-depth", c.MaxFilterDepth},
		{"--max-patch-operations", c.MaxPatchOperations},
		{"--max-members-per-request", c.MaxMembersPerRequest},
	} {
		if b.v < 1 {
			return usageErr("%s must be at least 1, got %d", b.name, b.v)
		}
	}
	if c.MaxPageSize < 1 || c.MaxHeaderBytes < 1 || c.BulkMaxOperations < 1 || c.BulkMaxPayloadBytes < 1 {
		return usageErr("--max-page-size, --max-header-bytes, --bulk-max-operations and --bulk-max-payload-bytes must be at least 1")
	}
	return nil
}

// directoryLimits are the bounds the directory applies, as a value (no package globals).
func (c limitsConfig) directoryLimits() directory.Limits {
	return directory.Limits{Filter: filter.Limits{MaxLength: c.MaxFilterLength, MaxDepth: c.MaxFilterDepth},
		MaxPatchOperations: c.MaxPatchOperations, MaxMembersPerRequest: c.MaxMembersPerRequest}
}
