// Package sqlstore is the one implementation of store.Store in SQL, shared by the postgres
// and sqlite backends. A backend supplies a DB (its connection, transactions with retry, and
// its driver's errors translated to store errors) and a dialect; the SQL differs between
// them only where the dialect says so. SQL text comes from this package and from sqlfilter,
// never from input: every value is a parameter.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// Conn is a connection or a transaction. Errors are already store errors where they have
// a store meaning (store.ErrNotFound for no rows, store.ErrConflict, store.ErrUnavailable).
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) error
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// collect reads every row of a query with scan, closing the rows; err is the query's own
// error, so a call reads collect(s.db.Query(…))(scanX).
func collect[T any](rows Rows, err error) func(scan func(Row) (T, error)) ([]T, error) {
	return func(scan func(Row) (T, error)) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}

// Row is one result row.
type Row interface{ Scan(dest ...any) error }

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// DB is a backend's database.
type DB interface {
	Conn
	// Tx runs fn in a write transaction, retrying it (bounded) on serialization failures and
	// deadlocks.
	Tx(ctx context.Context, fn func(Conn) error) error
	Ping(ctx context.Context) error
	// PoolStats reports the connection pool.
	PoolStats() store.PoolStats
	Close() error
}

// StatementDB is a DB on which a write of one statement commits alone, with no BEGIN and
// COMMIT round trips (PostgreSQL, where a statement outside a transaction block is its own
// transaction, data-modifying WITH parts and triggers included). The store writes a change
// that fits one statement through it; SQLite, whose statements cannot write through WITH,
// runs every write in Tx.
type StatementDB interface {
	// Statement runs fn, which issues exactly one statement, on a connection of its own,
	// retried as Tx retries.
	Statement(ctx context.Context, fn func(Conn) error) error
}

// Store implements store.Store on a DB.
type Store struct {
	db      DB
	d       sqlfilter.Dialect
	changes changes
}

var _ store.Store = (*Store)(nil)

// New returns a Store on db, whose SQL dialect is d. Queries are written with $n
// placeholders; the sqlite backend's DB rewrites them.
func New(db DB, d sqlfilter.Dialect) *Store { return &Store{db: db, d: d} }

// DB returns the underlying database.
func (s *Store) DB() DB { return s.db }

// timeArg is how a time is passed to the dialect.
func (s *Store) timeArg(t time.Time) any {
	if s.d == sqlfilter.SQLite {
		return scim.FormatTime(t)
	}
	return t.UTC()
}

func (s *Store) jsonArg(b []byte) any {
	if s.d == sqlfilter.SQLite {
		return string(b)
	}
	return b
}

// timeDest scans a time from either a time.Time (postgres) or scim.TimeFormat text (sqlite).
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = v.UTC()
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

func (d timeDest) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("sqlstore: bad stored time %q: %w", s, err)
	}
	*d.t = t.UTC()
	return nil
}

// nullString turns "" into NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// validID reports whether id is a UUID in its canonical text form; ids that are not cannot
// name a resource (and Postgres would refuse them as uuid values).
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ---- tenants ----

const tenantCols = `id, slug, name, default_user_type, user_types, created_at, user_type_source`

func scanTenant(r Row) (store.Tenant, error) {
	var t store.Tenant
	var types string
	err := r.Scan(&t.ID, &t.Slug, &t.Name, &t.DefaultUserType, &types, timeDest{&t.CreatedAt}, &t.UserTypeSource)
	t.UserTypes = splitList(types)
	return t, err
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// CreateTenant implements store.Store.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	if t.UserTypeSource == "" {
		t.UserTypeSource = store.UserTypeFromIdP
	}
	return s.db.Exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.Slug, t.Name, t.DefaultUserType, strings.Join(t.UserTypes, ","), s.timeArg(t.CreatedAt), t.UserTypeSource)
}

