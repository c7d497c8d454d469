package bench_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/bulk"
	"github.com/scimd/scimd/internal/store/teststores"
)

// importUsers and importGroups shape one import: a /Bulk of 1,000 operations (the default
// maxOperations), groups first, whose members name the users by bulkId.
const (
	importUsers  = 980
	importGroups = 20
)

// BenchmarkBulk measures creates per second through /Bulk against the same creates sent one
// request at a time, both through the real router in process (no socket, so the one-by-one
// figure leaves out the network round trip a real client pays per request): 1,000 users,
// and an import of 980 users and 20 groups whose members reference the users (by bulkId in
// the bulk; by the ids the creates returned one by one).
func BenchmarkBulk(b *testing.B) {
	for _, be := range teststores.All() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be)
			tn := e.tenant(b, "acme")
			r := ratios{}
			run := 0
			perSec := func(b *testing.B, creates int) {
				b.ReportMetric(float64(b.N*creates)/b.Elapsed().Seconds(), "creates/s")
			}

			r.measure(b, "users/one", "users-1000/one-by-one", func(b *testing.B) {
				for b.Loop() {
					run++
					for u := range importUsers + importGroups {
						e.must(b, tn, http.StatusCreated, "POST", "/scim/v2/Users", userBody(fmt.Sprintf("one-%d-%d@example.com", run, u)))
					}
				}
				perSec(b, importUsers+importGroups)
			})
			r.measure(b, "users/bulk", "users-1000/bulk", func(b *testing.B) {
				for b.Loop() {
					run++
					var ops []any
					for u := range importUsers + importGroups {
						ops = append(ops, bulkPost("/Users", fmt.Sprint("u", u), json.RawMessage(userBody(fmt.Sprintf("bulk-%d-%d@example.com", run, u)))))
					}
					e.mustBulk(b, tn, ops)
				}
				perSec(b, importUsers+importGroups)
			})
			r.measure(b, "import/one", "import-980-users-20-groups/one-by-one", func(b *testing.B) {
				for b.Loop() {
					run++
					ids := make([]string, importUsers)
					for u := range ids {
						out := e.must(b, tn, http.StatusCreated, "POST", "/scim/v2/Users", userBody(fmt.Sprintf("imp1-%d-%d@example.com", run, u)))
						var created struct{ ID string }
						json.Unmarshal(out, &created)
						ids[u] = created.ID
					}
					for g := range importGroups {
						var members []string
						for u := g; u < importUsers; u += importGroups {
							members = append(members, ids[u])
						}
						e.must(b, tn, http.StatusCreated, "POST", "/scim/v2/Groups", groupBody(fmt.Sprintf("imp1-%d-%d", run, g), members))
					}
				}
				perSec(b, importUsers+importGroups)
			})
			r.measure(b, "import/bulk", "import-980-users-20-groups/bulk", func(b *testing.B) {
				for b.Loop() {
					run++
					var ops []any
					for g := range importGroups {
						var members []string
						for u := g; u < importUsers; u += importGroups {
							members = append(members, fmt.Sprint("bulkId:u", u))
						}
						ops = append(ops, bulkPost("/Groups", fmt.Sprint("g", g), json.RawMessage(groupBody(fmt.Sprintf("impb-%d-%d", run, g), members))))
					}
					for u := range importUsers {
						ops = append(ops, bulkPost("/Users", fmt.Sprint("u", u), json.RawMessage(userBody(fmt.Sprintf("impb-%d-%d@example.com", run, u)))))
					}
					e.mustBulk(b, tn, ops)
				}
				perSec(b, importUsers+importGroups)
			})
			r.info(b, "1,000 user creates: one by one / bulk", "users/one", "users/bulk")
			r.info(b, "import of 980 users, 20 groups: one by one / bulk", "import/one", "import/bulk")
		})
	}
}

func bulkPost(path, bulkID string, data json.RawMessage) any {
	return map[string]any{"method": "POST", "path": path, "bulkId": bulkID, "data": data}
}

func groupBody(name string, members []string) []byte {
	ms := make([]any, len(members))
	for i, m := range members {
		ms[i] = map[string]any{"value": m}
	}
	out, _ := json.Marshal(map[string]any{"schemas": []string{scim.GroupSchema}, "displayName": name, "members": ms})
	return out
}

// mustBulk posts a bulk request of ops and fails the benchmark unless every operation
// answered 201.
func (e *env) mustBulk(b *testing.B, tn tenant, ops []any) {
	body, err := json.Marshal(map[string]any{"schemas": []string{bulk.RequestSchema}, "Operations": ops})
	if err != nil {
		b.Fatal(err)
	}
	out := e.must(b, tn, http.StatusOK, "POST", "/scim/v2/Bulk", body)
	var resp struct{ Operations []struct{ Status string } }
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Operations) != len(ops) {
		b.Fatalf("bulk answered %d of %d operations: %v %.500s", len(resp.Operations), len(ops), err, out)
	}
	for i, op := range resp.Operations {
		if op.Status != "201" {
			b.Fatalf("bulk operation %d: %s: %.500s", i+1, op.Status, out)
		}
	}
}
