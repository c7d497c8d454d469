package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/scimd/scimd/internal/store/sqlstore"
)

// openDB opens a store in a temporary folder and returns its database, closed at the end.
func openDB(t *testing.T) *db {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "scimd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Store.DB().(*db)
}

// TestTxStatementsPrepared: a statement a write transaction meets for the first time runs
// compiled and is prepared once the transaction has ended, committed or rolled back; the
// next transactions run it prepared, with the same results.
func TestTxStatementsPrepared(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	const create, insert, count = `CREATE TABLE t (n INTEGER)`, `INSERT INTO t (n) VALUES ($1)`, `SELECT COUNT(*) FROM t WHERE n >= $1`
	if err := d.Exec(ctx, create); err != nil {
		t.Fatal(err)
	}
	prepared := func(q string) bool { _, ok := d.wstmts.get(rewrite(q)); return ok }
	boom := errors.New("boom")
	for i := range 3 {
		err := d.Tx(ctx, func(c sqlstore.Conn) error {
			if err := c.Exec(ctx, insert, i); err != nil {
				return err
			}
			var n int
			if err := c.QueryRow(ctx, count, 0).Scan(&n); err != nil || n != i+1 {
				t.Errorf("transaction %d: %d rows, %v; want %d", i, n, err, i+1)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !prepared(insert) || !prepared(count) {
			t.Fatalf("after transaction %d: insert prepared %v, count prepared %v", i, prepared(insert), prepared(count))
		}
	}
	// A rolled-back transaction prepares what it met too, and its writes are gone.
	const other = `SELECT MAX(n) FROM t WHERE n < $1`
	err := d.Tx(ctx, func(c sqlstore.Conn) error {
		var m int
		if err := c.QueryRow(ctx, other, 100).Scan(&m); err != nil || m != 2 {
			t.Errorf("max = %d, %v; want 2", m, err)
		}
		if err := c.Exec(ctx, insert, 7); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !prepared(other) {
		t.Fatalf("rolled back: %v, prepared %v", err, prepared(other))
	}
	var n int
	if err := d.QueryRow(ctx, count, 0).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows after the rollback, %v; want 3", n, err)
	}
}

// TestTxStatementsCacheFull: once the writer's cache holds cacheLimit statements, a new one
// runs compiled, with the same result, and nothing more is prepared.
func TestTxStatementsCacheFull(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	for i := 0; !d.wstmts.full(); i++ {
		d.wstmts.put(fmt.Sprintf("placeholder %d", i), nil)
	}
	t.Cleanup(func() { d.wstmts.m = nil }) // before Close: the placeholders are not statements
	for range 2 {
		var n int
		if err := d.Tx(ctx, func(c sqlstore.Conn) error { return c.QueryRow(ctx, `SELECT 40 + $1`, 2).Scan(&n) }); err != nil || n != 42 {
			t.Fatalf("with the cache full: %d, %v", n, err)
		}
	}
	if _, ok := d.wstmts.get(`SELECT 40 + ?1`); ok || len(d.wstmts.m) != cacheLimit {
		t.Fatalf("prepared into a full cache: %v, %d entries", ok, len(d.wstmts.m))
	}
}
