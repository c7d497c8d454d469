package sqlfilter_test

import (
	"os"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// FuzzCompile checks that every filter that parses compiles to SQL that SQLite runs without
// error, on normal and on oddly shaped data, for both resource types; and that compiling
// refuses only with 400 invalidFilter. It never panics. With SCIMD_TEST_DATABASE_URL set,
// PostgreSQL runs every query too.
func FuzzCompile(f *testing.F) {
	for _, tt := range execCases {
		f.Add(tt.filter)
	}
	f.Add(`emails[type eq "work"] or not (groups[display sw "x" or value eq "y"]) and meta.lastModified lt "2020-01-01T00:00:00Z"`)
	dbs := []*testDB{openSQLite(f, f.TempDir())}
	if os.Getenv("SCIMD_TEST_DATABASE_URL") != "" {
		dbs = append(dbs, openPostgres(f))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rt := range []*scim.ResourceType{scim.Users, scim.Groups} {
			e, err := filter.Parse(s, rt)
			if err != nil {
				continue
			}
			for _, db := range dbs {
				for _, tenant := range []string{t1, t3} {
					check(t, db, e, rt, tenant)
				}
			}
		}
	})
}

// check compiles e for tenant and runs it on db.
func check(t *testing.T, db *testDB, e filter.Expr, rt *scim.ResourceType, tenant string) {
	tbl, name := tableFor(rt, db.dialect)
	a := sqlfilter.NewArgs(db.dialect)
	where := "r.tenant_id = " + a.Add(tenant)
	cond, err := sqlfilter.Compile(e, tbl, a)
	if err != nil {
		if se := scim.AsError(err); se == nil || se.Status != 400 || se.ScimType != scim.InvalidFilter {
			t.Fatalf("Compile(%s): %v, want nil or a 400 invalidFilter", e, err)
		}
		return
	}
	query := "SELECT r.id FROM " + name + " r WHERE " + where + " AND (" + cond + ") ORDER BY r.created_at, r.id"
	if _, err := db.ids(t, query, a.Values()...); err != nil {
		t.Fatalf("%v: filter %s: %v\n%s", db.dialect, e, err, query)
	}
}
