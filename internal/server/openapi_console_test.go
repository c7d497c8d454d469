package server_test

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

// TestOpenAPIConsole sends a request to every operation of the admin console, as a
// console-only admin, and checks requests and responses against the contract. The
// console's own tests (internal/console) check what the pages say.
func TestOpenAPIConsole(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	strict, lenient := contractClients(c)
	s := teststores.SQLite(t)
	e := newEnvOptions(t, s, func(o *testkit.Options) { o.Console = &console.Config{} })
	call := contractCall(t, e)
	form := func(extra ...string) []string {
		return append([]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", e.url}, extra...)
	}
	ok := func(method, path, body string, status int, header ...string) resp {
		t.Helper()
		return call(strict, "", method, path, body, status, header...)
	}
	user, err := e.dir.CreateUser(context.Background(), e.tenant, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "ann@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	group, err := e.dir.CreateGroup(context.Background(), e.tenant, map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "Sales"})
	if err != nil {
		t.Fatal(err)
	}
	ok("GET", "/console/console.css", "", 200)
	ok("GET", "/console/copy.js", "", 200)
	ok("GET", "/console/nope.txt", "", 404)
	ok("GET", "/t/acme/admin/saml", "", 403)
	ok("GET", "/t/nope/admin/saml", "", 404)

	link, _, err := console.IssueLink(context.Background(), s, e.tenant, e.url, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lu, _ := url.Parse(link)
	token := lu.Query().Get("token")
	ok("GET", "/t/acme/admin/signin?token="+token, "", 200)
	ok("POST", "/t/acme/admin/signin", "token=nope", 403, form()...)
	r := ok("POST", "/t/acme/admin/signin", "token="+url.QueryEscape(token), 303, form()...)
	var cookie string
	for _, c := range r.Header.Values("Set-Cookie") {
		if m := regexp.MustCompile(`^(scimd_admin=[^;]+)`).FindStringSubmatch(c); m != nil {
			cookie = m[1]
		}
	}
	if cookie == "" {
		t.Fatal("no console cookie")
	}
	as := func(extra ...string) []string { return append([]string{"Cookie", cookie}, extra...) }
	page := ok("GET", "/t/acme/admin/saml", "", 200, as()...)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page.Raw)
	if m == nil {
		t.Fatal("no CSRF token")
	}
	csrf := "csrf=" + string(m[1])
	ok("GET", "/t/acme/admin", "", 303, as()...)
	ok("POST", "/t/acme/admin/saml", csrf+"&source=fields&sso_url=http%3A%2F%2Fidp.example.com&issuer=x&cert=x&default_user_type=member", 400, form(as()...)...)
	call(lenient, "", "POST", "/t/acme/admin/saml", "source=fields", 403, form(as()...)...) // no csrf: refused
	ok("POST", "/t/acme/admin/saml/sp-cert/activate", csrf, 409, form(as()...)...)          // no rotation to activate
	ok("GET", "/t/acme/admin/scim", "", 200, as()...)
	ok("POST", "/t/acme/admin/scim/tokens", csrf+"&label=", 400, form(as()...)...)
	ok("POST", "/t/acme/admin/scim/tokens", csrf+"&label=okta", 200, form(as()...)...)
	ok("POST", "/t/acme/admin/scim/tokens/tok_nope/revoke", csrf, 404, form(as()...)...)
	ok("GET", "/t/acme/admin/users?q=ann&start=1", "", 200, as()...)
	ok("GET", "/t/acme/admin/users?filter=bogus", "", 400, as()...)
	ok("GET", "/t/acme/admin/users/"+user.ID, "", 200, as()...)
	ok("POST", "/t/acme/admin/users/"+user.ID+"/active", csrf+"&active=false", 303, form(as()...)...)
	ok("GET", "/t/acme/admin/groups?q=sal", "", 200, as()...)
	ok("GET", "/t/acme/admin/groups?filter=bogus", "", 400, as()...)
	ok("GET", "/t/acme/admin/groups/"+group.ID, "", 200, as()...)
	ok("GET", "/t/acme/admin/groups/"+user.ID, "", 404, as()...)
	ok("GET", "/t/acme/admin/events?event=user_deprovision&outcome=success&resource=ann%40acme.test", "", 200, as()...)
	ok("GET", "/t/acme/admin/events?resource=nobody", "", 400, as()...)
	stream := store.Stream{ID: store.NewID(), Kind: store.StreamPush, URL: "https://app.example.com/e", Audience: "a",
		Events: []string{"user_create_provision"}, CreatedAt: time.Now().UTC()}
	if err := s.CreateStream(context.Background(), stream, nil); err != nil {
		t.Fatal(err)
	}
	ok("GET", "/t/acme/admin/events/streams/"+stream.ID+"?state=parked&before=10", "", 200, as()...)
	ok("GET", "/t/acme/admin/events/streams/"+store.NewID(), "", 404, as()...)
	ok("GET", "/t/acme/admin/user-types", "", 200, as()...)
	ok("POST", "/t/acme/admin/user-types", csrf+"&source=groups&rules=Sales%3Downer", 400, form(as()...)...)
	ok("POST", "/t/acme/admin/user-types", csrf+"&source=groups&rules=Sales%3Dadmin", 303, form(as()...)...)
	ok("POST", "/t/acme/admin/user-types/recompute", csrf, 303, form(as()...)...)
	ok("POST", "/t/acme/admin/signout", csrf, 303, form(as()...)...)
	for path, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if slices.Contains(op.Tags, "Console") && !c.seen[op.OperationID] {
				t.Errorf("operation %s (%s) was never exercised", op.OperationID, path)
			}
		}
	}
}
