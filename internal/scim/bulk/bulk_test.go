package bulk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/scim"
)

// decode reads a JSON object as the server does (numbers as json.Number).
func decode(tb testing.TB, s string) map[string]any {
	tb.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("test body does not parse: %v\n%s", err, s)
	}
	return m
}

// req builds a bulk request body from operation objects.
func req(ops ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

const (
	userPost  = `{"method":"POST","path":"/Users","bulkId":"%s","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s"}}`
	groupPost = `{"method":"POST","path":"/Groups","bulkId":"%s","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"%s","members":[%s]}}`
)

func member(bulkID string) string { return `{"value":"bulkId:` + bulkID + `"}` }

func TestParseRefusesTheRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		scimType   string
		detail     string
	}{
		{"no schemas", `{"Operations":[]}`, 400, scim.InvalidValue, "schemas"},
		{"another schema", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, 400, scim.InvalidValue, "BulkRequest"},
		{"no Operations", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}`, 400, scim.InvalidSyntax, "Operations"},
		{"Operations not a list", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":{}}`, 400, scim.InvalidSyntax, "Operations"},
		{"empty Operations", req(), 400, scim.InvalidValue, "empty"},
		{"failOnErrors negative", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":-1,"Operations":[{}]}`, 400, scim.InvalidValue, "failOnErrors"},
		{"failOnErrors a string", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":"1","Operations":[{}]}`, 400, scim.InvalidValue, "failOnErrors"},
		{"failOnErrors a fraction", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1.5,"Operations":[{}]}`, 400, scim.InvalidValue, "failOnErrors"},
		{"too many operations", req(`{}`, `{}`, `{}`, `{}`), 413, "", "maxOperations is 3"},
		{"duplicate bulkId", req(fmt.Sprintf(userPost, "a", "x"), fmt.Sprintf(userPost, "b", "y"), fmt.Sprintf(userPost, "a", "z")), 400, scim.InvalidValue, "operations 1 and 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(decode(t, tc.body), 3)
			se := scim.AsError(err)
			if se == nil {
				t.Fatalf("Parse = %v, want a SCIM error", err)
			}
			if se.Status != tc.status || se.ScimType != tc.scimType || !strings.Contains(se.Detail, tc.detail) {
				t.Fatalf("Parse = %d %q %q, want %d %q with %q", se.Status, se.ScimType, se.Detail, tc.status, tc.scimType, tc.detail)
			}
		})
	}
}

func TestParseOperations(t *testing.T) {
	for _, tc := range []struct {
		name, op string
		want     Operation // Err as status/scimType only
		status   int
		scimType string
	}{
		{"user POST", fmt.Sprintf(userPost, "u1", "ann"), Operation{Method: "POST", BulkID: "u1", RT: scim.Users}, 0, ""},
		{"method and attribute names in any case", `{"METHOD":"post","Path":"users","BULKID":"u1","Data":{}}`, Operation{Method: "POST", BulkID: "u1", RT: scim.Users}, 0, ""},
		{"POST without bulkId", `{"method":"POST","path":"/Groups","data":{}}`, Operation{Method: "POST", RT: scim.Groups}, 0, ""},
		{"PUT with version", `{"method":"PUT","path":"/Users/abc","version":"W/\"3\"","data":{}}`, Operation{Method: "PUT", RT: scim.Users, ID: "abc", Version: `W/"3"`}, 0, ""},
		{"PATCH of a bulkId", `{"method":"PATCH","path":"/Groups/bulkId:g1","data":{}}`, Operation{Method: "PATCH", RT: scim.Groups, ID: "bulkId:g1", Refs: []string{"g1"}}, 0, ""},
		{"DELETE needs no data", `{"method":"DELETE","path":"/Users/abc"}`, Operation{Method: "DELETE", RT: scim.Users, ID: "abc"}, 0, ""},
		{"references in data, each once, in order", `{"method":"PATCH","path":"/Groups/g","data":{"Operations":[
			{"op":"add","path":"members","value":[{"value":"bulkId:b"},{"value":"bulkId:a"},{"value":"bulkId:b"}]},
			{"op":"remove","path":"members[value eq \"bulkId:c\"]"}]}}`, Operation{Method: "PATCH", RT: scim.Groups, ID: "g", Refs: []string{"b", "a", "c"}}, 0, ""},
		{"not an object", `"POST"`, Operation{}, 400, scim.InvalidSyntax},
		{"no method", `{"path":"/Users","data":{}}`, Operation{}, 400, scim.InvalidValue},
		{"GET", `{"method":"GET","path":"/Users/abc"}`, Operation{Method: "GET"}, 400, scim.InvalidValue},
		{"method a number", `{"method":1,"path":"/Users"}`, Operation{}, 400, scim.InvalidValue},
		{"unknown endpoint", `{"method":"POST","path":"/Devices","data":{}}`, Operation{Method: "POST"}, 400, scim.InvalidValue},
		{"POST to an id", `{"method":"POST","path":"/Users/abc","data":{}}`, Operation{Method: "POST", RT: scim.Users}, 400, scim.InvalidValue},
		{"PUT without an id", `{"method":"PUT","path":"/Users","data":{}}`, Operation{Method: "PUT", RT: scim.Users}, 400, scim.InvalidValue},
		{"DELETE of a sub-path", `{"method":"DELETE","path":"/Users/abc/def"}`, Operation{Method: "DELETE", RT: scim.Users}, 400, scim.InvalidValue},
		{"empty bulkId reference", `{"method":"DELETE","path":"/Users/bulkId:"}`, Operation{Method: "DELETE", RT: scim.Users, ID: "bulkId:"}, 400, scim.InvalidValue},
		{"POST without data", `{"method":"POST","path":"/Users","bulkId":"x"}`, Operation{Method: "POST", RT: scim.Users, BulkID: "x"}, 400, scim.InvalidSyntax},
		{"data not an object", `{"method":"PATCH","path":"/Users/a","data":[]}`, Operation{Method: "PATCH", RT: scim.Users, ID: "a"}, 400, scim.InvalidSyntax},
		{"version a number", `{"method":"PUT","path":"/Users/a","version":3,"data":{}}`, Operation{Method: "PUT"}, 400, scim.InvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(decode(t, req(tc.op)), 10)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Operations[0]
			if tc.status != 0 {
				if got.Err == nil || got.Err.Status != tc.status || got.Err.ScimType != tc.scimType {
					t.Fatalf("Err = %v, want %d %s", got.Err, tc.status, tc.scimType)
				}
			} else if got.Err != nil {
				t.Fatalf("Err = %v", got.Err)
			}
			if got.Method != tc.want.Method || got.BulkID != tc.want.BulkID || got.Version != tc.want.Version ||
				got.RT != tc.want.RT || got.ID != tc.want.ID || !slices.Equal(got.Refs, tc.want.Refs) {
				t.Fatalf("got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// indexes returns the 1-based positions of ops, for readable failures.
func indexes(ops []*Operation) []int {
	out := make([]int, len(ops))
	for i, op := range ops {
		out[i] = op.Index + 1
	}
	return out
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   []string
		order []int          // 1-based
		errs  map[int]string // 1-based index → status and a word of the detail
	}{
		{"request order without references",
			[]string{fmt.Sprintf(userPost, "a", "a"), fmt.Sprintf(userPost, "b", "b"), `{"method":"DELETE","path":"/Users/x"}`},
			[]int{1, 2, 3}, nil},
		{"a group before the users it names",
			[]string{fmt.Sprintf(groupPost, "g", "G", member("u2")+","+member("u1")), fmt.Sprintf(userPost, "u1", "a"), fmt.Sprintf(userPost, "u2", "b")},
			[]int{2, 3, 1}, nil},
		{"a chain, backwards",
			[]string{`{"method":"PATCH","path":"/Groups/bulkId:g2","data":{}}`,
				fmt.Sprintf(groupPost, "g2", "G2", member("g1")), fmt.Sprintf(groupPost, "g1", "G1", member("u")), fmt.Sprintf(userPost, "u", "u")},
			[]int{4, 3, 2, 1}, nil},
		{"a cycle of two, and what waits for it",
			[]string{fmt.Sprintf(userPost, "u", "u"), fmt.Sprintf(groupPost, "a", "A", member("b")), fmt.Sprintf(groupPost, "b", "B", member("a")),
				`{"method":"DELETE","path":"/Groups/bulkId:a"}`},
			[]int{1, 2, 3, 4}, map[int]string{2: "409 circular", 3: "409 circular", 4: "409 waits"}},
		{"a group that names itself",
			[]string{fmt.Sprintf(groupPost, "a", "A", member("a"))},
			[]int{1}, map[int]string{1: "409 itself"}},
		{"a cycle of three",
			[]string{fmt.Sprintf(groupPost, "a", "A", member("c")), fmt.Sprintf(groupPost, "b", "B", member("a")), fmt.Sprintf(groupPost, "c", "C", member("b"))},
			[]int{1, 2, 3}, map[int]string{1: "409 1, 3, 2", 2: "409 circular", 3: "409 circular"}},
		{"an unknown bulkId",
			[]string{fmt.Sprintf(groupPost, "g", "G", member("nobody")), fmt.Sprintf(userPost, "u", "u")},
			[]int{1, 2}, map[int]string{1: "400 nobody"}},
		{"a reference to a malformed POST runs after it",
			[]string{fmt.Sprintf(groupPost, "g", "G", member("u")), `{"method":"POST","path":"/Nope","bulkId":"u","data":{}}`},
			[]int{2, 1}, map[int]string{2: "400 Nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(decode(t, req(tc.ops...)), 10)
			if err != nil {
				t.Fatal(err)
			}
			order := r.Plan()
			if got := indexes(order); !slices.Equal(got, tc.order) {
				t.Fatalf("order %v, want %v", got, tc.order)
			}
			for _, op := range r.Operations {
				want, ok := tc.errs[op.Index+1]
				if !ok {
					if op.Err != nil {
						t.Errorf("operation %d: %v", op.Index+1, op.Err)
					}
					continue
				}
				status, word, _ := strings.Cut(want, " ")
				if op.Err == nil || fmt.Sprint(op.Err.Status) != status || !strings.Contains(op.Err.Detail, word) {
					t.Errorf("operation %d: Err = %v, want %s with %q", op.Index+1, op.Err, status, word)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	body := req(`{"method":"PATCH","path":"/Groups/bulkId:g","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"add","path":"members","value":[{"value":"bulkId:u"},{"value":"other"}]},
		{"op":"remove","path":"members[value eq \"bulkId:v\"]"},
		{"op":"replace","path":"displayName","value":"Team bulkId:u"}]}}`)
	r, err := Parse(decode(t, body), 10)
	if err != nil {
		t.Fatal(err)
	}
	op := r.Operations[0]
	ids := map[string]string{"g": "G-ID", "u": "U-ID", "v": "V-ID"}
	if err := op.Resolve(func(b string) (string, bool) { id, ok := ids[b]; return id, ok }); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(op.Data)
	for _, want := range []string{`{"value":"U-ID"}`, `members[value eq \"V-ID\"]`, `"Team bulkId:u"`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("resolved data lacks %s: %s", want, got)
		}
	}
	if op.ID != "G-ID" || op.Location() != "/Groups/G-ID" {
		t.Errorf("ID %q, Location %q", op.ID, op.Location())
	}

	r, _ = Parse(decode(t, body), 10)
	err = r.Operations[0].Resolve(func(b string) (string, bool) { return "X", b != "v" })
	if se := scim.AsError(err); se == nil || se.Status != http.StatusConflict || !strings.Contains(se.Detail, `"v"`) {
		t.Fatalf("Resolve with v unresolved = %v, want 409 naming v", err)
	}
}

