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
	fs.IntVar(&c.MaxPageSize, "max-page-size", int(envInt("SCIMD_MAX_PAGE_SIZE", 1000)),
		"largest list page; a larger count is clamped to it and it is advertised as filter.maxResults (env SCIMD_MAX_PAGE_SIZE)")
	fs.IntVar(&c.MaxFilterLength, "max-filter-length", int(envInt("SCIMD_MAX_FILTER_LENGTH", filter.MaxLength)),
		"longest filter in bytes; longer is 400 invalidFilter (env SCIMD_MAX_FILTER_LENGTH)")
	fs.IntVar(&c.MaxFilterDepth, "max-filter-depth", int(envInt("SCIMD_MAX_FILTER_DEPTH", filter.MaxDepth)),
		"deepest nesting of parentheses and brackets in a filter; deeper is 400 invalidFilter (env SCIMD_MAX_FILTER_DEPTH)")
	fs.IntVar(&c.MaxPatchOperations, "max-patch-operations", int(envInt("SCIMD_MAX_PATCH_OPERATIONS", patch.MaxOperations)),
		"most operations in one PATCH; more is 400 tooMany (env SCIMD_MAX_PATCH_OPERATIONS)")
	fs.IntVar(&c.MaxMembersPerRequest, "max-members-per-request", int(envInt("SCIMD_MAX_MEMBERS_PER_REQUEST", directory.MaxMembersPerRequest)),
		"most group member values in one request; more is 400 tooMany (env SCIMD_MAX_MEMBERS_PER_REQUEST)")
	fs.IntVar(&c.BulkMaxOperations, "bulk-max-operations", int(envInt("SCIMD_BULK_MAX_OPERATIONS", 1000)),
		"most operations in one /Bulk request, advertised as bulk.maxOperations; more is 413 (env SCIMD_BULK_MAX_OPERATIONS)")
	fs.Int64Var(&c.BulkMaxPayloadBytes, "bulk-max-payload-bytes", envInt("SCIMD_BULK_MAX_PAYLOAD_BYTES", 2<<20),
		"largest /Bulk request body, advertised as bulk.maxPayloadSize; larger is 413 (env SCIMD_BULK_MAX_PAYLOAD_BYTES)")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", int(envInt("SCIMD_MAX_HEADER_BYTES", 64<<10)),
		"largest request line and headers; larger is 431 (env SCIMD_MAX_HEADER_BYTES)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", envDuration("SCIMD_READ_HEADER_TIMEOUT", 10*time.Second),
		"how long a client may take to send its request headers (env SCIMD_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", envDuration("SCIMD_READ_TIMEOUT", 60*time.Second),
		"how long a client may take to send a whole request (env SCIMD_READ_TIMEOUT)")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", envDuration("SCIMD_WRITE_TIMEOUT", 120*time.Second),
		"how long a response may take to write, from the end of the request headers (env SCIMD_WRITE_TIMEOUT)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", envDuration("SCIMD_IDLE_TIMEOUT", 120*time.Second),
		"how long an idle keep-alive connection stays open (env SCIMD_IDLE_TIMEOUT)")
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
