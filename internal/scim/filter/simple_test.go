package filter

import (
	"reflect"
	"testing"

	"github.com/scimd/scimd/internal/scim"
)

// TestSimpleMatchesParser: the shortcut for one comparison gives exactly what the parser's
// way gives, and declines what it cannot read.
func TestSimpleMatchesParser(t *testing.T) {
	tests := []struct {
		filter string
		simple bool
	}{
		{`userName eq "ann@example.com"`, true},
		{`UserName Eq "ANN@example.com"`, true},
		{`externalId eq jyoung`, true},
		{`meta.created gt 2015-10-10T14:38:21Z`, true},
		{`active eq false`, true},
		{`active eq "True"`, true},
		{`title pr`, true},
		{`title eq null`, true},
		{`name.givenName sw "A\u00e9"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"`, true},
		{`emails eq "a@b"`, true},
		{`displayName eq "Sales \"EMEA\""`, true},
		{`nope eq "x"`, true},
		{`userName eq`, false},
		{`userName xx "a"`, false},
		{`emails[type eq "work"]`, false},
		{`userName eq "a" and active eq true`, false},
		{`not (title pr)`, false},
		{`1abc eq "x"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			l, err := lex(tt.filter, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			x, ok := simple(l)
			if ok != tt.simple {
				t.Fatalf("simple = %v, want %v", ok, tt.simple)
			}
			if !ok {
				return
			}
			viaParser, perr := parseTokens(l)
			var want Expr
			if perr == nil {
				want, perr = check(viaParser, scim.Users, nil)
			}
			got, gerr := check(x, scim.Users, nil)
			if (gerr == nil) != (perr == nil) || gerr != nil && gerr.Error() != perr.Error() {
				t.Fatalf("errors differ: shortcut %v, parser %v", gerr, perr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("shortcut %s, parser %s", Format(got), Format(want))
			}
		})
	}
}

func BenchmarkParseUserNameEq(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(`userName eq "ann@example.com"`, scim.Users); err != nil {
			b.Fatal(err)
		}
	}
}
