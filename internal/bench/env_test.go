package bench_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/sqlite"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

// env is one scimd (the real router, in process) on a fresh database, and a raw handle on
// the same database for the floor.
type env struct {
	backend string
	st      store.Store
	pg      *pgxpool.Pool // postgres
	sq      *sql.DB       // sqlite
	h       http.Handler
	dir     *directory.Directory
	tenants map[string]tenant
	clock   time.Time // seeded rows are created at clock, clock+1µs, …
}

type tenant struct {
	t     store.Tenant
	token string
}

func newEnv(b *testing.B, be teststores.Backend) *env {
	b.Helper()
	st := be.Open(b)
	e := &env{backend: be.Name, st: st, tenants: map[string]tenant{}, clock: time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)}
	switch s := st.(type) {
	case *postgres.Store:
		e.pg = s.Pool
	case *sqlite.Store:
		e.sq = s.DB
	default:
		b.Fatalf("unknown store %T", st)
	}
	sv, err := testkit.New(context.Background(), st, testkit.Options{Server: server.Config{PublicURL: "http://127.0.0.1:8080"}})
	if err != nil {
		b.Fatal(err)
	}
	e.h, e.dir = sv.Router, sv.Dir
	return e
}

// tenant returns the tenant with the slug, creating it and a token the first time.
func (e *env) tenant(b *testing.B, slug string) tenant {
	b.Helper()
	if t, ok := e.tenants[slug]; ok {
		return t
	}
	ctx := context.Background()
	t, err := e.dir.CreateTenant(ctx, slug, "")
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := e.dir.IssueToken(ctx, t, "bench")
	if err != nil {
		b.Fatal(err)
	}
	e.tenants[slug] = tenant{t, tok}
	return e.tenants[slug]
}

