package postgres_test

import (
	"context"
	"sync"
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

var (
	templateOnce sync.Once
	templateName string
)

// migratedTemplate makes one migrated database that every subtest's database copies.
func migratedTemplate(t *testing.T) string {
	templateOnce.Do(func() {
		dsn := pgtest.NewDatabase(t, "")
		s := open(t, dsn)
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
		templateName = pgtest.DatabaseName(dsn)
	})
	if templateName == "" {
		t.Fatal("no template database")
	}
	return templateName
}

func TestConformance(t *testing.T) {
	tmpl := migratedTemplate(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, pgtest.NewDatabase(t, tmpl))
	})
}

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
