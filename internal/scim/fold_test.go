package scim

import (
	"strings"
	"testing"
)

// TestFoldKey: equal keys exactly when strings.EqualFold holds.
func TestFoldKey(t *testing.T) {
	words := []string{"émile", "ÉMILE", "Émile", "emile", "K", "k", "\u212a", "ß", "SS", "ſ", "s", "S", "Σ", "σ", "ς", "İ", "i", "ı", "\xff", "\xfe", "ǅ", "ǆ", "Ǆ"}
	for _, a := range words {
		for _, b := range words {
			if got, want := FoldKey(a) == FoldKey(b), strings.EqualFold(a, b); got != want {
				t.Errorf("FoldKey(%q)==FoldKey(%q) is %v; EqualFold %v", a, b, got, want)
			}
		}
	}
}

func TestCheckKeyCase(t *testing.T) {
	tests := []struct {
		name string
		v    any
		ok   bool
	}{
		{"distinct", map[string]any{"userName": "a", "userType": "member"}, true},
		{"top level", map[string]any{"userType": "member", "usertype": "admin"}, false},
		{"nested", map[string]any{"name": map[string]any{"givenName": "a", "GIVENNAME": "b"}}, false},
		{"in a list", map[string]any{"emails": []any{map[string]any{"value": "a", "Value": "b"}}}, false},
		{"unicode folding", map[string]any{"\u212aey": 1, "key": 2}, false},
		{"values may repeat", map[string]any{"a": "x", "b": "X"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKeyCase(tc.v)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckKeyCase = %v, want ok %v", err, tc.ok)
			}
			if err != nil && (AsError(err).ScimType != InvalidSyntax || AsError(err).Status != 400) {
				t.Fatalf("error %+v, want 400 invalidSyntax", AsError(err))
			}
		})
	}
}
