// Package postgres is the production store backend: PostgreSQL through a pgx connection
// pool. It translates pgx errors into store errors where they happen and retries
// serialization failures and deadlocks; the SQL itself is package sqlstore's.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
	"github.com/scimd/scimd/internal/store/sqlstore"
	"github.com/scimd/scimd/migrations"
)

// Store is a store.Store on PostgreSQL.
type Store struct {
	*sqlstore.Store
	Pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (postgres://…) and checks that it answers.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// A statement never runs longer than a request may: the server gives up at its request
	// timeout, and the database must not go on working for nobody.
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = "30s"
	}
	cfg.AfterRelease = keepWritable
	// The pool is sized for many tenants at once unless the URL says otherwise
	// (pool_max_conns); the server gives each tenant a share well below it.
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Token checks and readiness get a small pool of their own, so that no load of other
	// queries can make them wait.
	pcfg := cfg.Copy()
	pcfg.MaxConns, pcfg.MinConns = PriorityConns, 0
	prio, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		prio.Close()
		return nil, fmt.Errorf("postgres: cannot reach the database: %w", err)
	}
	d := &db{conn: conn{q: pool}, pool: pool, prio: &db{conn: conn{q: prio}, pool: prio}}
	return &Store{Store: sqlstore.New(d, sqlfilter.Postgres), Pool: pool}, nil
}

// MigrationDir is the folder of migrations.FS this backend's migrations are in.
const MigrationDir = "postgres"

// DefaultMaxConns is the main pool's size when the database URL sets no pool_max_conns;
// PriorityConns is the size of the pool reserved for token checks and readiness.
const (
	DefaultMaxConns = 16
	PriorityConns   = 2
)

// Migrate applies pending migrations and returns those applied.
func (s *Store) Migrate(ctx context.Context) ([]sqlstore.Migration, error) {
	return s.Store.Migrate(ctx, migrations.FS, MigrationDir)
}

// MigrationDir returns the folder of migrations.FS this backend's migrations are in.
func (s *Store) MigrationDir() string { return MigrationDir }

// PoolStats implements sqlstore.DB: the pgx pool's connections.
func (d *db) PoolStats() store.PoolStats {
	st := d.pool.Stat()
	return store.PoolStats{Acquired: int(st.AcquiredConns()), Idle: int(st.IdleConns()), Total: int(st.TotalConns()),
		Max: int(st.MaxConns()), Waits: st.EmptyAcquireCount(), WaitTime: st.EmptyAcquireWaitTime()}
}

// translate maps pgx errors to store errors.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%w: %s", store.ErrConflict, pe.ConstraintName)
		case pe.Code == "22P05", pe.Code == "22021": // NUL in text; invalid byte sequence
			return fmt.Errorf("%w: %s", store.ErrInvalidText, pe.Message)
		case pe.Code[:2] == "08", pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300",
			pe.Code == "25006", // read-only: the node is not (or no longer) the primary; keepWritable drops the connection
			pe.Code == "57014": // cancelled: the server's statement_timeout, or a cancel during a failover
			return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		case retryable(err):
			// Still losing after Tx's retries: the client may try again later (503). The
			// PgError stays in the chain so that Tx recognises it when a statement inside
			// the transaction returns it.
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.As(err, new(*pgconn.ConnectError)) || connectionLost(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// keepWritable is the pool's AfterRelease: a connection whose session has become read-only
// (default_transaction_read_only or in_hot_standby, which PostgreSQL 14 and later report to
// the client as they change) is closed instead of going back to the pool. After a failover
// that leaves the old primary running read-only, or a reconnect that reached a standby, the
// next connection is then opened anew, and with target_session_attrs=read-write it finds
// the primary; without this, pooled connections would keep failing writes for their whole
// lifetime while pings (and /readyz) succeed.
func keepWritable(c *pgx.Conn) bool {
	pc := c.PgConn()
	return pc.ParameterStatus("default_transaction_read_only") != "on" && pc.ParameterStatus("in_hot_standby") != "on"
}

// connectionLost reports whether err is the connection to the server breaking (the server
// or a proxy went away mid-query: pgx returns the bare read or write error, such as
// io.ErrUnexpectedEOF). The request may be retried later, so it is ErrUnavailable, not an
// internal error.
func connectionLost(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, &ne)
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// conn is a sqlstore.Conn on a pool, a pooled connection or a transaction; its errors are
// translated to store errors, unless raw (Statement translates them itself).
type conn struct {
	q   querier
	raw bool
}

func (c conn) translate(err error) error {
	if c.raw {
		return err
	}
	return translate(err)
}

func (c conn) Exec(ctx context.Context, query string, args ...any) error {
	_, err := c.q.Exec(ctx, query, args...)
	return c.translate(err)
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, c.translate(err)
	}
	return pgRows{rows, c}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return pgRow{c.q.QueryRow(ctx, query, args...), c}
}

