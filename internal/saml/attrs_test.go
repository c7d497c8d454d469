package saml

import (
	"testing"

	csaml "github.com/crewjam/saml"
)

func TestAttrKind(t *testing.T) {
	tests := []struct{ name, want string }{
		{"email", "email"},
		{"Email", "email"},
		{"mail", "email"},
		{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "email"},
		{"urn:oid:0.9.2342.19200300.100.1.3", "email"},
		{"firstName", "givenName"},
		{"first_name", "givenName"},
		{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "givenName"},
		{"lastName", "familyName"},
		{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "familyName"},
		{"displayName", "displayName"},
		{"userType", "userType"},
		{"groups", ""},
		{"urn:oid:1.2.3", ""},
		{"urn:example:email", ""},
	}
	for _, tc := range tests {
		if got := attrKind(tc.name); got != tc.want {
			t.Errorf("attrKind(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestJITAttributes(t *testing.T) {
	tests := []struct {
		name     string
		nameID   string
		p        profile
		userType any
		display  any
		emails   int
	}{
		// The directory canonicalises userType or falls back to the tenant's default
		// (TestSignIn in internal/directory): the assertion's value is passed as sent.
		{"all attributes", "ann@example.com", profile{Email: "ann@example.com", GivenName: "Ann", FamilyName: "Lee", UserType: "ADMIN"}, "ADMIN", "Ann Lee", 1},
		{"unknown userType passed on", "ann@example.com", profile{UserType: "Employee"}, "Employee", nil, 1},
		{"display name wins", "ann@example.com", profile{DisplayName: "Annie", GivenName: "Ann"}, nil, "Annie", 1},
		{"opaque NameID, no email", "00u1abcd", profile{}, nil, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := jitAttributes(tc.nameID, tc.p)
			if a["userName"] != tc.nameID || a["userType"] != tc.userType || a["displayName"] != tc.display || a["active"] != true {
				t.Fatalf("jitAttributes = %v", a)
			}
			emails, _ := a["emails"].([]any)
			if len(emails) != tc.emails {
				t.Fatalf("emails = %v", emails)
			}
		})
	}
}

func TestLoginName(t *testing.T) {
	tests := []struct {
		name   string
		nameID *csaml.NameID
		email  string
		want   string
	}{
		{"email NameID", &csaml.NameID{Format: string(csaml.EmailAddressNameIDFormat), Value: " ann@example.com "}, "x@example.com", "ann@example.com"},
		{"transient NameID uses the email attribute", &csaml.NameID{Format: string(csaml.TransientNameIDFormat), Value: "_abc"}, "ann@example.com", "ann@example.com"},
		{"no NameID", nil, "ann@example.com", "ann@example.com"},
		{"nothing", nil, "", ""},
	}
	for _, tc := range tests {
		a := &csaml.Assertion{Subject: &csaml.Subject{NameID: tc.nameID}}
		if got := loginName(a, profile{Email: tc.email}); got != tc.want {
			t.Errorf("%s: loginName = %q, want %q", tc.name, got, tc.want)
		}
	}
}
