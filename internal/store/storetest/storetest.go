// Package storetest is the conformance suite that every store.Store backend passes: each
// backend's test calls Run with a function that returns a fresh, migrated, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
)

// Run runs every conformance test, each on a fresh store from newStore: the one entry point
// for every part of store.Store (a new small interface adds its tests to this list).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"Tokens", testTokens},
		{"TenantChangesAnnounced", testTenantChanges},
		{"UserCRUD", testUserCRUD},
		{"UserNameUniqueCaseInsensitive", testUserNameUnique},
		{"UniqueByUnicodeFolding", testUnicodeFolding},
		{"UpdateWritesEventInSameTransaction", testUpdateAtomic},
		{"CreateWritesEventInSameTransaction", testCreateAtomic},
		{"UpdateSkipKeepsVersion", testUpdateSkip},
		{"MalformedIDNotFound", testMalformedID},
		{"TenantIsolation", testTenantIsolation},
		{"GroupMembers", testGroupMembers},
		{"UnknownMemberWritesNothing", testUnknownMember},
		{"DeleteUserLeavesGroups", testDeleteUserLeavesGroups},
		{"ListPagingAndCursor", testListPaging},
		{"CountsExact", testCountsExact},
		{"ListFilter", testListFilter},
		{"ConcurrentMemberAdds", testConcurrentMemberAdds},
		{"Events", testEvents},
		{"Secret", testSecret},
		{"TakeToken", testTakeToken},
		{"MemberCounts", testMemberCounts},
		{"Signing/FirstKey", testSigningFirstKey},
		{"Signing/FirstKeyConcurrent", testSigningFirstKeyConcurrent},
		{"Signing/Rotation", testSigningRotation},
		{"OIDC/Clients", testOIDCClients},
		{"OIDC/AuthRequests", testOIDCAuthRequests},
		{"OIDC/Tokens", testOIDCTokens},
		{"AdminChangesWriteTheirEvent", testAdminEvents},
		{"SAML/ConfigKeyPairKeptOnUpdate", testSAMLConfig},
		{"SAML/ConfigTenantIsolation", testSAMLConfigIsolation},
		{"SAML/SPKeysSwappedOnce", testSwapSAMLSPKeys},
		{"SAML/RequestsBoundToBrowser", testSAMLRequests},
		{"SAML/RequestTakenOnce", testSAMLRequestTakenOnce},
		{"SAML/PendingRequestsCounted", testPendingSAMLRequests},
		{"SAML/AssertionReplay", testAssertionReplay},
		{"SAML/AssertionReplayConcurrent", testAssertionReplayConcurrent},
		{"SAML/Sessions", testSessions},
		{"SAML/Prune", testSAMLPrune},
		{"SAML/PersistentNameIDs", testSAMLIdentities},
		{"SAML/SessionSubject", testSessionSubject},
		{"SAML/LogoutDeletesSessions", testDeleteSAMLSessions},
		{"SAML/MetadataRefreshClaims", testMetadataRefreshClaims},
		{"SAML/MetadataRefreshClaimConcurrent", testMetadataRefreshClaimConcurrent},
		{"OIDC/RevokeUserTokens", testRevokeOIDCUserTokens},
		{"Console/LinkTakenOnce", testAdminLinkOnce},
		{"Console/LinkRefused", testAdminLinkRefused},
		{"Console/LinkTakenOnceConcurrent", testAdminLinkConcurrent},
		{"Console/ExpiredLinksDeleted", testAdminLinkExpiredDeleted},
		{"Streams/CRUD", testStreamCRUD},
		{"Streams/OutboxFanOut", testOutboxFanOut},
		{"Streams/ResourceOrder", testResourceOrder},
		{"Streams/ResourceRuns", testResourceRuns},
		{"Streams/LongQueueOneAtATime", testLongQueueOneAtATime},
		{"Streams/ClaimKeepsOrder", testClaimKeepsOrder},
		{"Streams/TenantDeliveries", testTenantDeliveries},
		{"Streams/LeaseExpiry", testLeaseExpiry},
		{"Streams/PollAckGeneration", testPollAckGeneration},
		{"Streams/Replay", testReplay},
		{"Streams/StatsAndParked", testStatsAndParked},
		{"Streams/ConcurrentClaimsExclusive", testConcurrentClaims},
		{"Streams/PruneTakesDeliveries", testPruneDeliveries},
		{"UserType/RulesRoundTrip", testUserTypeRulesRoundTrip},
		{"UserType/FromGroupEdits", testUserTypeFromGroupEdits},
		{"UserType/RenameAndDelete", testUserTypeRenameAndDelete},
		{"UserType/IdPModeUntouched", testUserTypeIdPMode},
		{"UserType/BatchesResume", testUserTypeBatches},
		{"UserType/ConcurrentEdits", testUserTypeConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var ctx = context.Background()

func mustTenant(t *testing.T, s store.Store, slug string) store.Tenant {
	t.Helper()
	tn := store.Tenant{ID: store.NewID(), Slug: slug, Name: slug, DefaultUserType: "member",
		UserTypes: []string{"admin", "member"}, CreatedAt: time.Now().UTC()}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatalf("CreateTenant(%s): %v", slug, err)
	}
	return tn
}

