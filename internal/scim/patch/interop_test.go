package patch

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/scim"
)

func TestParseEmptyOperationsIsNoOperation(t *testing.T) {
	body := map[string]any{"schemas": []any{scim.PatchOpSchema}, "Operations": []any{}}
	ops, err := Parse(body, scim.Users)
	if err != nil || len(ops) != 0 {
		t.Fatalf("Parse = %v, %v; want no operations, no error", ops, err)
	}
	got, changed, err := Apply(scim.Users, map[string]any{"userName": "ann", "active": false}, ops)
	if err != nil || len(changed) != 0 || got["active"] != false {
		t.Fatalf("Apply = %v, %v, %v; want the attributes unchanged", got, changed, err)
	}
}

func TestParsePathlessRemoveSaysUseReplace(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // in the detail
	}{
		{"remove with an object value", `{"op":"remove","value":{"active":false}}`, "to change active, use a replace operation"},
		{"remove with userType", `{"op":"Remove","value":{"userType":"guest"}}`, "to change userType, use a replace operation"},
		{"remove with nothing", `{"op":"remove"}`, `needs a "path"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := json.NewDecoder(strings.NewReader(`{"schemas":["` + scim.PatchOpSchema + `"],"Operations":[` + tt.body + `]}`))
			d.UseNumber()
			var body map[string]any
			if err := d.Decode(&body); err != nil {
				t.Fatal(err)
			}
			_, err := Parse(body, scim.Users)
			se := scim.AsError(err)
			if se == nil || se.ScimType != scim.NoTarget || !strings.Contains(se.Detail, tt.want) {
				t.Fatalf("Parse error = %v; want noTarget with %q", err, tt.want)
			}
		})
	}
}
