package scim_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/scim"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name, path, want string
		wantErr          bool
	}{
		{"core", "userName", "userName", false},
		{"case-insensitive", "USERNAME", "userName", false},
		{"sub-attribute", "name.GIVENNAME", "name.givenName", false},
		{"common", "externalid", "externalId", false},
		{"meta", "meta.created", "meta.created", false},
		{"core URN prefix", "urn:ietf:params:scim:schemas:core:2.0:User:userName", "userName", false},
		{"extension", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", false},
		{"extension without URN", "department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", false},
		{"unknown", "shoeSize", "", true},
		{"unknown sub", "name.nickname", "", true},
		{"sub of simple", "userName.x", "", true},
		{"unknown schema", "urn:nope:x", "", true},
		{"too deep", "name.givenName.x", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scim.Users.ResolveString(tt.path)
			if tt.wantErr {
				if se := scim.AsError(err); se == nil || se.Status != 400 || se.ScimType != scim.InvalidPath {
					t.Fatalf("ResolveString(%q) error = %v, want 400 invalidPath", tt.path, err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ResolveString(%q) = %q, %v; want %q", tt.path, got.String(), err, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    string // fmt of the normalized map
		errType string
	}{
		{"schema case and dropping", `{"USERNAME":"a","id":"x","meta":{},"groups":[],"password":"p","shoe":1,"schemas":["x"]}`,
			`map[userName:a]`, ""},
		{"string booleans", `{"active":"False"}`, `map[active:false]`, ""},
		{"single value of a multi-valued attribute", `{"emails":{"value":"a@b"}}`, `map[emails:[map[value:a@b]]]`, ""},
		{"nulls and empties dropped", `{"title":null,"emails":[],"name":{}}`, `map[]`, ""},
		{"extension", `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":{"Department":"R&D","x":1}}`,
			`map[urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:map[department:R&D]]`, ""},
		{"core URN-qualified names", `{"urn:ietf:params:scim:schemas:core:2.0:User:userName":"a","urn:ietf:params:scim:schemas:core:2.0:User:name.givenName":"A"}`,
			`map[name:map[givenName:A] userName:a]`, ""},
		{"core URN object", `{"urn:ietf:params:scim:schemas:core:2.0:User":{"active":false,"title":"T"}}`, `map[active:false title:T]`, ""},
		{"empty extension dropped", `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{}}`, `map[]`, ""},
		{"wrong type string", `{"userName":1}`, "", scim.InvalidValue},
		{"wrong type boolean", `{"active":"yes"}`, "", scim.InvalidValue},
		{"list for single", `{"title":["a"]}`, "", scim.InvalidValue},
		{"object expected", `{"name":"x"}`, "", scim.InvalidValue},
		{"extension not object", `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`, "", scim.InvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scim.Users.Normalize(decode(t, tt.body))
			if tt.errType != "" {
				if se := scim.AsError(err); se == nil || se.ScimType != tt.errType {
					t.Fatalf("error = %v, want %s", err, tt.errType)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tt.want {
				t.Fatalf("Normalize = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestCheckSchemas(t *testing.T) {
	for _, tt := range []struct {
		body string
		ok   bool
	}{
		{`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`, true},
		{`{"Schemas":["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"]}`, true},
		{`{}`, false},
		{`{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User"}`, false},
		{`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, false},
	} {
		err := scim.CheckSchemas(decode(t, tt.body), scim.UserSchema)
		if (err == nil) != tt.ok {
			t.Errorf("CheckSchemas(%s) = %v, want ok=%v", tt.body, err, tt.ok)
		}
	}
}

func TestProjection(t *testing.T) {
	r := &scim.Resource{ID: "1", Attrs: map[string]any{
		"userName": "a", "title": "t",
		"name":   map[string]any{"givenName": "A", "familyName": "B"},
		"emails": []any{map[string]any{"value": "a@b", "type": "work"}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "D"},
	}}
	rendered := func() map[string]any { return scim.Users.Render(r, "http://x/Users/1") }
	keys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return fmt.Sprint(ks)
	}
	tests := []struct {
		name, attrs, excluded, want string
	}{
		{"default", "", "", "[emails id meta name schemas title urn:ietf:params:scim:schemas:extension:enterprise:2.0:User userName]"},
		{"attributes", "userName,emails.value", "", "[emails id schemas userName]"},
		{"attributes case-insensitive", "USERNAME", "", "[id schemas userName]"},
		{"excluded", "", "emails,meta,name", "[id schemas title urn:ietf:params:scim:schemas:extension:enterprise:2.0:User userName]"},
		{"id always", "", "id", "[emails id meta name schemas title urn:ietf:params:scim:schemas:extension:enterprise:2.0:User userName]"},
		{"extension by URN", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "", "[id schemas urn:ietf:params:scim:schemas:extension:enterprise:2.0:User]"},
		{"unknown ignored", "nope,userName", "", "[id schemas userName]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scim.Users.ParseProjection(tt.attrs, tt.excluded).Apply(scim.Users, rendered())
			if keys(got) != tt.want {
				t.Fatalf("keys = %s, want %s", keys(got), tt.want)
			}
		})
	}
	got := scim.Users.ParseProjection("emails.value,name.givenName", "").Apply(scim.Users, rendered())
	if fmt.Sprint(got["emails"]) != "[map[value:a@b]]" || fmt.Sprint(got["name"]) != "map[givenName:A]" {
		t.Fatalf("sub-attribute projection = %v", got)
	}
	got = scim.Users.ParseProjection("", "name.familyName").Apply(scim.Users, rendered())
	if fmt.Sprint(got["name"]) != "map[givenName:A]" {
		t.Fatalf("sub-attribute exclusion = %v", got["name"])
	}
	if p := scim.Groups.ParseProjection("", "members"); p.Wants(scim.Groups, "members") {
		t.Fatal("excludedAttributes=members still wants members")
	}
	if p := scim.Groups.ParseProjection("displayName", ""); p.Wants(scim.Groups, "members") {
		t.Fatal("attributes=displayName still wants members")
	}
	if p := scim.Groups.ParseProjection("", ""); !p.Wants(scim.Groups, "members") {
		t.Fatal("default projection does not want members")
	}
}

func TestErrorBody(t *testing.T) {
	b, _ := json.Marshal(scim.BadRequest(scim.Uniqueness, "userName %q is taken", "a").Body())
	want := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"uniqueness","detail":"userName \"a\" is taken"}`
	if string(b) != want {
		t.Fatalf("body = %s\nwant %s", b, want)
	}
}