// FuzzParse reads arbitrary bodies as bulk requests. Properties: no panic; a refused
// request is a SCIM 400 or 413; the plan holds every operation once; an operation without
// an error runs after every POST whose bulkId it refers to; once every bulkId is resolved,
// no reference is left in a runnable operation.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		req(fmt.Sprintf(groupPost, "g", "G", member("u1")+","+member("u2")), fmt.Sprintf(userPost, "u1", "a"), fmt.Sprintf(userPost, "u2", "b")),
		req(fmt.Sprintf(groupPost, "a", "A", member("b")), fmt.Sprintf(groupPost, "b", "B", member("a"))),
		req(`{"method":"PATCH","path":"/Groups/bulkId:g","version":"W/\"1\"","data":{"Operations":[{"op":"remove","path":"members[value eq \"bulkId:u\"]"}]}}`,
			fmt.Sprintf(groupPost, "g", "G", ""), fmt.Sprintf(userPost, "u", "u")),
		req(`{"method":"DELETE","path":"Users/bulkId:x"}`, `{"method":"put","path":"/users/1","data":{}}`, `7`, `null`),
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":2,"Operations":[{"method":"POST","path":"/Users","bulkId":"","data":{"x":"bulkId:"}}]}`,
		`{}`, `{"Operations":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d := json.NewDecoder(bytes.NewReader(in))
		d.UseNumber()
		var body map[string]any
		if d.Decode(&body) != nil || body == nil {
			return
		}
		r, err := Parse(body, 20)
		if err != nil {
			if se := scim.AsError(err); se == nil || se.Status != 400 && se.Status != 413 || se.Detail == "" {
				t.Fatalf("Parse error %v is not a SCIM 400 or 413", err)
			}
			return
		}
		if r.FailOnErrors < 0 || len(r.Operations) == 0 || len(r.Operations) > 20 {
			t.Fatalf("FailOnErrors %d, %d operations", r.FailOnErrors, len(r.Operations))
		}
		order := r.Plan()
		pos := map[int]int{}
		for i, op := range order {
			if _, dup := pos[op.Index]; dup {
				t.Fatalf("operation %d twice in the plan", op.Index+1)
			}
			pos[op.Index] = i
		}
		if len(pos) != len(r.Operations) {
			t.Fatalf("plan of %d operations for %d", len(pos), len(r.Operations))
		}
		creator := map[string]int{}
		for _, op := range r.Operations {
			if op.Method == http.MethodPost && op.BulkID != "" {
				creator[op.BulkID] = op.Index
			}
		}
		for _, op := range order {
			if op.Err != nil {
				if op.Err.Status < 400 || op.Err.Status > 499 || op.Err.Detail == "" {
					t.Fatalf("operation %d: Err %v", op.Index+1, op.Err)
				}
				continue
			}
			if op.RT == nil || (op.Method == http.MethodPost) != (op.ID == "") {
				t.Fatalf("runnable %v without a resource type or with a wrong id %q", op, op.ID)
			}
			for _, ref := range op.Refs {
				c, ok := creator[ref]
				if !ok || pos[c] >= pos[op.Index] {
					t.Fatalf("operation %d runs before the POST of bulkId %q", op.Index+1, ref)
				}
			}
			if err := op.Resolve(func(b string) (string, bool) { return "ID-" + b, true }); err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			left := 0
			walkRefs(op.Data, "", func(string) string { left++; return "" })
			if left > 0 || isRef(op.ID) {
				t.Fatalf("operation %d keeps %d references after Resolve (id %q)", op.Index+1, left, op.ID)
			}
		}
	})
}
