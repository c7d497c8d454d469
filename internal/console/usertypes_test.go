package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// TestConsoleUserTypes: the user types page sets the rules with the directory's checks and
// audit, behind CSRF, recomputes users within a bounded time, and shows what remains.
func TestConsoleUserTypes(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme, "ann@acme.test", "admin")
	bob := e.user(e.acme, "bob@acme.test", "member")
	if _, err := e.dir.CreateGroup(ctx, e.acme, map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "Monday Admins",
		"members": []any{map[string]any{"value": admin.ID}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.CreateGroup(ctx, e.acme, map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "Contractors",
		"members": []any{map[string]any{"value": bob.ID}}}); err != nil {
		t.Fatal(err)
	}
	cookies := []*http.Cookie{e.session(e.acme, admin)}
	page := e.do("GET", "/t/acme/admin/user-types", nil, cookies)
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="source-idp" checked`) || elementText(page.body, "source-badge") != "From the identity provider" {
		t.Fatalf("page = %d:\n%s", page.status, page.body)
	}
	checkHeaders(t, "user types page", page.header)
	token := e.csrf("/t/acme/admin/user-types", cookies)
	typeOf := func(u *scim.Resource) string {
		t.Helper()
		r, err := e.dir.Get(ctx, scim.Users, e.acme, u.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		return scim.String(r.Attrs, "userType")
	}

	// Refused input is shown with the directory's sentence; nothing changes.
	for _, tc := range []struct{ name, rules, source, want string }{
		{"unknown type", "Contractors=owner", "groups", `userType &#34;owner&#34; is not one of`},
		{"no equals sign", "Contractors guest", "groups", "GROUP=USERTYPE"},
		{"bad source", "Contractors=guest", "ldap", "source &#34;ldap&#34;"},
	} {
		r := e.do("POST", "/t/acme/admin/user-types", url.Values{"csrf": {token}, "source": {tc.source}, "rules": {tc.rules}}, cookies)
		if r.status != http.StatusBadRequest || !strings.Contains(elementText(r.body, "form-error")+r.body, tc.want) ||
			!strings.Contains(r.body, tc.rules) {
			t.Errorf("%s: %d, want 400 with %q and the input kept:\n%s", tc.name, r.status, tc.want, r.body)
		}
	}
	// Without the CSRF token: refused.
	if r := e.do("POST", "/t/acme/admin/user-types", url.Values{"source": {"groups"}, "rules": {"Contractors=guest"}}, cookies); r.status != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d", r.status)
	}
	if rules, _ := e.dir.UserTypeRules(ctx, e.acme); rules.Source != store.UserTypeFromIdP || len(rules.Rules) != 0 {
		t.Fatalf("refused forms changed the rules: %+v", rules)
	}

	r := e.do("POST", "/t/acme/admin/user-types", url.Values{"csrf": {token}, "source": {"groups"},
		"rules": {"Monday Admins=admin\r\n\r\nContractors=GUEST\r\n"}}, cookies)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/t/acme/admin/user-types?saved=1" {
		t.Fatalf("save = %d %s", r.status, r.header.Get("Location"))
	}
	page = e.do("GET", "/t/acme/admin/user-types?saved=1", nil, cookies)
	if !strings.Contains(page.body, "Monday Admins=admin\nContractors=guest") || !strings.Contains(page.body, `id="source-groups" checked`) ||
		strings.Contains(page.body, `id="progress"`) {
		t.Fatalf("the page does not show the stored rules, or shows progress after the recomputation ended:\n%s", page.body)
	}
	if typeOf(bob) != "guest" || typeOf(admin) != "admin" {
		t.Fatalf("after save: bob %q, ann %q", typeOf(bob), typeOf(admin))
	}
	// A recomputation left pending (a new default, not yet applied) is shown, and continued.
	tn, err := e.store.Tenant(ctx, e.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	tn.DefaultUserType = "viewer"
	if err := e.store.UpdateTenant(ctx, tn, nil); err != nil {
		t.Fatal(err)
	}
	page = e.do("GET", "/t/acme/admin/user-types", nil, cookies)
	if got := elementText(page.body, "progress-text"); got != "0 of 2 users recomputed with the current rules." {
		t.Fatalf("progress = %q:\n%s", got, page.body)
	}
	if r := e.do("POST", "/t/acme/admin/user-types/recompute", url.Values{"csrf": {token}}, cookies); r.status != http.StatusSeeOther {
		t.Fatalf("continue = %d", r.status)
	}
	page = e.do("GET", "/t/acme/admin/user-types", nil, cookies)
	if strings.Contains(page.body, `id="progress"`) {
		t.Fatal("progress shown after the recomputation ended")
	}
	evs, _ := e.store.Events(ctx, e.acme.ID, store.EventQuery{Name: directory.EventUserTypeRules})
	if len(evs) != 1 || evs[0].Actor != "console ann@acme.test" {
		t.Fatalf("rule change events = %+v", evs)
	}
	evs, _ = e.store.Events(ctx, e.acme.ID, store.EventQuery{ResourceID: bob.ID, Name: directory.EventUserUpdate})
	if len(evs) != 1 || evs[0].Actor != "console ann@acme.test" || !strings.Contains(evs[0].Detail, `group rule "Contractors"`) {
		t.Fatalf("bob's events = %+v", evs)
	}
	// Another tenant's admin cannot reach the page.
	if r := e.do("GET", "/t/beta/admin/user-types", nil, cookies); r.status != http.StatusForbidden {
		t.Fatalf("other tenant: %d", r.status)
	}
}
