package postgres

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/scimd/scimd/internal/store"
)

// TestTranslate: every driver error a request can meet is one store error, so that a
// failover or an overload is a 503 a client retries, never a 500.
func TestTranslate(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: passed through unchanged
	}{
		{"no rows", pgx.ErrNoRows, store.ErrNotFound},
		{"unique violation", pg("23505"), store.ErrConflict},
		{"NUL in text", pg("22P05"), store.ErrInvalidText},
		{"invalid byte sequence", pg("22021"), store.ErrInvalidText},
		{"connection exception", pg("08006"), store.ErrUnavailable},
		{"admin shutdown (demotion, fast stop)", pg("57P01"), store.ErrUnavailable},
		{"crash shutdown", pg("57P02"), store.ErrUnavailable},
		{"cannot connect now (promotion)", pg("57P03"), store.ErrUnavailable},
		{"too many connections", pg("53300"), store.ErrUnavailable},
		{"read-only transaction (old primary)", pg("25006"), store.ErrUnavailable},
		{"statement cancelled", pg("57014"), store.ErrUnavailable},
		{"serialization failure after retries", pg("40001"), store.ErrUnavailable},
		{"deadlock after retries", pg("40P01"), store.ErrUnavailable},
		{"connection lost", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), store.ErrUnavailable},
		{"syntax error is a bug", pg("42601"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.err)
			if tc.want == nil {
				if got != tc.err {
					t.Fatalf("translate = %v, want the error unchanged", got)
				}
				return
			}
			if !errors.Is(got, tc.want) {
				t.Fatalf("translate = %v, want %v", got, tc.want)
			}
		})
	}
}
