package sqlfilter_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

const ent = scim.EnterpriseUserSchema

func mustParse(tb testing.TB, s string, rt *scim.ResourceType) filter.Expr {
	tb.Helper()
	e, err := filter.Parse(s, rt)
	if err != nil {
		tb.Fatalf("Parse(%q): %v", s, err)
	}
	return e
}

func tableFor(rt *scim.ResourceType, d sqlfilter.Dialect) (sqlfilter.Table, string) {
	if rt == scim.Groups {
		t := sqlfilter.GroupsTable("r")
		t.Dialect = d
		return t, "groups"
	}
	t := sqlfilter.UsersTable("r")
	t.Dialect = d
	return t, "users"
}

func TestArgs(t *testing.T) {
	a := sqlfilter.NewArgs(sqlfilter.Postgres, "tenant")
	if got := a.Add("x") + a.Add(1); got != "$2$3" {
		t.Errorf("Postgres placeholders %q, want $2$3", got)
	}
	if got := a.Values(); !reflect.DeepEqual(got, []any{"tenant", "x", 1}) {
		t.Errorf("Values() = %v", got)
	}
	s := sqlfilter.NewArgs(sqlfilter.SQLite)
	if got := s.Add("x") + s.Add("y"); got != "?1?2" {
		t.Errorf("SQLite placeholders %q, want ?1?2", got)
	}
}