// TenantBySlug implements store.Store.
func (s *Store) TenantBySlug(ctx context.Context, slug string) (store.Tenant, error) {
	return scanTenant(s.db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE slug = $1`, slug))
}

// Tenant implements store.Store.
func (s *Store) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	return scanTenant(s.db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
}

// Tenants implements store.Store.
func (s *Store) Tenants(ctx context.Context) ([]store.Tenant, error) {
	return collect[store.Tenant](s.db.Query(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY slug`))(scanTenant)
}

// UpdateTenant implements store.Store.
func (s *Store) UpdateTenant(ctx context.Context, t store.Tenant, ev *store.Event) error {
	err := s.db.Tx(ctx, func(c Conn) error {
		var def, src string
		if err := c.QueryRow(ctx, `SELECT default_user_type, user_type_source FROM tenants WHERE id = $1`, t.ID).Scan(&def, &src); err != nil {
			return err
		}
		if err := c.Exec(ctx, `UPDATE tenants SET name = $2, default_user_type = $3, user_types = $4 WHERE id = $1`,
			t.ID, t.Name, t.DefaultUserType, strings.Join(t.UserTypes, ",")); err != nil {
			return err
		}
		if src == store.UserTypeFromGroups && def != t.DefaultUserType {
			// Users no rule matches take the new default: every user is recomputed.
			if err := s.startRecompute(ctx, c, t.ID, true); err != nil {
				return err
			}
		}
		if err := s.notifyTenant(ctx, c, t.ID); err != nil {
			return err
		}
		return s.insertEvent(ctx, c, ev)
	})
	if err == nil {
		s.announceTenant(t.ID)
	}
	return err
}

// ---- tokens ----

const tokenCols = `tenant_id, id, label, created_at, last_used_at, revoked_at`

func scanToken(r Row) (store.Token, error) {
	var t store.Token
	err := r.Scan(&t.TenantID, &t.ID, &t.Label, timeDest{&t.CreatedAt}, timeDest{&t.LastUsedAt}, timeDest{&t.RevokedAt})
	return t, err
}

// CreateToken implements store.Store.
func (s *Store) CreateToken(ctx context.Context, t store.Token, hash []byte, ev *store.Event) error {
	return s.db.Tx(ctx, func(c Conn) error {
		if err := c.Exec(ctx, `INSERT INTO scim_tokens (tenant_id, id, label, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
			t.TenantID, t.ID, t.Label, hash, s.timeArg(t.CreatedAt)); err != nil {
			return err
		}
		return s.insertEvent(ctx, c, ev)
	})
}

// TokenByHash implements store.Store. It is the one token query without a tenant: the token
// is how the tenant is found.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, store.Tenant, error) {
	var t store.Token
	var tn store.Tenant
	var types string
	err := s.prio().QueryRow(ctx, `SELECT k.tenant_id, k.id, k.label, k.created_at, k.last_used_at, k.revoked_at,
			n.id, n.slug, n.name, n.default_user_type, n.user_types, n.created_at, n.user_type_source
		FROM scim_tokens k JOIN tenants n ON n.id = k.tenant_id WHERE k.hash = $1`, hash).Scan(
		&t.TenantID, &t.ID, &t.Label, timeDest{&t.CreatedAt}, timeDest{&t.LastUsedAt}, timeDest{&t.RevokedAt},
		&tn.ID, &tn.Slug, &tn.Name, &tn.DefaultUserType, &types, timeDest{&tn.CreatedAt}, &tn.UserTypeSource)
	tn.UserTypes = splitList(types)
	return t, tn, err
}

// Tokens implements store.Store.
func (s *Store) Tokens(ctx context.Context, tenantID string) ([]store.Token, error) {
	return collect[store.Token](s.db.Query(ctx, `SELECT `+tokenCols+` FROM scim_tokens WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID))(scanToken)
}

// RevokeToken implements store.Store.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time, ev *store.Event) error {
	err := s.db.Tx(ctx, func(c Conn) error {
		var found string
		if err := c.QueryRow(ctx, `SELECT id FROM scim_tokens WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&found); err != nil {
			return err
		}
		if err := c.Exec(ctx, `UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, s.timeArg(at)); err != nil {
			return err
		}
		if err := s.notifyTenant(ctx, c, tenantID); err != nil {
			return err
		}
		return s.insertEvent(ctx, c, ev)
	})
	if err == nil {
		s.announceTenant(tenantID)
	}
	return err
}

