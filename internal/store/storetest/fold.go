package storetest

import (
	"errors"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
)

// testUnicodeFolding: userName and group displayName are unique by the same Unicode case
// folding on every backend (SQLite's lower() folded ASCII only, so "émile" and "ÉMILE"
// were two users there and one on PostgreSQL), and `eq` finds a name in any case.
func testUnicodeFolding(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	pairs := []struct{ stored, other string }{
		{"émile@example.com", "ÉMILE@EXAMPLE.COM"},
		{"straße", "STRAßE"},
		{"kelvin", "\u212aELVIN"}, // the Kelvin sign folds to k
		{"σοφία", "ΣΟΦΊΑ"},
	}
	for _, p := range pairs {
		mustCreate(t, s, scim.Users, tn, newUser(p.stored, nil))
		if err := s.CreateResource(ctx, scim.Users, tn.ID, newUser(p.other, nil), nil, nil); !errors.Is(err, store.ErrConflict) {
			t.Errorf("userName %q beside %q: %v, want ErrConflict", p.other, p.stored, err)
		}
		f, err := filter.Parse(`userName eq "`+p.other+`"`, scim.Users)
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.ListResources(ctx, scim.Users, tn.ID, store.Query{Filter: f, StartIndex: 1, Count: 10})
		if err != nil || len(page.Resources) != 1 || scim.String(page.Resources[0].Attrs, "userName") != p.stored {
			t.Errorf("userName eq %q: %v, %v; want %q", p.other, page.Resources, err, p.stored)
		}
	}
	// Names that differ by more than case stay apart.
	mustCreate(t, s, scim.Users, tn, newUser("emile@example.com", nil))
	mustCreate(t, s, scim.Groups, tn, newGroup("Équipe"))
	if err := s.CreateResource(ctx, scim.Groups, tn.ID, newGroup("éQUIPE"), nil, nil); !errors.Is(err, store.ErrConflict) {
		t.Errorf("displayName in other Unicode case: %v, want ErrConflict", err)
	}
	g := newGroup("Ventes")
	mustCreate(t, s, scim.Groups, tn, g)
	_, err := s.UpdateResource(ctx, scim.Groups, tn.ID, g.ID, func(r *scim.Resource) (store.Change, error) {
		r.Attrs["displayName"] = "ÉQUIPE"
		return store.Change{Attrs: r.Attrs}, nil
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("rename onto a displayName in other Unicode case: %v, want ErrConflict", err)
	}
}
