package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/store"
)

const userSchema = "urn:ietf:params:scim:schemas:core:2.0:User"
const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
const patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

func patchBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	return map[string]any{"schemas": []string{patchSchema}, "Operations": list}
}

func op(name, path string, value any) map[string]any {
	m := map[string]any{"op": name}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

func (e *env) events(resourceID string) []store.Event {
	e.t.Helper()
	evs, err := e.store.Events(context.Background(), e.tenant.ID, store.EventQuery{ResourceID: resourceID})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestUserCreate(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("POST", "/scim/v2/Users", `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"USERNAME": "Ann@Example.com",
			"id": "client-chosen", "meta": {"version": "W/\"99\""},
			"password": "hunter2", "groups": [], "favouriteColour": "green",
			"name": {"givenName": "Ann", "FamilyName": "Lee"},
			"emails": [{"value": "ann@example.com", "type": "work", "primary": true}],
			"phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
			"addresses": [{"type": "home", "streetAddress": "1 Main St", "locality": "Springfield", "region": "IL", "postalCode": "62701", "country": "US"}],
			"title": "Engineer", "timezone": "Europe/Berlin", "locale": "de-DE",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7", "department": "R&D", "manager": {"value": "m1"}}
		}`)
		e.want(r, http.StatusCreated, "")
		id := r.str("id")
		if id == "" || id == "client-chosen" {
			t.Fatalf("id = %q", id)
		}
		if r.Header.Get("Location") != e.url+"/scim/v2/Users/"+id || r.str("meta.location") != r.Header.Get("Location") {
			t.Fatalf("Location %q, meta.location %q", r.Header.Get("Location"), r.str("meta.location"))
		}
		if r.Header.Get("ETag") != `W/"1"` || r.str("meta.version") != `W/"1"` || r.str("meta.resourceType") != "User" {
			t.Fatalf("ETag %q meta %v", r.Header.Get("ETag"), r.Body["meta"])
		}
		if r.str("userName") != "Ann@Example.com" || r.str("userType") != "member" || r.Body["active"] != true {
			t.Fatalf("defaults: %s", r.Raw)
		}
		for _, absent := range []string{"password", "favouriteColour", "USERNAME"} {
			if _, ok := r.Body[absent]; ok {
				t.Errorf("%s returned: %s", absent, r.Raw)
			}
		}
		if r.str("name.familyName") != "Lee" || r.str(enterprise+".department") != "R&D" {
			t.Fatalf("attributes: %s", r.Raw)
		}
		if !strings.Contains(r.Header.Get("Content-Type"), "application/scim+json") {
			t.Fatalf("content type %q", r.Header.Get("Content-Type"))
		}
		got := e.do("GET", "/scim/v2/Users/"+id, nil)
		e.want(got, http.StatusOK, "")
		if got.str("addresses") != "" || fmt.Sprint(got.Body["addresses"]) != fmt.Sprint(r.Body["addresses"]) {
			t.Fatalf("GET differs from POST: %s vs %s", got.Raw, r.Raw)
		}
		evs := e.events(id)
		if len(evs) != 1 || evs[0].Name != "user_create_provision" || evs[0].Outcome != "success" || evs[0].ResourceName != "Ann@Example.com" || evs[0].TokenID == "" {
			t.Fatalf("events = %+v", evs)
		}
	})
}

