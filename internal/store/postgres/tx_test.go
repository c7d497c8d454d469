package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres/pgtest"
	"github.com/scimd/scimd/internal/store/sqlstore"
)

// TestLazyTx holds the transaction whose BEGIN rides with its first statement to a real
// transaction's behaviour, on a pool of one connection (so that each case reuses the
// connection the one before left).
func TestLazyTx(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d := &db{conn: conn{q: pool}, pool: pool}
	if _, err := pool.Exec(ctx, `CREATE TABLE t (k text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert := func(c sqlstore.Conn, k string) error { return c.Exec(ctx, `INSERT INTO t VALUES ($1)`, k) }
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		fn      func(c sqlstore.Conn) error
		wantErr error
		rows    int // rows in t afterwards
	}{
		{"commit", func(c sqlstore.Conn) error {
			if err := insert(c, "a"); err != nil {
				return err
			}
			return insert(c, "b")
		}, nil, 2},
		{"rollback after the first statement", func(c sqlstore.Conn) error {
			if err := insert(c, "c"); err != nil {
				return err
			}
			return boom
		}, boom, 2},
		{"rollback after a later statement", func(c sqlstore.Conn) error {
			if err := insert(c, "c"); err != nil {
				return err
			}
			if err := insert(c, "d"); err != nil {
				return err
			}
			return boom
		}, boom, 2},
		{"the first statement fails", func(c sqlstore.Conn) error { return insert(c, "a") }, store.ErrConflict, 2},
		{"a later statement fails", func(c sqlstore.Conn) error {
			if err := insert(c, "e"); err != nil {
				return err
			}
			return insert(c, "a")
		}, store.ErrConflict, 2},
		{"no statement", func(c sqlstore.Conn) error { return nil }, nil, 2},
		{"a query first, then a write in the same transaction", func(c sqlstore.Conn) error {
			rows, err := c.Query(ctx, `SELECT k FROM t ORDER BY k`)
			if err != nil {
				return err
			}
			var ks []string
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					return err
				}
				ks = append(ks, k)
			}
			rows.Close()
			if err := rows.Err(); err != nil || len(ks) != 2 {
				return errors.Join(err, errors.New("want 2 rows"))
			}
			return insert(c, "f")
		}, nil, 3},
		{"a row first, then a write", func(c sqlstore.Conn) error {
			var n int
			if err := c.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 3 {
				return errors.Join(err, errors.New("want 3"))
			}
			return insert(c, "g")
		}, nil, 4},
		{"a row first that is not there", func(c sqlstore.Conn) error {
			var k string
			return c.QueryRow(ctx, `SELECT k FROM t WHERE k = 'zz'`).Scan(&k)
		}, store.ErrNotFound, 4},
	} {
		err := d.Tx(ctx, tc.fn)
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.wantErr)
		}
		if n := count(); n != tc.rows {
			t.Errorf("%s: %d rows afterwards, want %d", tc.name, n, tc.rows)
		}
	}
	// The first statement and its BEGIN are one transaction with what follows: a second
	// session does not see the first write before the commit.
	err = d.Tx(ctx, func(c sqlstore.Conn) error {
		if err := insert(c, "h"); err != nil {
			return err
		}
		var seen int
		other, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer other.Close()
		if err := other.QueryRow(ctx, `SELECT count(*) FROM t WHERE k = 'h'`).Scan(&seen); err != nil || seen != 0 {
			return errors.Join(err, errors.New("the first write was visible before the commit"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