// TestCompileSQL pins the SQL of representative filters in both dialects.
func TestCompileSQL(t *testing.T) {
	tests := []struct {
		name     string
		filter   string
		rt       *scim.ResourceType
		postgres string
		sqlite   string
		args     []any // the same in both dialects
	}{
		{"userName uses the folded key", `userName eq "Ann@Example.com"`, scim.Users,
			`r.user_name_key = $1`, `r.user_name_key = ?1`, []any{scim.FoldKey("Ann@Example.com")}},
		{"externalId is case-exact", `externalId eq "jyoung"`, scim.Users,
			`r.external_id = $1`, `r.external_id = ?1`, []any{"jyoung"}},
		{"co escapes wildcards", `displayName co "50%_off"`, scim.Users,
			`(lower(r.display_name) LIKE lower($1) ESCAPE '\')`, `(lower(r.display_name) LIKE lower(?1) ESCAPE '\')`, []any{`%50\%\_off%`}},
		{"JSON attribute", `name.givenName eq "Ann"`, scim.Users,
			`lower((r.data->'name'->>'givenName')) = lower($1)`, `lower(json_extract(r.data, '$.name.givenName')) = lower(?1)`, []any{"Ann"}},
		{"extension attribute", ent + `:department ne "Sales"`, scim.Users,
			`((r.data->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'department') IS NULL OR NOT (lower((r.data->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'department')) = lower($1)))`,
			`(json_extract(r.data, '$."urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".department') IS NULL OR NOT (lower(json_extract(r.data, '$."urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".department')) = lower(?1)))`,
			[]any{"Sales"}},
		{"value path is one EXISTS", `emails[type eq "work" and value co "@example.com"]`, scim.Users,
			`EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r.data->'emails') = 'array' THEN r.data->'emails' END) AS e(v) WHERE (lower((e.v->>'type')) = lower($1) AND (lower((e.v->>'value')) LIKE lower($2) ESCAPE '\')))`,
			`EXISTS (SELECT 1 FROM json_each(r.data, '$.emails') AS e WHERE CASE WHEN e.type = 'object' THEN (lower(json_extract(e.value, '$.type')) = lower(?1) AND (lower(json_extract(e.value, '$.value')) LIKE lower(?2) ESCAPE '\')) END)`,
			[]any{"work", "%@example.com%"}},
		{"members eq", `members eq "2819C223-7F76-453A-919D-413861904646"`, scim.Groups,
			`EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = r.tenant_id AND m.group_id = r.id AND (m.member_id = $1))`,
			`EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = r.tenant_id AND m.group_id = r.id AND (m.member_id = ?1))`,
			[]any{"2819c223-7f76-453a-919d-413861904646"}},
		{"groups.display joins groups", `groups.display eq "Sales"`, scim.Users,
			`EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id WHERE m.tenant_id = r.tenant_id AND m.member_id = r.id AND (lower(g.display_name) = lower($1)))`,
			`EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id WHERE m.tenant_id = r.tenant_id AND m.member_id = r.id AND (lower(g.display_name) = lower(?1)))`,
			[]any{"Sales"}},
		{"id that is no uuid", `id eq "nope"`, scim.Users, `FALSE`, `FALSE`, nil},
		{"not treats NULL as false", `not (title pr)`, scim.Users,
			`NOT COALESCE(((r.data->>'title') IS NOT NULL AND (r.data->>'title') <> ''), FALSE)`,
			`NOT COALESCE((json_extract(r.data, '$.title') IS NOT NULL AND json_extract(r.data, '$.title') <> ''), FALSE)`, nil},
		{"boolean column", `active eq false`, scim.Users, `r.active = $1`, `r.active = ?1`, nil},
		{"and chain is balanced", `title pr and nickName pr and locale pr and timezone pr`, scim.Users,
			`((((r.data->>'title') IS NOT NULL AND (r.data->>'title') <> '') AND ((r.data->>'nickName') IS NOT NULL AND (r.data->>'nickName') <> '')) AND (((r.data->>'locale') IS NOT NULL AND (r.data->>'locale') <> '') AND ((r.data->>'timezone') IS NOT NULL AND (r.data->>'timezone') <> '')))`,
			`(((json_extract(r.data, '$.title') IS NOT NULL AND json_extract(r.data, '$.title') <> '') AND (json_extract(r.data, '$.nickName') IS NOT NULL AND json_extract(r.data, '$.nickName') <> '')) AND ((json_extract(r.data, '$.locale') IS NOT NULL AND json_extract(r.data, '$.locale') <> '') AND (json_extract(r.data, '$.timezone') IS NOT NULL AND json_extract(r.data, '$.timezone') <> '')))`,
			nil},
		{"case-exact sw in SQLite", `externalId sw "j"`, scim.Users,
			`(r.external_id LIKE $1 ESCAPE '\')`, `(substr(r.external_id, 1, length(?1)) = ?2)`, nil},
	}
	for _, tt := range tests {
		for _, d := range []sqlfilter.Dialect{sqlfilter.Postgres, sqlfilter.SQLite} {
			t.Run(tt.name+"/"+d.String(), func(t *testing.T) {
				tbl, _ := tableFor(tt.rt, d)
				a := sqlfilter.NewArgs(d)
				got, err := sqlfilter.Compile(mustParse(t, tt.filter, tt.rt), tbl, a)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.postgres
				if d == sqlfilter.SQLite {
					want = tt.sqlite
				}
				if got != want {
					t.Errorf("Compile(%q)\n got %s\nwant %s", tt.filter, got, want)
				}
				if tt.args != nil && !reflect.DeepEqual(a.Values(), tt.args) {
					t.Errorf("args %#v, want %#v", a.Values(), tt.args)
				}
			})
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		filter string
		rt     *scim.ResourceType
	}{
		{`members.display eq "Ann"`, scim.Groups},
		{`members[display eq "Ann"]`, scim.Groups},
		{`members.$ref pr`, scim.Groups},
		{`groups.type eq "direct"`, scim.Users},
		{`groups[value eq "x" and type eq "direct"]`, scim.Users},
		{`meta.location co "Users"`, scim.Users},
		{`meta.version eq "W/\"1\""`, scim.Groups},
	}
	for _, tt := range tests {
		for _, d := range []sqlfilter.Dialect{sqlfilter.Postgres, sqlfilter.SQLite} {
			tbl, _ := tableFor(tt.rt, d)
			_, err := sqlfilter.Compile(mustParse(t, tt.filter, tt.rt), tbl, sqlfilter.NewArgs(d))
			se := scim.AsError(err)
			if se == nil || se.Status != http.StatusBadRequest || se.ScimType != scim.InvalidFilter || !strings.Contains(se.Detail, "not filterable") {
				t.Errorf("%v: Compile(%q) error %v, want 400 invalidFilter \"not filterable\"", d, tt.filter, err)
			}
		}
	}
}

// execCase is a filter and the ids it must select in tenant t1, in creation order.
type execCase struct {
	filter string
	rt     *scim.ResourceType
	want   []string
}

var execCases = []execCase{
	// userName: case-insensitive, every operator.
	{`userName eq "ann@example.com"`, scim.Users, []string{u1}},
	{`UserName eq "ANN@EXAMPLE.COM"`, scim.Users, []string{u1}},
	{`userName eq ann@example.com`, scim.Users, []string{u1}},
	{`userName ne "BOB"`, scim.Users, []string{u1, u3, u4}},
	{`userName co "EXAMPLE"`, scim.Users, []string{u1, u3}},
	{`userName sw "B"`, scim.Users, []string{u2}},
	{`userName ew ".COM"`, scim.Users, []string{u1, u3}},
	{`userName gt "BOB"`, scim.Users, []string{u3, u4}},
	{`userName ge "bob"`, scim.Users, []string{u2, u3, u4}},
	{`userName lt "bob"`, scim.Users, []string{u1}},
	{`userName le "Bob"`, scim.Users, []string{u1, u2}},
	{`userName pr`, scim.Users, []string{u1, u2, u3, u4}},
	// externalId: case-exact.
	{`externalId eq "jyoung"`, scim.Users, []string{u1}},
	{`externalId eq jyoung`, scim.Users, []string{u1}},
	{`externalId eq "JYoung"`, scim.Users, []string{u2}},
	{`externalId co "Young"`, scim.Users, []string{u2}},
	{`externalId sw "j"`, scim.Users, []string{u1}},
	{`externalId ew "oung"`, scim.Users, []string{u1, u2}},
	{`externalId gt "a"`, scim.Users, []string{u1}},
	{`externalId pr`, scim.Users, []string{u1, u2}},
	{`not (externalId pr)`, scim.Users, []string{u3, u4}},
	{`externalId ne "jyoung"`, scim.Users, []string{u2, u3, u4}},
	// LIKE wildcards are literal.
	{`displayName co "_smith%"`, scim.Users, []string{u2}},
	{`displayName co "%"`, scim.Users, []string{u2}},
	{`displayName co "_"`, scim.Users, []string{u2}},
	{`displayName sw "b_"`, scim.Users, nil},
	{`displayName eq "dave o'neil"`, scim.Users, []string{u4}},
	{`displayName ew "'NEIL"`, scim.Users, []string{u4}},
	// Attributes in JSON.
	{`title eq "engineer"`, scim.Users, []string{u1}},
	{`title pr`, scim.Users, []string{u1}},
	{`title ne "Engineer"`, scim.Users, []string{u2, u3, u4}},
	{`title lt "F"`, scim.Users, []string{u1}},
	{`name.givenName eq "ann"`, scim.Users, []string{u1}},
	{`name.familyName sw "a"`, scim.Users, []string{u3}},
	{`name pr`, scim.Users, []string{u1, u2, u3}},
	{`nickName pr`, scim.Users, nil},
	// Multi-valued attributes in JSON.
	{`emails[type eq "work" and value co "@example.com"]`, scim.Users, []string{u1}},
	{`emails[type eq "work"]`, scim.Users, []string{u1, u2}},
	{`emails[type eq "home" or type eq "other"]`, scim.Users, []string{u1, u4}},
	{`emails co "example.org"`, scim.Users, []string{u2}},
	{`emails eq "ANN@HOME.EXAMPLE"`, scim.Users, []string{u1}},
	{`emails.value ew "@example.com"`, scim.Users, []string{u1, u4}},
	{`emails.value ne "ann@example.com"`, scim.Users, []string{u2, u3, u4}},
	{`emails pr`, scim.Users, []string{u1, u2, u4}},
	{`emails[primary eq true]`, scim.Users, []string{u1, u4}},
	{`emails.primary eq false`, scim.Users, []string{u4}},
	{`emails[not (primary eq true)]`, scim.Users, []string{u1, u2, u4}},
	{`emails[primary pr]`, scim.Users, []string{u1, u4}},
	{`emails[type eq "work"] and emails[type eq "home"]`, scim.Users, []string{u1}},
	{`addresses[locality eq "berlin"]`, scim.Users, []string{u3}},
	{`addresses.primary eq true`, scim.Users, []string{u3}},
	{`phoneNumbers[type eq "mobile" and value sw "+49"]`, scim.Users, []string{u2}},
	{`x509Certificates pr`, scim.Users, nil},
	// The enterprise extension.
	{ent + `:department eq "sales"`, scim.Users, []string{u1}},
	{`department eq "Engineering"`, scim.Users, []string{u2}},
	{strings.ToLower(ent) + `:Department co "ENG"`, scim.Users, []string{u2}},
	{ent + `:manager.value eq "` + u3 + `"`, scim.Users, []string{u1}},
	{ent + `:manager pr`, scim.Users, []string{u1}},
	{ent + `:manager.$ref pr`, scim.Users, nil},
	{ent + `:manager.displayName ne "x"`, scim.Users, []string{u1, u2, u3, u4}},
	{ent + `:employeeNumber pr`, scim.Users, []string{u1}},
	{ent + `:department ne "Sales"`, scim.Users, []string{u2, u3, u4}},
	// meta.
	{`meta.created gt 2015-10-10T14:38:21Z`, scim.Users, []string{u2, u3, u4}},
	{`meta.created ge "2015-10-10T14:00:00Z"`, scim.Users, []string{u1, u2, u3, u4}},
	{`meta.created eq "2016-01-01T00:00:00Z"`, scim.Users, []string{u2}},
	{`meta.created eq "2017-06-15T10:30:00.5+02:00"`, scim.Users, []string{u3}},
	{`meta.created ne "2016-01-01T00:00:00Z"`, scim.Users, []string{u1, u3, u4}},
	{`meta.created lt "2016-01-01T00:00:00+01:00"`, scim.Users, []string{u1}},
	{`meta.lastModified le "2017-06-15T08:30:00.5Z"`, scim.Users, []string{u1, u2, u3}},
	{`meta.created pr`, scim.Users, []string{u1, u2, u3, u4}},
	{`meta pr`, scim.Users, []string{u1, u2, u3, u4}},
	{`meta.resourceType eq "User"`, scim.Users, []string{u1, u2, u3, u4}},
	{`meta.resourceType eq "Group"`, scim.Users, nil},
	// Booleans.
	{`active eq false`, scim.Users, []string{u2}},
	{`active eq "True"`, scim.Users, []string{u1, u3, u4}},
	{`active ne true`, scim.Users, []string{u2}},
	{`active pr`, scim.Users, []string{u1, u2, u3, u4}},
	// userType.
	{`userType eq "ADMIN"`, scim.Users, []string{u1}},
	{`userType pr`, scim.Users, []string{u1, u2, u4}},
	{`userType ne "admin"`, scim.Users, []string{u2, u3, u4}},
	// id.
	{`id eq "` + u2 + `"`, scim.Users, []string{u2}},
	{`id eq "` + strings.ToUpper(u2) + `"`, scim.Users, []string{u2}},
	{`id eq "not-a-uuid"`, scim.Users, nil},
	{`id ne "not-a-uuid"`, scim.Users, []string{u1, u2, u3, u4}},
	{`id ne "` + u2 + `"`, scim.Users, []string{u1, u3, u4}},
	{`id sw "2222"`, scim.Users, []string{u2}},
	{`id gt "3"`, scim.Users, []string{u3, u4}},
	{`id pr`, scim.Users, []string{u1, u2, u3, u4}},
	// Users' groups, from group_members.
	{`groups.value eq "` + g1 + `"`, scim.Users, []string{u1, u2}},
	{`groups eq "` + g2 + `"`, scim.Users, []string{u2}},
	{`groups[value eq "` + g1 + `"]`, scim.Users, []string{u1, u2}},
	{`groups[display eq "sales"]`, scim.Users, []string{u1, u2}},
	{`groups.display co "ENG"`, scim.Users, []string{u2}},
	{`groups pr`, scim.Users, []string{u1, u2}},
	{`not (groups pr)`, scim.Users, []string{u3, u4}},
	{`groups.value eq "garbage"`, scim.Users, nil},
	{`groups.value ne "` + g1 + `"`, scim.Users, []string{u3, u4}},
	{`groups.value sw "AAAA"`, scim.Users, []string{u1, u2}},
	// Logic.
	{`userName eq "bob" or title pr`, scim.Users, []string{u1, u2}},
	{`active eq true and emails pr`, scim.Users, []string{u1, u4}},
	{`not (active eq true and emails pr)`, scim.Users, []string{u2, u3}},
	{`not (title eq "Engineer")`, scim.Users, []string{u2, u3, u4}},
	{`userType eq "admin" or userType eq "guest" and active eq true`, scim.Users, []string{u1, u4}},
	{`(userType eq "admin" or userType eq "member") and active eq true`, scim.Users, []string{u1}},
	{`not (not (userName sw "a"))`, scim.Users, []string{u1}},
	{`title eq null`, scim.Users, []string{u2, u3, u4}},

	// Groups.
	{`displayName eq "sales"`, scim.Groups, []string{g1}},
	{`DisplayName eq "Sales"`, scim.Groups, []string{g1}},
	{`displayName sw "e"`, scim.Groups, []string{g2, g3}},
	{`externalId eq "sales-1"`, scim.Groups, []string{g1}},
	{`externalId eq "SALES-1"`, scim.Groups, nil},
	{`members eq "` + u1 + `"`, scim.Groups, []string{g1}},
	{`members[value eq "` + u2 + `"]`, scim.Groups, []string{g1, g2}},
	{`members[value eq "` + u2 + `" and type eq "user"]`, scim.Groups, []string{g1, g2}},
	{`members.type eq "Group"`, scim.Groups, []string{g2}},
	{`members.value eq "` + g1 + `"`, scim.Groups, []string{g2}},
	{`members pr`, scim.Groups, []string{g1, g2}},
	{`members ne "` + u1 + `"`, scim.Groups, []string{g2, g3}},
	{`members.value eq "bad"`, scim.Groups, nil},
	{`members.value ne "bad"`, scim.Groups, []string{g1, g2, g3}},
	{`members co "1111"`, scim.Groups, []string{g1}},
	{`not (members pr) or displayName eq "Sales"`, scim.Groups, []string{g1, g3}},
	{`meta.created gt "2015-06-01T00:00:00Z"`, scim.Groups, []string{g2, g3}},
	{`id eq "` + g3 + `"`, scim.Groups, []string{g3}},
}

// runExec runs every execCase against db, for tenant t1.
func runExec(t *testing.T, db *testDB) {
	for _, tt := range execCases {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := selectIDs(t, db, tt.filter, tt.rt, t1)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: %q selects %v, want %v", db.dialect, tt.filter, got, tt.want)
			}
		})
	}
	t.Run("odd data", func(t *testing.T) {
		// Whatever shape the JSON has, every filter runs.
		for _, tt := range execCases {
			if tt.rt != scim.Users {
				continue
			}
			if _, err := selectIDs(t, db, tt.filter, tt.rt, t3); err != nil {
				t.Errorf("%s: %q on odd data: %v", db.dialect, tt.filter, err)
			}
		}
	})
	t.Run("tenant isolation", func(t *testing.T) {
		// Tenant t2 holds the same rows under the same ids, with other memberships.
		for _, tt := range []execCase{
			{`groups.value eq "` + g1 + `"`, scim.Users, []string{u3, u4}},
			{`members eq "` + u9 + `"`, scim.Groups, []string{g2}},
			{`externalId eq "jyoung"`, scim.Users, []string{u9, u1}},
			{`members[value eq "` + u1 + `"]`, scim.Groups, []string{g3}},
		} {
			got, err := selectIDs(t, db, tt.filter, tt.rt, t2)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: tenant t2: %q selects %v, want %v", db.dialect, tt.filter, got, tt.want)
			}
		}
	})
}

