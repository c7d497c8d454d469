package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

const groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"

func memberValues(r resp) []string {
	var ids []string
	list, _ := r.Body["members"].([]any)
	for _, m := range list {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	sort.Strings(ids)
	return ids
}

func sortedIDs(ids ...string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}

func TestGroupLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a := e.createUser("a@example.com", map[string]any{"displayName": "Ann"})["id"].(string)
		b := e.createUser("b@example.com", nil)["id"].(string)
		c := e.createUser("c@example.com", nil)["id"].(string)
		g := e.createGroup("Sales", a)
		id := g["id"].(string)
		path := "/scim/v2/Groups/" + id
		members := g["members"].([]any)
		m := members[0].(map[string]any)
		if len(members) != 1 || m["value"] != a || m["display"] != "Ann" || m["type"] != "User" || m["$ref"] != e.url+"/scim/v2/Users/"+a {
			t.Fatalf("members = %v", members)
		}
		// Take-over lookup, as Entra sends it: members are not read.
		r := e.do("GET", "/scim/v2/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "sales"`), nil)
		e.want(r, 200, "")
		res := r.Body["Resources"].([]any)
		if r.Body["totalResults"] != json.Number("1") || res[0].(map[string]any)["members"] != nil {
			t.Fatalf("lookup: %s", r.Raw)
		}
		e.want(e.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "SALES"}), 409, "uniqueness")
		// JumpCloud: add with a value array of objects with only value.
		e.want(e.do("PATCH", path, patchBody(op("add", "members", []any{map[string]any{"value": b}, map[string]any{"value": a}}))), 204, "")
		if got := memberValues(e.do("GET", path, nil)); fmt.Sprint(got) != fmt.Sprint(sortedIDs(a, b)) {
			t.Fatalf("after add: %v", got)
		}
		// Okta: remove with a filter path.
		e.want(e.do("PATCH", path, patchBody(op("remove", `members[value eq "`+a+`"]`, nil))), 204, "")
		// Entra: capitalised remove with a value array.
		e.want(e.do("PATCH", path, patchBody(op("Remove", "members", []any{map[string]any{"value": b}}))), 204, "")
		if got := memberValues(e.do("GET", path, nil)); len(got) != 0 {
			t.Fatalf("after removes: %v", got)
		}
		// Removing someone who is not there is a no-op.
		e.want(e.do("PATCH", path, patchBody(op("remove", `members[value eq "`+c+`"]`, nil))), 204, "")
		// Replace the whole set, then Okta's rename carrying the group's own id.
		r = e.do("PATCH", path, patchBody(op("replace", "members", []any{map[string]any{"value": b}, map[string]any{"value": c}})))
		if r.Status != 204 || len(r.Raw) != 0 || r.Header.Get("ETag") == "" {
			t.Fatalf("group PATCH without attributes = %d %q, ETag %q; want 204, no body, an ETag", r.Status, r.Raw, r.Header.Get("ETag"))
		}
		// Asking for attributes gets 200 and the projected group.
		r = e.do("PATCH", path+"?attributes=displayName,members", patchBody(op("replace", "", map[string]any{"id": id, "displayName": "Sales EMEA"})))
		e.want(r, 200, "")
		if r.str("displayName") != "Sales EMEA" || fmt.Sprint(memberValues(r)) != fmt.Sprint(sortedIDs(b, c)) {
			t.Fatalf("after rename: %s", r.Raw)
		}
		// Several operations at once, atomically: an unknown member undoes the rename too.
		missing := "6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f"
		r = e.do("PATCH", path, patchBody(op("replace", "displayName", "Renamed"), op("add", "members", []any{map[string]any{"value": missing}})))
		e.want(r, 400, "invalidValue")
		if !strings.Contains(r.str("detail"), missing) {
			t.Fatalf("detail %q does not name the unknown member", r.str("detail"))
		}
		if got := e.do("GET", path, nil); got.str("displayName") != "Sales EMEA" {
			t.Fatalf("partial write: %s", got.Raw)
		}
		// The user's read-only groups attribute.
		u := e.do("GET", "/scim/v2/Users/"+b, nil)
		groups, _ := u.Body["groups"].([]any)
		if len(groups) != 1 || groups[0].(map[string]any)["value"] != id || groups[0].(map[string]any)["display"] != "Sales EMEA" ||
			groups[0].(map[string]any)["type"] != "direct" || groups[0].(map[string]any)["$ref"] != e.url+path {
			t.Fatalf("user groups = %v", u.Body["groups"])
		}
		e.want(e.do("PATCH", "/scim/v2/Users/"+b, patchBody(op("add", "groups", []any{map[string]any{"value": id}}))), 400, "mutability")
		// members filters.
		for _, f := range []string{`members[value eq "` + b + `"]`, `members eq "` + b + `"`, `members.value eq "` + b + `"`} {
			r := e.do("GET", "/scim/v2/Groups?filter="+url.QueryEscape(f), nil)
			if r.Body["totalResults"] != json.Number("1") {
				t.Fatalf("%s: %s", f, r.Raw)
			}
		}
		// PUT renames and replaces the membership.
		r = e.do("PUT", path, map[string]any{"schemas": []string{groupSchema}, "displayName": "Sales", "members": []any{map[string]any{"value": a}}})
		e.want(r, 200, "")
		if fmt.Sprint(memberValues(r)) != fmt.Sprint([]string{a}) {
			t.Fatalf("after PUT: %s", r.Raw)
		}
		// Deleting a user removes them from the group; deleting the group keeps its users.
		e.want(e.do("DELETE", "/scim/v2/Users/"+a, nil), 204, "")
		if got := memberValues(e.do("GET", path, nil)); len(got) != 0 {
			t.Fatalf("deleted user still a member: %v", got)
		}
		e.want(e.do("DELETE", path, nil), 204, "")
		e.want(e.do("GET", path, nil), 404, "")
		e.want(e.do("GET", "/scim/v2/Users/"+b, nil), 200, "")
		names := map[string]int{}
		for _, ev := range e.events(id) {
			names[ev.Name+"/"+ev.Outcome]++
		}
		if names["group_create_provision/success"] != 1 || names["group_update_provision/success"] < 5 || names["group_delete_provision/success"] != 1 || names["group_update_provision/client_error"] != 1 {
			t.Fatalf("events = %v", names)
		}
	})
}

