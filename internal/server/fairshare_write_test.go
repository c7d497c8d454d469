package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
)

// emails returns n distinct email values starting at from.
func emails(from, n int) []any {
	vs := make([]any, n)
	for i := range vs {
		vs[i] = map[string]any{"value": fmt.Sprintf("alias%06d@example.com", from+i), "type": "work"}
	}
	return vs
}

// TestQuadraticPatch: a PATCH adding 18,000 emails (about 0.6 MB) once took a minute of CPU
// inside the update transaction. It is now refused at once (400 invalidValue, the values
// bound), and adds and removes at the bound are linear: well within a second each.
func TestQuadraticPatch(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createUser("ann@example.com", nil)["id"].(string)
		path := "/scim/v2/Users/" + id

		start := time.Now()
		r := e.do("PATCH", path, patchBody(op("add", "emails", emails(0, 18000))))
		e.want(r, http.StatusBadRequest, "invalidValue")
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("the refused 18,000-email PATCH took %v", took)
		}

		// At the bound, in two halves (the second compares with the first) and then removed
		// in one operation; every step is linear.
		half := directory.DefaultMaxValuesPerAttribute / 2
		start = time.Now()
		e.want(e.do("PATCH", path, patchBody(op("add", "emails", emails(0, half)))), http.StatusOK, "")
		e.want(e.do("PATCH", path, patchBody(op("add", "emails", emails(0, directory.DefaultMaxValuesPerAttribute)))), http.StatusOK, "")
		got := e.do("GET", path, nil)
		if n := len(got.Body["emails"].([]any)); n != directory.DefaultMaxValuesPerAttribute {
			t.Fatalf("%d emails after the adds, want %d (duplicates must not be added twice)", n, directory.DefaultMaxValuesPerAttribute)
		}
		e.want(e.do("PATCH", path, patchBody(op("add", "emails", emails(directory.DefaultMaxValuesPerAttribute, 1)))), http.StatusBadRequest, "invalidValue")
		// Entra ID's removal by value, case-insensitively.
		var byValue []any
		for _, v := range emails(0, half) {
			byValue = append(byValue, map[string]any{"value": strings.ToUpper(v.(map[string]any)["value"].(string))})
		}
		e.want(e.do("PATCH", path, patchBody(op("remove", "emails", byValue))), http.StatusOK, "")
		got = e.do("GET", path, nil)
		if n := len(got.Body["emails"].([]any)); n != directory.DefaultMaxValuesPerAttribute-half {
			t.Fatalf("%d emails after removing %d, want %d", n, half, directory.DefaultMaxValuesPerAttribute-half)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("adds and removes at the bound took %v", took)
		}
	})
}

// TestResourceSizeBound: the stored size of a resource is capped on POST, PUT and PATCH
// (JIT is held in internal/saml); forty PATCHes of almost 1 MiB once grew one user to 38 MB.
func TestResourceSizeBound(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		big := strings.Repeat("x", directory.DefaultMaxResourceBytes)
		userBody := func(name string, extra map[string]any) map[string]any {
			b := map[string]any{"schemas": []string{userSchema}, "userName": name}
			for k, v := range extra {
				b[k] = v
			}
			return b
		}
		e.want(e.do("POST", "/scim/v2/Users", userBody("big@example.com", map[string]any{"title": big})), http.StatusBadRequest, "invalidValue")
		e.want(e.do("POST", "/scim/v2/Users", userBody("many@example.com", map[string]any{"emails": emails(0, directory.DefaultMaxValuesPerAttribute+1)})), http.StatusBadRequest, "invalidValue")
		id := e.createUser("ann@example.com", map[string]any{"emails": emails(0, directory.DefaultMaxValuesPerAttribute)})["id"].(string)
		path := "/scim/v2/Users/" + id
		e.want(e.do("PUT", path, userBody("ann@example.com", map[string]any{"title": big})), http.StatusBadRequest, "invalidValue")
		e.want(e.do("PUT", path, userBody("ann@example.com", map[string]any{"emails": emails(0, directory.DefaultMaxValuesPerAttribute+1)})), http.StatusBadRequest, "invalidValue")
		// Growing by PATCH in steps under the body limit stops at the bound.
		step := strings.Repeat("y", directory.DefaultMaxResourceBytes/3)
		var last resp
		for i := range 4 {
			last = e.do("PATCH", path, patchBody(op("add", "addresses", []any{map[string]any{"streetAddress": fmt.Sprint(i) + step}})))
			if last.Status != http.StatusOK {
				break
			}
		}
		e.want(last, http.StatusBadRequest, "invalidValue")
		e.want(e.do("GET", path, nil), http.StatusOK, "")

		gid := e.createGroup("Sales")["id"].(string)
		e.want(e.do("PATCH", "/scim/v2/Groups/"+gid, patchBody(op("add", "externalId", big))), http.StatusBadRequest, "invalidValue")
	})
}

