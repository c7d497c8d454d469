package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestTenantIsolation drives every SCIM endpoint and method with tenant A's token at
// tenant B's resources: each is 404, nothing of B's changes, and no filter, list or count
// of A's ever sees B's rows.
func TestTenantIsolation(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		_, tokenB := e.newTenant("beta")
		asB := func(method, path string, body any) resp {
			t.Helper()
			return e.doToken(tokenB, method, path, body)
		}
		r := asB("POST", "/scim/v2/Users", map[string]any{"schemas": []string{userSchema}, "userName": "bob@beta.example", "externalId": "shared-ext"})
		e.want(r, 201, "")
		userB := r.str("id")
		r = asB("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Beta team", "members": []any{map[string]any{"value": userB}}})
		e.want(r, 201, "")
		groupB := r.str("id")
		// A has a user with the same userName and externalId: uniqueness is per tenant.
		userA := e.createUser("bob@beta.example", map[string]any{"externalId": "shared-ext"})["id"].(string)

		userPut := map[string]any{"schemas": []string{userSchema}, "userName": "stolen"}
		groupPut := map[string]any{"schemas": []string{groupSchema}, "displayName": "stolen"}
		p := patchBody(op("replace", "", map[string]any{"displayName": "stolen"}))
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/scim/v2/Users/" + userB, nil},
			{"PUT", "/scim/v2/Users/" + userB, userPut},
			{"PATCH", "/scim/v2/Users/" + userB, p},
			{"DELETE", "/scim/v2/Users/" + userB, nil},
			{"GET", "/scim/v2/Groups/" + groupB, nil},
			{"PUT", "/scim/v2/Groups/" + groupB, groupPut},
			{"PATCH", "/scim/v2/Groups/" + groupB, p},
			{"DELETE", "/scim/v2/Groups/" + groupB, nil},
		} {
			t.Run(tc.method+" "+tc.path[:14], func(t *testing.T) {
				e := e.sub(t)
				e.want(e.do(tc.method, tc.path, tc.body), http.StatusNotFound, "")
			})
		}
		// A cannot put B's user into A's group, nor B's group.
		groupA := e.createGroup("Alpha team")["id"].(string)
		e.want(e.do("PATCH", "/scim/v2/Groups/"+groupA, patchBody(op("add", "members", []any{map[string]any{"value": userB}}))), 400, "invalidValue")
		e.want(e.do("PATCH", "/scim/v2/Groups/"+groupA, patchBody(op("add", "members", []any{map[string]any{"value": groupB}}))), 400, "invalidValue")
		e.want(e.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Sneaky", "members": []any{map[string]any{"value": userB}}}), 400, "invalidValue")

		// Filters and lists see only A.
		for _, tc := range []struct {
			path string
			want string
		}{
			{"/scim/v2/Users", "1"},
			{"/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "bob@beta.example"`), "1"},
			{"/scim/v2/Users?filter=" + url.QueryEscape(`externalId eq "shared-ext"`), "1"},
			{"/scim/v2/Users?filter=" + url.QueryEscape(`id eq "`+userB+`"`), "0"},
			{"/scim/v2/Users?filter=" + url.QueryEscape(`groups.value eq "`+groupB+`"`), "0"},
			{"/scim/v2/Groups", "1"},
			{"/scim/v2/Groups?filter=" + url.QueryEscape(`displayName eq "Beta team"`), "0"},
			{"/scim/v2/Groups?filter=" + url.QueryEscape(`members eq "`+userB+`"`), "0"},
		} {
			r := e.do("GET", tc.path, nil)
			e.want(r, 200, "")
			if r.Body["totalResults"] != json.Number(tc.want) {
				t.Errorf("%s: totalResults %v, want %s", tc.path, r.Body["totalResults"], tc.want)
			}
			for _, res := range r.Body["Resources"].([]any) {
				if id := res.(map[string]any)["id"]; id == userB || id == groupB {
					t.Errorf("%s returned B's resource %v", tc.path, id)
				}
			}
		}
		// B's resources are untouched.
		r = asB("GET", "/scim/v2/Groups/"+groupB, nil)
		e.want(r, 200, "")
		if r.str("displayName") != "Beta team" || len(memberValues(r)) != 1 || r.str("meta.version") != `W/"1"` {
			t.Fatalf("B's group changed: %s", r.Raw)
		}
		if r := asB("GET", "/scim/v2/Users/"+userB, nil); r.str("userName") != "bob@beta.example" {
			t.Fatalf("B's user changed: %s", r.Raw)
		}
		e.want(asB("GET", "/scim/v2/Users/"+userA, nil), 404, "")
	})
}
