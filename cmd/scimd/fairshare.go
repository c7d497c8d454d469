package main

import (
	"flag"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/server"
)

// The per-tenant rate limit is on by default, generous enough for any IdP's full sync
// (Okta, Entra ID and JumpCloud stay well below 100 requests a second per app) and still a
// ceiling on a runaway client.
const (
	defaultRateLimit = 100
	defaultRateBurst = 200
)

// fairshareConfig is scimd serve's bounds that keep one tenant from taking the service
// from the others: what one resource may store, each tenant's share of concurrent work, and
// the cost of a filter, and anonymous SAML login starts. RELIABILITY.md lists every bound with its
// default and the test that holds it.
type fairshareConfig struct {
	MaxValuesPerAttribute int
	MaxResourceBytes      int
	MaxIndexedLength      int
	TenantConcurrency     int
	TenantQueueWait       time.Duration
	MaxFilterTerms        int
	ExpensiveQueryTimeout time.Duration
	LoginStartsPerAddress int
	LoginStartsPerTenant  int
	MaxPendingLogins      int
}

func fairshareFlags(fs *flag.FlagSet, c *fairshareConfig) {
	fs.IntVar(&c.MaxValuesPerAttribute, "max-values-per-attribute", directory.DefaultMaxValuesPerAttribute,
		"most values of one multi-valued attribute (emails, phoneNumbers, …) of a resource; more is 400 invalidValue")
	fs.IntVar(&c.MaxResourceBytes, "max-resource-bytes", directory.DefaultMaxResourceBytes,
		"largest stored size of one user or group (members excluded); larger is 400 invalidValue")
	fs.IntVar(&c.MaxIndexedLength, "max-indexed-length", directory.DefaultMaxIndexedLength,
		"longest userName, externalId or group displayName, in characters; longer is 400 invalidValue")
	fs.IntVar(&c.TenantConcurrency, "tenant-concurrency", server.DefaultTenantConcurrency,
		"requests of one tenant that work at once (SCIM and browser counted apart); keep it well below the database pool")
	fs.DurationVar(&c.TenantQueueWait, "tenant-queue-wait", server.DefaultTenantQueueWait,
		"how long a request waits for its tenant's share before 429")
	fs.IntVar(&c.MaxFilterTerms, "max-filter-terms", server.DefaultMaxFilterTerms,
		"most comparisons in one filter; more is 400 invalidFilter")
	fs.DurationVar(&c.ExpensiveQueryTimeout, "expensive-query-timeout", server.DefaultExpensiveQueryTimeout,
		"longest a list may run whose filter matches substrings (co, sw, ew) or looks inside multi-valued attributes; then 503")
	fs.IntVar(&c.LoginStartsPerAddress, "login-starts-per-address", saml.DefaultLoginStartsPerAddress,
		"SAML login starts one client address may make per minute before 429; behind a proxy that hides addresses raise it; negative is no limit")
	fs.IntVar(&c.LoginStartsPerTenant, "login-starts-per-tenant", saml.DefaultLoginStartsPerTenant,
		"SAML login starts per tenant per minute and replica before 429; negative is no limit")
	fs.IntVar(&c.MaxPendingLogins, "max-pending-logins", saml.DefaultMaxPendingRequests,
		"most unexpired SAML login requests one tenant may have stored; more is 429")
}

// check refuses a bound below 1.
func (c fairshareConfig) check() error {
	for _, b := range []struct {
		name string
		v    int
	}{
		{"--max-values-per-attribute", c.MaxValuesPerAttribute},
		{"--max-resource-bytes", c.MaxResourceBytes},
		{"--max-indexed-length", c.MaxIndexedLength},
		{"--tenant-concurrency", c.TenantConcurrency},
		{"--max-filter-terms", c.MaxFilterTerms},
		{"--max-pending-logins", c.MaxPendingLogins},
	} {
		if b.v < 1 {
			return usageErr("%s must be at least 1, got %d", b.name, b.v)
		}
	}
	if c.TenantQueueWait <= 0 || c.ExpensiveQueryTimeout <= 0 {
		return usageErr("--tenant-queue-wait and --expensive-query-timeout must be positive")
	}
	return nil
}

func (c fairshareConfig) bounds() directory.Bounds {
	return directory.Bounds{MaxValuesPerAttribute: c.MaxValuesPerAttribute, MaxResourceBytes: c.MaxResourceBytes, MaxIndexedLength: c.MaxIndexedLength}
}

func (c fairshareConfig) saml() saml.Config {
	return saml.Config{LoginStartsPerAddress: c.LoginStartsPerAddress, LoginStartsPerTenant: c.LoginStartsPerTenant, MaxPendingRequests: c.MaxPendingLogins}
}