var clock = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
var clockMu sync.Mutex

// tick returns strictly increasing times so that creation order is deterministic.
func tick() time.Time {
	clockMu.Lock()
	defer clockMu.Unlock()
	clock = clock.Add(time.Millisecond)
	return clock
}

func newUser(userName string, extra map[string]any) *scim.Resource {
	now := tick()
	attrs := map[string]any{"userName": userName, "active": true}
	for k, v := range extra {
		attrs[k] = v
	}
	return &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: now, LastModified: now, Version: 1}, Attrs: attrs}
}

func newGroup(name string) *scim.Resource {
	now := tick()
	return &scim.Resource{ID: store.NewID(), Meta: scim.Meta{Created: now, LastModified: now, Version: 1},
		Attrs: map[string]any{"displayName": name}}
}

func ev(tenant store.Tenant, name, id string) *store.Event {
	return &store.Event{TenantID: tenant.ID, At: tick(), Name: name, Outcome: "success", Actor: "test",
		ResourceType: "User", ResourceID: id}
}

func mustCreate(t *testing.T, s store.Store, rt *scim.ResourceType, tn store.Tenant, r *scim.Resource, members ...string) {
	t.Helper()
	if err := s.CreateResource(ctx, rt, tn.ID, r, members, ev(tn, "create", r.ID)); err != nil {
		t.Fatalf("CreateResource(%v): %v", r.Attrs, err)
	}
}

