package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

const bulkSchema = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

// bulkReq is a bulk request body; bulkOp builds its operations.
func bulkReq(failOnErrors int, ops ...map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{bulkSchema}, "Operations": ops}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

func bulkOp(method, path, bulkID string, data map[string]any) map[string]any {
	o := map[string]any{"method": method, "path": path}
	if bulkID != "" {
		o["bulkId"] = bulkID
	}
	if data != nil {
		o["data"] = data
	}
	return o
}

func userData(userName string) map[string]any {
	return map[string]any{"schemas": []string{userSchema}, "userName": userName}
}

func groupData(name string, members ...string) map[string]any {
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	return map[string]any{"schemas": []string{groupSchema}, "displayName": name, "members": ms}
}

// bulkResult is one operation of a BulkResponse.
type bulkResult struct {
	Method, BulkID, Version, Location, Status string
	Response                                  map[string]any
}

// bulk posts a bulk request, requires 200, and returns its operations by position.
func (e *env) bulk(body any) []bulkResult {
	e.t.Helper()
	r := e.do("POST", "/scim/v2/Bulk", body)
	e.want(r, http.StatusOK, "")
	if s, _ := r.Body["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:BulkResponse" {
		e.t.Fatalf("schemas %v", r.Body["schemas"])
	}
	list, _ := r.Body["Operations"].([]any)
	out := make([]bulkResult, len(list))
	for i, v := range list {
		m := v.(map[string]any)
		s := func(k string) string { x, _ := m[k].(string); return x }
		out[i] = bulkResult{Method: s("method"), BulkID: s("bulkId"), Version: s("version"), Location: s("location"), Status: s("status")}
		out[i].Response, _ = m["response"].(map[string]any)
	}
	return out
}

// wantOps checks each result's status and, for errors, a word of the detail and the
// scimType ("status" or "status scimType" or "status scimType|word").
func (e *env) wantOps(got []bulkResult, want ...string) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Fatalf("%d operations answered, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		w, word, _ := strings.Cut(w, "|")
		status, scimType, _ := strings.Cut(w, " ")
		g := got[i]
		if g.Status != status {
			e.t.Fatalf("operation %d: status %s, want %s: %+v", i+1, g.Status, status, g)
		}
		if status[0] < '4' {
			if g.Response != nil {
				e.t.Fatalf("operation %d succeeded with a response body: %+v", i+1, g)
			}
			continue
		}
		if g.Response["status"] != status || fmt.Sprint(g.Response["scimType"]) != map[bool]string{true: "<nil>", false: scimType}[scimType == ""] {
			e.t.Fatalf("operation %d: response %v, want status %s scimType %q", i+1, g.Response, status, scimType)
		}
		if d, _ := g.Response["detail"].(string); d == "" || !strings.Contains(d, word) {
			e.t.Fatalf("operation %d: detail %q, want it to mention %q", i+1, d, word)
		}
	}
}

// idOf returns the id at the end of a location.
func idOf(location string) string { return location[strings.LastIndex(location, "/")+1:] }