// TestIndexedLengthBound: a userName, externalId or group displayName over the bound is 400
// invalidValue on both backends (PostgreSQL once answered 500: a B-tree entry cannot exceed
// about 2,700 bytes).
func TestIndexedLengthBound(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		long := strings.Repeat("é", 4000)
		id := e.createUser("ann@example.com", nil)["id"].(string)
		gid := e.createGroup("Sales")["id"].(string)
		cases := []struct {
			name, method, path string
			body               any
		}{
			{"userName on POST", "POST", "/scim/v2/Users", map[string]any{"schemas": []string{userSchema}, "userName": long}},
			{"externalId on POST", "POST", "/scim/v2/Users", map[string]any{"schemas": []string{userSchema}, "userName": "bob@example.com", "externalId": long}},
			{"userName on PUT", "PUT", "/scim/v2/Users/" + id, map[string]any{"schemas": []string{userSchema}, "userName": long}},
			{"userName on PATCH", "PATCH", "/scim/v2/Users/" + id, patchBody(op("replace", "userName", long))},
			{"displayName on POST", "POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": long}},
			{"displayName on PATCH", "PATCH", "/scim/v2/Groups/" + gid, patchBody(op("replace", "displayName", long))},
			{"externalId on group PUT", "PUT", "/scim/v2/Groups/" + gid, map[string]any{"schemas": []string{groupSchema}, "displayName": "Sales", "externalId": long}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				e.want(e.do(tc.method, tc.path, tc.body), http.StatusBadRequest, "invalidValue")
			})
		}
		ok := strings.Repeat("é", directory.DefaultMaxIndexedLength)
		e.createUser(ok, map[string]any{"externalId": ok})
		e.createGroup(ok)
	})
}

// TestCaseVariantKeys: a body naming one attribute twice in different case
// ("userType":"member","usertype":"admin") was resolved by map order; it is 400
// invalidSyntax on every method, every time.
func TestCaseVariantKeys(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createUser("ann@example.com", nil)["id"].(string)
		cases := []struct{ method, path, body string }{
			{"POST", "/scim/v2/Users", `{"schemas":["` + userSchema + `"],"userName":"bob@example.com","userType":"member","usertype":"admin"}`},
			{"PUT", "/scim/v2/Users/" + id, `{"schemas":["` + userSchema + `"],"userName":"ann@example.com","name":{"givenName":"A","GivenName":"B"}}`},
			{"PATCH", "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"title":"x","Title":"y"}}]}`},
			{"POST", "/scim/v2/Groups", `{"schemas":["` + groupSchema + `"],"displayName":"A","DISPLAYNAME":"B"}`},
			{"POST", "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName pr","Filter":"title pr"}`},
		}
		for _, tc := range cases {
			for range 3 {
				e.want(e.do(tc.method, tc.path, tc.body), http.StatusBadRequest, "invalidSyntax")
			}
		}
	})
}

// TestMembersPerRequest: --max-members-per-request counts the whole request (three
// operations of 6,000 members passed a bound of 10,000), a group named as its own member is
// 400 invalidValue on PATCH and PUT, and a longer cycle is kept as written (never expanded).
func TestMembersPerRequest(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		user := e.createUser("ann@example.com", nil)["id"].(string)
		g := e.createGroup("Sales")["id"].(string)
		h := e.createGroup("Support")["id"].(string)
		members := func(n int) []any {
			vs := make([]any, n)
			for i := range vs {
				vs[i] = map[string]any{"value": user}
			}
			return vs
		}
		third := directory.MaxMembersPerRequest/3 + 1
		e.want(e.do("PATCH", "/scim/v2/Groups/"+g, patchBody(
			op("add", "members", members(third)), op("add", "members", members(third)), op("remove", "members", members(third)))),
			http.StatusBadRequest, "tooMany")
		self := []any{map[string]any{"value": g}}
		e.want(e.do("PATCH", "/scim/v2/Groups/"+g, patchBody(op("add", "members", self))), http.StatusBadRequest, "invalidValue")
		e.want(e.do("PATCH", "/scim/v2/Groups/"+g, patchBody(op("replace", "members", self))), http.StatusBadRequest, "invalidValue")
		e.want(e.do("PUT", "/scim/v2/Groups/"+g, map[string]any{"schemas": []string{groupSchema}, "displayName": "Sales", "members": self}),
			http.StatusBadRequest, "invalidValue")
		// A two-group cycle is allowed and read back as direct memberships only.
		e.do("PATCH", "/scim/v2/Groups/"+g, patchBody(op("add", "members", []any{map[string]any{"value": h}})))
		r := e.do("PATCH", "/scim/v2/Groups/"+h, patchBody(op("add", "members", []any{map[string]any{"value": g}})))
		if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
			t.Fatalf("cycle: %d %s", r.Status, r.Raw)
		}
		if got := memberValues(e.do("GET", "/scim/v2/Groups/"+h, nil)); len(got) != 1 || got[0] != g {
			t.Fatalf("members of the second group = %v, want only the first", got)
		}
	})
}
