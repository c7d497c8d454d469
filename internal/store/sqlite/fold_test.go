package sqlite_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlite"
)

// TestFoldKeysFilled: rows stored before the folded key columns existed get their keys when
// scimd migrates; two old names that fold the same (SQLite once compared ASCII only) both
// stay, and a new name folding like them is refused.
func TestFoldKeysFilled(t *testing.T) {
	ctx := context.Background()
	s := fresh(t).(*sqlite.Store)
	tn := store.Tenant{ID: store.NewID(), Slug: "acme", Name: "Acme", DefaultUserType: "member", UserTypes: []string{"member"}, CreatedAt: time.Now()}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	user := func(name string) error {
		now := time.Now().UTC()
		return s.CreateResource(ctx, scim.Users, tn.ID, &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: now, LastModified: now, Version: 1},
			Attrs: map[string]any{"userName": name, "active": true}}, nil, nil)
	}
	forget := func() {
		if _, err := s.DB.ExecContext(ctx, `UPDATE users SET user_name_key = NULL WHERE tenant_id = ?`, tn.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := user("émile@example.com"); err != nil {
		t.Fatal(err)
	}
	forget() // as before the migration: the next name is not compared with it
	if err := user("ÉMILE@example.com"); err != nil {
		t.Fatal(err)
	}
	forget()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var nulls int
	if err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = ? AND user_name_key IS NULL`, tn.ID).Scan(&nulls); err != nil || nulls != 0 {
		t.Fatalf("%d keys left NULL, %v", nulls, err)
	}
	if err := user("Émile@Example.com"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a third name folding the same: %v, want ErrConflict", err)
	}
}
