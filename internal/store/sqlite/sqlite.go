// Package sqlite is the embedded store backend: a SQLite file through modernc.org/sqlite
// (pure Go, no cgo), in WAL mode with foreign keys on, so that scimd runs on a fresh machine
// with no database server. The SQL is package sqlstore's; this package opens the file,
// rewrites $n placeholders to SQLite's ?n, and translates driver errors.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
	"github.com/scimd/scimd/internal/store/sqlstore"
	"github.com/scimd/scimd/migrations"
)

// Store is a store.Store on a SQLite file.
type Store struct {
	*sqlstore.Store
	DB *sql.DB
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.PoolStater = (*Store)(nil)
	_ store.Versioner  = (*Store)(nil)
)

// Open opens (creating if needed) the SQLite database file at path.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	// Readers share a pool; writers queue in Go for the one write connection instead of
	// spinning on SQLite's busy timeout, so a burst of concurrent PATCHes waits its turn
	// rather than failing with "database is locked".
	readers, err := openPool(ctx, dsn, 8)
	if err != nil {
		return nil, fmt.Errorf("sqlite: cannot open %s: %w", path, err)
	}
	writer, err := openPool(ctx, dsn, 1)
	if err != nil {
		readers.Close()
		return nil, fmt.Errorf("sqlite: cannot open %s: %w", path, err)
	}
	return &Store{Store: sqlstore.New(&db{sdb: readers, w: writer}, sqlfilter.SQLite), DB: readers}, nil
}

func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	sdb.SetMaxOpenConns(conns)
	sdb.SetConnMaxIdleTime(time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return sdb, nil
}

// Migrate applies pending migrations and returns those applied.
func (s *Store) Migrate(ctx context.Context) ([]sqlstore.Migration, error) {
	return s.Store.Migrate(ctx, migrations.FS, "sqlite")
}

// PoolStats implements store.PoolStater: database/sql's connections.
func (s *Store) PoolStats() store.PoolStats {
	st := s.DB.Stats()
	return store.PoolStats{Acquired: st.InUse, Idle: st.Idle, Total: st.OpenConnections, Max: st.MaxOpenConnections,
		Waits: st.WaitCount, WaitTime: st.WaitDuration}
}

func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		// Primary result codes (the low byte of an extended code): the file cannot be used
		// now, or stayed locked past busy_timeout. The client may retry later.
		switch se.Code() & 0xff {
		case sqlite3lib.SQLITE_CANTOPEN, sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_FULL, sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED:
			return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
	}
	return err
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

var rewritten sync.Map // query text → rewritten text

// rewrite turns $n placeholders into ?n. Queries come from sqlstore and sqlfilter, whose
// only other $ is the one of JSON paths ('$.name'), never followed by a digit.
func rewrite(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	if q, ok := rewritten.Load(query); ok {
		return q.(string)
	}
	q := placeholder.ReplaceAllString(query, "?$1")
	rewritten.Store(query, q)
	return q
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type conn struct{ q querier }

func (c conn) Exec(ctx context.Context, query string, args ...any) error {
	_, err := c.q.ExecContext(ctx, rewrite(query), args...)
	return translate(err)
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.QueryContext(ctx, rewrite(query), args...)
	if err != nil {
		return nil, translate(err)
	}
	return sqlRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return sqlRow{c.q.QueryRowContext(ctx, rewrite(query), args...)}
}

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error { return translate(r.r.Scan(dest...)) }

type sqlRows struct{ r *sql.Rows }

func (r sqlRows) Next() bool             { return r.r.Next() }
func (r sqlRows) Scan(dest ...any) error { return translate(r.r.Scan(dest...)) }
func (r sqlRows) Err() error             { return translate(r.r.Err()) }
func (r sqlRows) Close()                 { r.r.Close() }

type db struct {
	sdb *sql.DB // readers
	w   *sql.DB // the one writer
}

func (d *db) Exec(ctx context.Context, query string, args ...any) error {
	return conn{d.w}.Exec(ctx, query, args...)
}

func (d *db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return conn{d.sdb}.Query(ctx, query, args...)
}

func (d *db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return conn{d.sdb}.QueryRow(ctx, query, args...)
}

// Tx runs fn in a BEGIN IMMEDIATE transaction on the write connection: it takes the write
// lock at the start, so two writers never deadlock upgrading read locks.
func (d *db) Tx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	if err := fn(conn{tx}); err != nil {
		tx.Rollback()
		return err
	}
	return translate(tx.Commit())
}

func (d *db) Ping(ctx context.Context) error { return translate(d.sdb.PingContext(ctx)) }
func (d *db) Close() error                   { return errors.Join(d.w.Close(), d.sdb.Close()) }