// TestBulkImport: one request of 1,000 operations, 20 groups first whose members name
// 980 users created later in the same request by bulkId, the way a migration script
// imports a directory into a new tenant.
func TestBulkImport(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvConfig(t, s, func(c *server.Config) { c.RequestTimeout = 5 * time.Minute }) // the race detector on a shared machine
		const groups, users = 20, 980
		var ops []map[string]any
		for g := range groups {
			var members []string
			for u := g; u < users; u += groups {
				members = append(members, fmt.Sprintf("bulkId:u%d", u))
			}
			ops = append(ops, bulkOp("POST", "/Groups", fmt.Sprintf("g%d", g), groupData(fmt.Sprintf("Team %02d", g), members...)))
		}
		for u := range users {
			d := userData(fmt.Sprintf("user%04d@example.com", u))
			d["name"] = map[string]any{"givenName": "User", "familyName": fmt.Sprint(u)}
			d["emails"] = []any{map[string]any{"value": fmt.Sprintf("user%04d@example.com", u), "type": "work", "primary": true}}
			ops = append(ops, bulkOp("POST", "/Users", fmt.Sprintf("u%d", u), d))
		}
		got := e.bulk(bulkReq(0, ops...))
		if len(got) != groups+users {
			t.Fatalf("%d results, want %d", len(got), groups+users)
		}
		userIDs := map[string]string{}
		for i, g := range got {
			wantLoc := e.url + "/scim/v2/Users/"
			if i < groups {
				wantLoc = e.url + "/scim/v2/Groups/"
			}
			if g.Status != "201" || g.Method != "POST" || g.Version != `W/"1"` || !strings.HasPrefix(g.Location, wantLoc) || g.BulkID != ops[i]["bulkId"] {
				t.Fatalf("operation %d: %+v", i+1, g)
			}
			if i >= groups {
				userIDs[g.BulkID] = idOf(g.Location)
			}
		}
		for g := range groups {
			r := e.do("GET", "/scim/v2/Groups/"+idOf(got[g].Location), nil)
			e.want(r, 200, "")
			members, _ := r.Body["members"].([]any)
			if len(members) != users/groups {
				t.Fatalf("group %d has %d members, want %d", g, len(members), users/groups)
			}
			want := map[string]bool{}
			for u := g; u < users; u += groups {
				want[userIDs[fmt.Sprintf("u%d", u)]] = true
			}
			for _, m := range members {
				if id := m.(map[string]any)["value"].(string); !want[id] {
					t.Fatalf("group %d has member %s, not one of its users", g, id)
				}
			}
		}
		if r := e.do("GET", "/scim/v2/Users?count=0", nil); fmt.Sprint(r.Body["totalResults"]) != fmt.Sprint(users) {
			t.Fatalf("totalResults %v, want %d", r.Body["totalResults"], users)
		}
		// One audit event per operation, as if each was sent alone, by the bulk's token.
		evs, err := s.Events(context.Background(), e.tenant.ID, store.EventQuery{Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, ev := range evs {
			if ev.Actor == "token test" && ev.Outcome == directory.OutcomeSuccess {
				count[ev.Name]++
			}
		}
		if count[directory.EventUserCreate] != users || count[directory.EventGroupCreate] != groups {
			t.Fatalf("audit events %v, want %d user and %d group creates", count, users, groups)
		}
		f := e.scrape()
		if !hasCount(f["scimd_bulk_operations_total"], map[string]string{"method": "POST", "outcome": "success"}, groups+users) ||
			!hasCount(f["scimd_bulk_requests_total"], map[string]string{"outcome": "success"}, 1) {
			t.Fatalf("bulk metrics: %v %v", f["scimd_bulk_operations_total"], f["scimd_bulk_requests_total"])
		}
	})
}

