package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

// specPath is the contract every response of this package's tests is checked against.
const specPath = "../../api/openapi.yaml"

var validateAll = flag.Bool("openapi", true, "check every response of the suite against "+specPath)

// TestMain installs the validating transport in the harness, so that every response of the
// black-box suite — success or error — must match api/openapi.yaml.
func TestMain(m *testing.M) {
	flag.Parse()
	if *validateAll {
		c, err := loadContract()
		if err != nil {
			fmt.Fprintf(os.Stderr, "openapi: %v\n", err)
			os.Exit(1)
		}
		harnessClient = &http.Client{Transport: &validatingTransport{c: c, base: http.DefaultTransport}}
	}
	os.Exit(m.Run())
}

// contract is api/openapi.yaml loaded, with a router that finds a request's operation.
type contract struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool // operationIds answered
}

func loadContract() (*contract, error) {
	l := openapi3.NewLoader()
	doc, err := l.LoadFromFile(specPath)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", specPath, err)
	}
	// The servers entry names an example host; match any host (httptest's 127.0.0.1:port).
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: r, seen: map[string]bool{}}, nil
}

var errUndocumented = errors.New("no operation in the contract")

// check validates a response to req (whose body was reqBody); with checkRequest the request
// must match the contract too. A request to a path or method the contract does not list
// must be answered with a SCIM error (the router's 404/405, or a handler's error).
func (c *contract) check(req *http.Request, reqBody []byte, status int, header http.Header, body []byte, checkRequest bool) error {
	if req.Method == http.MethodHead {
		return nil
	}
	route, params, err := c.router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) {
		// /scim/v2/users is served as /scim/v2/Users: check it against that operation.
		if canon, ok := server.CanonicalSCIMPath(req.URL.Path); ok {
			r := req.Clone(req.Context())
			r.URL.Path, r.URL.RawPath = canon, ""
			route, params, err = c.router.FindRoute(r)
		}
	}
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		if checkRequest {
			return fmt.Errorf("%w: %s %s", errUndocumented, req.Method, req.URL.Path)
		}
		return c.checkUndocumented(status, header, body)
	}
	if err != nil {
		return err
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		},
	}
	if checkRequest {
		r := req.Clone(ctx)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
		in.Request = r
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("request does not match the contract: %w", err)
		}
		in.Request = req
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response %d does not match operation %s: %w", status, route.Operation.OperationID, err)
	}
	c.mu.Lock()
	c.seen[route.Operation.OperationID] = true
	c.mu.Unlock()
	return nil
}

// checkUndocumented requires a SCIM error body for a request outside the contract.
func (c *contract) checkUndocumented(status int, header http.Header, body []byte) error {
	if status < 400 {
		return fmt.Errorf("%w, yet answered %d", errUndocumented, status)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		return fmt.Errorf("%w: answered %d with content type %q, want a SCIM error", errUndocumented, status, ct)
	}
	v, err := decodeJSON(body)
	if err != nil {
		return err
	}
	if err := c.doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("%w: answered %d with a body that is not a SCIM error: %v", errUndocumented, status, err)
	}
	return nil
}

func decodeJSON(b []byte) (any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%w: the body is not JSON: %v", errUndocumented, err)
	}
	return v, nil
}

// validatingTransport checks every response against the contract; a mismatch is a
// transport error, which the harness reports as a test failure with the request.
type validatingTransport struct {
	c            *contract
	base         http.RoundTripper
	checkRequest bool
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && v.checkRequest {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	res, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err := v.c.check(req, reqBody, res.StatusCode, res.Header, body, v.checkRequest); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w\nresponse body: %.2000s", err, body)
	}
	return res, nil
}

// TestOpenAPIRoutes: the router, with the SAML and console routes cmd/scimd registers, and
// the contract list the same paths and methods.
func TestOpenAPIRoutes(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	st, err := testkit.New(context.Background(), teststores.SQLite(t), testkit.Options{
		Server: server.Config{PublicURL: "http://scimd.test"}, SAML: &saml.Config{}, Console: &console.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	mountOIDC(t, st, "http://scimd.test")
	mountEvents(st, "http://scimd.test")
	routes := st.Router
	var served []string
	err = chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/t/") {
			route = strings.TrimSuffix(route, "/")
		}
		served = append(served, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	served = slices.Compact(served)
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("route %s is served but not in %s", s, specPath)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("%s is in %s but not served", d, specPath)
		}
	}
}

