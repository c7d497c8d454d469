package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lazyTx is a write transaction whose BEGIN goes to the server with its first statement,
// in one round trip (a pipeline of the two, as pgx sends a batch), not in one of its own:
// a PATCH's transaction is three round trips, not four. Before its first statement it has
// sent nothing, so a transaction that writes nothing costs none.
type lazyTx struct {
	c     *pgx.Conn
	begun bool
	// beginErr is the error of the BEGIN sent with the first statement: the driver's own,
	// which tells a connection that died while idle (nothing was sent; Tx tries again).
	// Every statement after it fails with it: none may run outside the transaction.
	beginErr error
}

var _ querier = (*lazyTx)(nil)

// first sends BEGIN and the transaction's first statement together, and returns the
// batch positioned at the statement's result.
func (t *lazyTx) first(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	t.begun = true
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(sql, args...)
	br := t.c.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		t.beginErr = err
		br.Close()
		return nil, err
	}
	return br, nil
}

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.beginErr != nil {
		return pgconn.CommandTag{}, t.beginErr
	}
	if t.begun {
		return t.c.Exec(ctx, sql, args...)
	}
	br, err := t.first(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.beginErr != nil {
		return nil, t.beginErr
	}
	if t.begun {
		return t.c.Query(ctx, sql, args...)
	}
	br, err := t.first(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return batchRows{rows, br}, nil
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.beginErr != nil {
		return errRow{t.beginErr}
	}
	if t.begun {
		return t.c.QueryRow(ctx, sql, args...)
	}
	br, err := t.first(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{br.QueryRow(), br}
}

// end commits (ok) or rolls back a transaction that has begun. A connection left in a
// transaction, by a rollback that failed, is closed by the pool when it is released.
func (t *lazyTx) end(ctx context.Context, ok bool) error {
	if !t.begun {
		return nil
	}
	if ok {
		_, err := t.c.Exec(ctx, "COMMIT")
		return err
	}
	_, err := t.c.Exec(ctx, "ROLLBACK")
	return err
}

// runLazyTx runs fn in a lazyTx on a connection of pool: committed when fn returns nil,
// rolled back otherwise. Its error is fn's, or the BEGIN's own when that failed.
func runLazyTx(ctx context.Context, pool *pgxpool.Pool, fn func(querier) error) error {
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	t := &lazyTx{c: pc.Conn()}
	if err := fn(t); err != nil {
		t.end(ctx, false)
		if t.beginErr != nil {
			return t.beginErr
		}
		return err
	}
	return t.end(ctx, true)
}

// batchRows are the rows of a transaction's first statement: closing them closes its batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

// batchRow is the row of a transaction's first statement: scanning it closes its batch.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
