package patch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

// checkErr fails unless err is nil or a *scim.Error with a 4xx status.
func checkErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	e, ok := err.(*scim.Error)
	if !ok {
		t.Fatalf("%s: error %v is %T, not *scim.Error", what, err, err)
	}
	if e.Status < 400 || e.Status > 499 {
		t.Fatalf("%s: status %d: %v", what, e.Status, e)
	}
}

// checkApply applies ops to stored, a JSON object, and checks what must always hold: stored
// untouched, errors 4xx *scim.Error, nothing returned with an error, the result free of
// empty values, and every changed name an attribute of before or after.
func checkApply(t *testing.T, rt *scim.ResourceType, stored string, ops []Operation) {
	t.Helper()
	attrs := decode(t, stored).(map[string]any)
	got, changed, err := Apply(rt, attrs, ops)
	if !reflect.DeepEqual(attrs, decode(t, stored)) {
		t.Fatalf("Apply modified its input")
	}
	checkErr(t, "Apply", err)
	if err != nil {
		if got != nil || changed != nil {
			t.Fatalf("Apply returned a result with error %v", err)
		}
		return
	}
	if !reflect.DeepEqual(pruneMap(deepCopyMap(got)), got) {
		t.Fatalf("result holds empty values: %s", toJSON(got))
	}
	for _, name := range changed {
		top, ext := name, ""
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			top, ext = name[:i], name[i+1:]
		}
		_, inBefore := attrs[top]
		_, inAfter := got[top]
		if !inBefore && !inAfter {
			t.Fatalf("changed names %q, in neither before nor after (ext %q)", name, ext)
		}
	}
	// Applying nothing to the result changes nothing.
	again, none, err := Apply(rt, got, nil)
	if err != nil || len(none) != 0 || !reflect.DeepEqual(again, got) {
		t.Fatalf("re-applying no operations: %v, %q", err, none)
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"displayName", "name.givenName", "emails", "EMAILS[type eq \"work\"].value",
		`emails[type eq "work"]`, `addresses[type eq "work"].formatted`, `phoneNumbers[type eq "mobile"].value`,
		`members[value eq "u1"]`, `members[value eq "u1" or value eq "u2"]`, `emails[value co "]"].type`,
		ent, ent + ":manager.value", ent + ":employeeNumber", "urn:ietf:params:scim:schemas:core:2.0:User:userName",
		"id", "meta.created", "groups", `emails[type eq "work"`, `emails[]`, `[x]`, `emails[type eq "a\"]"].value`,
		`emails[not (type eq "work")]`, `emails[type pr and primary eq true]`, "urn:", "a.b.c", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, rt := range []*scim.ResourceType{scim.Users, scim.Groups} {
			for _, op := range []string{"add", "remove", "replace"} {
				b := map[string]any{
					"schemas":    []any{scim.PatchOpSchema},
					"Operations": []any{map[string]any{"op": op, "path": path, "value": "x@example.com"}},
				}
				ops, err := Parse(b, rt)
				checkErr(t, "Parse", err)
				if err != nil {
					continue
				}
				if p := ops[0].Path; p != nil {
					// A parsed path prints as a path that parses to the same.
					q, err := parsePath(p.String(), rt, filter.Limits{})
					if err != nil || q == nil || q.String() != p.String() {
						t.Fatalf("path %q prints as %q, which parses to %v, %v", path, p.String(), q, err)
					}
				}
				stored := sampleUser
				if rt == scim.Groups {
					stored = sampleGroup
					if _, _, err := SplitMembers(ops, "members"); err != nil {
						checkErr(t, "SplitMembers", err)
					}
				}
				checkApply(t, rt, stored, ops)
			}
		}
	})
}

func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","value":{"active":false}}]`,
		`[{"op":"Replace","path":"active","value":"False"}]`,
		`[{"op":"replace","value":{"name.givenName":"Ann","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}]`,
		`[{"op":"Add","path":"emails[type eq \"work\"].value","value":"a@b.example"}]`,
		`[{"op":"add","path":"emails","value":[{"value":"n@x.example","primary":true}]}]`,
		`[{"op":"remove","path":"emails[type eq \"home\"]"},{"op":"remove","path":"name.givenName"}]`,
		`[{"op":"Remove","path":"members","value":[{"value":"u1"}]}]`,
		`[{"op":"add","path":"members","value":[{"value":"u1"}]}]`,
		`[{"op":"remove","path":"members[value eq \"u1\"]"}]`,
		`[{"op":"replace","value":{"id":"g1","displayName":"New","members":[]}}]`,
		`[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"manager":"m2"}}]`,
		`[{"op":"replace","path":"emails","value":[{"value":1.5e3,"primary":"True"}]}]`,
		`[{"op":"replace","path":"phoneNumbers[type eq \"mobile\"]","value":[{"value":"1"},{"value":"2"}]}]`,
		`[{"op":"replace","value":{"emails[type eq \"work\"].value":"w@x.example","addresses[type eq \"home\"].locality":"L"}}]`,
	} {
		f.Add(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + s + `}`)
	}
	f.Add(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`)
	f.Add(`{"Operations":[{"op":"add"}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		b, ok := v.(map[string]any)
		if !ok {
			return
		}
		for _, rt := range []*scim.ResourceType{scim.Users, scim.Groups} {
			ops, err := Parse(b, rt)
			checkErr(t, "Parse", err)
			if err != nil {
				continue
			}
			if list, _ := scim.Lookup(b, "Operations"); len(ops) == 0 && len(list.([]any)) != 0 {
				t.Fatalf("Parse returned no operations and no error for %d sent", len(list.([]any)))
			}
			stored := sampleUser
			if rt == scim.Groups {
				stored = sampleGroup
				_, rest, err := SplitMembers(ops, "members")
				checkErr(t, "SplitMembers", err)
				if err == nil {
					checkApply(t, rt, stored, rest)
				}
			}
			checkApply(t, rt, stored, ops)
		}
	})
}
