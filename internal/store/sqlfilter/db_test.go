package sqlfilter_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// Ids of the fixture. Tenant t2 holds the same users and groups under the same ids, plus
// u9, with other memberships: nothing of it may ever match a query of tenant t1.
const (
	u1 = "11111111-1111-4111-8111-111111111111"
	u2 = "22222222-2222-4222-8222-222222222222"
	u3 = "33333333-3333-4333-8333-333333333333"
	u4 = "44444444-4444-4444-8444-444444444444"
	u9 = "99999999-9999-4999-8999-999999999999"
	g1 = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	g2 = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	g3 = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"

	u5 = "55555555-5555-4555-8555-555555555555"

	t1 = "t1"
	t2 = "t2"
	t3 = "t3" // holds only u5, whose data has every shape scim.Normalize would refuse
)

type row struct {
	id      string
	created string
	attrs   map[string]any
}

// users are in the order of their creation, as scim.Resource.Attrs would hold them.
var users = []row{
	{u1, "2015-10-10T14:00:00Z", map[string]any{
		"userName":    "Ann@Example.com",
		"externalId":  "jyoung",
		"active":      true,
		"userType":    "admin",
		"displayName": "Ann Young",
		"title":       "Engineer",
		"name":        map[string]any{"givenName": "Ann", "familyName": "Young"},
		"emails": []any{
			map[string]any{"value": "ann@example.com", "type": "work", "primary": true},
			map[string]any{"value": "ann@home.example", "type": "home"},
		},
		scim.EnterpriseUserSchema: map[string]any{
			"department":     "Sales",
			"employeeNumber": "7",
			"manager":        map[string]any{"value": u3},
		},
	}},
	{u2, "2016-01-01T00:00:00Z", map[string]any{
		"userName":     "bob",
		"externalId":   "JYoung",
		"active":       false,
		"userType":     "member",
		"displayName":  "Bob_Smith%",
		"name":         map[string]any{"givenName": "Bob", "familyName": "Smith"},
		"emails":       []any{map[string]any{"value": "bob@example.org", "type": "work"}},
		"phoneNumbers": []any{map[string]any{"value": "+49 30 1234", "type": "mobile"}},
		scim.EnterpriseUserSchema: map[string]any{
			"department": "Engineering",
		},
	}},
	{u3, "2017-06-15T08:30:00.5Z", map[string]any{
		"userName":  "carol@example.com",
		"active":    true,
		"name":      map[string]any{"familyName": "Adams"},
		"addresses": []any{map[string]any{"type": "work", "locality": "Berlin", "primary": true}},
	}},
	{u4, "2018-02-02T02:02:02Z", map[string]any{
		"userName":    "dave",
		"active":      true,
		"userType":    "guest",
		"displayName": "Dave O'Neil",
		"emails": []any{
			map[string]any{"value": "zed@example.com", "type": "other", "primary": false},
			map[string]any{"value": "aaa@example.com", "type": "home", "primary": true},
		},
	}},
}

// u9 exists only in tenant t2 and matches most filters.
var other = row{u9, "2015-01-01T00:00:00Z", map[string]any{
	"userName": "ann@example.com.other", "externalId": "jyoung", "active": false, "userType": "admin",
	"displayName": "Bob_Smith%", "title": "Engineer",
	"emails":                  []any{map[string]any{"value": "ann@example.com", "type": "work", "primary": true}},
	scim.EnterpriseUserSchema: map[string]any{"department": "Sales"},
}}

// odd is stored with JSON of the wrong shapes: filters on it must still run.
var odd = row{u5, "2015-01-01T00:00:00Z", map[string]any{
	"userName":                "odd",
	"emails":                  "not-a-list",
	"phoneNumbers":            []any{"a string", 5, nil, []any{1}, map[string]any{"value": 1, "primary": "true"}},
	"addresses":               map[string]any{"type": "work"},
	"name":                    "a string",
	"title":                   5,
	"nickName":                map[string]any{"x": 1},
	"active":                  "yes",
	"x509Certificates":        []any{map[string]any{"value": true}},
	scim.EnterpriseUserSchema: "a string",
}}

var groups = []row{
	{g1, "2015-01-01T00:00:00Z", map[string]any{"displayName": "Sales", "externalId": "sales-1"}},
	{g2, "2016-01-01T00:00:00Z", map[string]any{"displayName": "Engineering"}},
	{g3, "2017-01-01T00:00:00Z", map[string]any{"displayName": "Empty"}},
}

type membership struct{ tenant, group, member, typ string }

var memberships = []membership{
	{t1, g1, u1, "User"},
	{t1, g1, u2, "User"},
	{t1, g2, u2, "User"},
	{t1, g2, g1, "Group"},
	{t2, g1, u3, "User"},
	{t2, g1, u4, "User"},
	{t2, g2, u9, "User"},
	{t2, g3, u1, "User"},
}

// testDB is a database with the fixture, in one dialect.
type testDB struct {
	dialect sqlfilter.Dialect
	query   func(ctx context.Context, query string, args ...any) ([]string, error)
}

