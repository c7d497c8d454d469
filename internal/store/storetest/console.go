package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/store"
)

var consoleNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func mustLink(t *testing.T, s store.Store, tenantID, hash string, created time.Time, ttl time.Duration) {
	t.Helper()
	if err := s.CreateAdminLink(ctx, store.AdminLink{TenantID: tenantID, Hash: []byte(hash), CreatedAt: created, ExpiresAt: created.Add(ttl)}); err != nil {
		t.Fatal(err)
	}
}

func testAdminLinkOnce(t *testing.T, s store.Store) {
	a := mustTenant(t, s, "acme")
	mustLink(t, s, a.ID, "link-1", consoleNow, 15*time.Minute)
	got, err := s.TakeAdminLink(ctx, a.ID, []byte("link-1"), consoleNow.Add(time.Minute))
	if err != nil || got.TenantID != a.ID || string(got.Hash) != "link-1" || !got.ExpiresAt.Equal(consoleNow.Add(15*time.Minute)) {
		t.Fatalf("TakeAdminLink = %+v, %v", got, err)
	}
	if _, err := s.TakeAdminLink(ctx, a.ID, []byte("link-1"), consoleNow.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second TakeAdminLink: %v, want ErrNotFound", err)
	}
}

func testAdminLinkRefused(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	mustLink(t, s, a.ID, "link-1", consoleNow, 15*time.Minute)
	cases := []struct {
		name   string
		tenant string
		hash   string
		now    time.Time
	}{
		{"other tenant", b.ID, "link-1", consoleNow},
		{"unknown hash", a.ID, "nope", consoleNow},
		{"expired", a.ID, "link-1", consoleNow.Add(15 * time.Minute)},
	}
	for _, tc := range cases {
		if _, err := s.TakeAdminLink(ctx, tc.tenant, []byte(tc.hash), tc.now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
		}
	}
	// None of the refusals used the link up.
	if _, err := s.TakeAdminLink(ctx, a.ID, []byte("link-1"), consoleNow); err != nil {
		t.Fatalf("the link after refused attempts: %v", err)
	}
}

func testAdminLinkConcurrent(t *testing.T, s store.Store) {
	a := mustTenant(t, s, "acme")
	mustLink(t, s, a.ID, "link-1", consoleNow, 15*time.Minute)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.TakeAdminLink(ctx, a.ID, []byte("link-1"), consoleNow)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("TakeAdminLink: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent uses of one link succeeded, want 1", won, n)
	}
}

func testAdminLinkExpiredDeleted(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	mustLink(t, s, a.ID, "old", consoleNow, time.Minute)
	mustLink(t, s, b.ID, "old", consoleNow, time.Minute)
	// A new link of tenant a, made after "old" expired, deletes a's expired link only.
	mustLink(t, s, a.ID, "new", consoleNow.Add(time.Hour), time.Minute)
	if _, err := s.TakeAdminLink(ctx, a.ID, []byte("old"), consoleNow); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tenant a's expired link is still there: %v", err)
	}
	if _, err := s.TakeAdminLink(ctx, b.ID, []byte("old"), consoleNow); err != nil {
		t.Errorf("tenant b's link was deleted by tenant a's: %v", err)
	}
}
