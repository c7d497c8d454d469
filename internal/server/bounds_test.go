package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store/teststores"
)

// TestBounds: every bound on a request's size gives a clear 4xx through the real router,
// with the default limits: the body (413), the filter's length and depth (400
// invalidFilter, on GET and on .search), PATCH operations and member values per request
// (400 tooMany). Just under each bound is accepted.
func TestBounds(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	user := e.createUser("ann@example.com", nil)["id"].(string)
	group := e.createGroup("Sales")["id"].(string)
	q := url.QueryEscape
	longFilter := `userName eq "` + strings.Repeat("a", filter.MaxLength) + `"`
	deepFilter := strings.Repeat("(", filter.MaxDepth+1) + `title pr` + strings.Repeat(")", filter.MaxDepth+1)
	okDeep := strings.Repeat("(", filter.MaxDepth) + `title pr` + strings.Repeat(")", filter.MaxDepth)
	ops := func(n int) map[string]any {
		list := make([]map[string]any, n)
		for i := range list {
			list[i] = op("replace", "title", fmt.Sprintf("t%d", i))
		}
		return patchBody(list...)
	}
	members := func(n int) []any {
		vs := make([]any, n)
		for i := range vs {
			vs[i] = map[string]any{"value": user}
		}
		return vs
	}
	big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"body over max-body-bytes", "POST", "/scim/v2/Users", big, http.StatusRequestEntityTooLarge, ""},
		{"body over max-body-bytes on PATCH", "PATCH", "/scim/v2/Users/" + user, big, http.StatusRequestEntityTooLarge, ""},
		{"filter too long", "GET", "/scim/v2/Users?filter=" + q(longFilter), nil, http.StatusBadRequest, "invalidFilter"},
		{"filter too deep", "GET", "/scim/v2/Groups?filter=" + q(deepFilter), nil, http.StatusBadRequest, "invalidFilter"},
		{"filter at max depth", "GET", "/scim/v2/Users?filter=" + q(okDeep), nil, http.StatusOK, ""},
		{"filter too long in .search", "POST", "/scim/v2/Users/.search",
			map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": longFilter}, http.StatusBadRequest, "invalidFilter"},
		{"filter too deep in a PATCH path", "PATCH", "/scim/v2/Users/" + user,
			patchBody(op("replace", "emails["+deepFilter+"].value", "x")), http.StatusBadRequest, "invalidFilter"},
		{"too many PATCH operations", "PATCH", "/scim/v2/Users/" + user, ops(patch.MaxOperations + 1), http.StatusBadRequest, "tooMany"},
		{"PATCH operations at the bound", "PATCH", "/scim/v2/Users/" + user, ops(patch.MaxOperations), http.StatusOK, ""},
		{"too many members on create", "POST", "/scim/v2/Groups",
			map[string]any{"schemas": []string{groupSchema}, "displayName": "Big", "members": members(directory.MaxMembersPerRequest + 1)}, http.StatusBadRequest, "tooMany"},
		{"too many members in PATCH add", "PATCH", "/scim/v2/Groups/" + group,
			patchBody(op("add", "members", members(directory.MaxMembersPerRequest+1))), http.StatusBadRequest, "tooMany"},
		{"too many members in PUT", "PUT", "/scim/v2/Groups/" + group,
			map[string]any{"schemas": []string{groupSchema}, "displayName": "Sales", "members": members(directory.MaxMembersPerRequest + 1)}, http.StatusBadRequest, "tooMany"},
		{"members at the bound", "PATCH", "/scim/v2/Groups/" + group,
			patchBody(op("add", "members", members(directory.MaxMembersPerRequest))), http.StatusOK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			r := e.do(tc.method, tc.path, tc.body)
			if tc.status == http.StatusOK && r.Status == http.StatusNoContent {
				return // a PATCH may answer 204 (RFC 7644 §3.5.2)
			}
			e.want(r, tc.status, tc.scimType)
		})
	}
}

// TestPageSizeBound: a count above the maximum page size is clamped to it, and the maximum
// is advertised in /ServiceProviderConfig; startIndex and count below their floors are
// raised to them.
func TestPageSizeBound(t *testing.T) {
	e := newEnvConfig(t, teststores.SQLite(t), func(c *server.Config) { c.MaxPageSize = 3 })
	e.bulkUsers(t, 5)
	r := e.do("GET", "/scim/v2/Users?count=1000000", nil)
	e.want(r, http.StatusOK, "")
	if r.Body["itemsPerPage"] != json.Number("3") || r.Body["totalResults"] != json.Number("5") {
		t.Fatalf("count above the maximum: itemsPerPage %v totalResults %v, want 3 and 5", r.Body["itemsPerPage"], r.Body["totalResults"])
	}
	r = e.do("POST", "/scim/v2/Users/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "count": 99})
	e.want(r, http.StatusOK, "")
	if r.Body["itemsPerPage"] != json.Number("3") {
		t.Fatalf(".search count above the maximum: itemsPerPage %v", r.Body["itemsPerPage"])
	}
	r = e.do("GET", "/scim/v2/Users?count=-5&startIndex=-7", nil)
	e.want(r, http.StatusOK, "")
	if r.Body["itemsPerPage"] != json.Number("0") || r.Body["startIndex"] != json.Number("1") {
		t.Fatalf("negative count and startIndex: %s", r.Raw)
	}
	spc := e.do("GET", "/scim/v2/ServiceProviderConfig", nil)
	e.want(spc, http.StatusOK, "")
	if f, _ := spc.Body["filter"].(map[string]any); f["maxResults"] != json.Number("3") {
		t.Fatalf("filter.maxResults = %v, want 3", spc.Body["filter"])
	}
}

// TestNULCharacters: PostgreSQL cannot store a NUL character in text; a value or filter
// holding one is a 400 on both backends, never a 500.
func TestNULCharacters(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createUser("nul@example.com", nil)["id"].(string)
		g := e.createGroup("NUL team")["id"].(string)
		cases := []struct {
			name, method, path string
			body               any
			scimType           string
		}{
			{"POST user", "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","nickName":"a\u0000b"}`, "invalidValue"},
			{"PUT user", "PUT", "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"nul@example.com","title":"\u0000"}`, "invalidValue"},
			{"PATCH user", "PATCH", "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"externalId","value":"e\u0000"}]}`, "invalidValue"},
			{"POST group", "POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"a\u0000"}`, "invalidValue"},
			{"PATCH group", "PATCH", "/scim/v2/Groups/" + g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"\u0000"}]}`, "invalidValue"},
			{"filter", "GET", "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "a\u0000"`), nil, "invalidFilter"},
			{"bare filter value", "GET", "/scim/v2/Users?filter=userName+eq+a%00b", nil, "invalidFilter"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				e.want(e.do(tc.method, tc.path, tc.body), http.StatusBadRequest, tc.scimType)
			})
		}
	})
}