// TestBulkOperations covers references in any order, cycles, failOnErrors, versions and the
// PUT mutability rule, on both backends.
func TestBulkOperations(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		t.Run("out of order references in path, members and PATCH filters", func(t *testing.T) {
			e := e.sub(t)
			got := e.bulk(bulkReq(0,
				bulkOp("PATCH", "/Groups/bulkId:ops", "", patchBody(
					op("add", "members", []any{map[string]any{"value": "bulkId:cat"}}),
					op("remove", `members[value eq "bulkId:bea"]`, nil))),
				bulkOp("POST", "/Groups", "ops", groupData("Ops", "bulkId:bea")),
				bulkOp("PUT", "/Users/bulkId:bea", "", map[string]any{"schemas": []string{userSchema}, "userName": "bea@example.com", "title": "Lead"}),
				bulkOp("POST", "/Users", "bea", userData("bea@example.com")),
				bulkOp("POST", "/Users", "cat", userData("cat@example.com")),
				bulkOp("DELETE", "/Users/bulkId:cat", "", nil),
			))
			e.wantOps(got, "204", "201", "200", "201", "201", "204")
			group, bea, cat := idOf(got[1].Location), idOf(got[3].Location), idOf(got[4].Location)
			if got[0].Location != e.url+"/scim/v2/Groups/"+group || got[2].Location != e.url+"/scim/v2/Users/"+bea || got[5].Location != e.url+"/scim/v2/Users/"+cat {
				t.Fatalf("locations: %+v", got)
			}
			if got[0].Version != `W/"2"` || got[2].Version != `W/"2"` || got[5].Version != "" {
				t.Fatalf("versions: %+v", got)
			}
			r := e.do("GET", "/scim/v2/Users/"+bea, nil)
			if r.str("title") != "Lead" {
				t.Fatalf("PUT by bulkId not applied: %s", r.Raw)
			}
			e.want(e.do("GET", "/scim/v2/Users/"+cat, nil), 404, "")
			// The group was created with bea; the PATCH (run after both users) removed bea and
			// added cat; the DELETE of cat (run last) took cat's membership with it.
			r = e.do("GET", "/scim/v2/Groups/"+group, nil)
			if m, _ := r.Body["members"].([]any); len(m) != 0 {
				t.Fatalf("members %v, want none", m)
			}
		})
		t.Run("circular reference", func(t *testing.T) {
			e := e.sub(t)
			got := e.bulk(bulkReq(0,
				bulkOp("POST", "/Groups", "a", groupData("Circle A", "bulkId:b")),
				bulkOp("POST", "/Groups", "b", groupData("Circle B", "bulkId:a")),
				bulkOp("PATCH", "/Groups/bulkId:a", "", patchBody(op("replace", "displayName", "A2"))),
				bulkOp("POST", "/Groups", "c", groupData("Circle C", "bulkId:c")),
				bulkOp("POST", "/Groups", "d", groupData("Not in a circle")),
			))
			e.wantOps(got, "409 |circular", "409 |circular", "409 |waits", "409 |itself", "201")
			if got[0].Location != "" || got[2].Location != "" {
				t.Fatalf("location for an unresolved resource: %+v", got)
			}
			r := e.do("GET", "/scim/v2/Groups?filter="+urlQuery(`displayName sw "Circle"`), nil)
			if fmt.Sprint(r.Body["totalResults"]) != "0" {
				t.Fatalf("a group of the cycle was created: %s", r.Raw)
			}
			// Resolved by hand as §3.7.1 describes: create both, then add the references.
			got = e.bulk(bulkReq(0,
				bulkOp("POST", "/Groups", "a", groupData("Circle A")),
				bulkOp("POST", "/Groups", "b", groupData("Circle B", "bulkId:a")),
				bulkOp("PATCH", "/Groups/bulkId:a", "", patchBody(op("add", "members", []any{map[string]any{"value": "bulkId:b"}}))),
			))
			e.wantOps(got, "201", "201", "204")
		})
		t.Run("unknown and failed references", func(t *testing.T) {
			e := e.sub(t)
			got := e.bulk(bulkReq(0,
				bulkOp("POST", "/Groups", "g1", groupData("Refs 1", "bulkId:nobody")),
				bulkOp("POST", "/Users", "dup", userData("refs-dup@example.com")),
				bulkOp("POST", "/Users", "dup2", userData("REFS-DUP@example.com")),
				bulkOp("POST", "/Groups", "g2", groupData("Refs 2", "bulkId:dup2")),
				bulkOp("DELETE", "/Groups/bulkId:g2", "", nil),
			))
			e.wantOps(got, "400 invalidValue|nobody", "201", "409 uniqueness", "409 |dup2", "409 |g2")
		})
		t.Run("failOnErrors stops after the first error", func(t *testing.T) {
			e := e.sub(t)
			e.createUser("taken@example.com", nil)
			got := e.bulk(bulkReq(1,
				bulkOp("POST", "/Users", "x1", userData("fail-1@example.com")),
				bulkOp("POST", "/Users", "x2", userData("taken@example.com")),
				bulkOp("POST", "/Users", "x3", userData("fail-3@example.com")),
				bulkOp("DELETE", "/Users/bulkId:x1", "", nil),
			))
			e.wantOps(got, "201", "409 uniqueness")
			e.want(e.do("GET", "/scim/v2/Users/"+idOf(got[0].Location), nil), 200, "") // committed on its own
			r := e.do("GET", "/scim/v2/Users?filter="+urlQuery(`userName eq "fail-3@example.com"`), nil)
			if fmt.Sprint(r.Body["totalResults"]) != "0" {
				t.Fatalf("an operation after failOnErrors ran: %s", r.Raw)
			}
			// failOnErrors 2 runs on past the first error.
			got = e.bulk(bulkReq(2,
				bulkOp("POST", "/Users", "y1", userData("taken@example.com")),
				bulkOp("POST", "/Users", "y2", userData("fail-3@example.com")),
				bulkOp("POST", "/Users", "y3", userData("fail-3@example.com")),
				bulkOp("POST", "/Users", "y4", userData("fail-4@example.com")),
			))
			e.wantOps(got, "409 uniqueness", "201", "409 uniqueness")
		})
		t.Run("PUT mutability and versions", func(t *testing.T) {
			e := e.sub(t)
			u := e.createUser("mut@example.com", nil)
			path := "/Users/" + u["id"].(string)
			put := func(extra map[string]any) map[string]any {
				d := userData("mut@example.com")
				for k, v := range extra {
					d[k] = v
				}
				return d
			}
			stale := bulkOp("PUT", path, "", put(map[string]any{"title": "x"}))
			stale["version"] = `W/"7"`
			current := bulkOp("PATCH", path, "", patchBody(op("replace", "active", false)))
			current["version"] = `W/"1"`
			del := bulkOp("DELETE", path, "", nil)
			del["version"] = `W/"1"`
			got := e.bulk(bulkReq(0,
				bulkOp("PUT", path, "", put(map[string]any{"active": false})),
				bulkOp("PUT", path, "", put(map[string]any{"userType": "admin"})),
				stale,
				current,
				del,
			))
			e.wantOps(got, "400 mutability|active", "400 mutability|userType", "412", "200", "412")
			if got[3].Version != `W/"2"` {
				t.Fatalf("PATCH version %q", got[3].Version)
			}
			r := e.do("GET", "/scim/v2"+path, nil)
			if r.Body["active"] != false {
				t.Fatalf("user after the bulk: %s", r.Raw)
			}
		})
		t.Run("malformed operations", func(t *testing.T) {
			e := e.sub(t)
			got := e.bulk(bulkReq(0,
				bulkOp("GET", "/Users", "", nil),
				bulkOp("POST", "/Devices", "d", map[string]any{}),
				bulkOp("POST", "/Users", "nodata", nil),
				bulkOp("PATCH", "/Users/6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f", "", patchBody(op("replace", "active", false))),
				bulkOp("PATCH", "/Users/x", "", map[string]any{"Operations": "no"}),
				bulkOp("POST", "/Users", "bad", map[string]any{"schemas": []string{userSchema}, "userName": "bad@example.com", "userType": "overlord"}),
			))
			e.wantOps(got, "400 invalidValue|GET", "400 invalidValue|Devices", "400 invalidSyntax|data", "404", "400 invalidSyntax|schemas", "400 invalidValue|overlord")
		})
	})
}