// TestOpenAPIContract sends a representative request to every SCIM, health and metrics
// operation and checks both the request and the response against the contract, then that
// every documented operation (SAML's are exercised by internal/saml) was answered.
func TestOpenAPIContract(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	strict, lenient := contractClients(c)
	backends(t, func(t *testing.T, e *env) {
		call := contractCall(t, e)
		// ok sends a request that must match the contract; bad one that must not (only the
		// response is checked).
		ok := func(method, path, body string, status int, header ...string) resp {
			t.Helper()
			return call(strict, e.token, method, path, body, status, header...)
		}
		bad := func(method, path, body string, status int, header ...string) resp {
			t.Helper()
			return call(lenient, e.token, method, path, body, status, header...)
		}
		const user = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"userName":"ann@example.com","externalId":"ext-1","name":{"givenName":"Ann","familyName":"Lee"},"displayName":"Ann Lee",
			"emails":[{"value":"ann@example.com","type":"work","primary":true}],"phoneNumbers":[{"value":"+1 555 0100","type":"work"}],
			"addresses":[{"type":"work","locality":"Springfield","country":"US"}],"title":"Engineer","timezone":"Europe/Berlin",
			"locale":"de-DE","userType":"admin","password":"hunter2",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"m1"}}}`

		ok("GET", "/healthz", "", 200)
		ok("GET", "/readyz", "", 200)
		ok("GET", "/metrics", "", 200)

		ok("GET", "/scim/v2/ServiceProviderConfig", "", 200)
		ok("GET", "/scim/v2/ResourceTypes", "", 200)
		ok("GET", "/scim/v2/ResourceTypes/User", "", 200)
		ok("GET", "/scim/v2/ResourceTypes/Nope", "", 404)
		ok("GET", "/scim/v2/Schemas", "", 200)
		ok("GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "", 200)
		ok("GET", "/scim/v2/Schemas/urn:nope", "", 404)

		u := ok("POST", "/scim/v2/Users", user, 201)
		uid := u.str("id")
		upath := "/scim/v2/Users/" + uid
		ok("POST", "/scim/v2/Users", strings.Replace(user, "ann@", "ANN@", 1), 409)
		ok("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","userType":"overlord"}`, 400)
		bad("POST", "/scim/v2/Users", `{"userName":`, 400)
		bad("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+strings.Repeat("x", 2<<20)+`"}`, 413)
		bob := ok("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com"}`, 201).str("id")

		ok("GET", "/scim/v2/Users", "", 200)
		ok("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "ann@example.com"`)+"&attributes=userName,emails", "", 200)
		ok("GET", "/scim/v2/Users?startIndex=2&count=1&sortBy=userName&sortOrder=descending&excludedAttributes=groups", "", 200)
		ok("GET", "/scim/v2/Users?count=0", "", 200)
		ok("GET", "/scim/v2/Users?filter="+url.QueryEscape(`nope eq 1`), "", 400)
		ok("GET", "/scim/v2/Users?count=3&cursor=forged", "", 400)
		first := ok("GET", "/scim/v2/Users?count=1&cursor=", "", 200)
		ok("GET", "/scim/v2/Users?count=1&cursor="+url.QueryEscape(first.str("nextCursor")), "", 200)
		ok("POST", "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
			"filter":"active eq true","attributes":["userName"],"startIndex":1,"count":10}`, 200)
		ok("POST", "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq"}`, 400)
		ok("POST", "/scim/v2/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
			"filter":"meta.created pr","excludedAttributes":["members"],"startIndex":1,"count":10}`, 200)
		ok("POST", "/scim/v2/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"sortBy":"userName"}`, 400)

		ok("GET", upath, "", 200)
		ok("GET", upath, "", 304, "If-None-Match", u.Header.Get("ETag"))
		ok("GET", "/scim/v2/Users/6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f", "", 404)
		ok("GET", "/scim/v2/Users/not-an-id", "", 404)
		call(strict, "", "GET", upath, "", 401)
		call(strict, "scimd_unknown", "GET", upath, "", 401)

		ok("PUT", upath, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com","title":"Lead"}`, 200)
		ok("PUT", upath, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com","active":false}`, 400)
		ok("PUT", upath, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com"}`, 409)
		ok("PUT", upath, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com"}`, 412, "If-Match", `W/"1"`)
		ok("PATCH", upath, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Replace","path":"active","value":false},{"op":"add","path":"emails[type eq \"home\"].value","value":"a@home.example"}]}`, 200)
		ok("PATCH", upath, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"id","value":"x"}]}`, 400)

		g := ok("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","externalId":"g-1",
			"members":[{"value":"`+uid+`"}]}`, 201)
		gpath := "/scim/v2/Groups/" + g.str("id")
		ok("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"SALES"}`, 409)
		ok("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"X","members":[{"value":"6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f"}]}`, 400)
		ok("GET", "/scim/v2/Groups?filter="+url.QueryEscape(`displayName eq "Sales"`)+"&excludedAttributes=members", "", 200)
		ok("GET", "/scim/v2/Groups", "", 200)
		ok("POST", "/scim/v2/Groups/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"excludedAttributes":"members"}`, 200)
		ok("GET", gpath, "", 200)
		ok("GET", upath, "", 200) // now with groups
		ok("PATCH", gpath, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+bob+`"}]}]}`, 204)
		ok("PATCH", gpath+"?excludedAttributes=members", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+uid+`\"]"}]}`, 200)
		ok("PUT", gpath, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales EMEA","members":[{"value":"`+uid+`"}]}`, 200)
		ok("DELETE", gpath, "", 412, "If-Match", `W/"1"`)
		ok("DELETE", gpath, "", 204)
		ok("GET", gpath, "", 404)
		ok("DELETE", upath, "", 204)
		ok("DELETE", upath, "", 404)

		ok("POST", "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":5,"Operations":[
			{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bulk","members":[{"value":"bulkId:u"}]}},
			{"method":"POST","path":"/Users","bulkId":"u","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk@example.com"}},
			{"method":"PUT","path":"/Users/bulkId:u","version":"W/\"1\"","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk@example.com","active":false}},
			{"method":"PATCH","path":"/Users/bulkId:u","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}},
			{"method":"DELETE","path":"/Groups/bulkId:g","version":"W/\"9\""},
			{"method":"DELETE","path":"/Users/bulkId:u"}]}`, 200)
		ok("POST", "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
			{"method":"POST","path":"/Groups","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"A","members":[{"value":"bulkId:b"}]}},
			{"method":"POST","path":"/Groups","bulkId":"b","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"B","members":[{"value":"bulkId:a"}]}}]}`, 200)
		bad("POST", "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[]}`, 400)
		bad("POST", "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`+strings.Repeat(`{"method":"DELETE","path":"/Users/x"},`, 1000)+`{}]}`, 413)

		bad("GET", "/scim/v2/Nope", "", 404)
		bad("DELETE", "/scim/v2/Users", "", 405)

		e.store.Close()
		ok("GET", "/readyz", "", 503)
		r := e.do("GET", "/scim/v2/Users", nil) // through the suite-wide transport
		if r.Status < 500 {
			t.Fatalf("GET /scim/v2/Users with the database closed = %d", r.Status)
		}
	})
	if t.Failed() {
		return
	}
	for path, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !slices.Contains(op.Tags, "SAML") && !slices.Contains(op.Tags, "Console") && !slices.Contains(op.Tags, "OIDC") &&
				!slices.Contains(op.Tags, "Events") &&
				!c.seen[op.OperationID] { // TestOpenAPISAML, TestOpenAPIConsole, TestOpenAPIOIDC, TestOpenAPIEvents
				t.Errorf("operation %s (%s) was never exercised", op.OperationID, path)
			}
		}
	}
}

