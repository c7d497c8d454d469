package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
	"github.com/scimd/scimd/internal/testlog"
)

// env is one scimd behind the real router, with a tenant and its token.
type env struct {
	t      *testing.T
	url    string // the server's base URL
	store  store.Store
	dir    *directory.Directory
	stack  *testkit.Stack
	tenant store.Tenant
	token  string
	logs   *testlog.Buffer
}

func newEnv(t *testing.T, s store.Store) *env {
	t.Helper()
	return newEnvOptions(t, s, func(*testkit.Options) {})
}

// newEnvRoutes is newEnv with a test's own routes mounted on the router.
func newEnvRoutes(t *testing.T, s store.Store, routes ...func(chi.Router)) *env {
	t.Helper()
	return newEnvOptions(t, s, func(o *testkit.Options) { o.Mount = routes })
}

// newEnvConfig is newEnv with the server configuration changed by configure.
func newEnvConfig(t *testing.T, s store.Store, configure func(*server.Config)) *env {
	t.Helper()
	return newEnvOptions(t, s, func(o *testkit.Options) { configure(&o.Server) })
}

// newEnvOptions is newEnv with the stack's options (SAML, console, limits) changed by
// configure.
func newEnvOptions(t *testing.T, s store.Store, configure func(*testkit.Options)) *env {
	t.Helper()
	logs := &testlog.Buffer{}
	o := testkit.Options{Log: slog.New(slog.NewJSONHandler(logs, nil))}
	configure(&o)
	srv := testkit.Serve(t, s, o, "acme")
	return &env{t: t, store: s, logs: logs, url: srv.URL, dir: srv.Dir, stack: srv.Stack, tenant: srv.Tenant, token: srv.Token}
}

// sub returns the env for a subtest, so that failures stop the subtest.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// newTenant creates a tenant and a token for it.
func (e *env) newTenant(slug string) (store.Tenant, string) {
	e.t.Helper()
	ctx := context.Background()
	tn, err := e.dir.CreateTenant(ctx, slug, "")
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.dir.IssueToken(directory.WithActor(ctx, directory.Actor{Name: "test setup"}), tn, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return tn, tok
}

// backends runs fn against a fresh env on every backend.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	teststores.Run(t, func(t *testing.T, s store.Store) { fn(t, newEnv(t, s)) })
}

// harnessClient sends every request of the suite; TestMain (openapi_test.go) swaps in one
// whose transport checks each response against api/openapi.yaml.
var harnessClient = http.DefaultClient

// resp is a decoded response.
type resp testkit.Response

// str returns the string at a dotted path of the body ("meta.version"); an extension
// URN, which has dots of its own, may lead the path ("urn:…:2.0:User.department").
func (r resp) str(path string) string {
	var v any = r.Body
	var parts []string
	if strings.HasPrefix(path, "urn:") {
		i := strings.LastIndex(path, ".")
		parts = []string{path[:i], path[i+1:]}
	} else {
		parts = strings.Split(path, ".")
	}
	for _, p := range parts {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// do sends a request with the env's token; body may be a string, []byte or anything JSON.
func (e *env) do(method, path string, body any, header ...string) resp {
	e.t.Helper()
	return e.doToken(e.token, method, path, body, header...)
}

func (e *env) doToken(token, method, path string, body any, header ...string) resp {
	e.t.Helper()
	r, err := e.send(token, method, path, body, header...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// doNoFatal is do for goroutines: a transport failure is a response with status 0.
func (e *env) doNoFatal(method, path string, body any, header ...string) resp {
	r, err := e.send(e.token, method, path, body, header...)
	if err != nil {
		return resp{Raw: []byte(err.Error())}
	}
	return r
}

func (e *env) send(token, method, path string, body any, header ...string) (resp, error) {
	c := testkit.Client{Base: e.url, Token: token, HTTP: harnessClient}
	r, err := c.Do(method, path, body, header...)
	return resp(r), err
}

// bulkUsers creates n users through the directory (not HTTP, for speed) and returns their ids.
func (e *env) bulkUsers(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	ctx := directory.WithActor(context.Background(), directory.Actor{Name: "test"})
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				u, err := e.dir.CreateUser(ctx, e.tenant, map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"},
					"userName": fmt.Sprintf("bulk%06d@example.com", i)})
				if err != nil {
					errc <- err
					return
				}
				ids[i] = u.ID
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	return ids
}

// want checks the status and, for errors, that the body is a SCIM error with scimType.
func (e *env) want(r resp, status int, scimType string) {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
	if status < 400 {
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/scim+json") {
		e.t.Fatalf("error content type %q", r.Header.Get("Content-Type"))
	}
	schemas, _ := r.Body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		e.t.Fatalf("error body schemas = %v; body %s", r.Body["schemas"], r.Raw)
	}
	if got := r.str("status"); got != http.StatusText(status) && got != itoa(status) {
		e.t.Fatalf("error status %q, want %q", got, itoa(status))
	}
	if got := r.str("scimType"); got != scimType {
		e.t.Fatalf("scimType %q, want %q; body %s", got, scimType, r.Raw)
	}
	if r.str("detail") == "" {
		e.t.Fatalf("error without detail: %s", r.Raw)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// createUser posts a user and returns the response body.
func (e *env) createUser(userName string, extra map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName}
	for k, v := range extra {
		body[k] = v
	}
	r := e.do("POST", "/scim/v2/Users", body)
	e.want(r, http.StatusCreated, "")
	return r.Body
}

// createGroup posts a group with members and returns the response body.
func (e *env) createGroup(name string, members ...string) map[string]any {
	e.t.Helper()
	var ms []any
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name}
	if ms != nil {
		body["members"] = ms
	}
	r := e.do("POST", "/scim/v2/Groups", body)
	e.want(r, http.StatusCreated, "")
	return r.Body
}
