package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// TestListTotal checks totalResults on every kind of page, both where ListResources counts
// and where it takes the total from a page that is not full.
func TestListTotal(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		tn := store.Tenant{ID: store.NewID(), Slug: "acme", Name: "acme", DefaultUserType: "member", UserTypes: []string{"member"}, CreatedAt: time.Now()}
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i := range 25 {
			at := now.Add(time.Duration(i) * time.Millisecond)
			r := &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: at, LastModified: at, Version: 1},
				Attrs: map[string]any{"userName": fmt.Sprintf("user%02d", i), "active": i%2 == 0}}
			if err := s.CreateResource(ctx, scim.Users, tn.ID, r, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		active, err := filter.Parse("active eq true", scim.Users)
		if err != nil {
			t.Fatal(err)
		}
		one, err := filter.Parse(`userName eq "USER07"`, scim.Users)
		if err != nil {
			t.Fatal(err)
		}
		none, err := filter.Parse(`userName eq "nobody"`, scim.Users)
		if err != nil {
			t.Fatal(err)
		}
		sortBy, err := scim.Users.ResolveString("userName")
		if err != nil {
			t.Fatal(err)
		}
		first, err := s.ListResources(ctx, scim.Users, tn.ID, store.Query{StartIndex: 1, Count: 10})
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name     string
			q        store.Query
			total, n int
		}{
			{"first full page", store.Query{StartIndex: 1, Count: 10}, 25, 10},
			{"whole list in one page", store.Query{StartIndex: 1, Count: 100}, 25, 25},
			{"last partial page", store.Query{StartIndex: 21, Count: 10}, 25, 5},
			{"page ending on the last row", store.Query{StartIndex: 16, Count: 10}, 25, 10},
			{"past the end", store.Query{StartIndex: 30, Count: 10}, 25, 0},
			{"count 0", store.Query{StartIndex: 1, Count: 0}, 25, 0},
			{"filtered, partial", store.Query{Filter: active, StartIndex: 11, Count: 10}, 13, 3},
			{"filtered, past the end", store.Query{Filter: active, StartIndex: 14, Count: 10}, 13, 0},
			{"lookup hit", store.Query{Filter: one, StartIndex: 1, Count: 100}, 1, 1},
			{"lookup miss", store.Query{Filter: none, StartIndex: 1, Count: 100}, 0, 0},
			{"sorted, partial", store.Query{SortBy: &sortBy, Descending: true, StartIndex: 20, Count: 10}, 25, 6},
			{"cursor, partial", store.Query{After: first.Last, Count: 100}, 25, 15},
			{"cursor, filtered", store.Query{Filter: active, After: first.Last, Count: 100}, 13, 8},
		}
		for _, tc := range cases {
			page, err := s.ListResources(ctx, scim.Users, tn.ID, tc.q)
			if err != nil || page.Total != tc.total || len(page.Resources) != tc.n {
				t.Errorf("%s: total %d, %d resources, %v; want total %d, %d resources", tc.name, page.Total, len(page.Resources), err, tc.total, tc.n)
			}
		}
	})
}