// contractClients returns a client that checks requests and responses against the
// contract and one that checks only responses; neither follows redirects.
func contractClients(c *contract) (strict, lenient *http.Client) {
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	strict = &http.Client{Transport: &validatingTransport{c: c, base: http.DefaultTransport, checkRequest: true}, CheckRedirect: noFollow}
	lenient = &http.Client{Transport: &validatingTransport{c: c, base: http.DefaultTransport}, CheckRedirect: noFollow}
	return strict, lenient
}

// contractCall returns a function that sends a request through client with token and
// requires the status.
func contractCall(t *testing.T, e *env) func(client *http.Client, token, method, path, body string, status int, header ...string) resp {
	return func(client *http.Client, token, method, path, body string, status int, header ...string) resp {
		t.Helper()
		prev := harnessClient
		harnessClient = client
		defer func() { harnessClient = prev }()
		r := e.doToken(token, method, path, nilIfEmpty(body), header...)
		if r.Status != status {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, status, r.Raw)
		}
		return r
	}
}

// TestOpenAPISAML sends the browser-facing requests (before and after the tenant configures
// SAML) and checks requests and responses against the contract. Successful logins need an
// IdP; internal/saml tests them, and this package's suite-wide transport checks any
// response it sees.
func TestOpenAPISAML(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	strict, _ := contractClients(c)
	s := teststores.SQLite(t)
	e := newEnvOptions(t, s, func(o *testkit.Options) { o.SAML = &saml.Config{} })
	call := contractCall(t, e)
	ok := func(method, path, body string, status int, header ...string) resp {
		t.Helper()
		return call(strict, "", method, path, body, status, header...)
	}
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	ok("GET", "/t/acme/", "", 200)
	ok("GET", "/t/acme", "", 301)
	ok("GET", "/t/nope/", "", 404)
	ok("GET", "/t/acme/saml/metadata", "", 404)
	ok("GET", "/t/acme/saml/login", "", 404)
	ok("POST", "/t/acme/saml/acs", "SAMLResponse=x", 404, form...)

	_, certPEM, err := saml.NewKeyPair("idp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := saml.Configure(context.Background(), e.dir, e.tenant, saml.Settings{
		SSOURL: "https://idp.example.com/sso", Issuer: "https://idp.example.com", CertPEM: []byte(certPEM), JIT: true,
	}, time.Now()); err != nil {
		t.Fatal(err)
	}
	ok("GET", "/t/acme/saml/metadata", "", 200)
	if r := ok("GET", "/t/acme/saml/login?return_to=%2Ft%2Facme%2F", "", 302); !strings.HasPrefix(r.Header.Get("Location"), "https://idp.example.com/sso?") {
		t.Fatalf("login redirects to %q", r.Header.Get("Location"))
	}
	ok("POST", "/t/acme/saml/acs", "SAMLResponse=not-base64", 400, form...)
	ok("POST", "/t/acme/saml/acs", "SAMLResponse="+url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("<Response/>"))), 403, form...)
	ok("POST", "/t/acme/logout", "", 303)
	ok("POST", "/t/acme/logout", "", 403, "Origin", "https://evil.example")
	// Single logout: unsigned and unreadable messages are refused by either binding.
	ok("GET", "/t/acme/saml/slo", "", 400)
	ok("POST", "/t/acme/saml/slo", "SAMLRequest="+url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("<LogoutRequest/>"))), 403, form...)
	for path, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if slices.Contains(op.Tags, "SAML") && !c.seen[op.OperationID] {
				t.Errorf("operation %s (%s) was never exercised", op.OperationID, path)
			}
		}
	}
}

