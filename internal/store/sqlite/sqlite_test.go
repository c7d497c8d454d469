package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlite"
	"github.com/scimd/scimd/internal/store/storetest"
)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "scimd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fresh opens a new migrated store for each subtest.
func fresh(t *testing.T) store.Store {
	s := open(t)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, fresh) }

func TestMigrateTwice(t *testing.T) {
	s := open(t)
	first, err := s.Migrate(context.Background())
	if err != nil || len(first) == 0 {
		t.Fatalf("first Migrate = %v, %v", first, err)
	}
	second, err := s.Migrate(context.Background())
	if err != nil || len(second) != 0 {
		t.Fatalf("second Migrate applied %v, %v; want nothing", second, err)
	}
}
