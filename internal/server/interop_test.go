package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// Tests of what real IdP connectors and conformance tools send, each named after the
// behaviour; docs/deviations.md lists where scimd knowingly answers otherwise.

func TestEndpointsMatchAnyCase(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createUser("ann@example.com", nil)["id"].(string)
		gid := e.createGroup("Sales", id)["id"].(string)
		tests := []struct {
			method, path string
			body         any
			status       int
			route        string // the metrics label: the canonical template
		}{
			{"GET", "/scim/v2/users", nil, 200, "/scim/v2/Users"},
			{"GET", "/scim/v2/USERS/" + id, nil, 200, "/scim/v2/Users/{id}"},
			{"GET", "/scim/v2/groups/" + gid, nil, 200, "/scim/v2/Groups/{id}"},
			{"GET", "/scim/v2/Groups?filter=" + url.QueryEscape(`displayName eq "Sales"`), nil, 200, "/scim/v2/Groups"},
			{"GET", "/scim/v2/serviceproviderconfig", nil, 200, "/scim/v2/ServiceProviderConfig"},
			{"GET", "/scim/v2/resourcetypes", nil, 200, "/scim/v2/ResourceTypes"},
			{"GET", "/scim/v2/resourceTypes/user", nil, 200, "/scim/v2/ResourceTypes/{id}"},
			{"GET", "/scim/v2/schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil, 200, "/scim/v2/Schemas/{id}"},
			{"GET", "/SCIM/V2/Users", nil, 200, "/scim/v2/Users"},
			{"POST", "/scim/v2/bulk", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}, "Operations": []any{}}, 400, "/scim/v2/Bulk"}, // routed: the bulk handler refuses the empty list
			{"POST", "/scim/v2/users/.SEARCH", map[string]any{"schemas": []string{searchSchema}, "filter": `userName eq "ann@example.com"`}, 200, "/scim/v2/Users/.search"},
			{"POST", "/scim/v2/users", map[string]any{"schemas": []string{userSchema}, "userName": "bob@example.com"}, 201, "/scim/v2/Users"},
			{"PATCH", "/scim/v2/users/" + id, patchBody(op("replace", "title", "Lead")), 200, "/scim/v2/Users/{id}"},
			{"GET", "/scim/v2/usersx", nil, 404, "unmatched"},
		}
		for _, tt := range tests {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				e := e.sub(t)
				r := e.do(tt.method, tt.path, tt.body)
				if r.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Raw)
				}
			})
		}
		fams := e.scrape()
		routes := labelValues(fams["scimd_http_requests_total"], "route")
		for _, tt := range tests {
			if tt.route != "unmatched" && !routes[tt.route] {
				t.Errorf("route label %q missing; labels %v", tt.route, routes)
			}
		}
		for route := range routes {
			if route != strings.ReplaceAll(route, "/users", "/Users") || strings.Contains(route, "serviceprovider") {
				t.Errorf("route label %q is not the canonical template", route)
			}
		}
	})
}

const searchSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

func TestResourceTypesListUserFirst(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/scim/v2/ResourceTypes", nil)
		e.want(r, 200, "")
		list := r.Body["Resources"].([]any)
		var endpoints []string
		for _, rt := range list {
			endpoints = append(endpoints, rt.(map[string]any)["endpoint"].(string))
		}
		if !slices.Equal(endpoints, []string{"/Users", "/Groups"}) {
			t.Fatalf("endpoints = %v, want /Users first", endpoints)
		}
	})
}

