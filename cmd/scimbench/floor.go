package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// The floor: the same row work as a scenario, written with the bare driver (pgx, or
// database/sql for SQLite) on the same database at the same concurrency. It is what scimd
// costs at the least; scimd's figures are read against it.

// rawDB is a bare connection to scimd's database.
type rawDB struct {
	pg    *pgxpool.Pool
	sq    *sql.DB
	stmts sync.Map // SQLite: query text → *sql.Stmt prepared on sq
}

// parseDSN returns the dialect and checks that a PostgreSQL server is on loopback (or a
// Unix socket).
func parseDSN(dsn string) (string, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return "", fmt.Errorf("--database: %v", err)
		}
		if !strings.HasPrefix(cfg.Host, "/") {
			if err := checkLoopback(cfg.Host); err != nil {
				return "", fmt.Errorf("--database: %w", err)
			}
		}
		return "postgres", nil
	case strings.HasPrefix(dsn, "sqlite:"):
		return "sqlite", nil
	}
	return "", fmt.Errorf("--database %q: use postgres://… or sqlite:PATH", dsn)
}

func openRaw(ctx context.Context, dsn string, conns int) (*rawDB, error) {
	dialect, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if dialect == "postgres" {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		cfg.MaxConns = int32(max(4, conns))
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("floor: cannot reach the database: %w", err)
		}
		return &rawDB{pg: pool}, nil
	}
	// The same pragmas as scimd's SQLite backend, so that the floor pays what scimd pays.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// One connection more than the workers: a worker in a transaction that prepares a
	// statement for the first time takes a second one meanwhile.
	db.SetMaxOpenConns(max(8, conns) + 1)
	db.SetMaxIdleConns(max(8, conns) + 1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &rawDB{sq: db}, nil
}

func (d *rawDB) close() {
	if d.pg != nil {
		d.pg.Close()
	} else {
		d.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
		d.sq.Close()
	}
}

// sqlText rewrites $n placeholders to SQLite's ?n.
func (d *rawDB) sqlText(q string) string {
	if d.sq != nil {
		return strings.ReplaceAll(q, "$", "?")
	}
	return q
}

func (d *rawDB) timeArg(t time.Time) any {
	if d.sq != nil {
		return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
	}
	return t.UTC()
}

func (d *rawDB) jsonArg(b []byte) any {
	if d.sq != nil {
		return string(b)
	}
	return b
}

// rawConn is a transaction or the database.
type rawConn interface {
	exec(ctx context.Context, q string, args ...any) error
	// rows runs q and returns how many rows it read (their bytes, undecoded).
	rows(ctx context.Context, q string, args ...any) (int, error)
	// value runs q and returns the first column of its one row as bytes.
	value(ctx context.Context, q string, args ...any) ([]byte, error)
}

type pgTx struct{ tx pgx.Tx }

func (c pgTx) exec(ctx context.Context, q string, args ...any) error {
	_, err := c.tx.Exec(ctx, q, args...)
	return err
}

func (c pgTx) rows(ctx context.Context, q string, args ...any) (int, error) {
	rows, err := c.tx.Query(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return countPG(rows)
}

func (c pgTx) value(ctx context.Context, q string, args ...any) ([]byte, error) {
	var b []byte
	err := c.tx.QueryRow(ctx, q, args...).Scan(&b)
	return b, err
}

func (c sqTx) value(ctx context.Context, q string, args ...any) ([]byte, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	var b []byte
	err = st.QueryRowContext(ctx, args...).Scan(&b)
	return b, err
}

// strings runs q outside a transaction and returns its first column of every row.
func (d *rawDB) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	if d.pg != nil {
		rows, err := d.pg.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return firstColumn(rows)
	}
	rows, err := d.sq.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return firstColumn(rows)
}

// firstColumn reads the first column of every row of either driver's rows.
func firstColumn(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]string, error) {
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func countPG(rows pgx.Rows) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		_ = rows.RawValues()
		n++
	}
	return n, rows.Err()
}

// sqTx runs the SQLite floor's statements, each prepared once on the pool (as pgx's
// statement cache does for the PostgreSQL floor, and scimd on both backends): in tx, or on
// the pool when tx is nil.
type sqTx struct {
	d  *rawDB
	tx *sql.Tx
}