// TestBulkLimits: maxOperations and maxPayloadSize are advertised and enforced with 413
// naming the limit (RFC 7644 §3.7.4); a request that is not a bulk request is 400.
func TestBulkLimits(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	r := e.do("GET", "/scim/v2/ServiceProviderConfig", nil)
	if b, _ := r.Body["bulk"].(map[string]any); b["supported"] != true || fmt.Sprint(b["maxOperations"], " ", b["maxPayloadSize"]) != fmt.Sprint(1000, " ", 2<<20) {
		t.Fatalf("default bulk limits %v", b)
	}
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvConfig(t, s, func(c *server.Config) { c.BulkMaxOperations, c.BulkMaxPayloadBytes = 3, 2000 })
		r := e.do("GET", "/scim/v2/ServiceProviderConfig", nil)
		if b, _ := r.Body["bulk"].(map[string]any); fmt.Sprint(b["maxOperations"], " ", b["maxPayloadSize"]) != "3 2000" {
			t.Fatalf("bulk %v", b)
		}
		ops := func(n int) []map[string]any {
			var out []map[string]any
			for i := range n {
				out = append(out, bulkOp("POST", "/Users", fmt.Sprint(i), userData(fmt.Sprintf("limit%d@example.com", i))))
			}
			return out
		}
		e.wantOps(e.bulk(bulkReq(0, ops(3)...)), "201", "201", "201")
		// The path in any case, with the bulk's limits (Microsoft's tools send lower case).
		r = e.do("POST", "/scim/v2/bulk", bulkReq(0, ops(4)...))
		e.want(r, 413, "")
		if !strings.Contains(r.str("detail"), "maxOperations is 3") {
			t.Fatalf("detail %q", r.str("detail"))
		}
		r = e.do("POST", "/scim/v2/Bulk", bulkReq(0, ops(4)...))
		e.want(r, 413, "")
		if !strings.Contains(r.str("detail"), "maxOperations is 3") {
			t.Fatalf("detail %q", r.str("detail"))
		}
		big := bulkReq(0, bulkOp("POST", "/Users", "big", userData("big@example.com"+strings.Repeat(" ", 2000))))
		r = e.do("POST", "/scim/v2/Bulk", big)
		e.want(r, 413, "")
		if !strings.Contains(r.str("detail"), "maxPayloadSize (2000 bytes)") {
			t.Fatalf("detail %q", r.str("detail"))
		}
		// Without a Content-Length the limit holds while reading.
		chunked := strings.NewReader(fmt.Sprintf(`{"schemas":[%q],"Operations":[%s]}`, bulkSchema, strings.Repeat(`{"method":"DELETE","path":"/Users/x"},`, 80)+`{}`))
		req, _ := http.NewRequest("POST", e.url+"/scim/v2/Bulk", struct{ *strings.Reader }{chunked})
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := harnessClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Fatalf("chunked oversized bulk = %d", res.StatusCode)
		}
		// Ordinary requests keep --max-body-bytes.
		e.want(e.do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+strings.Repeat("x", 2<<20)+`"}`), 413, "")
		for _, tc := range []struct{ body, scimType string }{
			{`{"Operations":[]}`, "invalidValue"},
			{`{"schemas":["` + bulkSchema + `"],"Operations":[]}`, "invalidValue"},
			{`{"schemas":["` + bulkSchema + `"],"failOnErrors":-2,"Operations":[{}]}`, "invalidValue"},
			{`{"schemas":["` + bulkSchema + `"]`, "invalidSyntax"},
		} {
			e.want(e.do("POST", "/scim/v2/Bulk", tc.body), 400, tc.scimType)
		}
		if !hasCount(e.scrape()["scimd_bulk_requests_total"], map[string]string{"outcome": "refused"}, 8) {
			t.Fatalf("refused bulks not counted: %v", e.scrape()["scimd_bulk_requests_total"])
		}
	})
}