func TestCursorLastPageHasNoNextCursor(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/scim/v2/Users?count=1&cursor=", nil)
		e.want(r, 200, "")
		if _, ok := r.Body["nextCursor"]; ok {
			t.Fatalf("empty list carries a nextCursor: %s", r.Raw)
		}
		e.createUser("ann@example.com", nil)
		r = e.do("GET", "/scim/v2/Users?count=1&cursor=", nil)
		if _, ok := r.Body["nextCursor"]; ok || len(r.Body["Resources"].([]any)) != 1 {
			t.Fatalf("one user, count=1: %s", r.Raw)
		}
		e.createUser("bob@example.com", nil)
		e.createUser("cid@example.com", nil)
		// Three users, pages of two: the first page has a cursor, the second (last, and
		// exactly as long as what is left) has none.
		r = e.do("POST", "/scim/v2/Users/.search", map[string]any{"schemas": []string{searchSchema}, "count": 2, "cursor": ""})
		next, _ := r.Body["nextCursor"].(string)
		if next == "" || len(r.Body["Resources"].([]any)) != 2 {
			t.Fatalf("first page: %s", r.Raw)
		}
		r = e.do("GET", "/scim/v2/Users?count=1&cursor="+url.QueryEscape(next), nil)
		if _, ok := r.Body["nextCursor"]; ok || len(r.Body["Resources"].([]any)) != 1 || r.Body["totalResults"] != json.Number("3") {
			t.Fatalf("last page: %s", r.Raw)
		}
		r = e.do("GET", "/scim/v2/Users?count=2&cursor=", nil)
		next, _ = r.Body["nextCursor"].(string)
		r = e.do("GET", "/scim/v2/Users?count=5&cursor="+url.QueryEscape(next), nil)
		if _, ok := r.Body["nextCursor"]; ok || len(r.Body["Resources"].([]any)) != 1 {
			t.Fatalf("short last page: %s", r.Raw)
		}
	})
}

func TestPatchRemoveOfActiveOrUserTypeIsRefused(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createUser("ann@example.com", map[string]any{"userType": "admin"})["id"].(string)
		e.want(e.do("PATCH", "/scim/v2/Users/"+id, patchBody(op("replace", "active", false))), 200, "")
		for _, tt := range []struct {
			name string
			op   map[string]any
			attr string
		}{
			{"remove active", op("remove", "active", nil), "active"},
			{"Remove Active, Entra case", op("Remove", "Active", nil), "active"},
			{"remove active with a value", op("remove", "active", "False"), "active"},
			{"remove by URN-qualified path", op("remove", userSchema+":active", nil), "active"},
			{"replace active with null", op("replace", "active", json.RawMessage("null")), "active"},
			{"path-less replace of active with null", op("replace", "", map[string]any{"active": nil}), "active"},
			{"remove userType", op("remove", "userType", nil), "userType"},
			{"remove userType by URN-qualified path", op("remove", userSchema+":userType", nil), "userType"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := e.sub(t)
				r := e.do("PATCH", "/scim/v2/Users/"+id, patchBody(tt.op))
				e.want(r, 400, "mutability")
				if d := r.str("detail"); !strings.Contains(d, tt.attr) || !strings.Contains(d, "replace") {
					t.Fatalf("detail %q does not name %s and say to use replace", d, tt.attr)
				}
			})
		}
		// Path-less removes never reach the user: noTarget, with the same advice.
		r := e.do("PATCH", "/scim/v2/Users/"+id, patchBody(op("remove", "", map[string]any{"active": true})))
		e.want(r, 400, "noTarget")
		if d := r.str("detail"); !strings.Contains(d, "active") || !strings.Contains(d, "replace") {
			t.Fatalf("path-less remove detail %q", d)
		}
		r = e.do("GET", "/scim/v2/Users/"+id, nil)
		if r.Body["active"] != false || r.str("userType") != "admin" || r.str("meta.version") != `W/"2"` {
			t.Fatalf("user changed by refused removes: %s", r.Raw)
		}
	})
}