func TestUserCreateErrors(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.createUser("taken@example.com", nil)
		cases := []struct {
			name     string
			body     string
			status   int
			scimType string
		}{
			{"duplicate in other case", `{"schemas":["` + userSchema + `"],"userName":"TAKEN@example.com"}`, 409, "uniqueness"},
			{"no userName", `{"schemas":["` + userSchema + `"],"name":{"givenName":"x"}}`, 400, "invalidValue"},
			{"empty userName", `{"schemas":["` + userSchema + `"],"userName":"  "}`, 400, "invalidValue"},
			{"no schemas", `{"userName":"x"}`, 400, "invalidValue"},
			{"wrong schemas", `{"schemas":["urn:nope"],"userName":"x"}`, 400, "invalidValue"},
			{"userName not a string", `{"schemas":["` + userSchema + `"],"userName":42}`, 400, "invalidValue"},
			{"active not a boolean", `{"schemas":["` + userSchema + `"],"userName":"x","active":"maybe"}`, 400, "invalidValue"},
			{"emails not a list of objects", `{"schemas":["` + userSchema + `"],"userName":"x","emails":[1]}`, 400, "invalidValue"},
			{"unknown userType", `{"schemas":["` + userSchema + `"],"userName":"x","userType":"overlord"}`, 400, "invalidValue"},
			{"name not an object", `{"schemas":["` + userSchema + `"],"userName":"x","name":"Ann"}`, 400, "invalidValue"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				e.want(e.do("POST", "/scim/v2/Users", tc.body), tc.status, tc.scimType)
			})
		}
		evs, _ := e.store.Events(context.Background(), e.tenant.ID, store.EventQuery{Outcome: "client_error"})
		if len(evs) != len(cases) {
			t.Fatalf("%d client_error events, want %d", len(evs), len(cases))
		}
	})
}

func TestUserTypeRules(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		u := e.createUser("a@example.com", map[string]any{"userType": "ADMIN"})
		if u["userType"] != "admin" {
			t.Fatalf("userType = %v, want canonical admin", u["userType"])
		}
		tn, err := e.dir.SetUserTypes(context.Background(), e.tenant, []string{"admin", "member", "contractor"}, "contractor")
		if err != nil {
			t.Fatal(err)
		}
		_ = tn
		// The tenant record is read per request through the token, so the new default applies.
		if u := e.createUser("b@example.com", nil); u["userType"] != "contractor" {
			t.Fatalf("default userType = %v", u["userType"])
		}
		e.want(e.do("POST", "/scim/v2/Users", map[string]any{"schemas": []string{userSchema}, "userName": "c", "userType": "guest"}), 400, "invalidValue")
	})
}

func TestUserGetConditional(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createUser("a@example.com", nil)["id"].(string)
		r := e.do("GET", "/scim/v2/Users/"+id, nil, "If-None-Match", `W/"1"`)
		if r.Status != http.StatusNotModified || r.Header.Get("ETag") != `W/"1"` {
			t.Fatalf("If-None-Match current = %d", r.Status)
		}
		e.want(e.do("GET", "/scim/v2/Users/"+id, nil, "If-None-Match", `W/"0"`), 200, "")
	})
}