func selectIDs(t testing.TB, db *testDB, f string, rt *scim.ResourceType, tenant string) ([]string, error) {
	t.Helper()
	tbl, name := tableFor(rt, db.dialect)
	a := sqlfilter.NewArgs(db.dialect)
	where := "r.tenant_id = " + a.Add(tenant)
	cond, err := sqlfilter.Compile(mustParse(t, f, rt), tbl, a)
	if err != nil {
		return nil, err
	}
	query := "SELECT r.id FROM " + name + " r WHERE " + where + " AND (" + cond + ") ORDER BY r.created_at, r.id"
	ids, err := db.ids(t, query, a.Values()...)
	if err != nil {
		return nil, &queryError{query: query, err: err}
	}
	return ids, nil
}

type queryError struct {
	query string
	err   error
}

func (e *queryError) Error() string { return e.err.Error() + "\n" + e.query }

func TestExecSQLite(t *testing.T) {
	runExec(t, openSQLite(t, t.TempDir()))
}

func TestExecPostgres(t *testing.T) {
	db := openPostgres(t)
	runExec(t, db)
	t.Run("order", func(t *testing.T) { runOrder(t, db) })
}

func TestOrderSQLite(t *testing.T) {
	runOrder(t, openSQLite(t, t.TempDir()))
}

