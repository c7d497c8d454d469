package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// setRules sets the tenant's userType rules (written "GROUP=TYPE") as the console would,
// and runs the recomputation to its end.
func (e *env) setRules(source string, rules ...string) {
	e.t.Helper()
	ctx := directory.WithActor(context.Background(), directory.Actor{Name: "test admin"})
	in := store.UserTypeRules{Source: source}
	for _, r := range rules {
		rule, err := directory.ParseUserTypeRule(r)
		if err != nil {
			e.t.Fatal(err)
		}
		in.Rules = append(in.Rules, rule)
	}
	tn, _, err := e.dir.SetUserTypeRules(ctx, e.tenant, in)
	if err != nil {
		e.t.Fatal(err)
	}
	e.tenant = tn
	for range 1000 {
		p, err := e.dir.RecomputeUserTypes(ctx, tn)
		if err != nil {
			e.t.Fatal(err)
		}
		if !p.Pending {
			return
		}
	}
	e.t.Fatal("the recomputation does not end")
}

// userType reads a user's userType with GET, as an IdP or the application would.
func (e *env) userType(id string) string {
	e.t.Helper()
	r := e.do("GET", "/scim/v2/Users/"+id, nil)
	e.want(r, http.StatusOK, "")
	return r.str("userType")
}

func (e *env) wantUserTypes(step string, want map[string]string, ids map[string]string) {
	e.t.Helper()
	for name, w := range want {
		if got := e.userType(ids[name]); got != w {
			e.t.Errorf("%s: userType of %s = %q, want %q", step, name, got, w)
		}
	}
}

func members(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id}
	}
	return out
}

// TestUserTypeFromGroups drives every change that can alter a user's userType through the
// router, on both backends, and reads the result back with GET in the next request.
func TestUserTypeFromGroups(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.setRules("groups", "Monday Admins=admin", "Contractors=guest")
		ids := map[string]string{}
		for _, n := range []string{"ann", "bob", "cat"} {
			ids[n] = e.createUser(n+"@example.com", nil)["id"].(string)
		}
		// Sent by the IdP, userType is ignored, not refused: the response shows the rules' type.
		dan := e.createUser("dan@example.com", map[string]any{"userType": "admin"})
		if dan["userType"] != "member" {
			t.Fatalf("create with userType admin: response userType %v, want member (the default)", dan["userType"])
		}
		ids["dan"] = dan["id"].(string)
		if odd := e.createUser("eve@example.com", map[string]any{"userType": "overlord"}); odd["userType"] != "member" {
			t.Fatalf("create with a userType outside the tenant's types: %v, want member (ignored)", odd["userType"])
		}
		admins := e.createGroup("Monday Admins")["id"].(string)
		contractors := e.createGroup("Contractors")["id"].(string)
		patchMembers := func(group, o string, who ...string) {
			t.Helper()
			var ms []string
			for _, w := range who {
				ms = append(ms, ids[w])
			}
			var v any = members(ms...)
			path := "members"
			if o == "remove" && len(ms) == 1 {
				path, v = `members[value eq "`+ms[0]+`"]`, nil
			}
			r := e.do("PATCH", "/scim/v2/Groups/"+group, patchBody(op(o, path, v)))
			if r.Status != http.StatusNoContent && r.Status != http.StatusOK {
				t.Fatalf("PATCH %s members: %d %s", o, r.Status, r.Raw)
			}
		}

		patchMembers(admins, "add", "ann")
		e.wantUserTypes("added to Monday Admins", map[string]string{"ann": "admin", "bob": "member"}, ids)
		evs, err := e.store.Events(context.Background(), e.tenant.ID, store.EventQuery{ResourceID: ids["ann"], Name: directory.EventUserUpdate})
		if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, `group rule "Monday Admins"`) ||
			fmt.Sprint(evs[0].Changed) != "[userType]" || !strings.HasPrefix(evs[0].Actor, "token") {
			t.Fatalf("ann's audit events = %+v, %v; want one user_update_provision by the token naming the rule", evs, err)
		}

		patchMembers(contractors, "add", "ann", "bob")
		e.wantUserTypes("in two matching groups", map[string]string{"ann": "admin", "bob": "guest"}, ids)

		patchMembers(admins, "remove", "ann")
		e.wantUserTypes("removed from Monday Admins", map[string]string{"ann": "guest"}, ids)
		patchMembers(contractors, "remove", "ann")
		e.wantUserTypes("removed from every group", map[string]string{"ann": "member"}, ids)

		// PATCH and PUT of userType in groups mode: 200, the value ignored.
		r := e.do("PATCH", "/scim/v2/Users/"+ids["bob"], patchBody(op("replace", "userType", "admin")))
		e.want(r, http.StatusOK, "")
		if r.str("userType") != "guest" {
			t.Fatalf("PATCH userType admin: response userType %q, want guest (the rules')", r.str("userType"))
		}
		get := e.do("GET", "/scim/v2/Users/"+ids["bob"], nil)
		put := get.Body
		put["userType"], put["title"] = "admin", "Engineer"
		r = e.do("PUT", "/scim/v2/Users/"+ids["bob"], put)
		e.want(r, http.StatusOK, "")
		if r.str("userType") != "guest" || r.str("title") != "Engineer" {
			t.Fatalf("PUT with userType admin: userType %q title %q, want guest, Engineer", r.str("userType"), r.str("title"))
		}

		// Renaming the rule's group away and back.
		r = e.do("PATCH", "/scim/v2/Groups/"+contractors, patchBody(op("replace", "displayName", "Vendors")))
		if r.Status >= 300 {
			t.Fatalf("rename: %d %s", r.Status, r.Raw)
		}
		e.wantUserTypes("rule's group renamed away", map[string]string{"bob": "member"}, ids)
		r = e.do("PATCH", "/scim/v2/Groups/"+contractors, patchBody(op("replace", "displayName", "contractors")))
		if r.Status >= 300 {
			t.Fatalf("rename back: %d %s", r.Status, r.Raw)
		}
		e.wantUserTypes("renamed back (case differs)", map[string]string{"bob": "guest"}, ids)

		// PUT of a group replaces its members: old ones fall back, new ones match.
		r = e.do("PUT", "/scim/v2/Groups/"+contractors, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Contractors", "members": members(ids["cat"])})
		e.want(r, http.StatusOK, "")
		e.wantUserTypes("group PUT", map[string]string{"bob": "member", "cat": "guest"}, ids)

		// A group created with members, then deleted.
		gone := e.createGroup("Monday Admins2", ids["dan"])["id"].(string)
		e.setRules("groups", "Monday Admins=admin", "Monday Admins2=viewer", "Contractors=guest")
		e.wantUserTypes("rules changed", map[string]string{"dan": "viewer", "cat": "guest", "ann": "member"}, ids)
		e.want(e.do("DELETE", "/scim/v2/Groups/"+gone, nil), http.StatusNoContent, "")
		e.wantUserTypes("rule's group deleted", map[string]string{"dan": "member"}, ids)

		// Changing the rules recomputes everyone.
		e.setRules("groups", "Contractors=admin")
		e.wantUserTypes("new rules", map[string]string{"cat": "admin", "ann": "member", "bob": "member", "dan": "member"}, ids)
		// Back to the IdP: types stay, and userType changes only through PATCH again.
		e.setRules("idp")
		e.wantUserTypes("idp mode", map[string]string{"cat": "admin"}, ids)
		get = e.do("GET", "/scim/v2/Users/"+ids["cat"], nil)
		put = get.Body
		put["userType"] = "guest"
		e.want(e.do("PUT", "/scim/v2/Users/"+ids["cat"], put), http.StatusBadRequest, "mutability")
		r = e.do("PATCH", "/scim/v2/Users/"+ids["cat"], patchBody(op("replace", "userType", "guest")))
		if r.str("userType") != "guest" {
			t.Fatalf("idp mode PATCH userType: %s", r.Raw)
		}
	})
}

