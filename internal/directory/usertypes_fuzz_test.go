package directory_test

import (
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// FuzzUserTypeRules: rule lines come from the console's form (the network) and the CLI. A
// line never panics; a rule set that passes the checks names only the tenant's types, no
// group twice, within the bounds, and reads back the same when written out and parsed again.
func FuzzUserTypeRules(f *testing.F) {
	for _, seed := range []string{"Monday Admins=admin\nContractors=guest", "a=b=viewer", "=admin", "x=", "\x00=admin", "A=admin\na=guest", strings.Repeat("g=member\n", 60)} {
		f.Add("groups", seed)
	}
	tn := store.Tenant{DefaultUserType: "member", UserTypes: []string{"admin", "member", "viewer", "guest"}}
	f.Fuzz(func(t *testing.T, source, text string) {
		in := store.UserTypeRules{Source: source}
		for _, line := range strings.Split(text, "\n") {
			r, err := directory.ParseUserTypeRule(line)
			if err != nil {
				return
			}
			in.Rules = append(in.Rules, r)
		}
		out, err := directory.CheckUserTypeRules(tn, in)
		if err != nil {
			return
		}
		if len(out.Rules) > directory.MaxUserTypeRules {
			t.Fatalf("%d rules passed the bound", len(out.Rules))
		}
		seen := map[string]bool{}
		for _, r := range out.Rules {
			if r.Group == "" || len(r.Group) > directory.MaxRuleGroupLen || seen[strings.ToLower(r.Group)] {
				t.Fatalf("rule %+v passed", r)
			}
			seen[strings.ToLower(r.Group)] = true
			ut, _ := directory.EvaluateUserType(out.Rules, tn.DefaultUserType, []directory.GroupRef{{DisplayName: r.Group}})
			if ut == "" || !strings.Contains(strings.Join(tn.UserTypes, ","), ut) {
				t.Fatalf("rule %+v gives %q", r, ut)
			}
			back, err := directory.ParseUserTypeRule(r.Group + "=" + r.UserType)
			if err != nil || back != r {
				t.Fatalf("rule %+v written and parsed again: %+v, %v", r, back, err)
			}
		}
	})
}