type orderCase struct {
	sortBy string
	rt     *scim.ResourceType
	desc   bool
	want   []string
}

var orderCases = []orderCase{
	{"userName", scim.Users, false, []string{u1, u2, u3, u4}},
	{"userName", scim.Users, true, []string{u4, u3, u2, u1}},
	{"meta.created", scim.Users, true, []string{u4, u3, u2, u1}},
	{"meta.lastModified", scim.Users, false, []string{u1, u2, u3, u4}},
	{"id", scim.Users, true, []string{u4, u3, u2, u1}},
	{"externalId", scim.Users, false, []string{u2, u1, u3, u4}},
	{"displayName", scim.Users, false, []string{u1, u2, u4, u3}},
	{"displayName", scim.Users, true, []string{u4, u2, u1, u3}},
	{"active", scim.Users, false, []string{u2, u1, u3, u4}},
	{"title", scim.Users, true, []string{u1, u2, u3, u4}},
	{"name.familyName", scim.Users, false, []string{u3, u2, u1, u4}},
	{"emails", scim.Users, false, []string{u4, u1, u2, u3}},
	{"emails.value", scim.Users, true, []string{u2, u1, u4, u3}},
	{"emails.type", scim.Users, false, []string{u4, u1, u2, u3}},
	{ent + ":department", scim.Users, false, []string{u2, u1, u3, u4}},
	{"displayName", scim.Groups, false, []string{g3, g2, g1}},
	{"meta.created", scim.Groups, true, []string{g3, g2, g1}},
}

