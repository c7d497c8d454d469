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

var _ store.Store = (*Store)(nil)

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
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	sdb.SetMaxOpenConns(8)
	sdb.SetConnMaxIdleTime(time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlite: cannot open %s: %w", path, err)
	}
	return &Store{Store: sqlstore.New(&db{sdb: sdb}, sqlfilter.SQLite), DB: sdb}, nil
}

// Migrate applies pending migrations and returns those applied.
func (s *Store) Migrate(ctx context.Context) ([]sqlstore.Migration, error) {
	return s.Store.Migrate(ctx, migrations.FS, "sqlite")
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
		case sqlite3lib.SQLITE_CANTOPEN, sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_FULL:
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
	sdb *sql.DB
}

func (d *db) Exec(ctx context.Context, query string, args ...any) error {
	return conn{d.sdb}.Exec(ctx, query, args...)
}

func (d *db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return conn{d.sdb}.Query(ctx, query, args...)
}

func (d *db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return conn{d.sdb}.QueryRow(ctx, query, args...)
}

// Tx runs fn in a BEGIN IMMEDIATE transaction: it takes the write lock at the start, so two
// writers never deadlock upgrading read locks; busy_timeout makes the second wait.
func (d *db) Tx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	tx, err := d.sdb.BeginTx(ctx, nil)
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
func (d *db) Close() error                   { return d.sdb.Close() }
