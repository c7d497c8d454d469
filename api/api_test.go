package api

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
)

// allowed lists the RFC 7643 §7 value sets for the enumerated attribute characteristics.
var allowed = map[string]map[string]bool{
	"type":       set("string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"),
	"mutability": set("readOnly", "readWrite", "immutable", "writeOnly"),
	"returned":   set("always", "never", "default", "request"),
	"uniqueness": set("none", "server", "global"),
}

func set(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func readJSON(t *testing.T, name string) any {
	t.Helper()
	b, err := fs.ReadFile(Files, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return v
}

func TestEmbeddedFilesParse(t *testing.T) {
	want := []string{
		"schemas/user.json",
		"schemas/enterprise_user.json",
		"schemas/group.json",
		"resource_types.json",
		"service_provider_config.json",
	}
	seen := map[string]bool{}
	err := fs.WalkDir(Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		seen[path] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		if !seen[name] {
			t.Errorf("%s is not embedded", name)
		}
	}
	for name := range seen {
		t.Run(name, func(t *testing.T) {
			if !strings.HasSuffix(name, ".json") {
				t.Fatalf("unexpected embedded file %s", name)
			}
			readJSON(t, name)
		})
	}
}

func TestSchemaAttributes(t *testing.T) {
	tests := []struct {
		file string
		id   string
	}{
		{"schemas/user.json", "urn:ietf:params:scim:schemas:core:2.0:User"},
		{"schemas/enterprise_user.json", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		{"schemas/group.json", "urn:ietf:params:scim:schemas:core:2.0:Group"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc, ok := readJSON(t, tt.file).(map[string]any)
			if !ok {
				t.Fatalf("%s is not a JSON object", tt.file)
			}
			if doc["id"] != tt.id {
				t.Errorf("id = %v, want %s", doc["id"], tt.id)
			}
			for _, k := range []string{"name", "description"} {
				if s, ok := doc[k].(string); !ok || s == "" {
					t.Errorf("schema %q missing or not a non-empty string", k)
				}
			}
			meta, _ := doc["meta"].(map[string]any)
			if meta["resourceType"] != "Schema" || meta["location"] != "/v2/Schemas/"+tt.id {
				t.Errorf("meta = %v", doc["meta"])
			}
			attrs, ok := doc["attributes"].([]any)
			if !ok || len(attrs) == 0 {
				t.Fatalf("attributes missing or empty")
			}
			checkAttributes(t, "", attrs)
		})
	}
}

func checkAttributes(t *testing.T, parent string, attrs []any) {
	t.Helper()
	names := map[string]bool{}
	for i, raw := range attrs {
		a, ok := raw.(map[string]any)
		if !ok {
			t.Errorf("%s[%d]: attribute is not an object", parent, i)
			continue
		}
		name, _ := a["name"].(string)
		if name == "" {
			t.Errorf("%s[%d]: missing name", parent, i)
			continue
		}
		path := name
		if parent != "" {
			path = parent + "." + name
		}
		if names[name] {
			t.Errorf("%s: duplicate attribute", path)
		}
		names[name] = true

		for _, k := range []string{"multiValued", "required", "caseExact"} {
			if _, ok := a[k].(bool); !ok {
				t.Errorf("%s: %q missing or not a boolean", path, k)
			}
		}
		for k, values := range allowed {
			v, ok := a[k].(string)
			if !ok {
				t.Errorf("%s: %q missing or not a string", path, k)
				continue
			}
			if !values[v] {
				t.Errorf("%s: %s %q is not allowed by RFC 7643", path, k, v)
			}
		}
		if d, ok := a["description"]; ok {
			if _, ok := d.(string); !ok {
				t.Errorf("%s: description is not a string", path)
			}
		}

		switch a["type"] {
		case "complex":
			sub, ok := a["subAttributes"].([]any)
			if !ok || len(sub) == 0 {
				t.Errorf("%s: complex attribute has no subAttributes", path)
				continue
			}
			checkAttributes(t, path, sub)
		case "reference":
			if rt, ok := a["referenceTypes"].([]any); !ok || len(rt) == 0 {
				t.Errorf("%s: reference attribute has no referenceTypes", path)
			}
		}
		if _, ok := a["subAttributes"]; ok && a["type"] != "complex" {
			t.Errorf("%s: subAttributes on a non-complex attribute", path)
		}
	}
}