func TestUserPut(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		u := e.createUser("a@example.com", map[string]any{"userType": "admin", "title": "Dev"})
		id := u["id"].(string)
		path := "/scim/v2/Users/" + id
		// Okta: GET, modify, PUT the whole resource back (with id, meta, groups).
		got := e.do("GET", path, nil)
		got.Body["title"] = "Lead"
		got.Body["name"] = map[string]any{"givenName": "Ann"}
		r := e.do("PUT", path, got.Body)
		e.want(r, 200, "")
		if r.str("title") != "Lead" || r.str("meta.version") != `W/"2"` || r.str("userType") != "admin" {
			t.Fatalf("after PUT: %s", r.Raw)
		}
		// Leaving active and userType out keeps them.
		r = e.do("PUT", path, map[string]any{"schemas": []string{userSchema}, "userName": "a@example.com"})
		e.want(r, 200, "")
		if r.Body["active"] != true || r.str("userType") != "admin" || r.Body["title"] != nil {
			t.Fatalf("PUT without active/userType: %s", r.Raw)
		}
		for _, tc := range []struct{ attr, value string }{{"active", "false"}, {"userType", `"member"`}} {
			r := e.do("PUT", path, `{"schemas":["`+userSchema+`"],"userName":"a@example.com","`+tc.attr+`":`+tc.value+`}`)
			e.want(r, 400, "mutability")
			if !strings.Contains(r.str("detail"), tc.attr) {
				t.Fatalf("detail %q does not name %s", r.str("detail"), tc.attr)
			}
		}
		// The same, with the attribute named by its full URN (RFC 7644 §3.10).
		r = e.do("PUT", path, `{"schemas":["`+userSchema+`"],"userName":"a@example.com","`+userSchema+`:active":false}`)
		e.want(r, 400, "mutability")
		// Sending the same values is fine (a GET-modify-PUT carries them).
		e.want(e.do("PUT", path, `{"schemas":["`+userSchema+`"],"userName":"a@example.com","active":true,"userType":"Admin"}`), 200, "")
		// groups is read-only: a changed one is refused.
		e.want(e.do("PUT", path, `{"schemas":["`+userSchema+`"],"userName":"a@example.com","groups":[{"value":"6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f"}]}`), 400, "mutability")
		// If-Match.
		cur := e.do("GET", path, nil).Header.Get("ETag")
		e.want(e.do("PUT", path, `{"schemas":["`+userSchema+`"],"userName":"a@example.com","title":"X"}`, "If-Match", `W/"1"`), 412, "")
		e.want(e.do("PUT", path, `{"schemas":["`+userSchema+`"],"userName":"a@example.com","title":"X"}`, "If-Match", cur), 200, "")
		// Renaming onto a taken userName.
		e.createUser("b@example.com", nil)
		e.want(e.do("PUT", path, `{"schemas":["`+userSchema+`"],"userName":"B@example.com"}`), 409, "uniqueness")
		e.want(e.do("PUT", "/scim/v2/Users/6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f", `{"schemas":["`+userSchema+`"],"userName":"z"}`), 404, "")
	})
}

func TestUserPatchDialects(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createUser("a@example.com", map[string]any{
			"emails": []any{map[string]any{"value": "a@example.com", "type": "work", "primary": true}},
		})["id"].(string)
		path := "/scim/v2/Users/" + id
		cases := []struct {
			name  string
			body  map[string]any
			check func(r resp) bool
		}{
			{"Entra capitalised op and string boolean", patchBody(op("Replace", "active", "False")),
				func(r resp) bool { return r.Body["active"] == false }},
			{"Okta path-less active", patchBody(op("replace", "", map[string]any{"active": true})),
				func(r resp) bool { return r.Body["active"] == true }},
			{"value path", patchBody(op("replace", `emails[type eq "work"].value`, "new@example.com")),
				func(r resp) bool { return strings.Contains(string(r.Raw), "new@example.com") }},
			{"value path adds when nothing matches", patchBody(op("Add", `phoneNumbers[type eq "mobile"].value`, "+1 555")),
				func(r resp) bool { return strings.Contains(string(r.Raw), `"mobile"`) }},
			{"dotted and URN keys", patchBody(op("replace", "", map[string]any{"name.givenName": "Ann", enterprise + ":employeeNumber": "7"})),
				func(r resp) bool {
					return r.str("name.givenName") == "Ann" && r.str(enterprise+".employeeNumber") == "7"
				}},
			{"userType by PATCH", patchBody(op("replace", "userType", "Viewer")),
				func(r resp) bool { return r.str("userType") == "viewer" }},
			{"several ops", patchBody(op("add", "title", "CTO"), op("remove", "name.givenName", nil)),
				func(r resp) bool { return r.str("title") == "CTO" && r.str("name.givenName") == "" }},
			{"readOnly id in path-less value is ignored", patchBody(op("replace", "", map[string]any{"id": id, "displayName": "Ann Lee"})),
				func(r resp) bool { return r.str("displayName") == "Ann Lee" && r.str("id") == id }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				r := e.do("PATCH", path, tc.body)
				e.want(r, 200, "")
				if !tc.check(r) {
					t.Fatalf("unexpected result: %s", r.Raw)
				}
			})
		}
		evs := e.events(id)
		deprov := 0
		for _, ev := range evs {
			if ev.Name == "user_deprovision" {
				deprov++
			}
		}
		if deprov != 1 {
			t.Fatalf("%d user_deprovision events, want 1: %+v", deprov, evs)
		}
		errs := []struct {
			name     string
			body     any
			status   int
			scimType string
		}{
			{"groups is read-only", patchBody(op("add", "groups", []any{map[string]any{"value": id}})), 400, "mutability"},
			{"id is read-only", patchBody(op("replace", "id", "x")), 400, "mutability"},
			{"unknown path", patchBody(op("replace", "shoeSize", "9")), 400, "invalidPath"},
			{"remove without path", patchBody(op("remove", "", nil)), 400, "noTarget"},
			{"remove matching nothing", patchBody(op("remove", `emails[type eq "home"]`, nil)), 400, "noTarget"},
			{"bad op", patchBody(op("frobnicate", "title", "x")), 400, "invalidSyntax"},
			{"wrong type", patchBody(op("replace", "active", "perhaps")), 400, "invalidValue"},
			{"no operations", map[string]any{"schemas": []string{patchSchema}}, 400, "invalidSyntax"},
			{"atomic: second op fails", patchBody(op("replace", "title", "Changed"), op("replace", "nope", "x")), 400, "invalidPath"},
			{"bad filter in path", patchBody(op("replace", `emails[type eq]`, "x")), 400, "invalidFilter"},
		}
		for _, tc := range errs {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				e.want(e.do("PATCH", path, tc.body), tc.status, tc.scimType)
			})
		}
		if r := e.do("GET", path, nil); r.str("title") != "CTO" {
			t.Fatalf("a failed PATCH changed the user: %s", r.Raw)
		}
		e.want(e.do("PATCH", "/scim/v2/Users/nope", patchBody(op("replace", "title", "x"))), 404, "")
	})
}

