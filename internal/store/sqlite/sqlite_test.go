package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
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

// TestReadersStayOpen: concurrent reads reuse the reader pool's connections instead of
// closing all but two after each use and opening them again (database/sql's default idle
// limit), which cost a lookup its connection setup and its prepared statements.
func TestReadersStayOpen(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				rows, err := s.DB.QueryContext(ctx, `SELECT 1`)
				if err != nil {
					t.Error(err)
					return
				}
				for rows.Next() {
				}
				rows.Close()
			}
		})
	}
	wg.Wait()
	if st := s.DB.Stats(); st.MaxIdleClosed > 0 {
		t.Fatalf("%d reader connections closed for the idle limit (open %d, idle %d)", st.MaxIdleClosed, st.OpenConnections, st.Idle)
	}
}
