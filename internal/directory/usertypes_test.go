package directory_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

func TestEvaluateUserType(t *testing.T) {
	rules := []store.UserTypeRule{
		{Group: "Monday Admins", UserType: "admin"},
		{Group: "Contractors", UserType: "guest"},
		{Group: "6f1d3c3e-0b5a-4c1e-9d7e-1a2b3c4d5e6f", UserType: "viewer"},
	}
	tests := []struct {
		name     string
		rules    []store.UserTypeRule
		groups   []directory.GroupRef
		want     string
		wantRule int
	}{
		{"no groups: default", rules, nil, "member", -1},
		{"no rule matches: default", rules, []directory.GroupRef{{ID: "x", DisplayName: "Sales"}}, "member", -1},
		{"one match", rules, []directory.GroupRef{{DisplayName: "Contractors"}}, "guest", 1},
		{"displayName compared case-insensitively", rules, []directory.GroupRef{{DisplayName: "monday ADMINS"}}, "admin", 0},
		{"two matches: the first rule wins, whatever the group order", rules,
			[]directory.GroupRef{{DisplayName: "Contractors"}, {DisplayName: "Monday Admins"}}, "admin", 0},
		{"matched by id", rules, []directory.GroupRef{{ID: "6F1D3C3E-0B5A-4C1E-9D7E-1A2B3C4D5E6F", DisplayName: "Readers"}}, "viewer", 2},
		{"an earlier rule beats a match by id", rules,
			[]directory.GroupRef{{ID: "6f1d3c3e-0b5a-4c1e-9d7e-1a2b3c4d5e6f"}, {DisplayName: "Contractors"}}, "guest", 1},
		{"no rules", nil, []directory.GroupRef{{DisplayName: "Monday Admins"}}, "member", -1},
		{"an empty id matches no rule", []store.UserTypeRule{{Group: "", UserType: "admin"}}, []directory.GroupRef{{DisplayName: "x"}}, "member", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, rule := directory.EvaluateUserType(tc.rules, "member", tc.groups)
			if got != tc.want || rule != tc.wantRule {
				t.Fatalf("EvaluateUserType = %q (rule %d), want %q (rule %d)", got, rule, tc.want, tc.wantRule)
			}
		})
	}
}

func TestParseUserTypeRule(t *testing.T) {
	tests := []struct {
		in      string
		want    store.UserTypeRule
		wantErr bool
	}{
		{"Monday Admins=admin", store.UserTypeRule{Group: "Monday Admins", UserType: "admin"}, false},
		{" Contractors = guest ", store.UserTypeRule{Group: "Contractors", UserType: "guest"}, false},
		{"a=b=viewer", store.UserTypeRule{Group: "a=b", UserType: "viewer"}, false},
		{"no equals sign", store.UserTypeRule{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := directory.ParseUserTypeRule(tc.in)
			var re *directory.InputError
			if tc.wantErr != (err != nil) || err != nil && !errors.As(err, &re) {
				t.Fatalf("ParseUserTypeRule(%q) error = %v, want error %v (a *InputError)", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseUserTypeRule(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestCheckUserTypeRules(t *testing.T) {
	tn := store.Tenant{DefaultUserType: "member", UserTypes: []string{"admin", "member", "viewer", "guest"}}
	r := func(pairs ...string) []store.UserTypeRule {
		var out []store.UserTypeRule
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, store.UserTypeRule{Group: pairs[i], UserType: pairs[i+1]})
		}
		return out
	}
	many := make([]store.UserTypeRule, directory.MaxUserTypeRules+1)
	for i := range many {
		many[i] = store.UserTypeRule{Group: fmt.Sprintf("g%d", i), UserType: "member"}
	}
	tests := []struct {
		name    string
		in      store.UserTypeRules
		want    store.UserTypeRules
		wantErr string
	}{
		{"empty source is idp", store.UserTypeRules{}, store.UserTypeRules{Source: "idp"}, ""},
		{"groups, canonical type case", store.UserTypeRules{Source: " Groups ", Rules: r(" Monday Admins ", "ADMIN", "Contractors", "guest")},
			store.UserTypeRules{Source: "groups", Rules: r("Monday Admins", "admin", "Contractors", "guest")}, ""},
		{"idp may keep rules for later", store.UserTypeRules{Source: "idp", Rules: r("A", "admin")},
			store.UserTypeRules{Source: "idp", Rules: r("A", "admin")}, ""},
		{"unknown source", store.UserTypeRules{Source: "ldap"}, store.UserTypeRules{}, `source "ldap"`},
		{"groups without rules", store.UserTypeRules{Source: "groups"}, store.UserTypeRules{}, "at least one rule"},
		{"unknown user type", store.UserTypeRules{Source: "groups", Rules: r("A", "owner")}, store.UserTypeRules{}, `userType "owner" is not one of admin, member, viewer, guest`},
		{"no group", store.UserTypeRules{Source: "groups", Rules: r(" ", "admin")}, store.UserTypeRules{}, "rule 1 names no group"},
		{"same group twice", store.UserTypeRules{Source: "groups", Rules: r("A", "admin", "a", "guest")}, store.UserTypeRules{}, "rule 2 names"},
		{"group too long", store.UserTypeRules{Source: "groups", Rules: r(strings.Repeat("x", directory.MaxRuleGroupLen+1), "admin")}, store.UserTypeRules{}, "longer than"},
		{"line break", store.UserTypeRules{Source: "groups", Rules: r("a\nb", "admin")}, store.UserTypeRules{}, "line break"},
		{"too many rules", store.UserTypeRules{Source: "groups", Rules: many}, store.UserTypeRules{}, "at most 50"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := directory.CheckUserTypeRules(tn, tc.in)
			if tc.wantErr != "" {
				var re *directory.InputError
				if err == nil || !errors.As(err, &re) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want a *InputError with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("CheckUserTypeRules = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
