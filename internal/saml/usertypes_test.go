package saml

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	csaml "github.com/crewjam/saml"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

func TestAssertionGroups(t *testing.T) {
	attr := func(name, friendly string, values ...string) csaml.Attribute {
		a := csaml.Attribute{Name: name, FriendlyName: friendly}
		for _, v := range values {
			a.Values = append(a.Values, csaml.AttributeValue{Value: v})
		}
		return a
	}
	long := strings.Repeat("x", maxGroupNameLen+1)
	tests := []struct {
		name  string
		attrs []csaml.Attribute
		attr  string
		want  []string
	}{
		{"groups", []csaml.Attribute{attr("groups", "", "Monday Admins", " Sales ")}, "", []string{"Monday Admins", "Sales"}},
		{"Entra's claim URI", []csaml.Attribute{attr("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", "", "6f1d3c3e-0b5a-4c1e-9d7e-1a2b3c4d5e6f")},
			"", []string{"6f1d3c3e-0b5a-4c1e-9d7e-1a2b3c4d5e6f"}},
		{"memberOf when there is no groups", []csaml.Attribute{attr("memberOf", "", "Contractors")}, "", []string{"Contractors"}},
		{"groups before memberOf", []csaml.Attribute{attr("memberOf", "", "A"), attr("Groups", "", "B")}, "", []string{"B"}},
		{"values of repeated attributes add up", []csaml.Attribute{attr("groups", "", "A"), attr("groups", "", "B")}, "", []string{"A", "B"}},
		{"by friendly name", []csaml.Attribute{attr("urn:oid:1.2.3", "memberOf", "A")}, "", []string{"A"}},
		{"a configured attribute", []csaml.Attribute{attr("groups", "", "A"), attr("Roles", "", "R")}, "roles", []string{"R"}},
		{"a configured attribute absent", []csaml.Attribute{attr("groups", "", "A")}, "roles", nil},
		{"empty and overlong values dropped", []csaml.Attribute{attr("groups", "", "", "  ", long, "ok")}, "", []string{"ok"}},
		{"not a suffix match", []csaml.Attribute{attr("usergroupsx", "", "A")}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &csaml.Assertion{AttributeStatements: []csaml.AttributeStatement{{Attributes: tc.attrs}}}
			if got := assertionGroups(a, tc.attr); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("assertionGroups = %q, want %q", got, tc.want)
			}
		})
	}
	many := make([]string, maxAssertionGroups+10)
	for i := range many {
		many[i] = fmt.Sprint("g", i)
	}
	a := &csaml.Assertion{AttributeStatements: []csaml.AttributeStatement{{Attributes: []csaml.Attribute{attr("groups", "", many...)}}}}
	if n := len(assertionGroups(a, "")); n != maxAssertionGroups {
		t.Fatalf("kept %d groups, want the bound %d", n, maxAssertionGroups)
	}
}

// TestJITUserTypeFromGroups: with userType from group rules, a just-in-time user gets the
// type the rules give the assertion's groups; the assertion's userType is ignored.
func TestJITUserTypeFromGroups(t *testing.T) {
	e := newEnv(t, cfgOpts{idpInitiated: true})
	set := func(attr string, rules ...store.UserTypeRule) {
		t.Helper()
		if _, _, err := e.dir.SetUserTypeRules(ctx, e.acme, store.UserTypeRules{Source: store.UserTypeFromGroups, Rules: rules, GroupsAttr: attr}); err != nil {
			t.Fatal(err)
		}
	}
	set("", store.UserTypeRule{Group: "Monday Admins", UserType: "admin"}, store.UserTypeRule{Group: "Contractors", UserType: "guest"})
	login := func(nameID string, attrs ...[2]string) *scim.Resource {
		t.Helper()
		rec := e.browser().postResponse("acme", e.response("acme", assertionSpec{NameID: nameID, Attrs: attrs}), "")
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("login of %s = %d: %s", nameID, rec.Code, rec.Body)
		}
		u, err := e.dir.FindLoginUser(ctx, e.acme, nameID)
		if err != nil || u == nil {
			t.Fatalf("JIT user %s: %v", nameID, err)
		}
		return u
	}
	cases := []struct {
		nameID string
		attrs  [][2]string
		want   string
	}{
		{"ann@example.com", [][2]string{{"groups", "Sales"}, {"groups", "Contractors"}, {"groups", "monday admins"}}, "admin"},
		{"bob@example.com", [][2]string{{"memberOf", "Contractors"}, {"userType", "admin"}}, "guest"},
		{"cat@example.com", [][2]string{{"groups", "Sales"}, {"userType", "viewer"}}, "member"},
	}
	for _, tc := range cases {
		if got := scim.String(login(tc.nameID, tc.attrs...).Attrs, "userType"); got != tc.want {
			t.Errorf("JIT %s with %v: userType %q, want %q", tc.nameID, tc.attrs, got, tc.want)
		}
	}
	set("roles", store.UserTypeRule{Group: "Contractors", UserType: "viewer"})
	if got := scim.String(login("dan@example.com", [2]string{"groups", "Monday Admins"}, [2]string{"Roles", "Contractors"}).Attrs, "userType"); got != "viewer" {
		t.Errorf("configured attribute: userType %q, want viewer", got)
	}
	evs, _ := e.store.Events(ctx, e.acme.ID, store.EventQuery{Name: directory.EventUserJIT})
	if len(evs) != 4 {
		t.Errorf("JIT events = %d, want 4", len(evs))
	}
}
