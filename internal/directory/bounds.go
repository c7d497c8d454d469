package directory

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/patch"
)

// Default bounds of what one resource may store (Bounds' zero fields take these).
const (
	DefaultMaxValuesPerAttribute = 300
	DefaultMaxResourceBytes      = 256 << 10
	DefaultMaxIndexedLength      = 1024
)

// Bounds limits what a write may store, on every write path (SCIM POST, PUT, PATCH and SAML
// just-in-time creation): one tenant must not grow a resource until every read of it is
// slow, nor make the database refuse an index entry. Zero fields take the defaults.
type Bounds struct {
	// MaxValuesPerAttribute is the most values of one multi-valued attribute (emails,
	// phoneNumbers, …); groups' members are rows, bounded by MaxMembersPerRequest.
	MaxValuesPerAttribute int
	// MaxResourceBytes is the largest stored form (JSON) of a resource's attributes,
	// members excluded.
	MaxResourceBytes int
	// MaxIndexedLength is the longest value, in characters, of an attribute kept in an
	// indexed column (userName, externalId, displayName): PostgreSQL cannot index a value
	// above about 2,700 bytes, and no IdP sends one.
	MaxIndexedLength int
}

func (b Bounds) withDefaults() Bounds {
	defaults.Positive(&b.MaxValuesPerAttribute, DefaultMaxValuesPerAttribute)
	defaults.Positive(&b.MaxResourceBytes, DefaultMaxResourceBytes)
	defaults.Positive(&b.MaxIndexedLength, DefaultMaxIndexedLength)
	return b
}

// WithBounds sets the bounds of d's writes and returns d. Call it before d serves.
func (d *Directory) WithBounds(b Bounds) *Directory {
	d.bounds = b.withDefaults()
	return d
}

// Bounds returns the bounds d's writes keep.
func (d *Directory) Bounds() Bounds { return d.bounds }

func (d *Directory) patchLimits() patch.Limits {
	return patch.Limits{MaxOperations: d.limits.MaxPatchOperations, Filter: d.limits.Filter, MaxValues: d.bounds.MaxValuesPerAttribute}
}

// indexedAttrs are the attributes kept in indexed columns, per resource type.
var indexedAttrs = map[string][]string{
	resourceTypeUser:  {"userName", "externalId"},
	resourceTypeGroup: {"displayName", "externalId"},
}

// checkStored refuses attributes that break a bound: 400 invalidValue naming the attribute
// and the bound.
func (d *Directory) checkStored(rt *scim.ResourceType, attrs map[string]any) error {
	b := d.bounds
	for _, name := range indexedAttrs[rt.Name] {
		if s, ok := attrs[name].(string); ok && utf8.RuneCountInString(s) > b.MaxIndexedLength {
			return scim.BadRequest(scim.InvalidValue, "%s may be at most %d characters long", name, b.MaxIndexedLength)
		}
	}
	if err := checkValueCounts(attrs, "", b.MaxValuesPerAttribute); err != nil {
		return err
	}
	stored := attrs
	if _, ok := attrs["members"]; ok {
		stored = copyMap(attrs) // members are rows, bounded per request, not stored here
		delete(stored, "members")
	}
	if _, ok := attrs["groups"]; ok {
		stored = copyMap(stored)
		delete(stored, "groups")
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	if len(raw) > b.MaxResourceBytes {
		return scim.BadRequest(scim.InvalidValue, "the %s would take %d bytes stored; at most %d are allowed", rt.Name, len(raw), b.MaxResourceBytes)
	}
	return nil
}

// checkValueCounts walks the top level and extension objects of attrs.
func checkValueCounts(attrs map[string]any, prefix string, limit int) error {
	for k, v := range attrs {
		switch x := v.(type) {
		case []any:
			if k != "members" && k != "groups" && len(x) > limit {
				return scim.BadRequest(scim.InvalidValue, "%s%s may hold at most %d values; got %d", prefix, k, limit, len(x))
			}
		case map[string]any:
			if prefix == "" && len(k) > 4 && k[:4] == "urn:" {
				if err := checkValueCounts(x, k+":", limit); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
