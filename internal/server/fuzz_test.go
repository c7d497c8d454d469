package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
	"github.com/scimd/scimd/internal/testlog"
)

// Hostile input through the real router (SQLite): whatever a client sends, scimd never
// panics, never answers 500, and never shows database error text. The seeds are requests
// that JumpCloud, Okta and Entra ID really send; the corpus grows in testdata/fuzz.

// dbErrorText is text that only a database error could have put in a response.
var dbErrorText = []string{"sqlstate", "pq:", "pgx", "pgconn", "sqlite", "syntax error at", "near \"", "constraint failed",
	"violates", "duplicate key", "no such column", "no such table", "unrecognized token", "goroutine ", "panic"}

// fuzzEnv is the env of one fuzz process: a server on a temporary SQLite database, a
// tenant, a user and a group to aim PUT and PATCH at, and a valid cursor.
type fuzzEnv struct {
	*env
	handler             http.Handler
	user, group, cursor string
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	ctx := context.Background()
	s := teststores.SQLite(f)
	logs := &testlog.Buffer{}
	srv := testkit.Serve(f, s, testkit.Options{Log: slog.New(slog.NewJSONHandler(logs, nil))}, "acme")
	d, tn := srv.Dir, srv.Tenant
	e := &fuzzEnv{env: &env{url: srv.URL, store: s, dir: d, stack: srv.Stack, tenant: tn, token: srv.Token, logs: logs}, handler: srv.Router}
	actx := directory.WithActor(ctx, directory.Actor{Name: "fuzz"})
	for _, name := range []string{"ann@example.com", "bob@example.com", "cid@example.com"} {
		u, err := d.CreateUser(actx, tn, map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name})
		if err != nil {
			f.Fatal(err)
		}
		e.user = u.ID
	}
	g, err := d.CreateGroup(actx, tn, map[string]any{"schemas": []any{groupSchema}, "displayName": "Sales",
		"members": []any{map[string]any{"value": e.user}}})
	if err != nil {
		f.Fatal(err)
	}
	e.group = g.ID
	r, err := e.serve("GET", "/scim/v2/Users?count=1&cursor=", nil)
	if err != nil || r.str("nextCursor") == "" {
		f.Fatalf("no cursor to seed with: %v %s", err, r.Raw)
	}
	e.cursor = r.str("nextCursor")
	return e
}

// check sends a request and applies the properties every response must have.
func (e *fuzzEnv) check(t *testing.T, input, method, path string, body any) resp {
	t.Helper()
	r, err := e.serve(method, path, body)
	if err != nil {
		if r.Status >= 400 {
			t.Fatalf("%s %s: %v", method, path, err) // an error response that is not JSON
		}
		return r // a 2xx body that is not a JSON object (e.g. 204): nothing to check
	}
	if r.Status >= 500 || r.Status == 0 {
		t.Fatalf("%s %s = %d: %s", method, path, r.Status, r.Raw)
	}
	if r.Status >= 400 {
		if schemas, _ := r.Body["schemas"].([]any); len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
			t.Fatalf("%s %s = %d without a SCIM error body: %s", method, path, r.Status, r.Raw)
		}
		low, in := strings.ToLower(string(r.Raw)), strings.ToLower(input)
		for _, s := range dbErrorText {
			if strings.Contains(low, s) && !strings.Contains(in, s) {
				t.Fatalf("%s %s = %d shows %q: %s", method, path, r.Status, s, r.Raw)
			}
		}
	}
	return r
}

// serve calls the real router in this goroutine, not over a connection: coverage then
// comes from the request alone, which lets the fuzzer minimize what it finds.
func (e *fuzzEnv) serve(method, path string, body any) (resp, error) {
	req, err := testkit.NewRequest(method, e.url+path, e.token, body)
	if err != nil {
		return resp{}, nil // a path no client could send
	}
	req.RemoteAddr = "127.0.0.1:1234"
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	r, err := testkit.Decode(rec.Code, rec.Header(), rec.Body.Bytes())
	return resp(r), err
}