func TestSchemasSayActiveAndUserTypeChangeOnlyByPatch(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/scim/v2/Schemas/"+userSchema, nil)
		e.want(r, 200, "")
		found := 0
		for _, a := range r.Body["attributes"].([]any) {
			a := a.(map[string]any)
			if a["name"] != "active" && a["name"] != "userType" {
				continue
			}
			found++
			d, _ := a["description"].(string)
			if a["mutability"] != "readWrite" || !strings.Contains(d, "only with PATCH") || !strings.Contains(d, "PUT") {
				t.Errorf("%s: mutability %v, description %q", a["name"], a["mutability"], d)
			}
		}
		if found != 2 {
			t.Fatalf("found %d of active, userType", found)
		}
		// The rule the description states holds.
		id := e.createUser("ann@example.com", nil)["id"].(string)
		e.want(e.do("PUT", "/scim/v2/Users/"+id, map[string]any{"schemas": []string{userSchema}, "userName": "ann@example.com", "active": false}), 400, "mutability")
		e.want(e.do("PUT", "/scim/v2/Users/"+id, map[string]any{"schemas": []string{userSchema}, "userName": "ann@example.com", "userType": "guest"}), 400, "mutability")
		e.want(e.do("PUT", "/scim/v2/Users/"+id, map[string]any{"schemas": []string{userSchema}, "userName": "ann@example.com", "active": true, "title": "x"}), 200, "")
	})
}

// ids returns the sorted member ids of a group as GET returns them.
func (e *env) memberIDs(gid string) []string {
	e.t.Helper()
	r := e.do("GET", "/scim/v2/Groups/"+gid, nil)
	e.want(r, 200, "")
	var out []string
	list, _ := r.Body["members"].([]any)
	for _, m := range list {
		m := m.(map[string]any)
		if m["type"] != "User" {
			e.t.Errorf("member %v has type %v", m["value"], m["type"])
		}
		out = append(out, m["value"].(string))
	}
	slices.Sort(out)
	return out
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestOktaGroupPushSequence(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a := e.createUser("a@example.com", nil)["id"].(string)
		b := e.createUser("b@example.com", nil)["id"].(string)
		c := e.createUser("c@example.com", nil)["id"].(string)
		// Group Push creates the group with its members, members without type.
		r := e.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Push",
			"members": []any{map[string]any{"value": a, "display": "a@example.com"}, map[string]any{"value": b}}})
		e.want(r, 201, "")
		gid := r.str("id")
		if got := e.memberIDs(gid); !slices.Equal(got, sorted(a, b)) {
			t.Fatalf("after POST: %v", got)
		}
		// Replace of all members.
		e.want(e.do("PATCH", "/scim/v2/Groups/"+gid, patchBody(op("replace", "members", []any{map[string]any{"value": c}, map[string]any{"value": a}}))), 204, "")
		if got := e.memberIDs(gid); !slices.Equal(got, sorted(a, c)) {
			t.Fatalf("after replace: %v", got)
		}
		// Path-less replace carrying the group's own id and members.
		e.want(e.do("PATCH", "/scim/v2/Groups/"+gid, patchBody(op("replace", "", map[string]any{"id": gid, "displayName": "Push", "members": []any{map[string]any{"value": b}}}))), 204, "")
		if got := e.memberIDs(gid); !slices.Equal(got, []string{b}) {
			t.Fatalf("after path-less replace: %v", got)
		}
		// Replace with an empty list empties the group.
		e.want(e.do("PATCH", "/scim/v2/Groups/"+gid, patchBody(op("replace", "members", []any{}))), 204, "")
		if got := e.memberIDs(gid); len(got) != 0 {
			t.Fatalf("after replace with []: %v", got)
		}
		// PUT replaces the membership exactly: what is sent, nothing kept.
		e.want(e.do("PATCH", "/scim/v2/Groups/"+gid, patchBody(op("add", "members", []any{map[string]any{"value": a}}))), 204, "")
		r = e.do("PUT", "/scim/v2/Groups/"+gid, map[string]any{"schemas": []string{groupSchema}, "displayName": "Push",
			"members": []any{map[string]any{"value": b}, map[string]any{"value": c, "type": "User"}}})
		e.want(r, 200, "")
		if got := e.memberIDs(gid); !slices.Equal(got, sorted(b, c)) {
			t.Fatalf("after PUT: %v", got)
		}
		e.want(e.do("PUT", "/scim/v2/Groups/"+gid, map[string]any{"schemas": []string{groupSchema}, "displayName": "Push", "members": []any{}}), 200, "")
		if got := e.memberIDs(gid); len(got) != 0 {
			t.Fatalf("after PUT with []: %v", got)
		}
	})
}

