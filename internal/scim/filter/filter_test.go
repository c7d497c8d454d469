package filter_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

const ent = scim.EnterpriseUserSchema

func mustPath(tb testing.TB, rt *scim.ResourceType, s string) scim.AttrPath {
	tb.Helper()
	p, err := rt.ResolveString(s)
	if err != nil {
		tb.Fatalf("ResolveString(%q): %v", s, err)
	}
	return p
}

func mustParse(tb testing.TB, s string, rt *scim.ResourceType) filter.Expr {
	tb.Helper()
	e, err := filter.Parse(s, rt)
	if err != nil {
		tb.Fatalf("Parse(%q): %v", s, err)
	}
	return e
}

// TestParse checks accepted filters by their canonical form, which spells out the tree:
// resolved names in schema case, converted values, and the parentheses precedence implies.
func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		rt     *scim.ResourceType
		want   string
	}{
		{"eq", `userName eq "bjensen"`, scim.Users, `userName eq "bjensen"`},
		{"ne", `title ne "Boss"`, scim.Users, `title ne "Boss"`},
		{"co", `userName co "jensen"`, scim.Users, `userName co "jensen"`},
		{"sw", `userName sw "J"`, scim.Users, `userName sw "J"`},
		{"ew", `userName ew "@example.com"`, scim.Users, `userName ew "@example.com"`},
		{"gt", `userName gt "a"`, scim.Users, `userName gt "a"`},
		{"ge", `userName ge "a"`, scim.Users, `userName ge "a"`},
		{"lt", `userName lt "a"`, scim.Users, `userName lt "a"`},
		{"le", `userName le "a"`, scim.Users, `userName le "a"`},
		{"pr", `title pr`, scim.Users, `title pr`},
		{"operators in upper case", `userName EQ "a" AND title Pr`, scim.Users, `userName eq "a" and title pr`},
		{"okta lookup", `userName eq "x@y.com"`, scim.Users, `userName eq "x@y.com"`},
		{"entra name case", `UserName eq "ann"`, scim.Users, `userName eq "ann"`},
		{"group display name case", `DisplayName eq "Sales"`, scim.Groups, `displayName eq "Sales"`},
		{"sub-attribute case", `EMAILS.VALUE eq "a@b.c"`, scim.Users, `emails.value eq "a@b.c"`},
		{"sub-attribute", `name.familyName co "O'Malley"`, scim.Users, `name.familyName co "O'Malley"`},
		{"core schema urn", `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`, scim.Users, `userName eq "a"`},
		{"enterprise urn", ent + `:department eq "x"`, scim.Users, ent + `:department eq "x"`},
		{"enterprise urn other case", strings.ToLower(ent) + `:Department eq "x"`, scim.Users, ent + `:department eq "x"`},
		{"enterprise sub-attribute", ent + `:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`, scim.Users,
			ent + `:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`},
		{"enterprise without urn", `costCenter eq "4130"`, scim.Users, ent + `:costCenter eq "4130"`},
		{"and", `title pr and userType eq "Employee"`, scim.Users, `title pr and userType eq "Employee"`},
		{"or", `title pr or userType eq "Intern"`, scim.Users, `title pr or userType eq "Intern"`},
		{"and binds tighter than or", `title pr or userType eq "a" and active eq true`, scim.Users,
			`title pr or userType eq "a" and active eq true`},
		{"grouping changes precedence", `(title pr or userType eq "a") and active eq true`, scim.Users,
			`(title pr or userType eq "a") and active eq true`},
		{"redundant parentheses dropped", `((title pr) and (userType eq "a"))`, scim.Users, `title pr and userType eq "a"`},
		{"right-nested and keeps parentheses", `title pr and (userType eq "a" and active eq true)`, scim.Users,
			`title pr and (userType eq "a" and active eq true)`},
		{"not", `not (userName eq "a")`, scim.Users, `not (userName eq "a")`},
		{"not without space", `not(userName eq "a") and title pr`, scim.Users, `not (userName eq "a") and title pr`},
		{"value path", `emails[type eq "work" and value co "@example.com"]`, scim.Users, `emails[type eq "work" and value co "@example.com"]`},
		{"value path or", `emails[type eq "work" or primary eq true]`, scim.Users, `emails[type eq "work" or primary eq true]`},
		{"value path not", `emails[not (type eq "work")]`, scim.Users, `emails[not (type eq "work")]`},
		{"value path case", `Emails[Type eq "work"]`, scim.Users, `emails[type eq "work"]`},
		{"value path and more", `emails[type eq "work"] and userName sw "a"`, scim.Users, `emails[type eq "work"] and userName sw "a"`},
		{"members value path", `members[value eq "2819c223-7f76-453a-919d-413861904646"]`, scim.Groups,
			`members[value eq "2819c223-7f76-453a-919d-413861904646"]`},
		{"members eq means members.value", `members eq "2819c223"`, scim.Groups, `members.value eq "2819c223"`},
		{"emails co means emails.value", `emails co "@example.com"`, scim.Users, `emails.value co "@example.com"`},
		{"groups eq", `groups eq "g1"`, scim.Users, `groups.value eq "g1"`},
		{"complex pr", `name pr`, scim.Users, `name pr`},
		{"members pr", `members pr`, scim.Groups, `members pr`},
		{"meta.created", `meta.created gt "2015-10-10T14:38:21Z"`, scim.Users, `meta.created gt "2015-10-10T14:38:21.000000000Z"`},
		{"meta.lastModified offset", `meta.lastModified ge "2015-10-10T16:38:21.5+02:00"`, scim.Users,
			`meta.lastModified ge "2015-10-10T14:38:21.500000000Z"`},
		{"boolean", `active eq false`, scim.Users, `active eq false`},
		{"boolean upper case", `active eq TRUE`, scim.Users, `active eq true`},
		{"boolean as string", `active eq "True"`, scim.Users, `active eq true`},
		{"boolean string lower", `emails[primary eq "false"]`, scim.Users, `emails[primary eq false]`},
		{"number for a string attribute", `externalId eq 12345`, scim.Users, `externalId eq "12345"`},
		{"eq null", `title eq null`, scim.Users, `not (title pr)`},
		{"ne null", `title ne null`, scim.Users, `title pr`},
		{"escapes", `displayName eq "a \"q\" \\ \u00e9\t"`, scim.Users, "displayName eq \"a \\\"q\\\" \\\\ é\\t\""},
		{"unicode", `displayName eq "Zoë 東京"`, scim.Users, `displayName eq "Zoë 東京"`},
		{"extra white space", "  userName   eq \t\"a\"   and\n title pr ", scim.Users, `userName eq "a" and title pr`},
		{"and glued to bracket", `emails[type eq "work"]and title pr`, scim.Users, `emails[type eq "work"] and title pr`},
		{"and glued to parenthesis", `(title pr)and(userName eq "a")`, scim.Users, `title pr and userName eq "a"`},

		// Bare values, as Entra ID's documentation and test collection send them.
		{"entra bare externalId", `externalId eq jyoung`, scim.Users, `externalId eq "jyoung"`},
		{"bare timestamp", `meta.created gt 2015-10-10T14:38:21Z`, scim.Users, `meta.created gt "2015-10-10T14:38:21.000000000Z"`},
		{"bare email", `userName eq ann@example.com`, scim.Users, `userName eq "ann@example.com"`},
		{"bare value in parentheses", `(externalId eq jyoung)`, scim.Users, `externalId eq "jyoung"`},
		{"bare value in value path", `emails[type eq work]`, scim.Users, `emails[type eq "work"]`},
		{"bare value then and", `externalId eq jyoung and active eq true`, scim.Users, `externalId eq "jyoung" and active eq true`},
		{"bare value with backslash", `externalId eq DOMAIN\jyoung`, scim.Users, `externalId eq "DOMAIN\\jyoung"`},
		{"bare value looking like an operator", `title eq eq`, scim.Users, `title eq "eq"`},
		{"bare number stays a number", `externalId eq 0012`, scim.Users, `externalId eq "0012"`},
		{"quoted text untouched", `displayName eq "jyoung and x eq y"`, scim.Users, `displayName eq "jyoung and x eq y"`},
		{"lower-case unicode escape", `displayName eq "caf\u00e9"`, scim.Users, `displayName eq "café"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, tt.filter, tt.rt)
			if got := filter.Format(e); got != tt.want {
				t.Errorf("Format(Parse(%q)) = %s, want %s", tt.filter, got, tt.want)
			}
			again := mustParse(t, filter.Format(e), tt.rt)
			if !reflect.DeepEqual(again, e) {
				t.Errorf("Parse(Format(x)) differs from x for %q", tt.filter)
			}
		})
	}
}

// TestParseTree checks the shape and the typed values of a few trees directly.
func TestParseTree(t *testing.T) {
	emails := mustPath(t, scim.Users, "emails")
	tests := []struct {
		name   string
		filter string
		rt     *scim.ResourceType
		want   filter.Expr
	}{
		{"string", `userName eq "Ann"`, scim.Users,
			&filter.Compare{Path: mustPath(t, scim.Users, "userName"), Op: "eq", Value: "Ann"}},
		{"boolean", `active eq "false"`, scim.Users,
			&filter.Compare{Path: mustPath(t, scim.Users, "active"), Op: "eq", Value: false}},
		{"dateTime", `meta.created lt 2015-10-10T14:38:21.123Z`, scim.Users,
			&filter.Compare{Path: mustPath(t, scim.Users, "meta.created"), Op: "lt", Value: "2015-10-10T14:38:21.123000000Z"}},
		{"complex eq on value", `members eq "u1"`, scim.Groups,
			&filter.Compare{Path: mustPath(t, scim.Groups, "members.value"), Op: "eq", Value: "u1"}},
		{"precedence", `title pr or userName eq "a" and active eq true`, scim.Users,
			&filter.Logical{Op: "or",
				Left: &filter.Compare{Path: mustPath(t, scim.Users, "title"), Op: "pr"},
				Right: &filter.Logical{Op: "and",
					Left:  &filter.Compare{Path: mustPath(t, scim.Users, "userName"), Op: "eq", Value: "a"},
					Right: &filter.Compare{Path: mustPath(t, scim.Users, "active"), Op: "eq", Value: true}}}},
		{"left associative", `title pr and nickName pr and locale pr`, scim.Users,
			&filter.Logical{Op: "and",
				Left: &filter.Logical{Op: "and",
					Left:  &filter.Compare{Path: mustPath(t, scim.Users, "title"), Op: "pr"},
					Right: &filter.Compare{Path: mustPath(t, scim.Users, "nickName"), Op: "pr"}},
				Right: &filter.Compare{Path: mustPath(t, scim.Users, "locale"), Op: "pr"}}},
		{"value path", `emails[type eq "work" and value co "@example.com"]`, scim.Users,
			&filter.ValuePath{Attr: emails, Filter: &filter.Logical{Op: "and",
				Left:  &filter.Compare{Path: mustPath(t, scim.Users, "emails.type"), Op: "eq", Value: "work"},
				Right: &filter.Compare{Path: mustPath(t, scim.Users, "emails.value"), Op: "co", Value: "@example.com"}}}},
		{"extension", ent + `:manager.value eq "m"`, scim.Users,
			&filter.Compare{Path: mustPath(t, scim.Users, ent+":manager.value"), Op: "eq", Value: "m"}},
		{"not", `not (title pr)`, scim.Users,
			&filter.Not{X: &filter.Compare{Path: mustPath(t, scim.Users, "title"), Op: "pr"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.filter, tt.rt)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) = %s, want %s", tt.filter, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		rt     *scim.ResourceType
		detail string // a fragment the detail must hold
	}{
		{"unknown attribute", `nope eq "x"`, scim.Users, `unknown attribute "nope"`},
		{"unknown sub-attribute", `name.nope eq "x"`, scim.Users, `unknown sub-attribute "nope" of "name"`},
		{"unknown schema", `urn:example:nope:department eq "x"`, scim.Users, `unknown schema "urn:example:nope"`},
		{"user attribute on groups", `userName eq "x"`, scim.Groups, `unknown attribute "userName"`},
		{"write-only attribute", `password eq "x"`, scim.Users, `"password" cannot be used in a filter`},
		{"unknown sub-attribute in value path", `emails[nope eq "x"]`, scim.Users, `unknown sub-attribute "nope" of "emails"`},
		{"empty", ``, scim.Users, "empty"},
		{"blank", `   `, scim.Users, "empty"},
		{"unknown operator", `userName xx "a"`, scim.Users, `comparison operator`},
		{"missing value", `userName eq`, scim.Users, `expected a value after "eq"`},
		{"missing operand", `userName eq "a" and`, scim.Users, "expected an attribute name"},
		{"trailing garbage", `userName eq "a" "b"`, scim.Users, `position 17`},
		{"unterminated string", `userName eq "a`, scim.Users, "not terminated"},
		{"unbalanced close", `userName eq "a")`, scim.Users, `unbalanced ")" at position 16`},
		{"unclosed parenthesis", `(userName eq "a"`, scim.Users, `"(" at position 1 is never closed`},
		{"bad escape", `userName eq "a\q"`, scim.Users, "invalid escape"},
		{"control character", "userName eq \"a\x01\"", scim.Users, "control character"},
		{"not without parentheses", `not userName eq "a"`, scim.Users, `expected "(" after "not"`},
		{"bare word value before paren", `displayName eq Sales(EU)`, scim.Users, "expected"},
		{"bare keyword value", `userName eq and`, scim.Users, `the value "and" at position 13 must be quoted`},
		{"bad attribute name", `user+name eq "a"`, scim.Users, `"user+name" at position 1 is not an attribute name`},
		{"invalid utf-8", "userName eq \"\xff\"", scim.Users, "UTF-8"},
		{"value path sub-attribute", `emails[type eq "work"].value eq "x"`, scim.Users, "cannot name a sub-attribute after a value filter"},
		{"nested value path", `emails[type[value eq "x"]]`, scim.Users, "cannot be nested"},
		{"three comparisons in brackets", `emails[type eq "a" and value eq "b" and primary eq true]`, scim.Users, "at most two comparisons"},
		{"value path on single-valued", `name[givenName eq "a"]`, scim.Users, `"name" is not a multi-valued complex attribute`},
		{"value path on simple", `userName[value eq "a"]`, scim.Users, `"userName" is not a multi-valued complex attribute`},
		{"value path on sub-attribute", `name.givenName[value eq "a"]`, scim.Users, "not to the sub-attribute"},
		{"sub-attribute path in value path", `emails[emails.type eq "a"]`, scim.Users, `must name a sub-attribute of "emails"`},
		{"complex eq", `name eq "x"`, scim.Users, `"name" is a complex attribute`},
		{"complex without value eq", `addresses eq "x"`, scim.Users, `"addresses" is a complex attribute`},
		{"single-valued complex with value", ent + `:manager eq "x"`, scim.Users, "is a complex attribute"},
		{"gt on boolean", `active gt true`, scim.Users, `"gt" cannot be used with the boolean attribute "active"`},
		{"co on boolean", `emails[primary co "t"]`, scim.Users, "boolean"},
		{"boolean type mismatch", `active eq "yes"`, scim.Users, `"active" is a boolean attribute`},
		{"boolean number", `active eq 1`, scim.Users, `"active" is a boolean attribute`},
		{"string compared with boolean", `userName eq true`, scim.Users, `"userName" is a string attribute`},
		{"dateTime mismatch", `meta.created gt "yesterday"`, scim.Users, "RFC 3339"},
		{"dateTime number", `meta.created gt 5`, scim.Users, "RFC 3339"},
		{"sw on dateTime", `meta.created sw "2015"`, scim.Users, `"sw" cannot be used with the dateTime attribute`},
		{"null with gt", `title gt null`, scim.Users, "null can be compared only with eq or ne"},
		{"too long", `userName eq "` + strings.Repeat("a", filter.MaxLength) + `"`, scim.Users, "the limit is 4096"},
		{"too deep", strings.Repeat("(", filter.MaxDepth+1) + `title pr` + strings.Repeat(")", filter.MaxDepth+1), scim.Users, "more than 32 deep"},
		{"too deep with not", strings.Repeat("not (", filter.MaxDepth+1) + `title pr` + strings.Repeat(")", filter.MaxDepth+1), scim.Users, "more than 32 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := filter.Parse(tt.filter, tt.rt)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want an error", tt.filter, e)
			}
			se := scim.AsError(err)
			if se == nil {
				t.Fatalf("Parse(%q) error %v (%T) is no *scim.Error", tt.filter, err, err)
			}
			if se.Status != http.StatusBadRequest || se.ScimType != scim.InvalidFilter {
				t.Errorf("Parse(%q) = %d %s, want 400 invalidFilter", tt.filter, se.Status, se.ScimType)
			}
			if !strings.Contains(se.Detail, tt.detail) {
				t.Errorf("Parse(%q) detail %q, want it to hold %q", tt.filter, se.Detail, tt.detail)
			}
		})
	}
}