// TestBulkRateLimit: each operation takes a token from the tenant's bucket, like a request;
// the first refused one ends the bulk with 429.
func TestBulkRateLimit(t *testing.T) {
	e := newEnvConfig(t, teststores.SQLite(t), func(c *server.Config) { c.RateLimit, c.RateBurst = 0.001, 3 })
	got := e.bulk(bulkReq(0,
		bulkOp("POST", "/Users", "a", userData("rate-a@example.com")),
		bulkOp("POST", "/Users", "b", userData("rate-b@example.com")),
		bulkOp("POST", "/Users", "c", userData("rate-c@example.com")),
		bulkOp("POST", "/Users", "d", userData("rate-d@example.com")),
	))
	// The bulk request took the first token, its first two operations the others.
	e.wantOps(got, "201", "201", "429 |retry after")
	f := e.scrape()
	if !hasCount(f["scimd_bulk_requests_total"], map[string]string{"outcome": "stopped"}, 1) ||
		!hasCount(f["scimd_bulk_operations_total"], map[string]string{"method": "POST", "outcome": "skipped"}, 1) {
		t.Fatalf("metrics: %v %v", f["scimd_bulk_requests_total"], f["scimd_bulk_operations_total"])
	}
}

// TestBulkTenantIsolation: a bulk reaches only its own tenant's resources, by id or by
// bulkId, and leaves the other tenant's untouched.
func TestBulkTenantIsolation(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ann := e.createUser("ann@example.com", nil)["id"].(string)
		sales := e.createGroup("Sales", ann)["id"].(string)
		_, token := e.newTenant("globex")
		other := *e
		other.token = token
		got := other.bulk(bulkReq(0,
			bulkOp("PATCH", "/Groups/"+sales, "", patchBody(op("add", "members", []any{map[string]any{"value": "bulkId:mine"}}))),
			bulkOp("PUT", "/Users/"+ann, "", userData("stolen@example.com")),
			bulkOp("DELETE", "/Groups/"+sales, "", nil),
			bulkOp("DELETE", "/Users/"+ann, "", nil),
			bulkOp("POST", "/Groups", "g", groupData("Sales", ann)),
			bulkOp("POST", "/Users", "mine", userData("ann@example.com")), // userName is unique per tenant only
			bulkOp("POST", "/Groups", "g2", groupData("Globex Sales", "bulkId:mine", sales)),
		))
		other.wantOps(got, "404", "404", "404", "404", "400 invalidValue|"+ann, "201", "400 invalidValue|"+sales)
		r := e.do("GET", "/scim/v2/Groups/"+sales, nil)
		if m, _ := r.Body["members"].([]any); len(m) != 1 || r.str("meta.version") != `W/"1"` {
			t.Fatalf("the first tenant's group changed: %s", r.Raw)
		}
		if r := e.do("GET", "/scim/v2/Users/"+ann, nil); r.str("userName") != "ann@example.com" {
			t.Fatalf("the first tenant's user changed: %s", r.Raw)
		}
		if r := e.do("GET", "/scim/v2/Users?count=0", nil); fmt.Sprint(r.Body["totalResults"]) != "1" {
			t.Fatalf("the first tenant sees %v users", r.Body["totalResults"])
		}
	})
}

