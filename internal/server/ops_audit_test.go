package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

const secretPassword = "Pa55word-never-stored"

func patchOps(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": list}
}

// allEvents returns the tenant's audit events, oldest first.
func (e *env) allEvents() []store.Event {
	e.t.Helper()
	evs, err := e.store.Events(context.Background(), e.tenant.ID, store.EventQuery{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Reverse(evs)
	return evs
}

// TestAuditEvents drives changes and refusals through the router and reads back the audit
// events they wrote: who, what, which attributes (names only), and never a password.
func TestAuditEvents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		toks, err := e.store.Tokens(ctx, e.tenant.ID)
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens: %v %v", toks, err)
		}
		tok := toks[0]
		admin := directory.WithActor(ctx, directory.Actor{Name: "cli"})
		revoked, revokedRec, err := e.dir.IssueToken(admin, e.tenant, "old-idp")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.RevokeToken(ctx, e.tenant.ID, revokedRec.ID, time.Now(), nil); err != nil {
			t.Fatal(err)
		}

		u := e.createUser("ann@example.com", map[string]any{"displayName": "Ann", "password": secretPassword})
		uid := u["id"].(string)
		e.want(e.do("PATCH", "/scim/v2/Users/"+uid, patchOps(
			map[string]any{"op": "replace", "path": "displayName", "value": "Ann B"},
			map[string]any{"op": "replace", "path": "password", "value": secretPassword},
		)), http.StatusOK, "")
		e.want(e.do("PUT", "/scim/v2/Users/"+uid, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "ann@example.com",
			"displayName": "Ann B", "title": "Engineer", "password": secretPassword,
		}), http.StatusOK, "")
		e.want(e.do("PATCH", "/scim/v2/Users/"+uid, patchOps(map[string]any{"op": "replace", "path": "active", "value": false})), http.StatusOK, "")
		e.want(e.do("POST", "/scim/v2/Users", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "bob@example.com",
			"userType": "pirate", "password": secretPassword,
		}), http.StatusBadRequest, "invalidValue")
		missing := store.NewID()
		e.want(e.do("PATCH", "/scim/v2/Users/"+missing, patchOps(map[string]any{"op": "replace", "path": "title", "value": "x"})), http.StatusNotFound, "")
		g := e.createGroup("Sales", uid)
		gid := g["id"].(string)
		e.want(e.do("PATCH", "/scim/v2/Groups/"+gid, patchOps(
			map[string]any{"op": "replace", "path": "displayName", "value": "Sales EMEA"},
			map[string]any{"op": "remove", "path": `members[value eq "` + uid + `"]`},
		)), http.StatusNoContent, "")
		e.want(e.do("DELETE", "/scim/v2/Groups/"+gid, nil), http.StatusNoContent, "")
		e.want(e.do("DELETE", "/scim/v2/Users/"+uid, nil), http.StatusNoContent, "")
		e.want(e.doToken(revoked, "GET", "/scim/v2/Users", nil), http.StatusUnauthorized, "")
		e.want(e.doToken("scimd_unknown", "GET", "/scim/v2/Users", nil), http.StatusUnauthorized, "")

		actor := "token test"
		want := []struct {
			name, outcome, actor, tokenID, rtype, id, resName string
			changed                                           []string
			detail                                            bool // a detail is written
		}{
			{directory.EventTokenCreate, "success", "test setup", tok.ID, "Token", tok.ID, "test", nil, false},
			{directory.EventTokenCreate, "success", "cli", revokedRec.ID, "Token", revokedRec.ID, "old-idp", nil, false},
			{directory.EventUserCreate, "success", actor, tok.ID, "User", uid, "ann@example.com", []string{"active", "displayName", "userName", "userType"}, false},
			{directory.EventUserUpdate, "success", actor, tok.ID, "User", uid, "ann@example.com", []string{"displayName"}, false},
			{directory.EventUserUpdate, "success", actor, tok.ID, "User", uid, "ann@example.com", []string{"title"}, false},
			{directory.EventUserDeprov, "success", actor, tok.ID, "User", uid, "ann@example.com", []string{"active"}, false},
			{directory.EventUserCreate, "client_error", actor, tok.ID, "User", "", "bob@example.com", nil, true},
			{directory.EventUserUpdate, "client_error", actor, tok.ID, "User", missing, "", nil, true},
			{directory.EventGroupCreate, "success", actor, tok.ID, "Group", gid, "Sales", []string{"displayName", "members"}, true},
			{directory.EventGroupUpdate, "success", actor, tok.ID, "Group", gid, "Sales EMEA", []string{"displayName", "members"}, true},
			{directory.EventGroupDelete, "success", actor, tok.ID, "Group", gid, "Sales EMEA", nil, false},
			{directory.EventUserDelete, "success", actor, tok.ID, "User", uid, "ann@example.com", nil, false},
			{directory.EventAuthFailure, "client_error", "token old-idp", revokedRec.ID, "", "", "", nil, true},
		}
		// The auth_failure event is written just after its 401 reaches the client.
		got := e.allEvents()
		for deadline := time.Now().Add(5 * time.Second); len(got) < len(want) && time.Now().Before(deadline); got = e.allEvents() {
			time.Sleep(20 * time.Millisecond)
		}
		if len(got) != len(want) {
			for _, ev := range got {
				t.Logf("%+v", ev)
			}
			t.Fatalf("%d events, want %d", len(got), len(want))
		}
		for i, w := range want {
			ev := got[i]
			t.Run(fmt.Sprintf("%d %s %s", i, w.name, w.outcome), func(t *testing.T) {
				if ev.Name != w.name || ev.Outcome != w.outcome {
					t.Fatalf("event %s/%s, want %s/%s", ev.Name, ev.Outcome, w.name, w.outcome)
				}
				if ev.Actor != w.actor || ev.TokenID != w.tokenID {
					t.Errorf("actor %q token %q, want %q %q", ev.Actor, ev.TokenID, w.actor, w.tokenID)
				}
				if ev.ResourceType != w.rtype || ev.ResourceID != w.id || ev.ResourceName != w.resName {
					t.Errorf("resource %s %q %q, want %s %q %q", ev.ResourceType, ev.ResourceID, ev.ResourceName, w.rtype, w.id, w.resName)
				}
				if !slices.Equal(ev.Changed, w.changed) {
					t.Errorf("changed %q, want %q", ev.Changed, w.changed)
				}
				if (ev.Detail != "") != w.detail {
					t.Errorf("detail %q, want one: %v", ev.Detail, w.detail)
				}
				if ev.TenantID != e.tenant.ID || ev.At.IsZero() || time.Since(ev.At) > time.Minute {
					t.Errorf("tenant %q at %v", ev.TenantID, ev.At)
				}
				if s := fmt.Sprintf("%+v", ev); strings.Contains(s, secretPassword) || strings.Contains(strings.ToLower(s), "password") {
					t.Errorf("event mentions the password: %s", s)
				}
			})
		}
		if strings.Contains(e.logs.String(), secretPassword) {
			t.Error("the password reached the log")
		}
	})
}

// TestAuditJITActor: just-in-time provisioning at a SAML login is recorded with actor
// "saml" when the login names no other.
func TestAuditJITActor(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		u, err := e.dir.CreateJITUser(context.Background(), e.tenant, map[string]any{"userName": "jit@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := e.store.Events(context.Background(), e.tenant.ID, store.EventQuery{ResourceID: u.ID})
		if err != nil || len(evs) != 1 {
			t.Fatalf("events %+v, %v", evs, err)
		}
		ev := evs[0]
		if ev.Name != directory.EventUserJIT || ev.Actor != directory.ActorSAML || ev.ResourceID != u.ID || ev.ResourceName != "jit@example.com" {
			t.Fatalf("JIT event %+v", ev)
		}
	})
}