// do sends one request through the router in process (no socket: the HTTP cost measured is
// scimd's own) as the tenant's token, and returns the status and body.
func (e *env) do(tn tenant, method, path string, body []byte) (int, []byte) {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+tn.token)
	if body != nil {
		req.Header.Set("Content-Type", server.ContentType)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// must sends a request and fails the benchmark unless the status is want.
func (e *env) must(b *testing.B, tn tenant, want int, method, path string, body []byte) []byte {
	code, out := e.do(tn, method, path, body)
	if code != want {
		b.Fatalf("%s %s = %d, want %d: %s", method, path, code, want, out)
	}
	return out
}

// ---- raw SQL: the floor ----

// q rewrites $n placeholders for SQLite (which takes ?n).
func (e *env) q(query string) string {
	if e.sq != nil {
		return strings.ReplaceAll(query, "$", "?")
	}
	return query
}

func (e *env) timeArg(t time.Time) any {
	if e.sq != nil {
		return scim.FormatTime(t)
	}
	return t
}

func (e *env) jsonArg(b []byte) any {
	if e.sq != nil {
		return string(b)
	}
	return b
}

// rawConn is a raw transaction of either driver.
type rawConn interface {
	exec(query string, args ...any) error
	scan(query string, args []any, dest ...any) error
}

type pgConn struct {
	ctx context.Context
	tx  pgx.Tx
}

func (c pgConn) exec(query string, args ...any) error {
	_, err := c.tx.Exec(c.ctx, query, args...)
	return err
}

func (c pgConn) scan(query string, args []any, dest ...any) error {
	return c.tx.QueryRow(c.ctx, query, args...).Scan(dest...)
}

type sqConn struct {
	ctx context.Context
	tx  *sql.Tx
}

func (c sqConn) exec(query string, args ...any) error {
	_, err := c.tx.ExecContext(c.ctx, strings.ReplaceAll(query, "$", "?"), args...)
	return err
}

func (c sqConn) scan(query string, args []any, dest ...any) error {
	return c.tx.QueryRowContext(c.ctx, strings.ReplaceAll(query, "$", "?"), args...).Scan(dest...)
}

// rawTx runs fn in one write transaction with the bare driver: pgx BEGIN/COMMIT, or
// database/sql on the store's own *sql.DB (whose DSN makes it BEGIN IMMEDIATE).
func (e *env) rawTx(fn func(c rawConn) error) error {
	ctx := context.Background()
	if e.pg != nil {
		return pgx.BeginFunc(ctx, e.pg, func(tx pgx.Tx) error { return fn(pgConn{ctx, tx}) })
	}
	tx, err := e.sq.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqConn{ctx, tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// rawQueryRow runs one query outside a transaction and scans its row.
func (e *env) rawQueryRow(query string, args []any, dest ...any) error {
	ctx := context.Background()
	if e.pg != nil {
		return e.pg.QueryRow(ctx, query, args...).Scan(dest...)
	}
	return e.sq.QueryRowContext(ctx, e.q(query), args...).Scan(dest...)
}

// rawQueryAll runs a query and reads every row's columns into dest (reused per row);
// it returns the number of rows.
func (e *env) rawQueryAll(query string, args []any, dest ...any) (int, error) {
	ctx := context.Background()
	n := 0
	if e.pg != nil {
		rows, err := e.pg.Query(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return n, err
			}
			n++
		}
		return n, rows.Err()
	}
	rows, err := e.sq.QueryContext(ctx, e.q(query), args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// rawEvent inserts an audit event row as sqlstore does (SQLite numbers events per tenant).
func (e *env) rawEvent(c rawConn, tenantID, name, rtype, id, resName string, at time.Time) error {
	idExpr := `DEFAULT`
	if e.sq != nil {
		idExpr = `(SELECT COALESCE(MAX(id), 0) + 1 FROM audit_events WHERE tenant_id = $1)`
	}
	return c.exec(`INSERT INTO audit_events (tenant_id, id, at, event, outcome, actor, token_id, resource_type, resource_id, resource_name, changed, detail)
		VALUES ($1, `+idExpr+`, $2, $3, 'success', 'token bench', 'tok_bench', $4, $5, $6, NULL, NULL)`,
		tenantID, e.timeArg(at), name, rtype, id, resName)
}

const userInsert = `INSERT INTO users (tenant_id, id, created_at, last_modified, version, data, user_name, external_id, active, user_type, display_name, user_name_key)
	VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, 'member', $9, $10)`

// userData is the stored attributes of a seeded user, as the store keeps them.
func userData(userName, externalID string, active bool) []byte {
	b, _ := json.Marshal(map[string]any{"userName": userName, "externalId": externalID, "active": active,
		"userType": "member", "displayName": userName, "name": map[string]any{"givenName": "Bench", "familyName": userName},
		"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}}})
	return b
}

// seedUsers writes n users straight into the tables (no events), in creation order, and
// returns their ids. Names are prefix-<i>@example.com.
func (e *env) seedUsers(b *testing.B, tn tenant, prefix string, n int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = store.NewID()
	}
	ctx := context.Background()
	row := func(i int) []any {
		name := fmt.Sprintf("%s-%d@example.com", prefix, i)
		e.clock = e.clock.Add(time.Microsecond)
		return []any{tn.t.ID, ids[i], e.timeArg(e.clock), e.timeArg(e.clock), int64(1), e.jsonArg(userData(name, prefix+fmt.Sprint(i), true)),
			name, prefix + fmt.Sprint(i), true, "member", name, scim.FoldKey(name)}
	}
	if e.pg != nil {
		rows := make([][]any, n)
		for i := range rows {
			rows[i] = row(i)
		}
		// Without row triggers (session_replication_role): 100,000 updates of the tenant's 16
		// counter rows in one transaction would take minutes; the counts are set after.
		err := pgx.BeginFunc(ctx, e.pg, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
				return err
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"tenant_id", "id", "created_at", "last_modified", "version", "data",
				"user_name", "external_id", "active", "user_type", "display_name", "user_name_key"}, pgx.CopyFromRows(rows))
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO resource_counts (tenant_id, resource_type, slot, n)
				SELECT tenant_id, 'User', hashtext(id::text) & 63, COUNT(*) FROM users WHERE tenant_id = $1 GROUP BY 1, 3
				ON CONFLICT (tenant_id, resource_type, slot) DO UPDATE SET n = EXCLUDED.n`, tn.t.ID)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		e.analyze(b)
		return ids
	}
	err := e.rawTx(func(c rawConn) error {
		for i := range ids {
			r := row(i)
			if err := c.exec(`INSERT INTO users (tenant_id, id, created_at, last_modified, version, data, user_name, external_id, active, user_type, display_name, user_name_key)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, r...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	e.analyze(b)
	return ids
}

// seedGroup writes a group with the given user members straight into the tables.
func (e *env) seedGroup(b *testing.B, tn tenant, name string, members []string) string {
	b.Helper()
	id := store.NewID()
	e.clock = e.clock.Add(time.Microsecond)
	data, _ := json.Marshal(map[string]any{"displayName": name})
	err := e.rawTx(func(c rawConn) error {
		return c.exec(`INSERT INTO groups (tenant_id, id, created_at, last_modified, version, data, display_name) VALUES ($1, $2, $3, $4, 1, $5, $6)`,
			tn.t.ID, id, e.timeArg(e.clock), e.timeArg(e.clock), e.jsonArg(data), name)
	})
	if err != nil {
		b.Fatal(err)
	}
	e.addRawMembers(b, tn, id, members)
	return id
}

// addRawMembers inserts membership rows straight into group_members.
func (e *env) addRawMembers(b *testing.B, tn tenant, group string, members []string) {
	b.Helper()
	if e.pg != nil {
		rows := make([][]any, len(members))
		for i, m := range members {
			rows[i] = []any{tn.t.ID, group, m, "User"}
		}
		if _, err := e.pg.CopyFrom(context.Background(), pgx.Identifier{"group_members"}, []string{"tenant_id", "group_id", "member_id", "member_type"},
			pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		return
	}
	err := e.rawTx(func(c rawConn) error {
		for _, m := range members {
			if err := c.exec(`INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES ($1, $2, $3, 'User')`, tn.t.ID, group, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// analyze refreshes planner statistics and PostgreSQL's visibility map after a bulk load,
// as autovacuum would soon after (without it an index-only COUNT reads the heap).
func (e *env) analyze(b *testing.B) {
	b.Helper()
	var err error
	if e.pg != nil {
		_, err = e.pg.Exec(context.Background(), "VACUUM ANALYZE")
	} else {
		_, err = e.sq.Exec("ANALYZE")
	}
	if err != nil {
		b.Fatal(err)
	}
}

// filterPath is a list URL with a filter and other parameters, escaped.
func filterPath(endpoint, filter string, more ...string) string {
	q := url.Values{"filter": {filter}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return "/scim/v2/" + endpoint + "?" + q.Encode()
}

// ratios collects the ns/op of sub-benchmarks to report their ratios at the end.
type ratios map[string]float64

// measure runs fn as sub-benchmark name and records its ns/op under key.
func (r ratios) measure(b *testing.B, key, name string, fn func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		fn(b)
		r[key] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
}

// report logs num/den against a target ratio.
func (r ratios) report(b *testing.B, what, num, den string, target float64) {
	n, d := r[num], r[den]
	if n == 0 || d == 0 {
		return
	}
	verdict := "MET"
	if n/d > target {
		verdict = "MISSED"
	}
	fmt.Printf("RATIO %s %-48s %9.0f / %9.0f ns = %5.2fx (target <= %.1fx) %s\n", b.Name(), what, n, d, n/d, target, verdict)
}

// info logs num/den without a target.
func (r ratios) info(b *testing.B, what, num, den string) {
	if n, d := r[num], r[den]; n != 0 && d != 0 {
		fmt.Printf("RATIO %s %-48s %9.0f / %9.0f ns = %5.2fx\n", b.Name(), what, n, d, n/d)
	}
}
