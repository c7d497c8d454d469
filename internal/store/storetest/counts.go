package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
)

// testCountsExact: the totalResults of an unfiltered page (read from the per-tenant counters
// since migration 0040) equals a count of the rows, per tenant and resource type, through
// concurrent creates, deletes, creates that fail (a taken userName, an unknown member: rolled
// back) and the other tenant's writes.
func testCountsExact(t *testing.T, s store.Store) {
	acme, other := mustTenant(t, s, "acme"), mustTenant(t, s, "other")
	all, err := filter.Parse(`id pr`, scim.Users)
	if err != nil {
		t.Fatal(err)
	}
	allGroups, err := filter.Parse(`id pr`, scim.Groups)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, tn store.Tenant, rt *scim.ResourceType, want int) {
		t.Helper()
		f := all
		if rt == scim.Groups {
			f = allGroups
		}
		// A cursor page (After set) and a full index page both read the total.
		for _, q := range []store.Query{{Count: 1}, {Count: 1, After: &store.Cursor{ID: "00000000-0000-0000-0000-000000000000"}}, {Count: 0}} {
			page, err := s.ListResources(ctx, rt, tn.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			counted, err := s.ListResources(ctx, rt, tn.ID, store.Query{Filter: f, Count: 0})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != want || counted.Total != want {
				t.Fatalf("%s: %s %s totalResults = %d (unfiltered), %d (counted), want %d", what, tn.Slug, rt.Name, page.Total, counted.Total, want)
			}
		}
	}
	check("empty tenant", acme, scim.Users, 0)

	const writers, each = 8, 12
	ids := make([][]string, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				u := newUser(fmt.Sprintf("w%d-u%d", w, i), nil)
				if err := s.CreateResource(ctx, scim.Users, acme.ID, u, nil, ev(acme, "create", u.ID)); err != nil {
					errs <- err
					continue
				}
				ids[w] = append(ids[w], u.ID)
				// The same userName again: refused, rolled back, not counted.
				if err := s.CreateResource(ctx, scim.Users, acme.ID, newUser(fmt.Sprintf("W%d-U%d", w, i), nil), nil, nil); !errors.Is(err, store.ErrConflict) {
					errs <- fmt.Errorf("duplicate userName: %v, want ErrConflict", err)
				}
				o := newUser(fmt.Sprintf("o%d-%d", w, i), nil)
				if err := s.CreateResource(ctx, scim.Users, other.ID, o, nil, nil); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check("after concurrent creates", acme, scim.Users, writers*each)
	check("the other tenant", other, scim.Users, writers*each)

	// Concurrent deletes of half of acme's users.
	errs = make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range ids[w][:each/2] {
				if err := s.DeleteResource(ctx, scim.Users, acme.ID, id, func(*scim.Resource) (*store.Event, error) { return nil, nil }); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check("after concurrent deletes", acme, scim.Users, writers*each/2)
	check("the other tenant after acme's deletes", other, scim.Users, writers*each)

	// A delete refused by its check writes nothing.
	refused := errors.New("refused")
	if err := s.DeleteResource(ctx, scim.Users, acme.ID, ids[0][each-1], func(*scim.Resource) (*store.Event, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("refused delete: %v", err)
	}
	check("after a refused delete", acme, scim.Users, writers*each/2)

	// Groups are counted apart; a group with an unknown member is rolled back.
	check("no groups", acme, scim.Groups, 0)
	mustCreate(t, s, scim.Groups, acme, newGroup("Sales"), ids[1][each-1])
	var unknown *store.UnknownMemberError
	if err := s.CreateResource(ctx, scim.Groups, acme.ID, newGroup("Ghosts"), []string{store.NewID()}, nil); !errors.As(err, &unknown) {
		t.Fatalf("group with an unknown member: %v", err)
	}
	check("one group", acme, scim.Groups, 1)
	check("users unchanged by groups", acme, scim.Users, writers*each/2)
}
