package directory_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// rulesEnv is a directory on a fresh SQLite store with tenant acme (user types admin,
// member, viewer, guest; default member).
type rulesEnv struct {
	d  *directory.Directory
	s  store.Store
	tn store.Tenant
}

func newRulesEnv(t *testing.T) *rulesEnv {
	t.Helper()
	s := teststores.SQLite(t)
	d := directory.New(s, slog.New(slog.DiscardHandler), nil)
	tn, err := d.CreateTenant(context.Background(), "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	return &rulesEnv{d: d, s: s, tn: tn}
}

func user(attrs map[string]any) map[string]any {
	body := map[string]any{"schemas": []any{scim.UserSchema}}
	for k, v := range attrs {
		body[k] = v
	}
	return body
}

// lastEvent returns the newest audit event of the tenant.
func (e *rulesEnv) lastEvent(t *testing.T) store.Event {
	t.Helper()
	evs, err := e.s.Events(context.Background(), e.tn.ID, store.EventQuery{Limit: 1})
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events = %v, %v", evs, err)
	}
	return evs[0]
}

// TestCreateDefaults: a create without userType or active gets the tenant's default and
// true; a userType in another case is stored in the tenant's case; an unknown one is refused.
func TestCreateDefaults(t *testing.T) {
	e := newRulesEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		attrs        map[string]any
		wantType     string
		wantActive   any
		wantScimType string // "" for success
	}{
		{"defaults", map[string]any{"userName": "a"}, "member", true, ""},
		{"userType in another case", map[string]any{"userName": "b", "userType": "ADMIN"}, "admin", true, ""},
		{"inactive kept", map[string]any{"userName": "c", "active": false}, "member", false, ""},
		{"unknown userType", map[string]any{"userName": "d", "userType": "employee"}, "", nil, scim.InvalidValue},
		{"no userName", map[string]any{"displayName": "x"}, "", nil, scim.InvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := e.d.CreateUser(ctx, e.tn, user(tc.attrs))
			if tc.wantScimType != "" {
				if se := scim.AsError(err); se == nil || se.ScimType != tc.wantScimType {
					t.Fatalf("CreateUser = %v, want %s", err, tc.wantScimType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Attrs["userType"] != tc.wantType || u.Attrs["active"] != tc.wantActive {
				t.Fatalf("created %v, want userType %q, active %v", u.Attrs, tc.wantType, tc.wantActive)
			}
		})
	}
}

// TestReplaceUserRules: PUT keeps active and userType when they are left out, refuses
// another value with mutability, and the audit event names the attributes that changed.
func TestReplaceUserRules(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		put          map[string]any
		wantScimType string
		wantChanged  string // the event's changed attributes, comma-separated
		wantActive   any
		wantType     string
	}{
		{"left out, kept", map[string]any{"userName": "ann", "title": "CTO"}, "", "title", false, "admin"},
		{"the same values", map[string]any{"userName": "ann", "active": false, "userType": "Admin", "title": "CTO"}, "", "title", false, "admin"},
		{"active changed", map[string]any{"userName": "ann", "active": true}, scim.Mutability, "", nil, ""},
		{"userType changed", map[string]any{"userName": "ann", "userType": "member"}, scim.Mutability, "", nil, ""},
		{"unknown userType", map[string]any{"userName": "ann", "userType": "employee"}, scim.InvalidValue, "", nil, ""},
		{"several changed, extension by URN", map[string]any{"userName": "ann2", "displayName": "Ann",
			scim.EnterpriseUserSchema: map[string]any{"department": "R&D"}},
			"", "displayName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,userName", false, "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRulesEnv(t)
			u, err := e.d.CreateUser(ctx, e.tn, user(map[string]any{"userName": "ann", "active": false, "userType": "admin"}))
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.d.ReplaceUser(ctx, e.tn, u.ID, user(tc.put), "")
			if tc.wantScimType != "" {
				if se := scim.AsError(err); se == nil || se.ScimType != tc.wantScimType {
					t.Fatalf("ReplaceUser = %v, want %s", err, tc.wantScimType)
				}
				if ev := e.lastEvent(t); ev.Outcome != directory.OutcomeClientErr || ev.Name != directory.EventUserUpdate {
					t.Fatalf("refused PUT event = %+v", ev)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Attrs["active"] != tc.wantActive || got.Attrs["userType"] != tc.wantType {
				t.Fatalf("after PUT: %v", got.Attrs)
			}
			ev := e.lastEvent(t)
			if ev.Name != directory.EventUserUpdate || strings.Join(ev.Changed, ",") != tc.wantChanged {
				t.Fatalf("event %s changed %v, want %s", ev.Name, ev.Changed, tc.wantChanged)
			}
		})
	}
}

// TestPatchUserEvents: a PATCH that turns active off is user_deprovision; one that changes
// nothing writes no event and keeps the version.
func TestPatchUserEvents(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		ops         string
		wantEvent   string // "" for none
		wantChanged string
	}{
		{"deactivate", `[{"op":"replace","path":"active","value":false}]`, directory.EventUserDeprov, "active"},
		{"title", `[{"op":"add","path":"title","value":"CTO"}]`, directory.EventUserUpdate, "title"},
		{"no change", `[{"op":"replace","path":"userName","value":"ann"}]`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRulesEnv(t)
			u, err := e.d.CreateUser(ctx, e.tn, user(map[string]any{"userName": "ann"}))
			if err != nil {
				t.Fatal(err)
			}
			ops, err := e.d.ParsePatch(decodeJSON(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`+tc.ops+`}`), scim.Users)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.d.PatchUser(ctx, e.tn, u.ID, ops, "")
			if err != nil {
				t.Fatal(err)
			}
			ev := e.lastEvent(t)
			if tc.wantEvent == "" {
				if ev.Name != directory.EventUserCreate || got.Meta.Version != u.Meta.Version {
					t.Fatalf("a no-op PATCH wrote %s, version %d → %d", ev.Name, u.Meta.Version, got.Meta.Version)
				}
				return
			}
			if ev.Name != tc.wantEvent || strings.Join(ev.Changed, ",") != tc.wantChanged || got.Meta.Version != u.Meta.Version+1 {
				t.Fatalf("event %s changed %v (version %d); want %s %s", ev.Name, ev.Changed, got.Meta.Version, tc.wantEvent, tc.wantChanged)
			}
		})
	}
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
