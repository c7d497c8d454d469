package scim

import (
	"fmt"
	"testing"
)

func TestPersonNameAndValues(t *testing.T) {
	for _, tc := range []struct {
		name       string
		attrs      map[string]any
		wantName   string
		wantEmails string
	}{
		{"formatted wins", map[string]any{"name": map[string]any{"formatted": "Dr Ann Lee", "givenName": "Ann"}, "displayName": "A"}, "Dr Ann Lee", "[]"},
		{"given and family", map[string]any{"name": map[string]any{"givenName": "Ann", "familyName": "Lee"}}, "Ann Lee", "[]"},
		{"displayName last", map[string]any{"name": map[string]any{}, "displayName": "Annie"}, "Annie", "[]"},
		{"nothing", map[string]any{"userName": "ann"}, "", "[]"},
		{"emails, empty values skipped", map[string]any{"emails": []any{map[string]any{"value": "a@x"}, map[string]any{"type": "work"}, "junk",
			map[string]any{"value": "b@x"}}}, "", "[a@x b@x]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PersonName(tc.attrs); got != tc.wantName {
				t.Errorf("PersonName = %q, want %q", got, tc.wantName)
			}
			if got := fmt.Sprint(Values(tc.attrs, "emails")); got != tc.wantEmails {
				t.Errorf("Values = %s, want %s", got, tc.wantEmails)
			}
		})
	}
}