// Seeds from real IdP traffic.
var (
	userBodies = []string{
		// JumpCloud create.
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"jdoe@example.com","name":{"givenName":"John","familyName":"Doe"},"emails":[{"value":"jdoe@example.com","type":"work","primary":true}],"displayName":"John Doe","active":true,"externalId":"5f1c2a","title":"Engineer","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"abc"}}}`,
		// Okta create.
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"okta.user@example.com","name":{"givenName":"Okta","familyName":"User"},"emails":[{"primary":true,"value":"okta.user@example.com","type":"work"}],"displayName":"Okta User","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"Secr3t!","active":true}`,
		// Entra create.
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7b2f2a0c0a2b","userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1","active":true,"addresses":[{"primary":true,"type":"work","country":"US","postalCode":"98052"}],"displayName":"Test User","meta":{"resourceType":"User"},"name":{"formatted":"Test User","familyName":"User","givenName":"Test"},"phoneNumbers":[{"type":"work","value":"+1 555 0100"}],"roles":[],"title":"Manager","userType":"Member"}`,
		// Okta PATCH deactivate; Entra PATCH with capitalised op and string boolean.
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"emails[type eq \"work\"].value","value":"x@example.com"},{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"name.middleName"},{"op":"add","value":{"name.givenName":"Ann","title":"Boss"}}]}`,
		`{}`, `[]`, `null`, `{"userName":`, `{"schemas":[],"userName":123}`, `{"userName":"a","active":"yes","emails":"x"}`,
	}
	groupBodies = []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Group 1","externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","members":[{"value":"USER"}]}`,
		// JumpCloud add, Okta remove by filter, Okta rename with id, Entra remove by value array.
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"USER"}]}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"USER\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"GROUP","displayName":"Renamed"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"USER"}]}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[]}]}`,
		`{"members":[{"value":"not-a-uuid"},{"value":7}],"displayName":""}`,
	}
)

// bodyTarget maps a fuzzed selector to a method and path; PUT and PATCH aim at target.
func bodyTarget(endpoint, target string, sel uint8) (string, string) {
	switch sel % 4 {
	case 0:
		return "POST", endpoint
	case 1:
		return "PUT", endpoint + "/" + target
	case 2:
		return "PATCH", endpoint + "/" + target
	}
	return "POST", endpoint + "/.search"
}

// fill puts ids in a seed's USER and GROUP placeholders.
func fill(s, user, group string) string {
	return strings.NewReplacer("USER", user, "GROUP", group).Replace(s)
}

// fuzzBody sends one fuzzed body to a fresh target resource and then deletes the target
// and whatever the request created, so that every input meets the same state: the fuzzer
// can then minimize what it finds (with state carried over, an input that created a user
// would be a 409 the next time, and minimizing it would never end).
func (e *fuzzEnv) fuzzBody(t *testing.T, kind string, sel uint8, body string) {
	ctx := directory.WithActor(context.Background(), directory.Actor{Name: "fuzz"})
	var target *scim.Resource
	var err error
	endpoint := "/scim/v2/Users"
	if kind == "User" {
		target, err = e.dir.CreateUser(ctx, e.tenant, map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "target@example.com"})
	} else {
		endpoint = "/scim/v2/Groups"
		target, err = e.dir.CreateGroup(ctx, e.tenant, map[string]any{"schemas": []any{groupSchema}, "displayName": "Target",
			"members": []any{map[string]any{"value": e.user}}})
	}
	if err != nil {
		t.Fatal(err)
	}
	body = fill(body, e.user, target.ID)
	method, path := bodyTarget(endpoint, target.ID, sel)
	r := e.check(t, body, method, path, body)
	del := e.dir.DeleteUser
	if kind == "Group" {
		del = e.dir.DeleteGroup
	}
	if err := del(ctx, e.tenant, target.ID, ""); err != nil {
		t.Fatal(err)
	}
	if id := r.str("id"); r.Status == 201 && id != "" {
		if err := del(ctx, e.tenant, id, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzUserBodies sends arbitrary JSON bodies to POST, PUT and PATCH of Users and .search.
func FuzzUserBodies(f *testing.F) {
	for i, b := range userBodies {
		f.Add(uint8(i), b)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, sel uint8, body string) { e.fuzzBody(t, "User", sel, body) })
}

// FuzzGroupBodies sends arbitrary JSON bodies to POST, PUT and PATCH of Groups and .search.
func FuzzGroupBodies(f *testing.F) {
	for i, b := range groupBodies {
		f.Add(uint8(i), b)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, sel uint8, body string) { e.fuzzBody(t, "Group", sel, body) })
}