func TestEntraValidatorSequence(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		mgr := e.createUser("boss@example.com", nil)["id"].(string)
		id := e.createUser("ann@example.com", nil)["id"].(string)
		gid := e.createGroup("Sales", id)["id"].(string)
		// An empty Operations list is a no-op answering the current resource.
		r := e.do("PATCH", "/scim/v2/Users/"+id, map[string]any{"schemas": []string{patchSchema}, "Operations": []any{}})
		e.want(r, 200, "")
		if r.str("id") != id || r.str("userName") != "ann@example.com" || r.str("meta.version") != `W/"1"` {
			t.Fatalf("empty Operations on a user: %s", r.Raw)
		}
		r = e.do("PATCH", "/scim/v2/Groups/"+gid+"?excludedAttributes=members", map[string]any{"schemas": []string{patchSchema}, "Operations": []any{}})
		e.want(r, 200, "")
		if r.str("displayName") != "Sales" || r.str("meta.version") != `W/"1"` {
			t.Fatalf("empty Operations on a group: %s", r.Raw)
		}
		// manager as a plain id string, pathed and path-less.
		for _, tt := range []struct {
			name string
			op   map[string]any
		}{
			{"pathed", op("replace", enterprise+":manager", mgr)},
			{"path-less, URN key", op("replace", "", map[string]any{enterprise + ":manager": mgr})},
			{"path-less, extension object", op("Replace", "", map[string]any{enterprise: map[string]any{"manager": mgr}})},
			{"extension path", op("replace", enterprise, map[string]any{"manager": mgr})},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := e.sub(t)
				e.want(e.do("PATCH", "/scim/v2/Users/"+id, patchBody(op("remove", enterprise+":manager", nil))), 200, "")
				r := e.do("PATCH", "/scim/v2/Users/"+id, patchBody(tt.op))
				e.want(r, 200, "")
				ext, _ := r.Body[enterprise].(map[string]any)
				m, _ := ext["manager"].(map[string]any)
				if m == nil || m["value"] != mgr {
					t.Fatalf("manager = %v: %s", ext["manager"], r.Raw)
				}
			})
		}
	})
}