func runOrder(t *testing.T, db *testDB) {
	for _, tt := range orderCases {
		tbl, name := tableFor(tt.rt, db.dialect)
		p, err := tt.rt.ResolveString(tt.sortBy)
		if err != nil {
			t.Fatal(err)
		}
		order, err := sqlfilter.OrderBy(p, tbl, tt.desc)
		if err != nil {
			t.Errorf("OrderBy(%s): %v", tt.sortBy, err)
			continue
		}
		query := "SELECT r.id FROM " + name + " r WHERE r.tenant_id = " + sqlfilter.NewArgs(db.dialect).Add(t1) + " ORDER BY " + order + ", r.created_at, r.id"
		got, err := db.ids(t, query, t1)
		if err != nil {
			t.Errorf("%s: %v", query, err)
			continue
		}
		if _, err := db.ids(t, query, t3); err != nil {
			t.Errorf("on odd data: %s: %v", query, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: sortBy=%s desc=%v gives %v, want %v\n%s", db.dialect, tt.sortBy, tt.desc, got, tt.want, order)
		}
	}
}

func TestOrderByErrors(t *testing.T) {
	for _, tt := range []struct {
		sortBy string
		rt     *scim.ResourceType
	}{
		{"name", scim.Users},
		{"addresses", scim.Users},
		{ent + ":manager", scim.Users},
		{"groups", scim.Users},
		{"groups.value", scim.Users},
		{"members", scim.Groups},
		{"members.value", scim.Groups},
		{"meta.location", scim.Users},
		{"meta", scim.Groups},
	} {
		tbl, _ := tableFor(tt.rt, sqlfilter.SQLite)
		_, err := sqlfilter.OrderBy(mustResolve(t, tt.rt, tt.sortBy), tbl, false)
		se := scim.AsError(err)
		if se == nil || se.Status != http.StatusBadRequest || se.ScimType != scim.InvalidValue {
			t.Errorf("OrderBy(%s) error %v, want 400 invalidValue", tt.sortBy, err)
		}
	}
	// Without a dialect, a column still sorts; JSON cannot.
	tbl := sqlfilter.UsersTable("r")
	if got, err := sqlfilter.OrderBy(mustResolve(t, scim.Users, "userName"), tbl, false); err != nil || got != "lower(r.user_name) ASC NULLS LAST" {
		t.Errorf("OrderBy(userName) without dialect = %q, %v", got, err)
	}
	if _, err := sqlfilter.OrderBy(mustResolve(t, scim.Users, "title"), tbl, false); err == nil || scim.AsError(err) != nil {
		t.Errorf("OrderBy(title) without dialect: error %v, want a plain error", err)
	}
}

func mustResolve(tb testing.TB, rt *scim.ResourceType, s string) scim.AttrPath {
	tb.Helper()
	p, err := rt.ResolveString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestCompileLimits runs the largest filters Parse accepts: long chains and deep nesting
// stay within SQLite's expression depth.
func TestCompileLimits(t *testing.T) {
	db := openSQLite(t, t.TempDir())
	chain := func(term, op string, limit int) string {
		s := term
		for len(s)+len(op)+len(term) <= limit {
			s += op + term
		}
		return s
	}
	deep := func(inner string) string {
		return strings.Repeat("not (", filter.MaxDepth) + inner + strings.Repeat(")", filter.MaxDepth)
	}
	for _, f := range []string{
		chain(`title pr`, ` or `, filter.MaxLength),
		chain(`emails[type eq "work"]`, ` and `, filter.MaxLength),
		chain(`groups pr`, ` or `, filter.MaxLength),
		chain(`id eq "x"`, ` or `, filter.MaxLength),
		chain(`externalId ew "x"`, ` or `, filter.MaxLength),
		deep(`userName eq "ann@example.com"`),
		deep(chain(`title pr`, ` and `, filter.MaxLength-6*filter.MaxDepth)),
	} {
		if _, err := selectIDs(t, db, f, scim.Users, t1); err != nil {
			t.Errorf("%.60s… (%d bytes): %v", f, len(f), err)
		}
	}
}