func TestGroupErrors(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		u := e.createUser("a@example.com", nil)["id"].(string)
		g := e.createGroup("Team")["id"].(string)
		_, otherToken := e.newTenant("other")
		_ = otherToken
		cases := []struct {
			name     string
			method   string
			path     string
			body     string
			status   int
			scimType string
		}{
			{"missing displayName", "POST", "/scim/v2/Groups", `{"schemas":["` + groupSchema + `"]}`, 400, "invalidValue"},
			{"unknown member", "POST", "/scim/v2/Groups", `{"schemas":["` + groupSchema + `"],"displayName":"X","members":[{"value":"6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f"}]}`, 400, "invalidValue"},
			{"malformed member value", "POST", "/scim/v2/Groups", `{"schemas":["` + groupSchema + `"],"displayName":"X","members":[{"value":"not-an-id"}]}`, 400, "invalidValue"},
			{"member without value", "POST", "/scim/v2/Groups", `{"schemas":["` + groupSchema + `"],"displayName":"X","members":[{"display":"a"}]}`, 400, "invalidValue"},
			{"members not a list", "POST", "/scim/v2/Groups", `{"schemas":["` + groupSchema + `"],"displayName":"X","members":"` + u + `"}`, 400, "invalidValue"},
			{"duplicate name", "POST", "/scim/v2/Groups", `{"schemas":["` + groupSchema + `"],"displayName":"team"}`, 409, "uniqueness"},
			{"bad path", "PATCH", "/scim/v2/Groups/" + g, `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"add","path":"owners","value":"x"}]}`, 400, "invalidPath"},
			{"bad member filter", "PATCH", "/scim/v2/Groups/" + g, `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"remove","path":"members[display eq \"x\"]"}]}`, 400, "invalidFilter"},
			{"remove displayName", "PATCH", "/scim/v2/Groups/" + g, `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"remove","path":"displayName"}]}`, 400, "invalidValue"},
			{"unknown group", "PATCH", "/scim/v2/Groups/6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f", `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + u + `"}]}]}`, 404, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				e.want(e.do(tc.method, tc.path, tc.body), tc.status, tc.scimType)
			})
		}
	})
}

