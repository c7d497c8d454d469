package saml

import (
	"strings"

	csaml "github.com/crewjam/saml"
)

// attrKinds maps normalised attribute names (lower case, without '_' and '-', the last
// segment of a claim URI) and well-known OIDs to what they carry. These are the names
// JumpCloud, Okta, Entra ID, OneLogin, Google and SimpleSAMLphp send by default or
// suggest. docs/sso.md lists them; TestRecognisedAttributeNamesAreDocumented keeps the two
// in step.
var attrKinds = map[string]string{
	"email":                             "email",
	"mail":                              "email",
	"emailaddress":                      "email",
	"urn:oid:0.9.2342.19200300.100.1.3": "email", // mail (RFC 4524)
	"urn:oid:1.2.840.113549.1.9.1":      "email", // PKCS #9 emailAddress (SimpleSAMLphp's name2oid map)
	"firstname":                         "givenName",
	"givenname":                         "givenName",
	"urn:oid:2.5.4.42":                  "givenName",
	"lastname":                          "familyName",
	"surname":                           "familyName",
	"sn":                                "familyName",
	"urn:oid:2.5.4.4":                   "familyName",
	"displayname":                       "displayName",
	"urn:oid:2.16.840.1.113730.3.1.241": "displayName",
	"usertype":                          "userType",
}

// attrKind says what an attribute of the assertion carries ("" for nothing we use).
func attrKind(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if k, ok := attrKinds[n]; ok && strings.HasPrefix(n, "urn:oid:") {
		return k
	}
	if i := strings.LastIndexAny(n, "/#"); i >= 0 {
		n = n[i+1:]
	}
	n = strings.NewReplacer("_", "", "-", "", " ", "").Replace(n)
	if strings.HasPrefix(n, "urn:") {
		return ""
	}
	return attrKinds[n]
}

// profile is what an assertion says about its subject, from the common attribute names.
type profile struct {
	Email, GivenName, FamilyName, DisplayName, UserType string
}

func profileOf(a *csaml.Assertion) profile {
	var p profile
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			kind := attrKind(at.Name)
			if kind == "" {
				kind = attrKind(at.FriendlyName)
			}
			var value string
			for _, v := range at.Values {
				if s := strings.TrimSpace(v.Value); s != "" && !v.Nil {
					value = s
					break
				}
			}
			if kind == "" || value == "" {
				continue
			}
			dst := map[string]*string{"email": &p.Email, "givenName": &p.GivenName, "familyName": &p.FamilyName,
				"displayName": &p.DisplayName, "userType": &p.UserType}[kind]
			if *dst == "" {
				*dst = value
			}
		}
	}
	return p
}

// loginName is the name the assertion signs in: its NameID, or its email attribute when the
// NameID is transient (a fresh opaque value every login names no account).
func loginName(a *csaml.Assertion, p profile) string {
	if a.Subject == nil || a.Subject.NameID == nil {
		return p.Email
	}
	id := a.Subject.NameID
	if id.Format == string(csaml.TransientNameIDFormat) || strings.TrimSpace(id.Value) == "" {
		return p.Email
	}
	return strings.TrimSpace(id.Value)
}

// jitAttributes builds the attributes of a user created just in time, in schema form, from
// the assertion. Its userType is passed as sent: the directory keeps it only when it is one
// of the tenant's types, else applies the tenant's default.
func jitAttributes(name string, p profile) map[string]any {
	attrs := map[string]any{"userName": name, "active": true}
	email := p.Email
	if email == "" && strings.Contains(name, "@") {
		email = name
	}
	if email != "" {
		attrs["emails"] = []any{map[string]any{"value": email, "type": "work", "primary": true}}
	}
	n := map[string]any{}
	if p.GivenName != "" {
		n["givenName"] = p.GivenName
	}
	if p.FamilyName != "" {
		n["familyName"] = p.FamilyName
	}
	formatted := strings.TrimSpace(p.GivenName + " " + p.FamilyName)
	if formatted != "" {
		n["formatted"] = formatted
	}
	if len(n) > 0 {
		attrs["name"] = n
	}
	switch {
	case p.DisplayName != "":
		attrs["displayName"] = p.DisplayName
	case formatted != "":
		attrs["displayName"] = formatted
	}
	if p.UserType != "" {
		attrs["userType"] = p.UserType
	}
	return attrs
}

// Bounds of the groups read from an assertion.
const (
	maxAssertionGroups = 1000
	maxGroupNameLen    = 256
)

// assertionGroups returns the values of the assertion's groups attribute: the attribute
// named attr (Name or FriendlyName, case-insensitively), or when attr is "" the one named
// "groups" (also as the last segment of a claim URI: Entra, Okta, JumpCloud), else
// "memberOf" (OneLogin, LDAP-backed IdPs). Values of several attributes of that name add up; at most
// maxAssertionGroups values, each at most maxGroupNameLen bytes, are kept.
func assertionGroups(a *csaml.Assertion, attr string) []string {
	names := []string{"groups", "memberof"}
	if attr = strings.TrimSpace(attr); attr != "" {
		names = []string{attr}
	}
	matches := func(at csaml.Attribute, want string) bool {
		if attr != "" {
			return strings.EqualFold(at.Name, want) || strings.EqualFold(at.FriendlyName, want)
		}
		for _, n := range []string{at.Name, at.FriendlyName} {
			n = strings.ToLower(strings.TrimSpace(n))
			if i := strings.LastIndexAny(n, "/#:"); i >= 0 {
				n = n[i+1:]
			}
			if n == want {
				return true
			}
		}
		return false
	}
	for _, want := range names {
		var out []string
		for _, st := range a.AttributeStatements {
			for _, at := range st.Attributes {
				if !matches(at, want) {
					continue
				}
				for _, v := range at.Values {
					if s := strings.TrimSpace(v.Value); s != "" && !v.Nil && len(s) <= maxGroupNameLen && len(out) < maxAssertionGroups {
						out = append(out, s)
					}
				}
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}