// hasCount reports whether the counter family has a series with exactly these labels'
// values and the value n.
func hasCount(f *dto.MetricFamily, labels map[string]string, n int) bool {
	for _, m := range f.GetMetric() {
		match := true
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
				match = false
			}
		}
		if match && m.GetCounter().GetValue() == float64(n) {
			return true
		}
	}
	return false
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// slowCreates is a store whose creates take delay (or until the context ends).
type slowCreates struct {
	store.Store
	delay time.Duration
}

func (s slowCreates) CreateResource(ctx context.Context, rt *scim.ResourceType, tenantID string, r *scim.Resource, members []string, ev *store.Event) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.CreateResource(ctx, rt, tenantID, r, members, ev)
}

// TestBulkTimeout: the request timeout bounds the whole bulk; when it ends, the bulk answers
// 200 with the operations done, the interrupted one as 503, and the rest left out.
func TestBulkTimeout(t *testing.T) {
	s := slowCreates{Store: teststores.SQLite(t), delay: 400 * time.Millisecond}
	e := newEnvConfig(t, s, func(c *server.Config) { c.RequestTimeout = 2 * time.Second })
	var ops []map[string]any
	for i := range 10 {
		ops = append(ops, bulkOp("POST", "/Users", fmt.Sprint(i), userData(fmt.Sprintf("slow%d@example.com", i))))
	}
	start := time.Now()
	got := e.bulk(bulkReq(0, ops...))
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the bulk took %s with a 2s request timeout", took)
	}
	if len(got) < 2 || len(got) >= len(ops) {
		t.Fatalf("%d operations answered: %+v", len(got), got)
	}
	want := make([]string, len(got))
	for i := range want {
		want[i] = "201"
	}
	want[len(want)-1] = "503 |timed out"
	e.wantOps(got, want...)
	f := e.scrape()
	if !hasCount(f["scimd_bulk_requests_total"], map[string]string{"outcome": "stopped"}, 1) ||
		!hasCount(f["scimd_bulk_operations_total"], map[string]string{"method": "POST", "outcome": "skipped"}, len(ops)-len(got)) {
		t.Fatalf("metrics: %v %v", f["scimd_bulk_requests_total"], f["scimd_bulk_operations_total"])
	}
}

// TestBulkOperationBounds: an operation is held to the directory's bounds as the request it
// stands for is (PATCH operations, members per request).
func TestBulkOperationBounds(t *testing.T) {
	e := newEnvOptions(t, teststores.SQLite(t), func(o *testkit.Options) {
		o.Limits = directory.Limits{MaxPatchOperations: 2, MaxMembersPerRequest: 2}
	})
	u := e.createUser("bound@example.com", nil)["id"].(string)
	three := patchBody(op("replace", "title", "a"), op("replace", "title", "b"), op("replace", "title", "c"))
	got := e.bulk(bulkReq(0,
		bulkOp("PATCH", "/Users/"+u, "", three),
		bulkOp("PATCH", "/Users/"+u, "", patchBody(op("replace", "title", "a"), op("replace", "title", "b"))),
		bulkOp("POST", "/Groups", "g", groupData("Bound", u, u, u)),
	))
	e.wantOps(got, "400 tooMany", "200", "400 tooMany")
	// The same PATCH sent alone gets the same answer.
	e.want(e.do("PATCH", "/scim/v2/Users/"+u, three), 400, "tooMany")
}