// TestGroupConcurrentPatches: many IdP workers patch one group at once; nothing is lost.
// The tenant's share of concurrent work is raised to the number of workers, so that all of
// them are in flight together (TestTenantShare holds the share itself).
func TestGroupConcurrentPatches(t *testing.T) {
	const workers, each = 32, 500
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvConfig(t, s, func(c *server.Config) { c.TenantConcurrency = workers })
		if testing.Short() {
			t.Skip("32×500 concurrent adds: run without -short")
		}
		ids := e.bulkUsers(t, workers*each)
		g := e.createGroup("Everyone")["id"].(string)
		var wg sync.WaitGroup
		errs := make(chan string, workers)
		for w := range workers {
			wg.Go(func() {
				for start := w * each; start < (w+1)*each; start += 10 {
					var vals []any
					for _, id := range ids[start : start+10] {
						vals = append(vals, map[string]any{"value": id})
					}
					r := e.doNoFatal("PATCH", "/scim/v2/Groups/"+g+"?excludedAttributes=members", patchBody(op("add", "members", vals)))
					if r.Status != 200 {
						errs <- fmt.Sprintf("%d %s", r.Status, r.Raw)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent PATCH failed: %s", err)
		}
		r := e.do("GET", "/scim/v2/Groups/"+g, nil)
		if n := len(memberValues(r)); n != workers*each {
			t.Fatalf("members = %d, want %d", n, workers*each)
		}
		// Concurrent add and remove of the same member ends consistent.
		x := ids[0]
		var wg2 sync.WaitGroup
		for i := range 20 {
			wg2.Go(func() {
				o := "add"
				if i%2 == 1 {
					o = "remove"
				}
				e.doNoFatal("PATCH", "/scim/v2/Groups/"+g+"?excludedAttributes=members", patchBody(op(o, "members", []any{map[string]any{"value": x}})))
			})
		}
		wg2.Wait()
		in := 0
		for _, id := range memberValues(e.do("GET", "/scim/v2/Groups/"+g, nil)) {
			if id == x {
				in++
			}
		}
		u := e.do("GET", "/scim/v2/Users/"+x, nil)
		groups, _ := u.Body["groups"].([]any)
		listed := len(groups) > 0
		if in > 1 || (in == 1) != listed {
			t.Fatalf("member listed %d times in the group, user lists group: %v", in, listed)
		}
	})
}

// TestLargeGroupStreamed: a group above the streaming threshold is written member by member
// (no Content-Length) and reads back as the same JSON a small group gets.
func TestLargeGroupStreamed(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ids := e.bulkUsers(t, 1500)
		g := e.createGroup("Everyone & co", ids...)
		r := e.do("GET", "/scim/v2/Groups/"+g["id"].(string), nil)
		e.want(r, 200, "")
		if r.Header.Get("Content-Length") != "" {
			t.Fatalf("a 1,500-member group was buffered whole (Content-Length %s)", r.Header.Get("Content-Length"))
		}
		if r.str("displayName") != "Everyone & co" || r.str("meta.version") != `W/"1"` || len(memberValues(r)) != 1500 {
			t.Fatalf("streamed group: displayName %q, %d members", r.str("displayName"), len(memberValues(r)))
		}
		if fmt.Sprint(memberValues(r)) != fmt.Sprint(sortedIDs(ids...)) {
			t.Fatal("streamed members differ from the ones added")
		}
		m := r.Body["members"].([]any)[0].(map[string]any)
		if m["type"] != "User" || m["$ref"] == nil || m["display"] == nil {
			t.Fatalf("member = %v", m)
		}
		if !strings.Contains(string(r.Raw), `"Everyone & co"`) {
			t.Fatal("HTML characters escaped in the streamed head")
		}
	})
}
