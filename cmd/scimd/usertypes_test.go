package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	scimpkg "github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/store"
)

// TestCLIUserTypeRules sets rules with the CLI on a tenant that has users and groups, and
// reads the result back: the users' userType, the progress lines, tenant show, the audit log.
func TestCLIUserTypeRules(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "rules.db")
	runCode := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append(args, "--database", dsn), &out, &errb)
		return code, out.String(), errb.String()
	}
	runOK := func(args ...string) string {
		t.Helper()
		code, out, errs := runCode(args...)
		if code != 0 {
			t.Fatalf("scimd %v = %d: %s", args, code, errs)
		}
		return out
	}
	runOK("tenant", "create", "acme")

	// Users and groups, written as an IdP would (through the directory).
	db, _, err := openMigrated(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	d := directory.New(db, slog.New(slog.DiscardHandler), nil)
	tn, err := d.Tenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, n := range []string{"ann", "bob", "cat"} {
		u, err := d.CreateUser(ctx, tn, map[string]any{"schemas": []any{scimpkg.UserSchema}, "userName": n})
		if err != nil {
			t.Fatal(err)
		}
		ids[n] = u.ID
	}
	for name, who := range map[string][]string{"Monday Admins": {"ann"}, "Contractors": {"ann", "bob"}} {
		var ms []any
		for _, w := range who {
			ms = append(ms, map[string]any{"value": ids[w]})
		}
		if _, err := d.CreateGroup(ctx, tn, map[string]any{"schemas": []any{scimpkg.GroupSchema}, "displayName": name, "members": ms}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	out := runOK("tenant", "user-type-rules", "acme", "--source", "groups", "--rule", "Monday Admins=admin", "--rule", "Contractors=GUEST")
	for _, want := range []string{`1. "Monday Admins" → admin`, `2. "Contractors" → guest`, "recomputed 3 of 3 users: 2 userType changes"} {
		if !strings.Contains(out, want) {
			t.Errorf("user-type-rules printed %q, want %q", out, want)
		}
	}
	show := runOK("tenant", "show", "acme")
	for _, want := range []string{"userType from groups", `"Monday Admins" → admin`, "SAML groups attribute: groups, then memberOf", "users:      3"} {
		if !strings.Contains(show, want) {
			t.Errorf("tenant show = %q, want %q", show, want)
		}
	}
	if strings.Contains(show, "pending") {
		t.Errorf("tenant show after a finished recomputation: %q", show)
	}
	db, _, err = openMigrated(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d = directory.New(db, slog.New(slog.DiscardHandler), nil)
	for name, want := range map[string]string{"ann": "admin", "bob": "guest", "cat": "member"} {
		u, err := d.Get(ctx, scimpkg.Users, tn, ids[name], false)
		if err != nil || scimpkg.String(u.Attrs, "userType") != want {
			t.Errorf("%s: userType %v, %v; want %s", name, u.Attrs["userType"], err, want)
		}
	}
	evs, _ := db.Events(ctx, tn.ID, store.EventQuery{Name: directory.EventUserTypeRules})
	if len(evs) != 1 || evs[0].Actor != "cli" || !strings.Contains(evs[0].Detail, `"Monday Admins"=admin`) {
		t.Errorf("rule change audit events = %+v", evs)
	}
	evs, _ = db.Events(ctx, tn.ID, store.EventQuery{ResourceID: ids["bob"], Name: directory.EventUserUpdate})
	if len(evs) != 1 || evs[0].Actor != "cli" || !strings.Contains(evs[0].Detail, `group rule "Contractors"`) {
		t.Errorf("bob's userType events = %+v", evs)
	}

	// An interrupted recomputation is shown and resumed.
	tn, _ = d.Tenant(ctx, "acme")
	tn.DefaultUserType = "viewer"
	if err := db.UpdateTenant(ctx, tn, nil); err != nil {
		t.Fatal(err)
	}
	if show := runOK("tenant", "show", "acme"); !strings.Contains(show, "recomputation pending: 0 of 3 users done") {
		t.Errorf("tenant show with a pending recomputation = %q", show)
	}
	if out := runOK("tenant", "user-type-rules", "acme", "--resume"); !strings.Contains(out, "recomputed 3 of 3 users: 1 userType changes") {
		t.Errorf("--resume printed %q", out)
	}
	// In idp mode the IdP's PATCH changes userType again.
	runOK("tenant", "user-type-rules", "acme", "--source", "idp")
	tn, _ = d.Tenant(ctx, "acme")
	ops := []patch.Operation{{Op: "replace", Value: map[string]any{"userType": "guest"}}}
	if u, err := d.PatchUser(ctx, tn, ids["cat"], ops, ""); err != nil || u.Attrs["userType"] != "guest" {
		t.Fatalf("idp mode PATCH: %v, %v", u, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "user-type-rules", "acme"}, "usage"},
		{[]string{"tenant", "user-type-rules", "acme", "--source", "groups", "--resume"}, "usage"},
		{[]string{"tenant", "user-type-rules", "acme", "--source", "groups", "--rule", "no equals"}, "GROUP=USERTYPE"},
		{[]string{"tenant", "user-type-rules", "acme", "--source", "groups", "--rule", "A=owner"}, `userType "owner" is not one of`},
		{[]string{"tenant", "user-type-rules", "acme", "--source", "groups"}, "at least one rule"},
		{[]string{"tenant", "user-type-rules", "nope", "--source", "idp"}, `no tenant "nope"`},
		{[]string{"tenant", "show"}, "usage"},
	} {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			code, _, errs := runCode(tc.args...)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want failure with %q", code, errs, tc.want)
			}
		})
	}
}