// FuzzListParams sends arbitrary filter, sortBy, sortOrder, attributes, excludedAttributes,
// startIndex and count to list, get and .search of Users and Groups.
func FuzzListParams(f *testing.F) {
	seeds := [][7]string{
		{`userName eq "ann@example.com"`, "", "", "", "", "", ""},
		{`externalId eq jyoung`, "userName", "descending", "userName,emails", "", "1", "100"},
		{`displayName eq "Sales"`, "", "", "", "members", "", ""},
		{`emails[type eq "work" and value co "@"]`, "name.familyName", "ascending", "", "groups", "0", "-1"},
		{`meta.lastModified gt "2024-01-01T00:00:00Z"`, "meta.created", "", "id", "", "2", "1"},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"`, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "", "", "", "", ""},
		{`not (active eq true) or title pr`, "emails.value", "sideways", "members.value", "name", "x", "1e9"},
	}
	for i, s := range seeds {
		f.Add(uint8(i), s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, sel uint8, filter, sortBy, sortOrder, attrs, excluded, startIndex, count string) {
		input := strings.Join([]string{filter, sortBy, sortOrder, attrs, excluded, startIndex, count}, "\n")
		q := url.Values{}
		for k, v := range map[string]string{"filter": filter, "sortBy": sortBy, "sortOrder": sortOrder, "attributes": attrs,
			"excludedAttributes": excluded, "startIndex": startIndex, "count": count} {
			if v != "" {
				q.Set(k, v)
			}
		}
		base := []string{"/scim/v2/Users", "/scim/v2/Groups"}[sel%2]
		switch sel % 6 / 2 {
		case 0:
			e.check(t, input, "GET", base+"?"+q.Encode(), nil)
		case 1:
			id := map[string]string{"/scim/v2/Users": e.user, "/scim/v2/Groups": e.group}[base]
			e.check(t, input, "GET", base+"/"+id+"?"+q.Encode(), nil)
		default:
			body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}}
			for k, v := range q {
				body[k] = v[0]
			}
			path := base + "/.search"
			if sel%12 >= 6 {
				path = "/scim/v2/.search" // the root search, across Users and Groups
			}
			e.check(t, input, "POST", path, body)
		}
	})
}

// FuzzCursor sends arbitrary cursors (RFC 9865) and counts: a forged, truncated or other
// tenant's cursor is 400 invalidCursor, never a 500.
func FuzzCursor(f *testing.F) {
	e := newFuzzEnv(f)
	for _, c := range []string{"", e.cursor, e.cursor[:len(e.cursor)/2], e.cursor + "A", "forged", "AAAA.BBBB", strings.Repeat("=", 40)} {
		f.Add(c, "1")
		f.Add(c, "-3")
	}
	f.Fuzz(func(t *testing.T, cursor, count string) {
		q := url.Values{"cursor": {cursor}, "count": {count}}
		e.check(t, cursor+"\n"+count, "GET", "/scim/v2/Users?"+q.Encode(), nil)
		e.check(t, cursor+"\n"+count, "GET", "/scim/v2/Groups?"+q.Encode(), nil)
	})
}

// FuzzResourceIDs sends arbitrary ids to every method of a single resource.
func FuzzResourceIDs(f *testing.F) {
	e := newFuzzEnv(f)
	for _, id := range []string{e.user, strings.ToUpper(e.user), e.group, "not-an-id", "", "..", "%00", "6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f"} {
		f.Add(uint8(0), id)
	}
	f.Fuzz(func(t *testing.T, sel uint8, id string) {
		method := []string{"GET", "PUT", "PATCH", "DELETE"}[sel%4]
		base := []string{"/scim/v2/Users/", "/scim/v2/Groups/"}[sel/4%2]
		var body any
		if method == "PUT" || method == "PATCH" {
			body = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`
		}
		if method == "DELETE" && (strings.EqualFold(id, e.user) || strings.EqualFold(id, e.group)) {
			return // keep the targets of the other fuzz inputs
		}
		e.check(t, id, method, base+url.PathEscape(id), body)
	})
}

// FuzzBulk sends arbitrary bodies to /Bulk, aimed at the env's user and group: whatever the
// operations say, no operation is answered 5xx either.
func FuzzBulk(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":2,"Operations":[
			{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Fuzz","members":[{"value":"bulkId:u"},{"value":"USER"}]}},
			{"method":"POST","path":"/Users","bulkId":"u","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"fuzz@example.com"}},
			{"method":"PATCH","path":"/Groups/GROUP","version":"W/\"1\"","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"bulkId:u\"]"}]}},
			{"method":"DELETE","path":"/Groups/bulkId:g"},{"method":"DELETE","path":"/Users/bulkId:u"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
			{"method":"PUT","path":"/Users/USER","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"cid@example.com","active":false}},
			{"method":"POST","path":"/Groups","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"A","members":[{"value":"bulkId:a"}]}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"get","path":"Users"},7,{"path":"/Users/bulkId:"}]}`,
		`{}`, `[]`,
	} {
		f.Add(s)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		body = fill(body, e.user, e.group)
		r := e.check(t, body, "POST", "/scim/v2/Bulk", body)
		ops, _ := r.Body["Operations"].([]any)
		for _, o := range ops {
			m, _ := o.(map[string]any)
			if status, _ := m["status"].(string); status == "" || status[0] == '5' {
				t.Fatalf("operation answered %q: %s", status, r.Raw)
			}
		}
	})
}