// TestOpenAPICatchesDrift: the validator refuses responses that break the contract, so
// that a passing suite means something.
func TestOpenAPICatchesDrift(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	scimJSON := http.Header{"Content-Type": {"application/scim+json; charset=utf-8"}, "X-Request-Id": {"r1"}}
	get := func(path string) *http.Request {
		req, err := http.NewRequest("GET", "http://127.0.0.1:1"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	const id = "6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f"
	withETag := scimJSON.Clone()
	withETag.Set("ETag", `W/"1"`)
	cases := []struct {
		name   string
		path   string
		status int
		header http.Header
		body   string
	}{
		{"error status as a number", "/scim/v2/Users/" + id, 404, scimJSON, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":404,"detail":"x"}`},
		{"undocumented status", "/scim/v2/Users/" + id, 418, scimJSON, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"418","detail":"x"}`},
		{"unknown user attribute", "/scim/v2/Users/" + id, 200, withETag, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + id + `","favouriteColour":"green"}`},
		{"password returned", "/scim/v2/Users/" + id, 200, withETag, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + id + `","password":"x"}`},
		{"missing ETag", "/scim/v2/Users/" + id, 200, scimJSON, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + id + `"}`},
		{"list without totalResults", "/scim/v2/Users", 200, scimJSON, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"itemsPerPage":0,"Resources":[]}`},
		{"undocumented path answering 200", "/scim/v2/Nope", 200, scimJSON, `{}`},
		{"undocumented path without a SCIM error", "/scim/v2/Nope", 404, http.Header{"Content-Type": {"text/plain"}}, `404 page not found`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.check(get(tc.path), nil, tc.status, tc.header, []byte(tc.body), false)
			if err == nil {
				t.Fatalf("accepted: %d %s", tc.status, tc.body)
			}
			t.Log(err)
		})
	}
	good := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + id + `","userName":"a"}`
	if err := c.check(get("/scim/v2/Users/"+id), nil, 200, withETag, []byte(good), false); err != nil {
		t.Fatalf("a good response is refused: %v", err)
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
