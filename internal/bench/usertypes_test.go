package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// BenchmarkUserTypeRules measures userType from group rules at scale (BENCHMARKS.md): a rule
// change that names a 100,000-member group (every user recomputed, in batches), a rename of
// that group into and out of a rule (its members recomputed in one statement), and the cost
// of adding one member in groups mode against the same add in idp mode.
func BenchmarkUserTypeRules(b *testing.B) {
	for _, be := range teststores.All() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be)
			tn := e.tenant(b, "acme")
			users := e.seedUsers(b, tn, "u", bigUsers)
			big := e.seedGroup(b, tn, "Everyone", users)
			small := e.seedGroup(b, tn, "Small", users[:100])
			e.analyze(b)
			ctx := directory.WithActor(context.Background(), directory.Actor{Name: "bench"})
			r := ratios{}
			setRules := func(b *testing.B, source string, rules ...store.UserTypeRule) store.Tenant {
				t, _, err := e.dir.SetUserTypeRules(ctx, tn.t, store.UserTypeRules{Source: source, Rules: rules})
				if err != nil {
					b.Fatal(err)
				}
				return t
			}
			drain := func(b *testing.B, t store.Tenant) int {
				changed := 0
				for {
					p, err := e.dir.RecomputeUserTypes(ctx, t)
					if err != nil {
						b.Fatal(err)
					}
					changed += p.Changed
					if !p.Pending {
						return changed
					}
				}
			}
			countType := func(b *testing.B, ut string) int {
				var n int
				if err := e.rawQueryRow(`SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND user_type = $2`, []any{tn.t.ID, ut}, &n); err != nil {
					b.Fatal(err)
				}
				return n
			}

			// A rule naming the 100,000-member group: every user of the tenant recomputed in
			// batches of directory.RecomputeBatch; each iteration flips every user's type.
			types, flips := []string{"admin", "viewer"}, 0
			r.measure(b, "rule", fmt.Sprintf("rule-change/members=%d", bigUsers), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					flips++
					ut := types[flips%2]
					t := setRules(b, store.UserTypeFromGroups, store.UserTypeRule{Group: "Everyone", UserType: ut})
					if n := drain(b, t); n != bigUsers {
						b.Fatalf("changed %d users, want %d", n, bigUsers)
					}
					b.StopTimer()
					if got := countType(b, ut); got != bigUsers {
						b.Fatalf("%d users are %s, want %d", got, ut, bigUsers)
					}
					b.StartTimer()
				}
			})

			// The floor: every user's type flipped and one audit event per user written with
			// set-based SQL straight on the tables, in one transaction.
			r.measure(b, "rule-floor", fmt.Sprintf("rule-change/members=%d/floor", bigUsers), func(b *testing.B) {
				setJSON, idCol, idExpr, path := `jsonb_set(data, '{userType}', to_jsonb($2::text))`, ``, ``, []any{}
				if e.sq != nil {
					// The JSON path is a parameter: the floor's placeholder rewrite would take its "$".
					setJSON, idCol, idExpr, path = `json_set(data, $4, $2)`, `id, `, `(SELECT COALESCE(MAX(id), 0) FROM audit_events WHERE tenant_id = $1) + ROW_NUMBER() OVER (ORDER BY id), `, []any{"$.userType"}
				}
				for i := 0; i < b.N; i++ {
					flips++
					ut := types[flips%2]
					err := e.rawTx(func(c rawConn) error {
						if err := c.exec(`INSERT INTO audit_events (tenant_id, `+idCol+`at, event, outcome, actor, resource_type, resource_id, resource_name, changed, detail)
							SELECT $1, `+idExpr+`$3, 'user_update_provision', 'success', 'bench', 'User', id, user_name, 'userType', 'userType ' || $2
							FROM users WHERE tenant_id = $1`, tn.t.ID, ut, e.timeArg(time.Now())); err != nil {
							return err
						}
						return c.exec(`UPDATE users SET user_type = $2, data = `+setJSON+`, version = version + 1, last_modified = $3 WHERE tenant_id = $1`,
							append([]any{tn.t.ID, ut, e.timeArg(time.Now())}, path...)...)
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})

			// Renaming the group out of and back into the rule: its members in one statement.
			setRules(b, store.UserTypeFromGroups, store.UserTypeRule{Group: "Everyone", UserType: "admin"})
			drain(b, tn.t)
			rename := func(name string) []byte {
				return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":` + strconvQuote(name) + `}]}`)
			}
			r.measure(b, "rename", fmt.Sprintf("rename-rule-group/members=%d", bigUsers), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					name, want := "Everyone (old)", "member"
					if countType(b, "admin") == 0 {
						name, want = "Everyone", "admin"
					}
					e.must(b, tn, http.StatusNoContent, "PATCH", "/scim/v2/Groups/"+big, rename(name))
					b.StopTimer()
					if got := countType(b, want); got != bigUsers {
						b.Fatalf("after rename to %q: %d users are %s, want %d", name, got, want, bigUsers)
					}
					b.StartTimer()
				}
			})
			e.must(b, tn, http.StatusNoContent, "PATCH", "/scim/v2/Groups/"+big, rename("Everyone"))

			// Adding one member to the 100,000-member group: in idp mode (today's add) and in
			// groups mode (the same add, plus that member's userType recomputed and audited).
			// One op is addsPerOp single-member PATCHes, so that a run of a few ops (the rule
			// change above needs few) still times enough adds.
			const addsPerOp = 50
			batch := 0
			add := func(group string) func(b *testing.B) {
				return func(b *testing.B) {
					batch++
					ids := e.seedUsers(b, tn, fmt.Sprintf("x%d", batch), b.N*addsPerOp)
					b.ResetTimer()
					for i := range ids {
						e.must(b, tn, http.StatusNoContent, "PATCH", "/scim/v2/Groups/"+group,
							[]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+ids[i]+`"}]}]}`))
					}
					b.StopTimer()
					e.removeRawMembers(b, tn, group, ids)
				}
			}
			setRules(b, store.UserTypeFromIdP)
			r.measure(b, "add/idp", fmt.Sprintf("add-%d-members/members=%d/idp", addsPerOp, bigUsers), add(big))
			setRules(b, store.UserTypeFromGroups, store.UserTypeRule{Group: "Everyone", UserType: "admin"}, store.UserTypeRule{Group: "Small", UserType: "viewer"})
			drain(b, tn.t)
			r.measure(b, "add/groups", fmt.Sprintf("add-%d-members/members=%d/groups", addsPerOp, bigUsers), add(big))
			r.measure(b, "add/groups-small", fmt.Sprintf("add-%d-members/members=100/groups", addsPerOp), add(small))

			r.info(b, "rule change, 100,000 users: scim / raw floor", "rule", "rule-floor")
			r.info(b, "rename into a rule, 100,000 users: / raw floor", "rename", "rule-floor")
			r.report(b, "add member, groups mode: 100,000 / 100 members", "add/groups", "add/groups-small", 1.5)
			r.info(b, "add member: groups mode / idp mode", "add/groups", "add/idp")
			fmt.Printf("RESULT %s rule change naming a %d-member group: %.2f s (%.1f µs per user); rename into a rule: %.2f s\n",
				b.Name(), bigUsers, r["rule"]/1e9, r["rule"]/1e3/bigUsers, r["rename"]/1e9)
		})
	}
}
