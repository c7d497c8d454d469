package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
)

const issuer = "https://scimd.example.com"

var ctx = context.Background()

type backend interface {
	store.Store
	store.EventStreamStore
}

// env is a store with a directory to make changes through, the deployment's key set, and
// its JWKS served over HTTP as a receiver fetches it.
type env struct {
	s    backend
	dir  *directory.Directory
	keys *signing.KeySet
	jwks string // URL
	log  *slog.Logger
}

func newEnv(t testing.TB, s store.Store) *env {
	t.Helper()
	b, ok := s.(backend)
	if !ok {
		t.Fatalf("%T keeps no event streams", s)
	}
	keys := signing.New(s, signing.Options{})
	js := httptest.NewServer(keys)
	t.Cleanup(js.Close)
	log := slog.New(slog.DiscardHandler)
	return &env{s: b, dir: directory.New(s, log, nil), keys: keys, jwks: js.URL, log: log}
}

func (e *env) tenant(t *testing.T, slug string) store.Tenant {
	t.Helper()
	tn, err := e.dir.CreateTenant(ctx, slug, slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func (e *env) stream(t *testing.T, kind, url, tenantID string, uris []string, cred string) store.Stream {
	t.Helper()
	st := store.Stream{ID: store.NewID(), Kind: kind, URL: url, Audience: "https://app.example.com", TenantID: tenantID,
		Events: events.AuditEvents(uris), EventURIs: uris, CreatedAt: time.Now().UTC()}
	var hash []byte
	if cred != "" {
		hash = events.HashCredential(cred)
	}
	if err := e.s.CreateStream(ctx, st, hash); err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *env) createUser(t *testing.T, tn store.Tenant, name string) *scim.Resource {
	t.Helper()
	u, err := e.dir.CreateUser(ctx, tn, map[string]any{"schemas": []any{scim.UserSchema}, "userName": name})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ops(t *testing.T, rt *scim.ResourceType, body string) []patch.Operation {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	o, err := patch.Parse(m, rt)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// received is one SET as the receiver verified it.
type received struct {
	Claims events.Claims
	Raw    string
}

// receiver is an application's SET endpoint built on go-jose, independent of scimd's
// signing code: it fetches scimd's JWKS and verifies every SET's signature, typ, iss, aud
// and event URIs, deduplicating by jti. respond decides each answer (nil: 202).
type receiver struct {
	t       *testing.T
	jwksURL string
	aud     string
	srv     *httptest.Server
	mu      sync.Mutex
	sets    []received     // accepted, in arrival order, deduplicated
	seen    map[string]int // jti → times received
	calls   int
	respond func(call int, c events.Claims, w http.ResponseWriter) bool // true: answered
	clock   func() time.Time                                            // the receiver's time (nil: time.Now)
}

func newReceiver(t *testing.T, jwksURL string) *receiver {
	r := &receiver{t: t, jwksURL: jwksURL, aud: "https://app.example.com", seen: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// verify checks a SET as an application would, with go-jose and the published JWKS.
func verify(jwksURL, aud, raw string) (events.Claims, error) {
	return verifyAt(jwksURL, aud, raw, time.Now())
}

// verifyAt is verify at the receiver's time now.
func verifyAt(jwksURL, aud, raw string, now time.Time) (events.Claims, error) {
	var c events.Claims
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return c, err
	}
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); typ != "secevent+jwt" {
		return c, fmt.Errorf("typ %q", typ)
	}
	resp, err := http.Get(jwksURL)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return c, err
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return c, fmt.Errorf("kid %q not in the JWKS", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	if err := tok.Claims(keys[0].Key, &c, &std); err != nil {
		return c, err
	}
	if err := std.Validate(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{aud}, Time: now}); err != nil {
		return c, err
	}
	if c.Jti == "" || c.Txn == "" || c.Toe == 0 || c.SubID.Format != "scim" || c.Tenant.ID == "" || c.Tenant.Slug == "" || len(c.Events) == 0 {
		return c, fmt.Errorf("incomplete SET %+v", c)
	}
	for uri := range c.Events {
		if _, ok := events.ParseURI(uri); !ok || !strings.HasPrefix(uri, events.URIPrefix) {
			return c, fmt.Errorf("event URI %q is not RFC 9967's", uri)
		}
	}
	return c, nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if ct := req.Header.Get("Content-Type"); ct != events.MediaType {
		r.t.Errorf("Content-Type %q", ct)
	}
	now := time.Now()
	if r.clock != nil {
		now = r.clock()
	}
	c, err := verifyAt(r.jwksURL, r.aud, string(body), now)
	if err != nil {
		r.t.Errorf("SET refused: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.calls++
	call, respond := r.calls, r.respond
	r.mu.Unlock()
	if respond != nil && respond(call, c, w) {
		return
	}
	r.mu.Lock()
	r.seen[c.Jti]++
	if r.seen[c.Jti] == 1 {
		r.sets = append(r.sets, received{Claims: c, Raw: string(body)})
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.sets...)
}

// drain runs d's DeliverOnce until the stream has nothing due, or fails after limit.
func drain(t *testing.T, d *events.Deliverer, st store.Stream, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		n, err := d.DeliverOnce(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatalf("stream not drained in %s", limit)
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stats(t testing.TB, s backend, streamID string) store.StreamStats {
	t.Helper()
	all, err := s.StreamStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		if st.StreamID == streamID {
			return st
		}
	}
	return store.StreamStats{StreamID: streamID}
}
