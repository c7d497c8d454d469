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
	// Token checks and readiness read on a small pool of their own, so that no load of
	// other reads can make them wait.
	prio, err := openPool(ctx, dsn, 2)
	if err != nil {
		readers.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: cannot open %s: %w", path, err)
	}
	ws := &cache[*sql.Stmt]{}
	d := &db{sdb: readers, w: writer, wstmts: ws, prio: &db{sdb: prio, w: writer, wstmts: ws}}
	return &Store{Store: sqlstore.New(d, sqlfilter.SQLite), DB: readers}, nil
}

func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	sdb.SetMaxOpenConns(conns)
	sdb.SetMaxIdleConns(conns) // database/sql keeps 2 by default: the others were closed and opened again
	sdb.SetConnMaxIdleTime(time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return sdb, nil
}

// MigrationDir is the folder of migrations.FS this backend's migrations are in.
const MigrationDir = "sqlite"

// Migrate applies pending migrations and returns those applied.
func (s *Store) Migrate(ctx context.Context) ([]sqlstore.Migration, error) {
	return s.Store.Migrate(ctx, migrations.FS, MigrationDir)
}

// MigrationDir returns the folder of migrations.FS this backend's migrations are in.
func (s *Store) MigrationDir() string { return MigrationDir }

// PoolStats implements sqlstore.DB: the readers' database/sql connections.
func (d *db) PoolStats() store.PoolStats {
	st := d.sdb.Stats()
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

// cacheLimit bounds the caches keyed by query text: filters make query texts of many shapes,
// and a client must not be able to grow memory without end by sending new ones.
const cacheLimit = 512

// cache is a map that stops taking new entries at cacheLimit.
type cache[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (c *cache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// full reports whether the cache takes no more entries: a statement not in it is then
// compiled on each run, not prepared only to be closed.
func (c *cache[V]) full() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m) >= cacheLimit
}

// put stores v unless the cache is full; it reports whether v is now the cached value.
func (c *cache[V]) put(k string, v V) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]V{}
	}
	if _, ok := c.m[k]; ok || len(c.m) >= cacheLimit {
		return false
	}
	c.m[k] = v
	return true
}

var rewritten cache[string] // query text → rewritten text

// rewrite turns $n placeholders into ?n. Queries come from sqlstore and sqlfilter, whose
// only other $ is the one of JSON paths ('$.name'), never followed by a digit.
func rewrite(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	if q, ok := rewritten.get(query); ok {
		return q
	}
	q := placeholder.ReplaceAllString(query, "?$1")
	rewritten.put(query, q)
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
	sdb    *sql.DB // readers
	w      *sql.DB // the one writer
	stmts  cache[*sql.Stmt]
	wstmts *cache[*sql.Stmt] // statements prepared on the writer, shared with prio
	prio   *db               // reads reserved for token checks and readiness; nil on prio itself
}

var _ sqlstore.PriorityDB = (*db)(nil)

// Priority implements sqlstore.PriorityDB. Writes still go to the one writer.
func (d *db) Priority() sqlstore.DB {
	if d.prio == nil {
		return d
	}
	return d.prio
}

// reader returns what a read runs on: a statement prepared once on the readers' pool (SQLite
// compiles a statement on every run otherwise, which costs more than a lookup itself), or
// the pool when the statement cache is full.
func (d *db) reader(ctx context.Context, query string) querier {
	if st := prepared(ctx, &d.stmts, d.sdb, query, rewrite(query)); st != nil {
		return stmtQuerier{st}
	}
	return d.sdb // the cache is full, or the query reports its own error
}

// prepared returns c's statement for key, preparing text on sdb first when c does not
// hold it yet; nil when c is full or text does not prepare. Of two callers preparing the
// same key at once, one statement is kept and the other closed.
func prepared(ctx context.Context, c *cache[*sql.Stmt], sdb *sql.DB, key, text string) *sql.Stmt {
	if st, ok := c.get(key); ok {
		return st
	}
	if c.full() {
		return nil
	}
	st, err := sdb.PrepareContext(ctx, text)
	if err != nil {
		return nil
	}
	if !c.put(key, st) {
		st.Close()
		st, _ = c.get(key)
	}
	return st
}

// stmtQuerier runs a prepared statement; the query text it is given is the statement's own.
type stmtQuerier struct{ st *sql.Stmt }

func (s stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return s.st.ExecContext(ctx, args...)
}

func (s stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return s.st.QueryContext(ctx, args...)
}

func (s stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return s.st.QueryRowContext(ctx, args...)
}

func (d *db) Exec(ctx context.Context, query string, args ...any) error {
	return conn{d.w}.Exec(ctx, query, args...)
}

func (d *db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return conn{d.reader(ctx, query)}.Query(ctx, query, args...)
}

func (d *db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return conn{d.reader(ctx, query)}.QueryRow(ctx, query, args...)
}

// Tx runs fn in a BEGIN IMMEDIATE transaction on the write connection: it takes the write
// lock at the start, so two writers never deadlock upgrading read locks. Its statements run
// prepared when an earlier transaction prepared them (a write holds the database's one
// write lock, and compiling its statements each time was a fifth of a PATCH's CPU); a
// statement met for the first time is compiled for this run, then prepared on the writer
// once the transaction has ended and the one connection is free.
func (d *db) Tx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	q := &txQuerier{tx: tx, stmts: d.wstmts}
	defer q.prepareMissed(ctx, d.w)
	if err := fn(conn{q}); err != nil {
		tx.Rollback()
		return err
	}
	return translate(tx.Commit())
}

// txQuerier runs a transaction's statements, prepared where the writer has them.
type txQuerier struct {
	tx     *sql.Tx
	stmts  *cache[*sql.Stmt]
	missed []string
}

// stmt returns the transaction's form of query's prepared statement, or nil (noting the
// query, to prepare it after the transaction).
func (q *txQuerier) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := q.stmts.get(query); ok {
		return q.tx.StmtContext(ctx, st) // closed with the transaction
	}
	if !q.stmts.full() {
		q.missed = append(q.missed, query)
	}
	return nil
}

func (q *txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

func (q *txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

func (q *txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

// prepareMissed prepares on w the statements the transaction ran unprepared, up to the
// cache's bound. A statement that fails to prepare is left to be compiled each time.
func (q *txQuerier) prepareMissed(ctx context.Context, w *sql.DB) {
	for _, query := range q.missed {
		prepared(ctx, q.stmts, w, query, query)
	}
}

func (d *db) Ping(ctx context.Context) error { return translate(d.sdb.PingContext(ctx)) }
func (d *db) closeStmts() {
	for _, c := range []*cache[*sql.Stmt]{&d.stmts, d.wstmts} {
		c.mu.Lock()
		for k, st := range c.m {
			st.Close()
			delete(c.m, k)
		}
		c.mu.Unlock()
	}
}

func (d *db) Close() error {
	d.closeStmts()
	if d.prio != nil {
		d.prio.closeStmts()
		return errors.Join(d.w.Close(), d.sdb.Close(), d.prio.sdb.Close())
	}
	return errors.Join(d.w.Close(), d.sdb.Close())
}
