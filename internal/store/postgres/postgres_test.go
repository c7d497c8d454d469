package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/internal/scim"
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

// storeWithTenant is a fresh store holding one tenant.
func storeWithTenant(t *testing.T) (*postgres.Store, store.Tenant) {
	s := freshStores(t)(t).(*postgres.Store)
	tn := store.Tenant{ID: store.NewID(), Slug: "acme", Name: "acme", DefaultUserType: "member", UserTypes: []string{"member"}, CreatedAt: time.Now()}
	if err := s.CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	return s, tn
}

func TestConformance(t *testing.T) { storetest.Run(t, freshStores(t)) }

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

// TestMemberAddRacesUserDelete: a membership added while the member is being deleted never
// outlives the member. The delete holds the user's row lock; the add waits on its share lock,
// then finds the user gone.
func TestMemberAddRacesUserDelete(t *testing.T) {
	ctx := context.Background()
	s, tn := storeWithTenant(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	user := &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: now, LastModified: now, Version: 1}, Attrs: map[string]any{"userName": "u", "active": true}}
	group := &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: now, LastModified: now, Version: 1}, Attrs: map[string]any{"displayName": "g"}}
	for _, c := range []struct {
		rt *scim.ResourceType
		r  *scim.Resource
	}{{scim.Users, user}, {scim.Groups, group}} {
		if err := s.CreateResource(ctx, c.rt, tn.ID, c.r, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tn.ID, user.ID); err != nil {
		t.Fatal(err)
	}
	added := make(chan error, 1)
	go func() {
		_, err := s.UpdateResource(ctx, scim.Groups, tn.ID, group.ID, func(*scim.Resource) (store.Change, error) {
			return store.Change{Members: []scim.MemberEdit{{Kind: "add", IDs: []string{user.ID}}}}, nil
		})
		added <- err
	}()
	time.Sleep(300 * time.Millisecond) // the add is now waiting for the user's row
	for _, q := range []string{`DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2`, `DELETE FROM users WHERE tenant_id = $1 AND id = $2`} {
		if _, err := tx.Exec(ctx, q, tn.ID, user.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var unknown *store.UnknownMemberError
	if err := <-added; !errors.As(err, &unknown) {
		t.Fatalf("add of a member deleted meanwhile: %v, want UnknownMemberError", err)
	}
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT COUNT(*) FROM group_members WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d memberships left, %v; want none", n, err)
	}
}

// TestCountsAcrossSlotLayouts: rows counted in the 16 slots of migration 0040 are still
// counted right when they are deleted under the 64 of 0041, whose slot for a row may hold
// no counter row yet: the decrement is an upsert, and only the tenant's sum is the count.
func TestCountsAcrossSlotLayouts(t *testing.T) {
	ctx := context.Background()
	s, tn := storeWithTenant(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var ids []string
	for i := range 40 {
		u := &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: now, LastModified: now, Version: 1}, Attrs: map[string]any{"userName": fmt.Sprintf("u%d", i), "active": true}}
		if err := s.CreateResource(ctx, scim.Users, tn.ID, u, nil, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	total := func() int {
		t.Helper()
		page, err := s.ListResources(ctx, scim.Users, tn.ID, store.Query{Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		return page.Total
	}
	// The counters as 0040 left them: by the id's hash over 16 slots.
	for _, q := range []string{
		`DELETE FROM resource_counts WHERE tenant_id = $1 AND resource_type = 'User'`,
		`INSERT INTO resource_counts (tenant_id, resource_type, slot, n)
			SELECT tenant_id, 'User', hashtext(id::text) & 15, COUNT(*) FROM users WHERE tenant_id = $1 GROUP BY 1, 3`,
	} {
		if _, err := s.Pool.Exec(ctx, q, tn.ID); err != nil {
			t.Fatal(err)
		}
	}
	var slots int
	if err := s.Pool.QueryRow(ctx, `SELECT COUNT(*) FROM resource_counts WHERE tenant_id = $1 AND resource_type = 'User' AND slot > 15`, tn.ID).Scan(&slots); err != nil || slots != 0 {
		t.Fatalf("%d counters above slot 15, %v", slots, err)
	}
	if got := total(); got != 40 {
		t.Fatalf("total under 16 slots = %d, want 40", got)
	}
	for i, id := range ids {
		if err := s.DeleteResource(ctx, scim.Users, tn.ID, id, func(*scim.Resource) (*store.Event, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
		if got, want := total(), 40-i-1; got != want {
			t.Fatalf("after %d deletes: total %d, want %d", i+1, got, want)
		}
	}
}

// TestReadOnlyPrimary: a connection that reaches a read-only node (the old primary after a
// failover that left it running, or a standby) makes a write fail with ErrUnavailable (503,
// the IdP retries), not an internal error; and once the database takes writes again the
// next write succeeds at once, because the read-only connections were not kept in the pool.
func TestReadOnlyPrimary(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t, "")
	s := open(t, dsn)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, pgtest.BaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := pgx.Identifier{pgtest.DatabaseName(dsn)}.Sanitize()
	tenant := func(slug string) error {
		return s.CreateTenant(ctx, store.Tenant{ID: store.NewID(), Slug: slug, Name: slug, DefaultUserType: "member",
			UserTypes: []string{"member"}, CreatedAt: time.Now()})
	}
	if err := tenant("before"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	s.Pool.Reset() // the pool reconnects, and reaches a read-only node
	for i := range 3 {
		if err := tenant(fmt.Sprintf("refused%d", i)); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("write on a read-only node: %v, want ErrUnavailable", err)
		}
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" RESET default_transaction_read_only"); err != nil {
		t.Fatal(err)
	}
	if err := tenant("after"); err != nil {
		t.Fatalf("first write once the database takes writes again: %v", err)
	}
}