func TestRootSearch(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var users []string
		for i := range 3 {
			users = append(users, e.createUser(fmt.Sprintf("u%d@example.com", i), map[string]any{"displayName": fmt.Sprintf("Person %d", i)})["id"].(string))
		}
		g1 := e.createGroup("Sales", users[0])["id"].(string)
		g2 := e.createGroup("Support")["id"].(string)
		search := func(body map[string]any) resp {
			t.Helper()
			body["schemas"] = []string{searchSchema}
			return e.do("POST", "/scim/v2/.search", body)
		}
		ids := func(r resp) (out []string) {
			for _, res := range r.Body["Resources"].([]any) {
				out = append(out, res.(map[string]any)["id"].(string))
			}
			return out
		}
		all := append(slices.Clone(users), g1, g2)
		r := search(map[string]any{})
		e.want(r, 200, "")
		if !slices.Equal(ids(r), all) || r.Body["totalResults"] != json.Number("5") {
			t.Fatalf("all: %s", r.Raw)
		}
		for _, res := range r.Body["Resources"].([]any) {
			res := res.(map[string]any)
			rt := res["meta"].(map[string]any)["resourceType"]
			want := "User"
			if slices.Contains([]string{g1, g2}, res["id"].(string)) {
				want = "Group"
			}
			if rt != want || !strings.Contains(res["meta"].(map[string]any)["location"].(string), "/"+want+"s/") {
				t.Errorf("%v: resourceType %v, want %s", res["id"], rt, want)
			}
		}
		// Pages across the boundary between Users and Groups.
		var walked []string
		for start := 1; start <= 5; start += 2 {
			r := search(map[string]any{"startIndex": start, "count": 2})
			e.want(r, 200, "")
			if r.Body["totalResults"] != json.Number("5") || r.Body["startIndex"] != json.Number(fmt.Sprint(start)) {
				t.Fatalf("page at %d: %s", start, r.Raw)
			}
			walked = append(walked, ids(r)...)
		}
		if !slices.Equal(walked, all) {
			t.Fatalf("pages walked %v, want %v", walked, all)
		}
		// A filter both types know; one only Users know (Groups contribute nothing).
		r = search(map[string]any{"filter": `displayName sw "S"`, "attributes": []string{"displayName"}})
		if !slices.Equal(ids(r), []string{g1, g2}) || r.Body["totalResults"] != json.Number("2") {
			t.Fatalf("displayName sw S: %s", r.Raw)
		}
		for _, res := range r.Body["Resources"].([]any) {
			if _, ok := res.(map[string]any)["members"]; ok {
				t.Errorf("attributes=displayName returned members: %s", r.Raw)
			}
		}
		r = search(map[string]any{"filter": `userName eq "u1@example.com"`})
		if !slices.Equal(ids(r), []string{users[1]}) || r.Body["totalResults"] != json.Number("1") {
			t.Fatalf("userName filter: %s", r.Raw)
		}
		r = search(map[string]any{"excludedAttributes": []string{"members", "groups"}, "count": 0})
		if r.Body["totalResults"] != json.Number("5") || len(r.Body["Resources"].([]any)) != 0 {
			t.Fatalf("count 0: %s", r.Raw)
		}
		r = search(map[string]any{"startIndex": 4, "excludedAttributes": "members"})
		if !slices.Equal(ids(r), []string{g1, g2}) {
			t.Fatalf("startIndex 4: %s", r.Raw)
		}
		if _, ok := r.Body["Resources"].([]any)[0].(map[string]any)["members"]; ok {
			t.Fatalf("excludedAttributes=members returned members: %s", r.Raw)
		}
		e.want(search(map[string]any{"filter": `nope eq 1`}), 400, "invalidFilter")
		e.want(search(map[string]any{"sortBy": "userName"}), 400, "invalidValue")
		e.want(search(map[string]any{"cursor": ""}), 400, "invalidValue")
		e.want(e.do("POST", "/scim/v2/.search", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`), 400, "invalidValue")
		e.want(e.do("GET", "/scim/v2/.search", nil), 405, "")
	})
}

// TestDeviationsAnswerAsDocumented checks the rows of docs/deviations.md that no other
// test covers.
func TestDeviationsAnswerAsDocumented(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.wantOps(e.bulk(bulkReq(0,
			bulkOp("POST", "/Groups", "a", groupData("Cycle A", "bulkId:b")),
			bulkOp("POST", "/Groups", "b", groupData("Cycle B", "bulkId:a")))), "409 |circular", "409 |circular")
		e.want(e.do("GET", "/scim/v2?filter="+url.QueryEscape(`userName eq "x"`), nil), 404, "")
		e.want(e.do("GET", "/scim/v2/Users?cursor=&sortBy=userName", nil), 400, "invalidValue")
		e.want(e.do("GET", "/scim/v2/Users/not-a-uuid", nil), 404, "")
		e.want(e.do("POST", "/scim/v2/Users", map[string]any{"schemas": []string{userSchema}, "userName": "x@example.com", "userType": "overlord"}), 400, "invalidValue")
		u := e.createUser("ann@example.com", map[string]any{"password": "hunter2", "favouriteColour": "green"})
		r := e.do("GET", "/scim/v2/Users/"+u["id"].(string)+"?attributes=password,favouriteColour,userName", nil)
		if _, ok := r.Body["password"]; ok || strings.Contains(string(r.Raw), "hunter2") || strings.Contains(string(r.Raw), "green") {
			t.Fatalf("password or an unknown attribute kept: %s", r.Raw)
		}
		gid := e.createGroup("Sales", u["id"].(string))["id"].(string)
		r = e.do("PATCH", "/scim/v2/Groups/"+gid, patchBody(op("replace", "displayName", "Sales EU")))
		if r.Status != 204 || r.Header.Get("ETag") == "" {
			t.Fatalf("group PATCH = %d, ETag %q", r.Status, r.Header.Get("ETag"))
		}
	})
}
