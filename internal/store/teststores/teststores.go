// Package teststores opens fresh, migrated stores of every backend for tests that run the
// same behaviour on both: SQLite in a temporary file, and PostgreSQL in a throwaway
// database (see pgtest; skipped loudly without SCIMD_TEST_DATABASE_URL, failed under CI).
package teststores

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/postgres/pgtest"
	"github.com/scimd/scimd/internal/store/sqlite"
)

// Backend names a backend and opens a fresh store of it.
type Backend struct {
	Name string
	Open func(t testing.TB) store.Store
}

// All returns the SQLite and PostgreSQL backends.
func All() []Backend {
	return []Backend{{"sqlite", SQLite}, {"postgres", Postgres}}
}

// Run runs fn as a subtest per backend, each with a fresh store.
func Run(t *testing.T, fn func(t *testing.T, s store.Store)) {
	for _, b := range All() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}

// SQLite opens a migrated store in a temporary file.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "scimd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// Postgres opens a migrated store in a new database.
func Postgres(t testing.TB) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.NewDatabase(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}