type pgRow struct {
	r pgx.Row
	c conn
}

func (r pgRow) Scan(dest ...any) error { return r.c.translate(r.r.Scan(dest...)) }

type pgRows struct {
	pgx.Rows
	c conn
}

func (r pgRows) Scan(dest ...any) error { return r.c.translate(r.Rows.Scan(dest...)) }
func (r pgRows) Err() error             { return r.c.translate(r.Rows.Err()) }

type db struct {
	conn
	pool *pgxpool.Pool
	prio *db // the reserved pool; nil on the reserved pool itself
}

var (
	_ sqlstore.PriorityDB = (*db)(nil)
	_ sqlstore.Listener   = (*db)(nil)
)

// Priority implements sqlstore.PriorityDB.
func (d *db) Priority() sqlstore.DB {
	if d.prio == nil {
		return d
	}
	return d.prio
}

// maxAttempts bounds the retries of a transaction that lost a serialization race or a
// deadlock: the IdP sees the error only after this many tries.
const maxAttempts = 8

func (d *db) Tx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	return retry(ctx, func() error { return runLazyTx(ctx, d.pool, func(tx querier) error { return fn(conn{q: tx}) }) })
}

// Statement implements sqlstore.StatementDB: fn's one statement runs on a pooled
// connection outside a transaction block, where it commits alone, and is retried as Tx
// is. fn sees the driver's own error (to tell a connection that died while idle), and
// Statement returns it translated.
func (d *db) Statement(ctx context.Context, fn func(sqlstore.Conn) error) error {
	return retry(ctx, func() error { return fn(conn{q: d.pool, raw: true}) })
}

// retry runs try, again (bounded, after a short random pause) while it fails with a
// serialization failure or a deadlock, and once more when its first attempt failed before
// anything was sent; it returns try's last error translated.
func retry(ctx context.Context, try func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = try()
		// A pooled connection that died while idle fails before anything is sent: one more
		// try gets a fresh connection, so a database that came back is used at once.
		staleConn := attempt == 1 && pgconn.SafeToRetry(err)
		if !retryable(err) && !staleConn || attempt == maxAttempts || ctx.Err() != nil {
			return translate(err)
		}
		time.Sleep(time.Duration(rand.IntN(attempt*5)+1) * time.Millisecond)
	}
}

func (d *db) Ping(ctx context.Context) error { return translate(d.pool.Ping(ctx)) }

func (d *db) Close() error {
	d.pool.Close()
	if d.prio != nil {
		d.prio.pool.Close()
	}
	return nil
}

// Listen implements sqlstore.Listener: one connection of its own (outside the pools) runs
// LISTEN on channel and hands each notification's payload to fn until ctx ends; after every
// quiet period of every it notifies the channel with beat() itself. When the connection
// fails it is opened again (after a pause of a second, doubling up to 30 s), and fn("") is
// called at every (re)connection: notifications sent while no connection listened are
// lost, so whatever they would have invalidated must be forgotten.
func (d *db) Listen(ctx context.Context, channel string, every time.Duration, beat func() string, fn func(payload string)) {
	pause := time.Second
	for ctx.Err() == nil {
		if err := d.listenOnce(ctx, channel, every, beat, fn); err == nil || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

func (d *db) listenOnce(ctx context.Context, channel string, every time.Duration, beat func() string, fn func(string)) error {
	c, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	fn("")
	for {
		wctx, cancel := context.WithTimeout(ctx, every)
		n, err := c.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			fn(n.Payload)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			if _, err := c.Exec(ctx, "SELECT pg_notify($1, $2)", channel, beat()); err != nil {
				return err
			}
		default:
			return err
		}
	}
}
