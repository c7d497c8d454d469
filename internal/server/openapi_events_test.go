package server_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

// mountEvents adds the events service's routes to the stack's router, as cmd/scimd's
// newApp does (the Poller's Mount), and returns the poller.
func mountEvents(st *testkit.Stack, publicURL string) *events.Poller {
	p := events.NewPoller(st.Store, signing.New(st.Store, signing.Options{}), events.PollConfig{Issuer: publicURL, MaxWait: time.Second},
		slog.New(slog.DiscardHandler), nil)
	p.Mount(st.Router)
	return p
}

// TestOpenAPIEvents sends a request to every operation of the events service (RFC 8936
// polling with a stream credential) and checks requests and responses against the
// contract. internal/events tests what the answers mean.
func TestOpenAPIEvents(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	strict, lenient := contractClients(c)
	e := newEnvOptions(t, teststores.SQLite(t), func(*testkit.Options) {})
	mountEvents(e.stack, e.url)
	const cred = "scimd_stream_credential_for_the_contract_test"
	st := store.Stream{ID: store.NewID(), Kind: store.StreamPoll, Audience: "urn:scimd:stream:x", Events: events.AuditEvents(nil),
		CreatedAt: time.Now().UTC()}
	if err := e.stack.Store.CreateStream(context.Background(), st, events.HashCredential(cred)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.CreateUser(context.Background(), e.tenant, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "ann@acme.test"}); err != nil {
		t.Fatal(err)
	}
	call := contractCall(t, e)
	asJSON := []string{"Content-Type", "application/json"}
	ok := func(token, body string, status int) resp {
		t.Helper()
		return call(strict, token, "POST", events.PollPath, body, status, asJSON...)
	}
	ok("", `{"returnImmediately":true}`, 401)
	ok("scimd_not_a_stream", `{"returnImmediately":true}`, 401)
	ok(e.token, `{"returnImmediately":true}`, 401) // a tenant's SCIM token is no stream credential
	got := ok(cred, `{"maxEvents":10,"returnImmediately":true}`, 200)
	sets, _ := got.Body["sets"].(map[string]any)
	if len(sets) != 1 {
		t.Fatalf("polled %v, want the user's create", got.Body)
	}
	var jti string
	for k := range sets {
		jti = k
	}
	ok(cred, `{"ack":["`+jti+`"],"setErrs":{"not-a-jti":{"err":"invalid_request","description":"unknown"}},"maxEvents":0}`, 200)
	ok(cred, `{"returnImmediately":true}`, 200)
	call(lenient, cred, "POST", events.PollPath, `{"maxEvents":`, 400, asJSON...)
	call(lenient, cred, "POST", events.PollPath, `{"maxEvents":1000}`, 400, asJSON...)

	for path, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if slices.Contains(op.Tags, "Events") && !c.seen[op.OperationID] {
				t.Errorf("operation %s (%s) was never exercised", op.OperationID, path)
			}
		}
	}
	if c.doc.Webhooks["scimEvent"] == nil || c.doc.Webhooks["scimEvent"].Post == nil {
		t.Error("the push receiver's contract (webhook scimEvent) is missing")
	}
}