func TestBoundsAccepted(t *testing.T) {
	deep := strings.Repeat("(", filter.MaxDepth) + `title pr` + strings.Repeat(")", filter.MaxDepth)
	mustParse(t, deep, scim.Users)
	long := `title pr` + strings.Repeat(` or title pr`, (filter.MaxLength-8)/12)
	if len(long) > filter.MaxLength {
		t.Fatalf("test filter is %d bytes", len(long))
	}
	mustParse(t, long, scim.Users)
}

func TestMatch(t *testing.T) {
	elem := func(s string) map[string]any {
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	work := elem(`{"value": "Ann@Example.com", "type": "work", "primary": true}`)
	home := elem(`{"value": "ann@home.example", "type": "home"}`)
	tests := []struct {
		name   string
		filter string
		rt     *scim.ResourceType
		elem   map[string]any
		want   bool
	}{
		{"eq", `emails[type eq "work"]`, scim.Users, work, true},
		{"eq other", `emails[type eq "work"]`, scim.Users, home, false},
		{"eq case-insensitive", `emails[value eq "ann@example.com"]`, scim.Users, work, true},
		{"type case-insensitive", `emails[type eq "WORK"]`, scim.Users, work, true},
		{"ne", `emails[type ne "work"]`, scim.Users, home, true},
		{"ne absent", `emails[display ne "x"]`, scim.Users, home, true},
		{"co", `emails[value co "@example"]`, scim.Users, work, true},
		{"sw", `emails[value sw "ANN@"]`, scim.Users, work, true},
		{"ew", `emails[value ew ".com"]`, scim.Users, home, false},
		{"gt", `emails[type gt "h"]`, scim.Users, work, true},
		{"lt", `emails[type lt "h"]`, scim.Users, work, false},
		{"ge le", `emails[type ge "home" and type le "home"]`, scim.Users, home, true},
		{"pr", `emails[primary pr]`, scim.Users, work, true},
		{"pr absent", `emails[primary pr]`, scim.Users, home, false},
		{"boolean", `emails[primary eq true]`, scim.Users, work, true},
		{"boolean absent", `emails[primary eq false]`, scim.Users, home, false},
		{"and", `emails[type eq "work" and value co "example.com"]`, scim.Users, work, true},
		{"or", `emails[type eq "x" or value co "home"]`, scim.Users, home, true},
		{"not", `emails[not (type eq "work")]`, scim.Users, work, false},
		{"member value", `members[value eq "U1"]`, scim.Groups, elem(`{"value": "u1"}`), true},
		{"no such member", `members[value eq "u2"]`, scim.Groups, elem(`{"value": "u1"}`), false},
		{"wrong stored type", `emails[value eq "1"]`, scim.Users, elem(`{"value": 1}`), false},
		{"boolean stored as string", `emails[primary eq true]`, scim.Users, elem(`{"primary": "True"}`), true},
		{"any key case", `emails[type eq "work"]`, scim.Users, elem(`{"Type": "work"}`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, tt.filter, tt.rt)
			if got := filter.Match(e, tt.elem); got != tt.want {
				t.Errorf("Match(%s, %v) = %v, want %v", e, tt.elem, got, tt.want)
			}
		})
	}
}

func TestLimitsParse(t *testing.T) {
	lim := filter.Limits{MaxLength: 20, MaxDepth: 2}
	for _, tc := range []struct {
		name, filter, wantErr string
	}{
		{"within both", `(title pr)`, ""},
		{"too long", `userName eq "abcdefghij"`, "the limit is 20"},
		{"too deep", `(((title pr)))`, "more than 2 deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lim.Parse(tc.filter, scim.Users)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Parse(%q) = %v, want %q", tc.filter, err, tc.wantErr)
			}
		})
	}
}