func testTenants(t *testing.T, s store.Store) {
	a := mustTenant(t, s, "acme")
	mustTenant(t, s, "beta")
	if err := s.CreateTenant(ctx, store.Tenant{ID: store.NewID(), Slug: "acme", Name: "x", CreatedAt: time.Now()}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate slug: got %v, want ErrConflict", err)
	}
	got, err := s.TenantBySlug(ctx, "acme")
	if err != nil || got.ID != a.ID || got.DefaultUserType != "member" || len(got.UserTypes) != 2 {
		t.Fatalf("TenantBySlug = %+v, %v", got, err)
	}
	if _, err := s.TenantBySlug(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown slug: %v", err)
	}
	list, err := s.Tenants(ctx)
	if err != nil || len(list) != 2 || list[0].Slug != "acme" || list[1].Slug != "beta" {
		t.Fatalf("Tenants = %+v, %v", list, err)
	}
	got.DefaultUserType, got.UserTypes = "guest", []string{"guest", "admin"}
	if err := s.UpdateTenant(ctx, got, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.TenantBySlug(ctx, "acme"); got.DefaultUserType != "guest" || got.UserTypes[0] != "guest" {
		t.Fatalf("after UpdateTenant: %+v", got)
	}
}

func testTokens(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	tok := store.Token{ID: "tok1", TenantID: tn.ID, Label: "jumpcloud", CreatedAt: tick()}
	if err := s.CreateToken(ctx, tok, []byte("hash-1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, store.Token{ID: "tok2", TenantID: tn.ID, Label: "okta", CreatedAt: tick()}, []byte("hash-2"), nil); err != nil {
		t.Fatal(err)
	}
	// A token id names one token of one tenant: RevokeToken by id cannot hit another's.
	other := mustTenant(t, s, "other")
	if err := s.CreateToken(ctx, store.Token{ID: "tok1", TenantID: other.ID, Label: "x", CreatedAt: tick()}, []byte("hash-x"), nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second tenant's token with the same id: %v, want ErrConflict", err)
	}
	got, gotTenant, err := s.TokenByHash(ctx, []byte("hash-1"))
	if err != nil || got.ID != "tok1" || got.TenantID != tn.ID || got.Revoked() || !got.LastUsedAt.IsZero() {
		t.Fatalf("TokenByHash = %+v, %v", got, err)
	}
	if gotTenant.ID != tn.ID || gotTenant.Slug != "acme" || len(gotTenant.UserTypes) != 2 || gotTenant.DefaultUserType != "member" {
		t.Fatalf("TokenByHash tenant = %+v", gotTenant)
	}
	if _, _, err := s.TokenByHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	used := tick()
	if err := s.TouchToken(ctx, tn.ID, "tok1", used); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tn.ID, "tok2", tick(), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tn.ID, "nope", tick(), nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if err := s.RevokeToken(ctx, other.ID, "tok1", tick(), nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke another tenant's token: %v, want ErrNotFound", err)
	}
	list, err := s.Tokens(ctx, tn.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("Tokens = %+v, %v", list, err)
	}
	if !list[0].LastUsedAt.Equal(used) || list[0].Revoked() || !list[1].Revoked() {
		t.Fatalf("Tokens = %+v", list)
	}
}

func testUserCRUD(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u := newUser("ann@example.com", map[string]any{
		"name":                    map[string]any{"givenName": "Ann"},
		"emails":                  []any{map[string]any{"value": "ann@example.com", "type": "work", "primary": true}},
		scim.EnterpriseUserSchema: map[string]any{"department": "Sales"},
	})
	mustCreate(t, s, scim.Users, tn, u)
	got, err := s.Resource(ctx, scim.Users, tn.ID, u.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Meta.Version != 1 || !got.Meta.Created.Equal(u.Meta.Created) {
		t.Fatalf("Resource = %+v", got)
	}
	if fmt.Sprint(got.Attrs["name"]) != "map[givenName:Ann]" || scim.String(got.Attrs, "userName") != "ann@example.com" {
		t.Fatalf("attrs = %v", got.Attrs)
	}
	if e := got.Attrs[scim.EnterpriseUserSchema].(map[string]any); e["department"] != "Sales" {
		t.Fatalf("extension = %v", e)
	}
	updated, err := s.UpdateResource(ctx, scim.Users, tn.ID, u.ID, func(r *scim.Resource) (store.Change, error) {
		attrs := r.Attrs
		attrs["active"] = false
		return store.Change{Attrs: attrs, Event: ev(tn, "user_deprovision", r.ID)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Meta.Version != 2 || !updated.Meta.LastModified.After(u.Meta.LastModified) {
		t.Fatalf("after update meta = %+v", updated.Meta)
	}
	got, _ = s.Resource(ctx, scim.Users, tn.ID, u.ID, true)
	if got.Attrs["active"] != false || got.Meta.Version != 2 {
		t.Fatalf("after update = %+v", got)
	}
	if err := s.DeleteResource(ctx, scim.Users, tn.ID, u.ID, func(*scim.Resource) (*store.Event, error) {
		return ev(tn, "user_delete_provision", u.ID), nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resource(ctx, scim.Users, tn.ID, u.ID, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteResource(ctx, scim.Users, tn.ID, u.ID, func(*scim.Resource) (*store.Event, error) { return nil, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	events, err := s.Events(ctx, tn.ID, store.EventQuery{ResourceID: u.ID})
	if err != nil || len(events) != 3 || events[0].Name != "user_delete_provision" || events[2].Name != "create" {
		t.Fatalf("events = %+v, %v", events, err)
	}
}

func testUserNameUnique(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	mustCreate(t, s, scim.Users, tn, newUser("Ann@Example.com", nil))
	err := s.CreateResource(ctx, scim.Users, tn.ID, newUser("ann@example.COM", nil), nil, nil)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate userName in other case: %v, want ErrConflict", err)
	}
	other := mustTenant(t, s, "other")
	mustCreate(t, s, scim.Users, other, newUser("ann@example.com", nil))
	b := newUser("bob", nil)
	mustCreate(t, s, scim.Users, tn, b)
	_, err = s.UpdateResource(ctx, scim.Users, tn.ID, b.ID, func(r *scim.Resource) (store.Change, error) {
		r.Attrs["userName"] = "ANN@example.com"
		return store.Change{Attrs: r.Attrs}, nil
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto taken userName: %v", err)
	}
	g := newGroup("Sales")
	mustCreate(t, s, scim.Groups, tn, g)
	if err := s.CreateResource(ctx, scim.Groups, tn.ID, newGroup("SALES"), nil, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate displayName: %v", err)
	}
}

func testUpdateAtomic(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u := newUser("ann", nil)
	mustCreate(t, s, scim.Users, tn, u)
	boom := errors.New("boom")
	_, err := s.UpdateResource(ctx, scim.Users, tn.ID, u.ID, func(r *scim.Resource) (store.Change, error) {
		return store.Change{}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("fn error not returned: %v", err)
	}
	// A change whose event cannot be written (unknown tenant) must not be written either.
	_, err = s.UpdateResource(ctx, scim.Users, tn.ID, u.ID, func(r *scim.Resource) (store.Change, error) {
		r.Attrs["title"] = "CEO"
		bad := ev(tn, "user_update_provision", r.ID)
		bad.TenantID = "no-such-tenant"
		return store.Change{Attrs: r.Attrs, Event: bad}, nil
	})
	if err == nil {
		t.Fatal("update with an unwritable event succeeded")
	}
	got, _ := s.Resource(ctx, scim.Users, tn.ID, u.ID, false)
	if _, ok := got.Attrs["title"]; ok || got.Meta.Version != 1 {
		t.Fatalf("half-written update: %+v", got)
	}
	events, _ := s.Events(ctx, tn.ID, store.EventQuery{ResourceID: u.ID})
	if len(events) != 1 {
		t.Fatalf("events = %+v, want only the create", events)
	}
}

// testCreateAtomic: a create and its event are written together or not at all (PostgreSQL
// writes them in one statement, SQLite in one transaction).
func testCreateAtomic(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u := newUser("ann", nil)
	e := ev(tn, "user_create_provision", u.ID)
	if err := s.CreateResource(ctx, scim.Users, tn.ID, u, nil, e); err != nil {
		t.Fatal(err)
	}
	if e.ID == 0 {
		t.Fatal("the create's event was given no id")
	}
	dup := newUser("ANN", nil)
	if err := s.CreateResource(ctx, scim.Users, tn.ID, dup, nil, ev(tn, "user_create_provision", dup.ID)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate userName: %v, want ErrConflict", err)
	}
	if got, err := s.Events(ctx, tn.ID, store.EventQuery{ResourceID: dup.ID}); err != nil || len(got) != 0 {
		t.Fatalf("a refused create wrote events %+v (%v)", got, err)
	}
	bob := newUser("bob", nil)
	bad := ev(tn, "user_create_provision", bob.ID)
	bad.TenantID = "no-such-tenant"
	if err := s.CreateResource(ctx, scim.Users, tn.ID, bob, nil, bad); err == nil {
		t.Fatal("a create with an unwritable event succeeded")
	}
	if _, err := s.Resource(ctx, scim.Users, tn.ID, bob.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the create of an unwritable event was written: %v", err)
	}
}

func testUpdateSkip(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u := newUser("ann", nil)
	mustCreate(t, s, scim.Users, tn, u)
	got, err := s.UpdateResource(ctx, scim.Users, tn.ID, u.ID, func(r *scim.Resource) (store.Change, error) {
		return store.Change{Skip: true}, nil
	})
	if err != nil || got.Meta.Version != 1 {
		t.Fatalf("skip: %+v, %v", got, err)
	}
}

func testMalformedID(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	for _, id := range []string{"", "nope", "'; DROP TABLE users; --", "00000000-0000-0000-0000-00000000000g", store.NewID()} {
		if _, err := s.Resource(ctx, scim.Users, tn.ID, id, false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Resource(%q) = %v, want ErrNotFound", id, err)
		}
		_, err := s.UpdateResource(ctx, scim.Groups, tn.ID, id, func(*scim.Resource) (store.Change, error) { return store.Change{}, nil })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateResource(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func testTenantIsolation(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	ub := newUser("bob", nil)
	mustCreate(t, s, scim.Users, b, ub)
	gb := newGroup("B team")
	mustCreate(t, s, scim.Groups, b, gb)
	if _, err := s.Resource(ctx, scim.Users, a.ID, ub.ID, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a reads b's user: %v", err)
	}
	if err := s.DeleteResource(ctx, scim.Users, a.ID, ub.ID, func(*scim.Resource) (*store.Event, error) { return nil, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deletes b's user: %v", err)
	}
	ga := newGroup("A team")
	mustCreate(t, s, scim.Groups, a, ga)
	_, err := s.UpdateResource(ctx, scim.Groups, a.ID, ga.ID, func(r *scim.Resource) (store.Change, error) {
		return store.Change{Members: []scim.MemberEdit{{Kind: "add", IDs: []string{ub.ID}}}}, nil
	})
	var unknown *store.UnknownMemberError
	if !errors.As(err, &unknown) || unknown.ID != ub.ID {
		t.Fatalf("a adds b's user to a group: %v", err)
	}
	page, err := s.ListResources(ctx, scim.Users, a.ID, store.Query{Count: 10})
	if err != nil || page.Total != 0 {
		t.Fatalf("a lists users: %+v, %v", page, err)
	}
}

func memberIDs(r *scim.Resource, attr string) []string {
	var ids []string
	list, _ := r.Attrs[attr].([]any)
	for _, m := range list {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	sort.Strings(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

func edit(t *testing.T, s store.Store, tn store.Tenant, groupID string, edits ...scim.MemberEdit) error {
	t.Helper()
	_, err := s.UpdateResource(ctx, scim.Groups, tn.ID, groupID, func(r *scim.Resource) (store.Change, error) {
		return store.Change{Members: edits, Event: ev(tn, "group_update_provision", r.ID)}, nil
	})
	return err
}

func testGroupMembers(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u1, u2, u3 := newUser("u1", map[string]any{"displayName": "User One"}), newUser("u2", nil), newUser("u3", nil)
	for _, u := range []*scim.Resource{u1, u2, u3} {
		mustCreate(t, s, scim.Users, tn, u)
	}
	g := newGroup("Sales")
	mustCreate(t, s, scim.Groups, tn, g, u1.ID)
	sub := newGroup("Sub")
	mustCreate(t, s, scim.Groups, tn, sub)

	check := func(want ...string) {
		t.Helper()
		got, err := s.Resource(ctx, scim.Groups, tn.ID, g.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(memberIDs(got, "members")) != fmt.Sprint(sorted(want...)) {
			t.Fatalf("members = %v, want %v", memberIDs(got, "members"), sorted(want...))
		}
	}
	check(u1.ID)
	if err := edit(t, s, tn, g.ID, scim.MemberEdit{Kind: "add", IDs: []string{u2.ID, u1.ID, u2.ID, sub.ID}}); err != nil {
		t.Fatal(err)
	}
	check(u1.ID, u2.ID, sub.ID)
	got, _ := s.Resource(ctx, scim.Groups, tn.ID, g.ID, true)
	for _, m := range got.Attrs["members"].([]any) {
		m := m.(map[string]any)
		switch m["value"] {
		case u1.ID:
			if m["display"] != "User One" || m["type"] != "User" {
				t.Errorf("member u1 = %v", m)
			}
		case u2.ID:
			if m["display"] != "u2" || m["type"] != "User" {
				t.Errorf("member u2 = %v", m)
			}
		case sub.ID:
			if m["display"] != "Sub" || m["type"] != "Group" {
				t.Errorf("member sub = %v", m)
			}
		}
	}
	if err := edit(t, s, tn, g.ID, scim.MemberEdit{Kind: "remove", IDs: []string{u1.ID, u3.ID, "not-an-id"}}); err != nil {
		t.Fatal(err)
	}
	check(u2.ID, sub.ID)
	if err := edit(t, s, tn, g.ID, scim.MemberEdit{Kind: "replace", IDs: []string{u3.ID}}); err != nil {
		t.Fatal(err)
	}
	check(u3.ID)
	// The user's read-only groups attribute comes from the same rows.
	user, _ := s.Resource(ctx, scim.Users, tn.ID, u3.ID, true)
	if fmt.Sprint(memberIDs(user, "groups")) != fmt.Sprint([]string{g.ID}) {
		t.Fatalf("u3 groups = %v", user.Attrs["groups"])
	}
	if gs := user.Attrs["groups"].([]any)[0].(map[string]any); gs["display"] != "Sales" || gs["type"] != "direct" {
		t.Fatalf("u3 groups = %v", gs)
	}
	if err := edit(t, s, tn, g.ID, scim.MemberEdit{Kind: "removeAll"}); err != nil {
		t.Fatal(err)
	}
	check()
	// Without members, a group is read without them.
	if err := edit(t, s, tn, g.ID, scim.MemberEdit{Kind: "add", IDs: []string{u1.ID}}); err != nil {
		t.Fatal(err)
	}
	bare, _ := s.Resource(ctx, scim.Groups, tn.ID, g.ID, false)
	if _, ok := bare.Attrs["members"]; ok {
		t.Fatalf("members read although not asked for: %v", bare.Attrs)
	}
	// Deleting the group removes memberships and keeps users.
	if err := s.DeleteResource(ctx, scim.Groups, tn.ID, g.ID, func(*scim.Resource) (*store.Event, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	user, err := s.Resource(ctx, scim.Users, tn.ID, u1.ID, true)
	if err != nil || user.Attrs["groups"] != nil {
		t.Fatalf("after group delete, u1 = %+v, %v", user, err)
	}
}

func testUnknownMember(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u := newUser("u1", nil)
	mustCreate(t, s, scim.Users, tn, u)
	g := newGroup("Sales")
	missing := store.NewID()
	err := s.CreateResource(ctx, scim.Groups, tn.ID, g, []string{u.ID, missing}, nil)
	var unknown *store.UnknownMemberError
	if !errors.As(err, &unknown) || unknown.ID != missing {
		t.Fatalf("create with unknown member: %v", err)
	}
	if _, err := s.Resource(ctx, scim.Groups, tn.ID, g.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("group written although a member was unknown: %v", err)
	}
	mustCreate(t, s, scim.Groups, tn, g)
	err = edit(t, s, tn, g.ID, scim.MemberEdit{Kind: "add", IDs: []string{u.ID}}, scim.MemberEdit{Kind: "add", IDs: []string{"garbage"}})
	if !errors.As(err, &unknown) || unknown.ID != "garbage" {
		t.Fatalf("add unknown member: %v", err)
	}
	got, _ := s.Resource(ctx, scim.Groups, tn.ID, g.ID, true)
	if got.Attrs["members"] != nil || got.Meta.Version != 1 {
		t.Fatalf("partial write: %+v", got)
	}
}

func testDeleteUserLeavesGroups(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u := newUser("u1", nil)
	mustCreate(t, s, scim.Users, tn, u)
	g1, g2 := newGroup("g1"), newGroup("g2")
	mustCreate(t, s, scim.Groups, tn, g1, u.ID)
	mustCreate(t, s, scim.Groups, tn, g2, u.ID)
	if err := s.DeleteResource(ctx, scim.Users, tn.ID, u.ID, func(*scim.Resource) (*store.Event, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*scim.Resource{g1, g2} {
		got, err := s.Resource(ctx, scim.Groups, tn.ID, g.ID, true)
		if err != nil || got.Attrs["members"] != nil {
			t.Fatalf("group %s after user delete: %+v, %v", g.Attrs["displayName"], got, err)
		}
	}
}

func testListPaging(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	var ids []string
	for i := range 25 {
		u := newUser(fmt.Sprintf("user%02d", i), nil)
		mustCreate(t, s, scim.Users, tn, u)
		ids = append(ids, u.ID)
	}
	page, err := s.ListResources(ctx, scim.Users, tn.ID, store.Query{StartIndex: 11, Count: 10})
	if err != nil || page.Total != 25 || len(page.Resources) != 10 || page.Resources[0].ID != ids[10] {
		t.Fatalf("index page = total %d, %d resources, %v", page.Total, len(page.Resources), err)
	}
	page, _ = s.ListResources(ctx, scim.Users, tn.ID, store.Query{StartIndex: 21, Count: 10})
	if len(page.Resources) != 5 || page.Resources[4].ID != ids[24] {
		t.Fatalf("last index page has %d", len(page.Resources))
	}
	page, _ = s.ListResources(ctx, scim.Users, tn.ID, store.Query{Count: 0})
	if page.Total != 25 || len(page.Resources) != 0 {
		t.Fatalf("count=0 page = %+v", page)
	}
	var walked []string
	q := store.Query{Count: 7}
	for {
		page, err := s.ListResources(ctx, scim.Users, tn.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Resources {
			walked = append(walked, r.ID)
		}
		if len(page.Resources) < q.Count {
			break
		}
		q.After = page.Last
	}
	if fmt.Sprint(walked) != fmt.Sprint(ids) {
		t.Fatalf("cursor walk = %d ids, want %d in creation order", len(walked), len(ids))
	}
	desc, _ := s.ListResources(ctx, scim.Users, tn.ID, store.Query{Count: 1, Descending: true})
	if desc.Resources[0].ID != ids[24] {
		t.Fatalf("descending first = %s", desc.Resources[0].ID)
	}
	sortBy, err := scim.Users.ResolveString("userName")
	if err != nil {
		t.Fatal(err)
	}
	sortedPage, err := s.ListResources(ctx, scim.Users, tn.ID, store.Query{Count: 1, SortBy: &sortBy, Descending: true})
	if err != nil || scim.String(sortedPage.Resources[0].Attrs, "userName") != "user24" {
		t.Fatalf("sortBy userName desc: %+v, %v", sortedPage.Resources, err)
	}
}

func testListFilter(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "other")
	mustCreate(t, s, scim.Users, tn, newUser("Ann@Example.com", map[string]any{"externalId": "ext-1"}))
	mustCreate(t, s, scim.Users, tn, newUser("bob@example.com", map[string]any{"active": false}))
	mustCreate(t, s, scim.Users, other, newUser("ann@example.com", nil))
	cases := []struct {
		filter string
		want   int
	}{
		{`userName eq "ann@example.com"`, 1},
		{`UserName eq "ANN@EXAMPLE.COM"`, 1},
		{`externalId eq "ext-1"`, 1},
		{`externalId eq "EXT-1"`, 0},
		{`active eq false`, 1},
		{`userName sw "b" or userName sw "a"`, 2},
		{`not (active eq true)`, 1},
	}
	for _, tc := range cases {
		f, err := filter.Parse(tc.filter, scim.Users)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		page, err := s.ListResources(ctx, scim.Users, tn.ID, store.Query{Filter: f, Count: 10})
		if err != nil || page.Total != tc.want || len(page.Resources) != tc.want {
			t.Errorf("%s: total %d (%d resources), %v; want %d", tc.filter, page.Total, len(page.Resources), err, tc.want)
		}
	}
}

func testConcurrentMemberAdds(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	const workers, each = 8, 25
	var ids []string
	for i := range workers * each {
		u := newUser(fmt.Sprintf("u%03d", i), nil)
		mustCreate(t, s, scim.Users, tn, u)
		ids = append(ids, u.ID)
	}
	g := newGroup("big")
	mustCreate(t, s, scim.Groups, tn, g)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for _, id := range ids[w*each : (w+1)*each] {
				if err := edit(t, s, tn, g.ID, scim.MemberEdit{Kind: "add", IDs: []string{id}}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent add: %v", err)
	}
	got, _ := s.Resource(ctx, scim.Groups, tn.ID, g.ID, true)
	if n := len(memberIDs(got, "members")); n != workers*each || got.Meta.Version != 1+workers*each {
		t.Fatalf("members = %d, version %d; want %d, %d", n, got.Meta.Version, workers*each, 1+workers*each)
	}
}

func testEvents(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "other")
	for i := range 5 {
		e := ev(tn, "user_update_provision", fmt.Sprintf("r%d", i%2))
		e.Changed = []string{"title", "name.givenName"}
		if i == 4 {
			e.Outcome = "client_error"
		}
		if err := s.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendEvent(ctx, ev(other, "user_create_provision", "x")); err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, tn.ID, store.EventQuery{})
	if err != nil || len(all) != 5 || !all[0].At.After(all[4].At) {
		t.Fatalf("Events = %d, %v", len(all), err)
	}
	if fmt.Sprint(all[0].Changed) != "[title name.givenName]" {
		t.Fatalf("changed = %v", all[0].Changed)
	}
	if got, _ := s.Events(ctx, tn.ID, store.EventQuery{ResourceID: "r1"}); len(got) != 2 {
		t.Fatalf("by resource = %d", len(got))
	}
	if got, _ := s.Events(ctx, tn.ID, store.EventQuery{Outcome: "client_error"}); len(got) != 1 {
		t.Fatalf("by outcome = %d", len(got))
	}
	if got, _ := s.Events(ctx, tn.ID, store.EventQuery{Limit: 2, Offset: 4}); len(got) != 1 {
		t.Fatalf("paged = %d", len(got))
	}
	n, err := s.PruneEvents(ctx, all[1].At)
	if err != nil || n != 3 {
		t.Fatalf("PruneEvents = %d, %v; want 3", n, err)
	}
}

func testSecret(t *testing.T, s store.Store) {
	calls := 0
	mk := func() []byte { calls++; return []byte(fmt.Sprintf("secret-%d", calls)) }
	a, err := s.Secret(ctx, "cursor", mk)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Secret(ctx, "cursor", mk)
	if err != nil || string(a) != string(b) || string(a) != "secret-1" {
		t.Fatalf("Secret = %q then %q, %v", a, b, err)
	}
}

func testTakeToken(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	take := func(tn store.Tenant, at time.Time) (bool, time.Duration) {
		t.Helper()
		n, wait, err := s.TakeTokens(ctx, tn.ID, 2, 3, 1, at)
		if err != nil || n > 1 {
			t.Fatalf("TakeTokens(1) = %d, %v", n, err)
		}
		return n == 1, wait
	}
	for i := range 3 {
		if ok, _ := take(a, now); !ok {
			t.Fatalf("take %d of a full bucket of 3 refused", i+1)
		}
	}
	ok, wait := take(a, now)
	if ok || wait < 400*time.Millisecond || wait > 600*time.Millisecond {
		t.Fatalf("empty bucket: ok=%v wait=%v, want refused, ~500ms", ok, wait)
	}
	if ok, _ := take(b, now); !ok {
		t.Fatal("another tenant's bucket is shared")
	}
	if ok, _ := take(a, now.Add(600*time.Millisecond)); !ok {
		t.Fatal("bucket did not refill at 2/s")
	}
	if ok, _ := take(a, now.Add(600*time.Millisecond)); ok {
		t.Fatal("refill exceeded the elapsed time")
	}
	for i := range 3 {
		if ok, _ := take(a, now.Add(time.Hour)); !ok {
			t.Fatalf("take %d after an hour refused", i+1)
		}
	}
	if ok, _ := take(a, now.Add(time.Hour)); ok {
		t.Fatal("bucket refilled beyond burst")
	}
	// Several at once: as many whole tokens as there are, at most n.
	c := mustTenant(t, s, "c")
	takeN := func(n int, at time.Time) int {
		t.Helper()
		got, _, err := s.TakeTokens(ctx, c.ID, 2, 3, n, at)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, step := range []struct {
		n     int
		after time.Duration
		want  int
	}{
		{2, 0, 2},                       // a new bucket of 3
		{2, 0, 1},                       // the one left
		{2, 0, 0},                       // none
		{5, 1250 * time.Millisecond, 2}, // 2.5 refilled: two whole tokens, half a token stays
		{5, 1500 * time.Millisecond, 1}, // 0.5 + 0.5
		{9, time.Hour, 3},               // capped at burst
	} {
		if got := takeN(step.n, now.Add(step.after)); got != step.want {
			t.Fatalf("TakeTokens(%d) at +%v = %d, want %d", step.n, step.after, got, step.want)
		}
	}
}

func testMemberCounts(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	u1, u2 := newUser("u1", nil), newUser("u2", nil)
	mustCreate(t, s, scim.Users, tn, u1)
	mustCreate(t, s, scim.Users, tn, u2)
	big, empty := newGroup("big"), newGroup("empty")
	mustCreate(t, s, scim.Groups, tn, big, u1.ID, u2.ID)
	mustCreate(t, s, scim.Groups, tn, empty)
	page, err := s.ListResources(ctx, scim.Groups, tn.ID, store.Query{Count: 10, CountMembers: true})
	if err != nil {
		t.Fatal(err)
	}
	if page.MemberCounts[big.ID] != 2 || page.MemberCounts[empty.ID] != 0 || len(page.MemberCounts) != 2 {
		t.Fatalf("MemberCounts = %v", page.MemberCounts)
	}
	for _, g := range page.Resources {
		if _, read := g.Attrs["members"]; read {
			t.Fatalf("members read although only counted: %v", g.Attrs)
		}
	}
}

// testAdminEvents: a token made, a token revoked, SAML configured and user types set each
// write the event they are given in their own transaction.
func testAdminEvents(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	ev := func(name string) *store.Event {
		return &store.Event{TenantID: tn.ID, At: tick(), Name: name, Outcome: "success", Actor: "cli"}
	}
	if err := s.CreateToken(ctx, store.Token{ID: "tok1", TenantID: tn.ID, Label: "okta", CreatedAt: tick()}, []byte("h1"), ev("scim_token_create")); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tn.ID, "tok1", tick(), ev("scim_token_revoke")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSAMLConfig(ctx, samlConfig(tn, "key"), ev("saml_configure")); err != nil {
		t.Fatal(err)
	}
	tn.DefaultUserType = "admin"
	if err := s.UpdateTenant(ctx, tn, ev("user_types_update")); err != nil {
		t.Fatal(err)
	}
	// A refused change writes no event.
	if err := s.RevokeToken(ctx, tn.ID, "nope", tick(), ev("refused")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeToken(unknown) = %v, want ErrNotFound", err)
	}
	evs, err := s.Events(ctx, tn.ID, store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Name)
	}
	want := []string{"user_types_update", "saml_configure", "scim_token_revoke", "scim_token_create"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}