// TouchToken implements store.Store.
func (s *Store) TouchToken(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.prio().Exec(ctx, `UPDATE scim_tokens SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, s.timeArg(at))
}

// ---- secrets, health ----

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context, name string, newValue func() []byte) ([]byte, error) {
	var v []byte
	err := s.db.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	if err := s.db.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, newValue()); err != nil {
		return nil, err
	}
	err = s.db.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return v, err
}

// Ping implements store.Store, on the reserved pool where there is one.
func (s *Store) Ping(ctx context.Context) error { return s.prio().Ping(ctx) }

// PoolStats implements store.Store: the backend's connection pool.
func (s *Store) PoolStats() store.PoolStats { return s.db.PoolStats() }

// Close implements store.Store.
func (s *Store) Close() error {
	s.stopListening()
	return s.db.Close()
}

// ---- events ----

// insertEvent writes ev to the audit log and, when it publishes, a delivery row for every
// stream that receives it (the outbox, enqueueDeliveries). On PostgreSQL both are one
// statement, so that a SCIM write pays one round trip for them, not two; SQLite, whose
// statements are calls within the process, takes them one after the other. ev.ID is set.
func (s *Store) insertEvent(ctx context.Context, c Conn, ev *store.Event) error {
	if ev == nil {
		return nil
	}
	if s.d == sqlfilter.SQLite {
		err := c.QueryRow(ctx, `INSERT INTO audit_events (tenant_id, id, at, event, outcome, actor, token_id, resource_type, resource_id, resource_name, changed, detail, method)
			VALUES ($1, (SELECT COALESCE(MAX(id), 0) + 1 FROM audit_events WHERE tenant_id = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			s.eventArgs(ev)...).Scan(&ev.ID)
		if err != nil || !publishes(ev) {
			return err
		}
		return s.enqueueDeliveries(ctx, c, ev)
	}
	query, args := s.eventStatement(ev)
	return c.QueryRow(ctx, query, args...).Scan(&ev.ID)
}

func (s *Store) eventArgs(ev *store.Event) []any {
	return []any{ev.TenantID, s.timeArg(ev.At), ev.Name, ev.Outcome, ev.Actor, nullString(ev.TokenID), nullString(ev.ResourceType),
		nullString(ev.ResourceID), nullString(ev.ResourceName), nullString(strings.Join(ev.Changed, ",")), nullString(ev.Detail),
		nullString(ev.Method)}
}

// eventStatement is PostgreSQL's one statement that records ev and, when it publishes,
// its deliveries: a WITH whose part ev returns the event's id (the statement's one result),
// and its arguments ($1 to $13). CreateResource puts a resource's insert in front of it.
func (s *Store) eventStatement(ev *store.Event) (string, []any) {
	args := s.eventArgs(ev)
	query := `WITH ev AS (
			INSERT INTO audit_events (tenant_id, at, event, outcome, actor, token_id, resource_type, resource_id, resource_name, changed, detail, method)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id
		)`
	if publishes(ev) {
		query += `, outbox AS (` + outboxInsert("ev.id", "$8", "$2", "$13", ", ev") + `)`
		args = append(args, likeMember(ev.Name))
	}
	return query + ` SELECT id FROM ev`, args
}

// writeWithEvent makes one PostgreSQL statement of a write with no result, which write
// builds on the arguments it is given (they hold the event's first), and ev's statement:
// its one result is the event's id.
func (s *Store) writeWithEvent(write func(a *sqlfilter.Args) string, ev *store.Event) (string, []any) {
	evQuery, evArgs := s.eventStatement(ev)
	a := sqlfilter.NewArgs(s.d, evArgs...)
	return `WITH w AS (` + write(a) + `), ` + strings.TrimPrefix(evQuery, `WITH `), a.Values()
}

// AppendEvent implements store.Store.
func (s *Store) AppendEvent(ctx context.Context, ev *store.Event) error {
	return s.db.Tx(ctx, func(c Conn) error { return s.insertEvent(ctx, c, ev) })
}

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, tenantID string, q store.EventQuery) ([]store.Event, error) {
	a := sqlfilter.NewArgs(s.d)
	var where strings.Builder
	fmt.Fprintf(&where, "tenant_id = %s", a.Add(tenantID))
	if !q.Since.IsZero() {
		fmt.Fprintf(&where, " AND at >= %s", a.Add(s.timeArg(q.Since)))
	}
	if q.ResourceID != "" {
		fmt.Fprintf(&where, " AND resource_id = %s", a.Add(q.ResourceID))
	}
	if q.Name != "" {
		fmt.Fprintf(&where, " AND event = %s", a.Add(q.Name))
	}
	if q.Outcome != "" {
		fmt.Fprintf(&where, " AND outcome = %s", a.Add(q.Outcome))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT tenant_id, id, at, event, outcome, actor, COALESCE(token_id, ''), COALESCE(resource_type, ''),
		COALESCE(resource_id, ''), COALESCE(resource_name, ''), COALESCE(changed, ''), COALESCE(detail, '')
		FROM audit_events WHERE ` + where.String() + ` ORDER BY at DESC, id DESC LIMIT ` + a.Add(limit) + ` OFFSET ` + a.Add(q.Offset)
	rows, err := s.db.Query(ctx, query, a.Values()...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var changed string
		if err := rows.Scan(&e.TenantID, &e.ID, timeDest{&e.At}, &e.Name, &e.Outcome, &e.Actor, &e.TokenID, &e.ResourceType,
			&e.ResourceID, &e.ResourceName, &changed, &e.Detail); err != nil {
			return nil, err
		}
		e.Changed = splitList(changed)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneEvents implements store.Store.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.db.Tx(ctx, func(c Conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE at < $1`, s.timeArg(before)).Scan(&n); err != nil {
			return err
		}
		if err := c.Exec(ctx, `DELETE FROM event_deliveries WHERE (tenant_id, event_id) IN (SELECT tenant_id, id FROM audit_events WHERE at < $1)`,
			s.timeArg(before)); err != nil {
			return err
		}
		return c.Exec(ctx, `DELETE FROM audit_events WHERE at < $1`, s.timeArg(before))
	})
	return n, err
}

// ensure database/sql's Scanner contract is what timeDest meets.
var _ sql.Scanner = timeDest{}

// marshalAttrs is the JSON of data: the attributes without memberships, which are rows of
// group_members.
func marshalAttrs(attrs map[string]any) ([]byte, error) {
	clean := make(map[string]any, len(attrs))
	for k, v := range attrs {
		clean[k] = v
	}
	stripMemberships(clean)
	return json.Marshal(clean)
}

// stripMemberships removes a group's members and a user's groups from attrs: they are kept
// as rows of group_members, written from member edits and read back by the store alone.
func stripMemberships(attrs map[string]any) {
	for k := range attrs {
		if strings.EqualFold(k, "members") || strings.EqualFold(k, "groups") {
			delete(attrs, k)
		}
	}
}

// nextModified returns now, or just after prev when the clock has not moved past it, so
// that lastModified strictly increases with each version.
func nextModified(prev time.Time) time.Time {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !now.After(prev) {
		return prev.Add(time.Microsecond)
	}
	return now
}
