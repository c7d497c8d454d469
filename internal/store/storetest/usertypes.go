package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
)

// userTypes returns each user's userType by userName, as stored (column and attributes).
func userTypes(t *testing.T, s store.Store, tn store.Tenant) map[string]string {
	t.Helper()
	p, err := s.ListResources(ctx, scim.Users, tn.ID, store.Query{Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range p.Resources {
		name, ut := scim.String(r.Attrs, "userName"), scim.String(r.Attrs, "userType")
		out[name] = ut
		// The indexed column must agree with the attributes: filter on it.
		f := fmt.Sprintf("userType eq %q and userName eq %q", ut, name)
		if ut == "" {
			continue
		}
		q, err := filter.Parse(f, scim.Users)
		if err != nil {
			t.Fatal(err)
		}
		pp, err := s.ListResources(ctx, scim.Users, tn.ID, store.Query{Filter: q, Count: 1})
		if err != nil || pp.Total != 1 {
			t.Fatalf("userType column of %s is not %q: %d, %v", name, ut, pp.Total, err)
		}
	}
	return out
}

func wantTypes(t *testing.T, s store.Store, tn store.Tenant, want map[string]string) {
	t.Helper()
	got := userTypes(t, s, tn)
	for name, w := range want {
		if got[name] != w {
			t.Errorf("userType of %s = %q, want %q (all: %v)", name, got[name], w, got)
		}
	}
}

// groupsTenant makes a tenant with users u1..un (userType member) taking userType from rules.
func groupsTenant(t *testing.T, s store.Store, n int, rules ...store.UserTypeRule) (store.Tenant, []*scim.Resource) {
	t.Helper()
	tn := mustTenant(t, s, "acme")
	tn.UserTypes = []string{"admin", "member", "viewer", "guest"}
	if err := s.UpdateTenant(ctx, tn, nil); err != nil {
		t.Fatal(err)
	}
	var users []*scim.Resource
	for i := 1; i <= n; i++ {
		u := newUser(fmt.Sprintf("u%d", i), map[string]any{"userType": "member"})
		mustCreate(t, s, scim.Users, tn, u)
		users = append(users, u)
	}
	if err := s.SetUserTypeRules(ctx, tn.ID, store.UserTypeRules{Source: store.UserTypeFromGroups, Rules: rules}, ev(tn, "user_type_rules_update", "")); err != nil {
		t.Fatal(err)
	}
	drain(t, s, tn, 1000)
	return tn, users
}

func drain(t *testing.T, s store.Store, tn store.Tenant, n int) store.UserTypeProgress {
	t.Helper()
	for range 10000 {
		p, err := s.RecomputeUserTypes(ctx, tn.ID, n, store.Event{Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Pending {
			return p
		}
	}
	t.Fatal("recomputation never ends")
	return store.UserTypeProgress{}
}

func rename(t *testing.T, s store.Store, tn store.Tenant, g *scim.Resource, name string) {
	t.Helper()
	_, err := s.UpdateResource(ctx, scim.Groups, tn.ID, g.ID, func(r *scim.Resource) (store.Change, error) {
		return store.Change{Attrs: map[string]any{"displayName": name}, Event: ev(tn, "group_update_provision", r.ID)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testUserTypeRulesRoundTrip(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	got, err := s.UserTypeRules(ctx, tn.ID)
	if err != nil || got.Source != store.UserTypeFromIdP || len(got.Rules) != 0 {
		t.Fatalf("a new tenant's rules = %+v, %v; want source idp, none", got, err)
	}
	want := store.UserTypeRules{Source: store.UserTypeFromGroups, GroupsAttr: "roles",
		Rules: []store.UserTypeRule{{Group: "Monday Admins", UserType: "admin"}, {Group: "Contractors", UserType: "guest"}, {Group: "Ärzte", UserType: "viewer"}}}
	if err := s.SetUserTypeRules(ctx, tn.ID, want, ev(tn, "user_type_rules_update", "")); err != nil {
		t.Fatal(err)
	}
	got, err = s.UserTypeRules(ctx, tn.ID)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rules = %+v, %v; want %+v", got, err, want)
	}
	if tt, _ := s.Tenant(ctx, tn.ID); tt.UserTypeSource != store.UserTypeFromGroups {
		t.Fatalf("Tenant().UserTypeSource = %q", tt.UserTypeSource)
	}
	evs, _ := s.Events(ctx, tn.ID, store.EventQuery{Name: "user_type_rules_update"})
	if len(evs) != 1 {
		t.Fatalf("rule change events = %d, want 1 (written with the change)", len(evs))
	}
	if err := s.SetUserTypeRules(ctx, store.NewID(), want, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown tenant: %v, want ErrNotFound", err)
	}
}

func testUserTypeFromGroupEdits(t *testing.T, s store.Store) {
	tn, u := groupsTenant(t, s, 4, store.UserTypeRule{Group: "Monday Admins", UserType: "admin"}, store.UserTypeRule{Group: "contractors", UserType: "guest"})
	// A stream that receives user updates: each userType a rule changes is a SCIM event too.
	stream := mustStream(t, s, tn.ID, []string{"user_update_provision"}, nil)
	admins, contractors := newGroup("Monday Admins"), newGroup("Contractors")
	mustCreate(t, s, scim.Groups, tn, admins, u[0].ID) // created with a member: recomputed too
	mustCreate(t, s, scim.Groups, tn, contractors)
	wantTypes(t, s, tn, map[string]string{"u1": "admin", "u2": "member"})

	steps := []struct {
		name  string
		group *scim.Resource
		edit  scim.MemberEdit
		want  map[string]string
	}{
		{"second matching group keeps the first rule", contractors, scim.MemberEdit{Kind: scim.MembersAdd, IDs: []string{u[0].ID, u[1].ID}},
			map[string]string{"u1": "admin", "u2": "guest", "u3": "member"}},
		{"removed from the first rule's group: the next rule", admins, scim.MemberEdit{Kind: scim.MembersRemove, IDs: []string{u[0].ID}},
			map[string]string{"u1": "guest", "u2": "guest"}},
		{"replace: old members fall back, new ones match", contractors, scim.MemberEdit{Kind: scim.MembersReplace, IDs: []string{u[2].ID}},
			map[string]string{"u1": "member", "u2": "member", "u3": "guest"}},
		{"removeAll", contractors, scim.MemberEdit{Kind: scim.MembersRemoveAll}, map[string]string{"u3": "member"}},
	}
	for _, st := range steps {
		if err := edit(t, s, tn, st.group.ID, st.edit); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := userTypes(t, s, tn)
		for name, w := range st.want {
			if got[name] != w {
				t.Errorf("%s: userType of %s = %q, want %q", st.name, name, got[name], w)
			}
		}
	}
	evs, err := s.Events(ctx, tn.ID, store.EventQuery{ResourceID: u[0].ID, Name: "user_update_provision", Limit: 10})
	if err != nil || len(evs) != 3 {
		t.Fatalf("u1's userType events = %d (%v), want 3 (admin, guest, member)", len(evs), err)
	}
	if e := evs[2]; e.Actor != "test" || e.ResourceName != "u1" || fmt.Sprint(e.Changed) != "[userType]" ||
		!strings.Contains(e.Detail, `group rule "Monday Admins"`) {
		t.Errorf("first event = %+v", e)
	}
	if e := evs[0]; !strings.Contains(e.Detail, "default") {
		t.Errorf("fallback event detail = %q", e.Detail)
	}
	all, _ := s.Events(ctx, tn.ID, store.EventQuery{Name: "user_update_provision", Limit: 100})
	stats, err := s.StreamStats(ctx)
	if err != nil || len(stats) != 1 || stats[0].StreamID != stream.ID || stats[0].Undelivered != int64(len(all)) || len(all) < 6 {
		t.Fatalf("stream backlog = %+v, %v; want one pending delivery per userType event (%d)", stats, err, len(all))
	}
	r, _ := s.Resource(ctx, scim.Users, tn.ID, u[0].ID, false)
	if r.Meta.Version != 4 {
		t.Errorf("u1 version = %d, want 4 (created, then three changes)", r.Meta.Version)
	}
	// A user update recomputes that user and returns the userType written.
	out, err := s.UpdateResource(ctx, scim.Users, tn.ID, u[3].ID, func(r *scim.Resource) (store.Change, error) {
		attrs := map[string]any{"userName": "u4", "active": true, "userType": "admin"}
		return store.Change{Attrs: attrs, Event: ev(tn, "user_update_provision", r.ID)}, nil
	})
	if err != nil || out.Attrs["userType"] != "member" {
		t.Fatalf("user update returns userType %v, %v; want member (the rules')", out.Attrs["userType"], err)
	}
	wantTypes(t, s, tn, map[string]string{"u4": "member"})
}

func testUserTypeRenameAndDelete(t *testing.T, s store.Store) {
	g := newGroup("Monday Admins")
	tn, u := groupsTenant(t, s, 3, store.UserTypeRule{Group: "monday admins", UserType: "admin"})
	byID := newGroup("Readers")
	mustCreate(t, s, scim.Groups, tn, g, u[0].ID, u[1].ID)
	mustCreate(t, s, scim.Groups, tn, byID, u[2].ID, u[1].ID)
	rules := store.UserTypeRules{Source: store.UserTypeFromGroups, Rules: []store.UserTypeRule{
		{Group: "Monday Admins", UserType: "admin"}, {Group: strings.ToUpper(byID.ID), UserType: "viewer"}}}
	if err := s.SetUserTypeRules(ctx, tn.ID, rules, nil); err != nil {
		t.Fatal(err)
	}
	drain(t, s, tn, 2)
	wantTypes(t, s, tn, map[string]string{"u1": "admin", "u2": "admin", "u3": "viewer"})

	rename(t, s, tn, g, "Former Admins")
	wantTypes(t, s, tn, map[string]string{"u1": "member", "u2": "viewer", "u3": "viewer"})
	rename(t, s, tn, g, "MONDAY ADMINS")
	wantTypes(t, s, tn, map[string]string{"u1": "admin", "u2": "admin"})
	rename(t, s, tn, byID, "Still Readers") // named by id: nothing changes
	wantTypes(t, s, tn, map[string]string{"u3": "viewer"})

	if err := s.DeleteResource(ctx, scim.Groups, tn.ID, g.ID, func(r *scim.Resource) (*store.Event, error) {
		return ev(tn, "group_delete_provision", r.ID), nil
	}); err != nil {
		t.Fatal(err)
	}
	wantTypes(t, s, tn, map[string]string{"u1": "member", "u2": "viewer", "u3": "viewer"})
	if err := s.DeleteResource(ctx, scim.Groups, tn.ID, byID.ID, func(r *scim.Resource) (*store.Event, error) {
		return ev(tn, "group_delete_provision", r.ID), nil
	}); err != nil {
		t.Fatal(err)
	}
	wantTypes(t, s, tn, map[string]string{"u1": "member", "u2": "member", "u3": "member"})

	// The default changed: users no rule matches take the new one once recomputed.
	tt, _ := s.Tenant(ctx, tn.ID)
	tt.DefaultUserType = "guest"
	if err := s.UpdateTenant(ctx, tt, nil); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.UserTypeProgress(ctx, tn.ID); !p.Pending {
		t.Fatal("a default change in groups mode starts no recomputation")
	}
	drain(t, s, tn, 2)
	wantTypes(t, s, tn, map[string]string{"u1": "guest", "u2": "guest", "u3": "guest"})
}

func testUserTypeIdPMode(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u := newUser("u1", map[string]any{"userType": "guest"})
	mustCreate(t, s, scim.Users, tn, u)
	if err := s.SetUserTypeRules(ctx, tn.ID, store.UserTypeRules{Source: store.UserTypeFromIdP,
		Rules: []store.UserTypeRule{{Group: "Admins", UserType: "admin"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := s.RecomputeUserTypes(ctx, tn.ID, 10, store.Event{Actor: "test"}); err != nil || p.Pending || p.Changed != 0 {
		t.Fatalf("idp mode recomputation = %+v, %v; want nothing pending", p, err)
	}
	g := newGroup("Admins")
	mustCreate(t, s, scim.Groups, tn, g, u.ID)
	wantTypes(t, s, tn, map[string]string{"u1": "guest"})
}

func testUserTypeBatches(t *testing.T, s store.Store) {
	tn, u := groupsTenant(t, s, 5)
	g := newGroup("Admins")
	mustCreate(t, s, scim.Groups, tn, g, u[0].ID, u[1].ID, u[2].ID, u[3].ID, u[4].ID)
	if err := s.SetUserTypeRules(ctx, tn.ID, store.UserTypeRules{Source: store.UserTypeFromGroups,
		Rules: []store.UserTypeRule{{Group: "Admins", UserType: "admin"}}}, nil); err != nil {
		t.Fatal(err)
	}
	p, err := s.UserTypeProgress(ctx, tn.ID)
	if err != nil || !p.Pending || p.Done != 0 || p.Total != 5 {
		t.Fatalf("progress before = %+v, %v", p, err)
	}
	p, err = s.RecomputeUserTypes(ctx, tn.ID, 2, store.Event{Actor: "cli"})
	if err != nil || !p.Pending || p.Done != 2 || p.Changed != 2 {
		t.Fatalf("after one batch of 2: %+v, %v", p, err)
	}
	admins := 0
	for _, ut := range userTypes(t, s, tn) {
		if ut == "admin" {
			admins++
		}
	}
	if admins != 2 {
		t.Fatalf("admins after one batch = %d, want 2", admins)
	}
	// Another caller resumes where the first stopped.
	p = drain(t, s, tn, 2)
	if p.Pending || p.Done != 5 || p.Total != 5 {
		t.Fatalf("after all: %+v", p)
	}
	wantTypes(t, s, tn, map[string]string{"u1": "admin", "u2": "admin", "u3": "admin", "u4": "admin", "u5": "admin"})
	evs, _ := s.Events(ctx, tn.ID, store.EventQuery{Name: "user_update_provision", Limit: 100})
	byCLI := 0
	for _, e := range evs {
		if e.Actor == "cli" {
			byCLI++
		}
	}
	if len(evs) != 5 || byCLI != 2 {
		t.Fatalf("events = %d (%d by cli), want 5, the first batch's 2 by its caller", len(evs), byCLI)
	}
}

// testUserTypeConcurrentEdits: concurrent membership edits of different groups sharing
// users leave each user with the userType their final groups give.
func testUserTypeConcurrent(t *testing.T, s store.Store) {
	tn, u := groupsTenant(t, s, 8, store.UserTypeRule{Group: "g0", UserType: "admin"}, store.UserTypeRule{Group: "g1", UserType: "viewer"},
		store.UserTypeRule{Group: "g2", UserType: "guest"})
	var groups []*scim.Resource
	for i := range 4 {
		g := newGroup(fmt.Sprintf("g%d", i))
		mustCreate(t, s, scim.Groups, tn, g)
		groups = append(groups, g)
	}
	ids := make([]string, len(u))
	for i, x := range u {
		ids[i] = x.ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := groups[i%4]
			kind := scim.MembersAdd
			if i >= 16 && i%4 == 0 {
				kind = scim.MembersRemove // g0 loses its members in the second half
			}
			// Each edit names users in a different order, so that lock order is tested.
			names := append(append([]string(nil), ids[i%8:]...), ids[:i%8]...)
			if err := edit(t, s, tn, g.ID, scim.MemberEdit{Kind: kind, IDs: names}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Whatever the order, each user's final groups decide: compute from the members read back.
	in := map[string]map[string]bool{}
	for _, g := range groups {
		r, err := s.Resource(ctx, scim.Groups, tn.ID, g.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range memberIDs(r, "members") {
			if in[id] == nil {
				in[id] = map[string]bool{}
			}
			in[id][scim.String(r.Attrs, "displayName")] = true
		}
	}
	want := map[string]string{}
	for _, x := range u {
		w := "member"
		for _, rule := range []struct{ g, ut string }{{"g0", "admin"}, {"g1", "viewer"}, {"g2", "guest"}} {
			if in[x.ID][rule.g] {
				w = rule.ut
				break
			}
		}
		want[scim.String(x.Attrs, "userName")] = w
	}
	wantTypes(t, s, tn, want)
}