// ids runs query and returns the ids it selects.
func (db *testDB) ids(tb testing.TB, query string, args ...any) ([]string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return db.query(ctx, query, args...)
}

// readMigration returns every migration of dialect, in order, as one script.
func readMigration(tb testing.TB, dialect string) string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "migrations", dialect, "*.sql"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("migrations of %s: %v", dialect, err)
	}
	sort.Strings(files)
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		all.Write(b)
		all.WriteString("\n")
	}
	return all.String()
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func str(m map[string]any, k string) any {
	if s, ok := m[k].(string); ok {
		return s
	}
	return nil
}

// fixture returns the statements and arguments that insert the fixture, with
// timestamps written by ts and booleans by boolean.
func fixture(tb testing.TB, ts func(time.Time) any, boolean func(bool) any) (stmts []string, args [][]any) {
	tb.Helper()
	add := func(s string, a ...any) {
		stmts = append(stmts, s)
		args = append(args, a)
	}
	for _, tenant := range []string{t1, t2, t3} {
		add(`INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, $2, $3, $4)`, tenant, tenant, tenant, ts(mustTime(tb, "2015-01-01T00:00:00Z")))
		list := users
		switch tenant {
		case t2:
			list = append(append([]row(nil), users...), other)
		case t3:
			list = []row{odd}
		}
		for _, u := range list {
			active, _ := u.attrs["active"].(bool)
			created := ts(mustTime(tb, u.created))
			add(`INSERT INTO users (tenant_id, id, user_name, external_id, active, user_type, display_name, created_at, last_modified, version, data, user_name_key)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11)`,
				tenant, u.id, u.attrs["userName"], str(u.attrs, "externalId"), boolean(active), str(u.attrs, "userType"),
				str(u.attrs, "displayName"), created, created, mustJSON(tb, u.attrs), scim.FoldKey(scim.String(u.attrs, "userName")))
		}
		if tenant == t3 {
			continue
		}
		for _, g := range groups {
			created := ts(mustTime(tb, g.created))
			add(`INSERT INTO groups (tenant_id, id, display_name, external_id, created_at, last_modified, version, data, display_name_key)
				VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)`,
				tenant, g.id, g.attrs["displayName"], str(g.attrs, "externalId"), created, created, mustJSON(tb, g.attrs), scim.FoldKey(scim.String(g.attrs, "displayName")))
		}
	}
	for _, m := range memberships {
		add(`INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES ($1, $2, $3, $4)`, m.tenant, m.group, m.member, m.typ)
	}
	return stmts, args
}

// openSQLite creates a SQLite database with the fixture in dir.
func openSQLite(tb testing.TB, dir string) *testDB {
	tb.Helper()
	sdb, err := sql.Open("sqlite", filepath.Join(dir, "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sdb.Close() })
	if _, err := sdb.Exec(readMigration(tb, "sqlite")); err != nil {
		tb.Fatal(err)
	}
	stmts, args := fixture(tb,
		func(t time.Time) any { return scim.FormatTime(t) },
		func(b bool) any {
			if b {
				return int64(1)
			}
			return int64(0)
		})
	for i, s := range stmts {
		if _, err := sdb.Exec(strings.NewReplacer("$10", "?10", "$1", "?1", "$2", "?2", "$3", "?3", "$4", "?4", "$5", "?5", "$6", "?6", "$7", "?7", "$8", "?8", "$9", "?9").Replace(s), args[i]...); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
	return &testDB{dialect: sqlfilter.SQLite, query: func(ctx context.Context, query string, args ...any) ([]string, error) {
		rows, err := sdb.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanIDs(rows)
	}}
}

// openPostgres creates a PostgreSQL database with the fixture on the server that
// SCIMD_TEST_DATABASE_URL names, and drops it when the test ends. Without the variable the
// test is skipped, loudly, or fails under CI=true.
func openPostgres(t testing.TB) *testDB {
	t.Helper()
	dsn := os.Getenv("SCIMD_TEST_DATABASE_URL")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SCIMD_TEST_DATABASE_URL is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("SKIPPING POSTGRES TESTS: set SCIMD_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to SCIMD_TEST_DATABASE_URL: %v", err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	name := "scimd_sqlfilter_" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close(ctx)
	})
	if _, err := conn.Exec(ctx, readMigration(t, "postgres")); err != nil {
		t.Fatal(err)
	}
	stmts, args := fixture(t, func(t time.Time) any { return t }, func(b bool) any { return b })
	for i, s := range stmts {
		if _, err := conn.Exec(ctx, s, args[i]...); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return &testDB{dialect: sqlfilter.Postgres, query: func(ctx context.Context, query string, args ...any) ([]string, error) {
		rows, err := conn.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanIDs(rows)
	}}
}

// idRows is what database/sql's and pgx's result sets share.
type idRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanIDs reads a one-column result of ids.
func scanIDs(rows idRows) ([]string, error) {
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