// stmt returns q's prepared statement, in c's transaction if there is one (closed with it).
func (c sqTx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	text := strings.ReplaceAll(q, "$", "?")
	var st *sql.Stmt
	if v, ok := c.d.stmts.Load(text); ok {
		st = v.(*sql.Stmt)
	} else {
		prepared, err := c.d.sq.PrepareContext(ctx, text)
		if err != nil {
			return nil, err
		}
		if v, loaded := c.d.stmts.LoadOrStore(text, prepared); loaded {
			prepared.Close()
			st = v.(*sql.Stmt)
		} else {
			st = prepared
		}
	}
	if c.tx != nil {
		return c.tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

func (c sqTx) exec(ctx context.Context, q string, args ...any) error {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

func (c sqTx) rows(ctx context.Context, q string, args ...any) (int, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	dest := make([]any, len(cols))
	for i := range dest {
		dest[i] = new(sql.RawBytes)
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// tx runs fn in one write transaction (SQLite: BEGIN IMMEDIATE, as scimd).
func (d *rawDB) tx(ctx context.Context, fn func(c rawConn) error) error {
	if d.pg != nil {
		return pgx.BeginFunc(ctx, d.pg, func(tx pgx.Tx) error { return fn(pgTx{tx}) })
	}
	tx, err := d.sq.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqTx{d, tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// rows runs one query outside a transaction.
func (d *rawDB) rows(ctx context.Context, q string, args ...any) (int, error) {
	if d.pg != nil {
		rows, err := d.pg.Query(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return countPG(rows)
	}
	return sqTx{d: d}.rows(ctx, q, args...)
}

// tenantOfToken returns the tenant a SCIM token belongs to.
func (d *rawDB) tenantOfToken(ctx context.Context, token string) (string, error) {
	h := sha256.Sum256([]byte(token))
	var id string
	var err error
	if d.pg != nil {
		err = d.pg.QueryRow(ctx, `SELECT tenant_id FROM scim_tokens WHERE hash = $1`, h[:]).Scan(&id)
	} else {
		err = d.sq.QueryRowContext(ctx, `SELECT tenant_id FROM scim_tokens WHERE hash = ?1`, h[:]).Scan(&id)
	}
	if err != nil {
		return "", fmt.Errorf("floor: the token's tenant: %w", err)
	}
	return id, nil
}

// newTenant creates the tenant the floor writes in, apart from scimd's.
func (d *rawDB) newTenant(ctx context.Context, run string) (string, error) {
	id := newUUID()
	return id, d.tx(ctx, func(c rawConn) error {
		return c.exec(ctx, `INSERT INTO tenants (id, slug, name, default_user_type, user_types, created_at) VALUES ($1, $2, $3, 'member', 'admin,member,viewer,guest', $4)`,
			id, "floor-"+run, "scimbench floor "+run, d.timeArg(time.Now()))
	})
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// floor runs a scenario's row work in its own phase.
type floor struct {
	d      *rawDB
	b      *bench
	tenant string
	users  []string
	groups []string
}

// event inserts an audit event as scimd does (SQLite numbers events per tenant).
func (f *floor) event(ctx context.Context, c rawConn, name, rtype, id, resName string) error {
	idExpr := `DEFAULT`
	if f.d.sq != nil {
		idExpr = `(SELECT COALESCE(MAX(id), 0) + 1 FROM audit_events WHERE tenant_id = $1)`
	}
	return c.exec(ctx, `INSERT INTO audit_events (tenant_id, id, at, event, outcome, actor, token_id, resource_type, resource_id, resource_name)
		VALUES ($1, `+idExpr+`, $2, $3, 'success', 'token scimbench', 'tok_floor', $4, $5, $6)`,
		f.tenant, f.d.timeArg(time.Now()), name, rtype, id, resName)
}

// timed runs fn as one request of op; a failure is recorded as status 500, and the first
// one's error is kept in rec.
func timed(rec *recorder, op string, fn func() error) error {
	start := time.Now()
	err := fn()
	status := 200
	if err != nil {
		status = 500
		rec.firstErr.CompareAndSwap(nil, &err)
	}
	rec.record(op, start, time.Since(start), status, err == nil)
	return err
}

func (f *floor) createUsers(ctx context.Context, rec *recorder, n int) {
	f.users = make([]string, n)
	forEach(ctx, n, f.b.cfg.concurrency, func(i int) {
		name := f.b.userName(i)
		timed(rec, "lookup-user", func() error {
			_, err := f.d.rows(ctx, f.d.sqlText(`SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1 AND lower(user_name) = lower($2)`), f.tenant, name)
			return err
		})
		id := newUUID()
		data, _ := json.Marshal(userBody(name, fmt.Sprintf("%s-u%d", f.b.run, i)))
		err := timed(rec, "create-user", func() error {
			return f.d.tx(ctx, func(c rawConn) error {
				now := f.d.timeArg(time.Now())
				if err := c.exec(ctx, `INSERT INTO users (tenant_id, id, created_at, last_modified, version, data, user_name, external_id, active, user_type, display_name)
					VALUES ($1, $2, $3, $4, 1, $5, $6, $7, true, 'member', $8)`, f.tenant, id, now, now, f.d.jsonArg(data), name, fmt.Sprintf("%s-u%d", f.b.run, i), "Bench"); err != nil {
					return err
				}
				return f.event(ctx, c, "user_create_provision", "User", id, name)
			})
		})
		if err == nil {
			f.users[i] = id
		}
	})
}

func (f *floor) createGroup(ctx context.Context, rec *recorder, j int) string {
	name := f.b.groupName(j)
	timed(rec, "lookup-group", func() error {
		_, err := f.d.rows(ctx, f.d.sqlText(`SELECT id, data FROM groups WHERE tenant_id = $1 AND lower(display_name) = lower($2)`), f.tenant, name)
		return err
	})
	id := newUUID()
	data, _ := json.Marshal(map[string]any{"displayName": name, "externalId": name})
	if timed(rec, "create-group", func() error {
		return f.d.tx(ctx, func(c rawConn) error {
			now := f.d.timeArg(time.Now())
			if err := c.exec(ctx, `INSERT INTO groups (tenant_id, id, created_at, last_modified, version, data, display_name, external_id) VALUES ($1, $2, $3, $4, 1, $5, $6, $7)`,
				f.tenant, id, now, now, f.d.jsonArg(data), name, name); err != nil {
				return err
			}
			return f.event(ctx, c, "group_create_provision", "Group", id, name)
		})
	}) != nil {
		return ""
	}
	return id
}

// addMembers is a membership PATCH's row work: lock the group, check the members exist,
// insert their rows, bump the group's version, write the event.
func (f *floor) addMembers(ctx context.Context, rec *recorder, op, group string, ids []string) {
	lock := ""
	if f.d.pg != nil {
		lock = " FOR UPDATE"
	}
	timed(rec, op, func() error {
		return f.d.tx(ctx, func(c rawConn) error {
			if _, err := c.rows(ctx, `SELECT version, data FROM groups WHERE tenant_id = $1 AND id = $2`+lock, f.tenant, group); err != nil {
				return err
			}
			args := []any{f.tenant, group}
			var in, values []string
			for _, id := range ids {
				args = append(args, id)
				in = append(in, fmt.Sprintf("$%d", len(args)-1))
				values = append(values, fmt.Sprintf("($1, $2, $%d, 'User')", len(args)))
			}
			if n, err := c.rows(ctx, `SELECT id FROM users WHERE tenant_id = $1 AND id IN (`+strings.Join(in, ", ")+`)`, append([]any{f.tenant}, args[2:]...)...); err != nil || n != len(ids) {
				if err == nil {
					err = fmt.Errorf("floor: %d of %d members found", n, len(ids))
				}
				return err
			}
			if err := c.exec(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES `+strings.Join(values, ", ")+` ON CONFLICT DO NOTHING`, args...); err != nil {
				return err
			}
			if err := c.exec(ctx, `UPDATE groups SET version = version + 1, last_modified = $3 WHERE tenant_id = $1 AND id = $2`, f.tenant, group, f.d.timeArg(time.Now())); err != nil {
				return err
			}
			return f.event(ctx, c, "group_update_provision", "Group", group, "")
		})
	})
}

// initialSync is initialSync's row work.
func (f *floor) initialSync(ctx context.Context, rec *recorder) {
	cfg := f.b.cfg
	f.createUsers(ctx, rec, cfg.users)
	f.groups = make([]string, cfg.groups)
	forEach(ctx, cfg.groups, cfg.concurrency, func(j int) { f.groups[j] = f.createGroup(ctx, rec, j) })
	type batch struct{ group, from, to int }
	var batches []batch
	m := min(cfg.membersPerGroup, cfg.users)
	for j := range cfg.groups {
		for from := 0; from < m; from += cfg.memberBatch {
			batches = append(batches, batch{j, from, min(from+cfg.memberBatch, m)})
		}
	}
	forEach(ctx, len(batches), cfg.concurrency, func(i int) {
		bt := batches[i]
		var ids []string
		for k := bt.from; k < bt.to; k++ {
			if id := f.users[(bt.group*m+k)%cfg.users]; id != "" {
				ids = append(ids, id)
			}
		}
		if f.groups[bt.group] != "" && len(ids) > 0 {
			f.addMembers(ctx, rec, "add-members", f.groups[bt.group], ids)
		}
	})
}

// bigGroup is bigGroup's row work; its users are made in an untimed setup phase.
func (f *floor) bigGroup(ctx context.Context, setup, rec *recorder) {
	n := f.b.cfg.membersPerGroup
	f.createUsers(ctx, setup, n)
	group := f.createGroup(ctx, setup, 0)
	edge := min(1000, n/2)
	forEach(ctx, n, f.b.cfg.concurrency, func(i int) {
		op := "add-member"
		switch {
		case i < edge:
			op = "add-member-first-1000"
		case i >= n-edge:
			op = "add-member-last-1000"
		}
		if f.users[i] != "" && group != "" {
			f.addMembers(ctx, rec, op, group, []string{f.users[i]})
		}
	})
}

// importAll is importAll's row work on scimd's own tenant: the same pages read with OFFSET
// and by keyset; totals are not counted.
func (f *floor) importAll(ctx context.Context, rec *recorder, tenant string) {
	size := f.b.cfg.pageSize
	cols := `SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1`
	var total int
	var err error
	if f.d.pg != nil {
		err = f.d.pg.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = $1`, tenant).Scan(&total)
	} else {
		err = f.d.sq.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = ?1`, tenant).Scan(&total)
	}
	if err != nil {
		f.b.fail("floor: %v", err)
		return
	}
	page := func(op string, offset int) {
		timed(rec, op, func() error {
			_, err := f.d.rows(ctx, f.d.sqlText(cols+` ORDER BY created_at, id LIMIT $2 OFFSET $3`), tenant, size, offset)
			return err
		})
	}
	last := 0
	for off := 0; off < total && ctx.Err() == nil; off += size {
		page("page-index", off)
		last = off
	}
	// Keyset: the position of the last row of each page is what the cursor carries.
	type pos struct {
		created any
		id      string
	}
	var after *pos
	var lastPos *pos
	keyset := func(op string, at *pos) (*pos, int) {
		var next *pos
		n := 0
		timed(rec, op, func() error {
			q, args := cols+` ORDER BY created_at, id LIMIT $2`, []any{tenant, size}
			if at != nil {
				q, args = cols+` AND (created_at, id) > ($3, $4) ORDER BY created_at, id LIMIT $2`, append(args, at.created, at.id)
			}
			q = f.d.sqlText(q)
			if f.d.pg != nil {
				rows, err := f.d.pg.Query(ctx, q, args...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var p pos
					var a, b, c any
					if err := rows.Scan(&p.id, &p.created, &a, &b, &c); err != nil {
						return err
					}
					next, n = &p, n+1
				}
				return rows.Err()
			}
			rows, err := f.d.sq.QueryContext(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var p pos
				var a, b, c sql.RawBytes
				var created string
				if err := rows.Scan(&p.id, &created, &a, &b, &c); err != nil {
					return err
				}
				p.created = created
				next, n = &p, n+1
			}
			return rows.Err()
		})
		return next, n
	}
	for seen := 0; seen < total && ctx.Err() == nil; {
		next, n := keyset("page-cursor", after)
		if n == 0 {
			break
		}
		seen += n
		if seen < total {
			lastPos = next
		}
		after = next
	}
	for range f.b.cfg.repeat {
		page("page-index-first", 0)
		page("page-index-last", last)
		keyset("page-cursor-first", nil)
		if lastPos != nil {
			keyset("page-cursor-last", lastPos)
		}
	}
}