// TestUserTypeConcurrentMemberships: 32 concurrent membership PATCHes over four groups and
// shared users leave every user with the userType their final groups give.
func TestUserTypeConcurrentMemberships(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.setRules("groups", "g0=admin", "g1=viewer", "g2=guest")
		var users []string
		for i := range 12 {
			users = append(users, e.createUser(fmt.Sprintf("c%d@example.com", i), nil)["id"].(string))
		}
		groups := make([]string, 4)
		for i := range groups {
			groups[i] = e.createGroup(fmt.Sprintf("g%d", i))["id"].(string)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 32)
		for i := range 32 {
			wg.Go(func() {
				g, o := groups[i%4], "add"
				if i >= 16 && i%3 == 0 {
					o = "remove"
				}
				// Each request names a different rotation of a different subset of the users.
				var ms []string
				for j := range 6 {
					ms = append(ms, users[(i+j*5)%len(users)])
				}
				r := e.doNoFatal("PATCH", "/scim/v2/Groups/"+g, patchBody(op(o, "members", members(ms...))))
				if r.Status != http.StatusNoContent && r.Status != http.StatusOK {
					errs <- fmt.Sprintf("%d %s", r.Status, r.Raw)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent PATCH: %s", err)
		}
		for _, id := range users {
			u := e.do("GET", "/scim/v2/Users/"+id, nil)
			in := map[string]bool{}
			list, _ := u.Body["groups"].([]any)
			for _, g := range list {
				in[g.(map[string]any)["display"].(string)] = true
			}
			want := "member"
			for _, rule := range [][2]string{{"g0", "admin"}, {"g1", "viewer"}, {"g2", "guest"}} {
				if in[rule[0]] {
					want = rule[1]
					break
				}
			}
			if got := u.str("userType"); got != want {
				t.Errorf("user in %v: userType %q, want %q", in, got, want)
			}
		}
	})
}
