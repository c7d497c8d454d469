package server

import (
	"strings"
	"testing"
)

func TestCanonicalSCIMPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/scim/v2/users", "/scim/v2/Users"},
		{"/SCIM/V2/GROUPS/abc-DEF", "/scim/v2/Groups/abc-DEF"},
		{"/scim/v2/Users/.SEARCH", "/scim/v2/Users/.search"},
		{"/scim/v2/.Search", "/scim/v2/.search"},
		{"/scim/v2/schemas/urn:ietf:params:scim:schemas:core:2.0:User", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"},
		{"/scim/v2/serviceproviderconfig", "/scim/v2/ServiceProviderConfig"},
		{"/scim/v2/bulk", "/scim/v2/Bulk"},
		{"/scim/v2/resourcetypes/user", "/scim/v2/ResourceTypes/user"},
		{"/scim/v2/Users", ""},
		{"/scim/v2", ""},
		{"/scim/v2x/users", ""},
		{"/scim/v2/nope", ""},
		{"/t/acme/users", ""},
		{"/scim", ""},
	}
	for _, tt := range tests {
		got, ok := canonicalSCIMPath(tt.in)
		if !ok {
			got = ""
		}
		if got != tt.want {
			t.Errorf("canonicalSCIMPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzCanonicalSCIMPath: a canonical path differs from the input only in letter case, and
// is its own canonical form.
func FuzzCanonicalSCIMPath(f *testing.F) {
	for _, s := range []string{"/scim/v2/users/x", "/SCIM/v2/Groups/.search", "/scim/v2/", "/", "/scim/v2//users"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, ok := canonicalSCIMPath(p)
		if !ok {
			return
		}
		if !strings.EqualFold(c, p) || c == p {
			t.Fatalf("canonicalSCIMPath(%q) = %q", p, c)
		}
		if _, again := canonicalSCIMPath(c); again {
			t.Fatalf("canonicalSCIMPath(%q) is not canonical", c)
		}
	})
}