func TestUserDeactivateAndDelete(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createUser("a@example.com", nil)["id"].(string)
		e.want(e.do("PATCH", "/scim/v2/Users/"+id, patchBody(op("replace", "", map[string]any{"active": false}))), 200, "")
		r := e.do("GET", "/scim/v2/Users/"+id, nil)
		if r.Status != 200 || r.Body["active"] != false {
			t.Fatalf("deactivated user: %d %s", r.Status, r.Raw)
		}
		list := e.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "a@example.com"`), nil)
		if list.Body["totalResults"] != json.Number("1") {
			t.Fatalf("deactivated user not listed: %s", list.Raw)
		}
		e.want(e.do("DELETE", "/scim/v2/Users/"+id, nil, "If-Match", `W/"1"`), 412, "")
		r = e.do("DELETE", "/scim/v2/Users/"+id, nil)
		if r.Status != http.StatusNoContent || len(r.Raw) != 0 {
			t.Fatalf("DELETE = %d %s", r.Status, r.Raw)
		}
		e.want(e.do("GET", "/scim/v2/Users/"+id, nil), 404, "")
		e.want(e.do("DELETE", "/scim/v2/Users/"+id, nil), 404, "")
		names := []string{}
		for _, ev := range e.events(id) {
			if ev.Outcome == "success" {
				names = append(names, ev.Name)
			}
		}
		if fmt.Sprint(names) != "[user_delete_provision user_deprovision user_create_provision]" {
			t.Fatalf("events = %v", names)
		}
	})
}

func TestUserList(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 12 {
			u := e.createUser(fmt.Sprintf("user%02d@example.com", i), map[string]any{
				"externalId": fmt.Sprintf("ext%02d", i),
				"emails":     []any{map[string]any{"value": fmt.Sprintf("user%02d@corp.example", i), "type": "work"}},
				"active":     i%3 != 0,
			})
			ids = append(ids, u["id"].(string))
		}
		list := func(query string) resp {
			t.Helper()
			r := e.do("GET", "/scim/v2/Users?"+query, nil)
			e.want(r, 200, "")
			return r
		}
		total := func(r resp) string { return r.Body["totalResults"].(json.Number).String() }
		resources := func(r resp) []any { l, _ := r.Body["Resources"].([]any); return l }
		q := url.QueryEscape
		cases := []struct {
			query string
			total string
			items int
		}{
			{"", "12", 12},
			{"filter=" + q(`userName eq "USER03@example.com"`), "1", 1},
			{"filter=" + q(`UserName eq "user03@example.com"`) + "&startIndex=1&count=100", "1", 1},
			{"filter=" + q(`externalId eq ext04`), "1", 1},
			{"filter=" + q(`externalId eq "EXT04"`), "0", 0},
			{"filter=" + q(`active eq false`), "4", 4},
			{"filter=" + q(`emails[type eq "work" and value co "@corp.example"]`), "12", 12},
			{"filter=" + q(`meta.created gt 2015-10-10T14:38:21Z`), "12", 12},
			{"filter=" + q(`userName sw "user1" and not (active eq true)`), "0", 0},
			{"filter=" + q(`userName sw "user0" and not (active eq true)`), "4", 4},
			{"startIndex=0&count=5", "12", 5},
			{"startIndex=11&count=5", "12", 2},
			{"startIndex=20", "12", 0},
			{"count=-3", "12", 0},
			{"count=0", "12", 0},
		}
		for _, tc := range cases {
			r := list(tc.query)
			if total(r) != tc.total || len(resources(r)) != tc.items {
				t.Errorf("%s: totalResults %s, %d resources; want %s, %d", tc.query, total(r), len(resources(r)), tc.total, tc.items)
			}
		}
		r := list("startIndex=0&count=5")
		if r.Body["startIndex"] != json.Number("1") || r.Body["itemsPerPage"] != json.Number("5") {
			t.Fatalf("paging fields: %s", r.Raw)
		}
		// Stable order: creation order when sortBy is absent.
		var walked []string
		for start := 1; start <= 12; start += 5 {
			for _, res := range resources(list(fmt.Sprintf("startIndex=%d&count=5", start))) {
				walked = append(walked, res.(map[string]any)["id"].(string))
			}
		}
		if fmt.Sprint(walked) != fmt.Sprint(ids) {
			t.Fatalf("index paging order differs from creation order")
		}
		// sortBy.
		r = list("sortBy=userName&sortOrder=descending&count=1")
		if resources(r)[0].(map[string]any)["userName"] != "user11@example.com" {
			t.Fatalf("sortBy desc: %s", r.Raw)
		}
		// Projection.
		r = list("attributes=userName&count=1")
		first := resources(r)[0].(map[string]any)
		if first["userName"] == nil || first["id"] == nil || first["emails"] != nil || first["meta"] != nil {
			t.Fatalf("attributes=userName: %v", first)
		}
		r = list("excludedAttributes=emails,meta&count=1")
		first = resources(r)[0].(map[string]any)
		if first["emails"] != nil || first["meta"] != nil || first["userName"] == nil {
			t.Fatalf("excludedAttributes: %v", first)
		}
		// Bad filters.
		for _, f := range []string{`nope eq "x"`, `userName eq`, `userName xx "a"`, `(userName eq "a"`, `active gt true`} {
			e.want(e.do("GET", "/scim/v2/Users?filter="+q(f), nil), 400, "invalidFilter")
		}
		e.want(e.do("GET", "/scim/v2/Users?count=ten", nil), 400, "invalidValue")
		e.want(e.do("GET", "/scim/v2/Users?sortOrder=sideways", nil), 400, "invalidValue")
	})
}

func TestUserSearchAndCursor(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 7 {
			ids = append(ids, e.createUser(fmt.Sprintf("u%d@example.com", i), nil)["id"].(string))
		}
		r := e.do("POST", "/scim/v2/Users/.search", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"filter":  `userName sw "u"`, "startIndex": 2, "count": 2, "attributes": []string{"userName"},
		})
		e.want(r, 200, "")
		if r.Body["totalResults"] != json.Number("7") || len(r.Body["Resources"].([]any)) != 2 {
			t.Fatalf(".search: %s", r.Raw)
		}
		e.want(e.do("POST", "/scim/v2/Users/.search", `{"filter":"userName pr"}`), 400, "invalidValue")

		var walked []string
		cursor := ""
		for range 10 {
			r := e.do("GET", "/scim/v2/Users?count=3&cursor="+url.QueryEscape(cursor), nil)
			e.want(r, 200, "")
			for _, res := range r.Body["Resources"].([]any) {
				walked = append(walked, res.(map[string]any)["id"].(string))
			}
			next, _ := r.Body["nextCursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if fmt.Sprint(walked) != fmt.Sprint(ids) {
			t.Fatalf("cursor walk = %v, want %v", walked, ids)
		}
		e.want(e.do("GET", "/scim/v2/Users?count=3&cursor=forged", nil), 400, "invalidCursor")
		tampered := []byte(cursor)
		tampered[2] ^= 1
		e.want(e.do("GET", "/scim/v2/Users?count=3&cursor="+string(tampered), nil), 400, "invalidCursor")
		// Another tenant's cursor is refused.
		_, otherToken := e.newTenant("other")
		e.want(e.doToken(otherToken, "GET", "/scim/v2/Users?count=3&cursor="+cursor, nil), 400, "invalidCursor")
	})
}

func TestOktaSequence(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		lookup := "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "Jane.Doe@Example.com"`) + "&startIndex=1&count=100"
		r := e.do("GET", lookup, nil)
		if r.Body["totalResults"] != json.Number("0") {
			t.Fatalf("lookup before create: %s", r.Raw)
		}
		create := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane.doe@example.com",
			"name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"primary":true,"value":"jane.doe@example.com","type":"work"}],
			"displayName":"Jane Doe","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`
		r = e.do("POST", "/scim/v2/Users", create)
		e.want(r, 201, "")
		id := r.str("id")
		e.want(e.do("POST", "/scim/v2/Users", create), 409, "uniqueness")
		r = e.do("GET", lookup, nil)
		if r.Body["totalResults"] != json.Number("1") {
			t.Fatalf("lookup in other case: %s", r.Raw)
		}
		full := e.do("GET", "/scim/v2/Users/"+id, nil)
		full.Body["name"].(map[string]any)["familyName"] = "Smith"
		e.want(e.do("PUT", "/scim/v2/Users/"+id, full.Body), 200, "")
		e.want(e.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`), 200, "")
		r = e.do("GET", "/scim/v2/Users/"+id, nil)
		if r.Body["active"] != false || r.str("name.familyName") != "Smith" {
			t.Fatalf("after Okta sequence: %s", r.Raw)
		}
		e.want(e.do("GET", "/scim/v2/Users/not-a-real-id", nil), 404, "")
	})
}

func TestEntraSequence(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/scim/v2/Users?filter="+url.QueryEscape("externalId eq jyoung"), nil)
		e.want(r, 200, "")
		r = e.do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"externalId":"jyoung","userName":"Test_User_ab6490ee@contoso.com","active":true,
			"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b@contoso.com"}],
			"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Dep"}}`)
		e.want(r, 201, "")
		id := r.str("id")
		r = e.do("GET", "/scim/v2/Users?filter="+url.QueryEscape("externalId eq jyoung"), nil)
		if r.Body["totalResults"] != json.Number("1") {
			t.Fatalf("unquoted externalId: %s", r.Raw)
		}
		r = e.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
			{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"},
			{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"42"},
			{"op":"Replace","path":"active","value":"False"}]}`)
		e.want(r, 200, "")
		if r.Body["active"] != false || r.str("name.familyName") != "updatedFamilyName" || r.str(enterprise+".employeeNumber") != "42" {
			t.Fatalf("after Entra PATCH: %s", r.Raw)
		}
		// A soft-deleted user is still returned.
		e.want(e.do("GET", "/scim/v2/Users/"+id, nil), 200, "")
		r = e.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`UserName eq "test_user_ab6490ee@contoso.com"`), nil)
		if r.Body["totalResults"] != json.Number("1") {
			t.Fatalf("UserName in other case: %s", r.Raw)
		}
	})
}
