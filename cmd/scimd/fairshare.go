package main

import (
	"flag"

	"github.com/scimd/scimd/internal/directory"
)

// fairshareConfig is scimd serve's bounds that keep one tenant from taking the service
// from the others: what one resource may store. RELIABILITY.md lists every bound with its
// default and the test that holds it.
type fairshareConfig struct {
	MaxValuesPerAttribute int
	MaxResourceBytes      int
	MaxIndexedLength      int
}

func fairshareFlags(fs *flag.FlagSet, c *fairshareConfig) {
	fs.IntVar(&c.MaxValuesPerAttribute, "max-values-per-attribute", int(envInt("SCIMD_MAX_VALUES_PER_ATTRIBUTE", directory.DefaultMaxValuesPerAttribute)),
		"most values of one multi-valued attribute (emails, phoneNumbers, …) of a resource; more is 400 invalidValue (env SCIMD_MAX_VALUES_PER_ATTRIBUTE)")
	fs.IntVar(&c.MaxResourceBytes, "max-resource-bytes", int(envInt("SCIMD_MAX_RESOURCE_BYTES", directory.DefaultMaxResourceBytes)),
		"largest stored size of one user or group (members excluded); larger is 400 invalidValue (env SCIMD_MAX_RESOURCE_BYTES)")
	fs.IntVar(&c.MaxIndexedLength, "max-indexed-length", int(envInt("SCIMD_MAX_INDEXED_LENGTH", directory.DefaultMaxIndexedLength)),
		"longest userName, externalId or group displayName, in characters; longer is 400 invalidValue (env SCIMD_MAX_INDEXED_LENGTH)")
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
	} {
		if b.v < 1 {
			return usageErr("%s must be at least 1, got %d", b.name, b.v)
		}
	}
	return nil
}

func (c fairshareConfig) bounds() directory.Bounds {
	return directory.Bounds{MaxValuesPerAttribute: c.MaxValuesPerAttribute, MaxResourceBytes: c.MaxResourceBytes, MaxIndexedLength: c.MaxIndexedLength}
}
