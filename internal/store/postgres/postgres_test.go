package postgres_test

import (
	"context"
	"testing"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/postgres/pgtest"
	"github.com/scimd/scimd/internal/store/storetest"
)

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// freshStores makes one migrated template database for the test, and returns a function
// that gives each subtest a new database copied from it.
func freshStores(t *testing.T) func(t *testing.T) store.Store {
	dsn := pgtest.NewDatabase(t, "")
	s := open(t, dsn)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	tmpl := pgtest.DatabaseName(dsn)
	return func(t *testing.T) store.Store { return open(t, pgtest.NewDatabase(t, tmpl)) }
}

func TestConformance(t *testing.T) { storetest.Run(t, freshStores(t)) }

func TestSAMLConformance(t *testing.T) { storetest.RunSAML(t, freshStores(t)) }

func TestConsoleConformance(t *testing.T) { storetest.RunConsole(t, freshStores(t)) }

func TestMigrateTwice(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t, ""))
	first, err := s.Migrate(context.Background())
	if err != nil || len(first) == 0 {
		t.Fatalf("first Migrate = %v, %v", first, err)
	}
	second, err := s.Migrate(context.Background())
	if err != nil || len(second) != 0 {
		t.Fatalf("second Migrate applied %v, %v; want nothing", second, err)
	}
}
