package events_test

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

func deliverer(e *env, cfg events.Config) *events.Deliverer {
	cfg.Issuer = issuer
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = time.Millisecond
		cfg.MaxBackoff = 5 * time.Millisecond
	}
	return events.NewDeliverer(e.s, e.keys, cfg, e.log, nil)
}

// TestPushEveryChange: every kind of provisioning change reaches the receiver as a SET it
// verifies with go-jose against scimd's JWKS, with the RFC 9967 events of the mapping.
func TestPushEveryChange(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s)
		tn, other := e.tenant(t, "acme"), e.tenant(t, "bravo")
		rcv := newReceiver(t, e.jwks)
		st := e.stream(t, store.StreamPush, rcv.srv.URL, tn.ID, nil, "")

		u := e.createUser(t, tn, "ann@example.com")
		e.createUser(t, other, "bob@example.com") // another tenant: not this stream's
		if _, err := e.dir.PatchUser(ctx, tn, u.ID, ops(t, scim.Users, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"title","value":"CEO"}]}`), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.dir.ReplaceUser(ctx, tn, u.ID, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "ann@example.com",
			"displayName": "Ann"}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.dir.SetUserActive(ctx, tn, u.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.dir.SetUserActive(ctx, tn, u.ID, true); err != nil {
			t.Fatal(err)
		}
		g, err := e.dir.CreateGroup(ctx, tn, map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "Sales",
			"members": []any{map[string]any{"value": u.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.dir.PatchGroup(ctx, tn, g.ID, ops(t, scim.Groups, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"remove","path":"members[value eq \"`+u.ID+`\"]"}]}`), ""); err != nil {
			t.Fatal(err)
		}
		if err := e.dir.DeleteGroup(ctx, tn, g.ID, ""); err != nil {
			t.Fatal(err)
		}
		if err := e.dir.DeleteUser(ctx, tn, u.ID, ""); err != nil {
			t.Fatal(err)
		}
		drain(t, deliverer(e, events.Config{}), st, 30*time.Second)

		type row struct{ sub, events, attrs string }
		var got []row
		for _, r := range rcv.got() {
			c := r.Claims
			if c.Tenant.ID != tn.ID || c.Tenant.Slug != "acme" || c.Aud != "https://app.example.com" {
				t.Errorf("SET %s: tenant %+v aud %q", c.Jti, c.Tenant, c.Aud)
			}
			var uris, attrs []string
			for uri, p := range c.Events {
				uris = append(uris, strings.TrimPrefix(uri, events.URIPrefix))
				if m, ok := p.(map[string]any); ok {
					as, _ := m["attributes"].([]any)
					for _, a := range as {
						attrs = append(attrs, a.(string))
					}
				}
			}
			sort.Strings(uris)
			sort.Strings(attrs)
			kind := strings.Split(c.SubID.URI, "/")[1]
			got = append(got, row{kind, strings.Join(uris, " "), strings.Join(attrs, ",")})
		}
		want := []row{
			{"Users", "prov:create:notice", "active,userName,userType"},
			{"Users", "prov:patch:notice", "title"},
			{"Users", "prov:put:notice", "displayName,title"},
			{"Users", "prov:deactivate prov:patch:notice", "active"},
			{"Users", "prov:activate prov:patch:notice", "active"},
			{"Groups", "prov:create:notice", "displayName,members"},
			{"Groups", "prov:patch:notice", "members"},
			{"Groups", "prov:delete", ""},
			{"Users", "prov:delete", ""},
		}
		// Different resources may arrive in any order; each resource's in commit order.
		for _, kind := range []string{"Users", "Groups"} {
			var g, w []row
			for _, r := range got {
				if r.sub == kind {
					g = append(g, r)
				}
			}
			for _, r := range want {
				if r.sub == kind {
					w = append(w, r)
				}
			}
			if !slices.Equal(g, w) {
				t.Errorf("%s SETs:\n got %v\nwant %v", kind, g, w)
			}
		}
		if s := stats(t, e.s, st.ID); s.Undelivered != 0 || s.Parked != 0 {
			t.Fatalf("backlog after delivery: %+v", s)
		}
	})
}

// TestPerResourceOrder: 32 concurrent PATCHes of one group and of 32 users; the receiver
// sees each resource's SETs in commit order and exactly the committed changes, while SETs
// of different resources are in flight together.
func TestPerResourceOrder(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s)
		tn := e.tenant(t, "acme")
		rcv := newReceiver(t, e.jwks)
		e.stream(t, store.StreamPush, rcv.srv.URL, tn.ID, nil, "")
		var users []*scim.Resource
		for i := range 32 {
			users = append(users, e.createUser(t, tn, fmt.Sprintf("user%d@example.com", i)))
		}
		g, err := e.dir.CreateGroup(ctx, tn, map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "Sales"})
		if err != nil {
			t.Fatal(err)
		}
		var inflight, peak int
		var mu sync.Mutex
		rcv.respond = func(_ int, _ events.Claims, _ http.ResponseWriter) bool {
			mu.Lock()
			inflight++
			peak = max(peak, inflight)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inflight--
			mu.Unlock()
			return false
		}
		ctxRun, cancel := contextWithCancel()
		d := deliverer(e, events.Config{MaxInFlight: 8, Idle: 10 * time.Millisecond, Refresh: 50 * time.Millisecond})
		done := make(chan struct{})
		go func() { d.Run(ctxRun); close(done) }()
		defer func() { cancel(); <-done }()

		var wg sync.WaitGroup
		for i, u := range users {
			wg.Add(2)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, u.ID)
				if _, err := e.dir.PatchGroup(ctx, tn, g.ID, ops(t, scim.Groups, body), ""); err != nil {
					t.Error(err)
				}
			}()
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"t%d"}]}`, i)
				if _, err := e.dir.PatchUser(ctx, tn, u.ID, ops(t, scim.Users, body), ""); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		// Every committed change, from the audit log: creates, 32 group PATCHes, 32 user PATCHes.
		committed := map[string][]string{} // resource → txns in commit (audit id) order
		evs, err := e.s.Events(ctx, tn.ID, store.EventQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		// Commit order: a change's audit event id is taken under the resource's row lock,
		// so a resource's ids ascend in commit order (its "at" is taken before the lock).
		sort.Slice(evs, func(i, j int) bool { return evs[i].ID < evs[j].ID })
		for _, ev := range evs {
			committed[ev.ResourceID] = append(committed[ev.ResourceID], fmt.Sprintf("%s.%d", tn.ID, ev.ID))
		}
		waitFor(t, 60*time.Second, "every SET", func() bool { return len(rcv.got()) == len(evs) })
		seen := map[string][]string{}
		for _, r := range rcv.got() {
			id := r.Claims.SubID.URI[strings.LastIndex(r.Claims.SubID.URI, "/")+1:]
			seen[id] = append(seen[id], r.Claims.Txn)
		}
		if len(committed[g.ID]) != 33 {
			t.Fatalf("group has %d committed changes, want 33", len(committed[g.ID]))
		}
		for id, want := range committed {
			if !slices.Equal(seen[id], want) {
				t.Errorf("resource %s: receiver saw %v, committed %v", id, seen[id], want)
			}
		}
		for jti, n := range rcv.seen {
			if n != 1 {
				t.Errorf("SET %s received %d times without any failure", jti, n)
			}
		}
		if peak < 2 {
			t.Errorf("at most %d SET in flight: resources were not delivered concurrently", peak)
		}
	})
}

// TestFaults: a receiver that is down, failing, hanging or refusing. Retried failures
// arrive once the receiver recovers; a refusal (400) is parked at once, not retried.
func TestFaults(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	tn := e.tenant(t, "acme")
	cases := []struct {
		name    string
		respond func(call int, w http.ResponseWriter) bool
		parked  bool
		minCall int
	}{
		{"down for the first 3 attempts", func(call int, w http.ResponseWriter) bool {
			if call <= 3 {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close() // the connection drops: as a receiver that is down
				return true
			}
			return false
		}, false, 4},
		{"500 twice", func(call int, w http.ResponseWriter) bool {
			if call <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		}, false, 3},
		{"429 with Retry-After", func(call int, w http.ResponseWriter) bool {
			if call == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		}, false, 2},
		{"hanging past the timeout", func(call int, w http.ResponseWriter) bool {
			if call == 1 {
				time.Sleep(700 * time.Millisecond)
				w.WriteHeader(http.StatusAccepted)
				return true // accepted too late: scimd has given up on this attempt
			}
			return false
		}, false, 2},
		{"400 refused", func(call int, w http.ResponseWriter) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"err":"invalid_audience","description":"not for us"}`))
			return true
		}, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, e.jwks)
			rcv.respond = func(call int, _ events.Claims, w http.ResponseWriter) bool { return tc.respond(call, w) }
			st := e.stream(t, store.StreamPush, rcv.srv.URL, tn.ID, nil, "")
			u := e.createUser(t, tn, strings.ReplaceAll(tc.name, " ", "-")+"@example.com")
			d := deliverer(e, events.Config{Timeout: 300 * time.Millisecond})
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				if _, err := d.DeliverOnce(ctx, st); err != nil {
					t.Fatal(err)
				}
				if s := stats(t, e.s, st.ID); s.Undelivered == 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			s := stats(t, e.s, st.ID)
			if s.Undelivered != 0 {
				t.Fatalf("still undelivered: %+v", s)
			}
			if rcv.calls < tc.minCall || tc.parked && rcv.calls != 1 {
				t.Fatalf("receiver called %d times, want %d", rcv.calls, tc.minCall)
			}
			if tc.parked {
				parked, err := e.s.ParkedDeliveries(ctx, st.ID, 10)
				if err != nil || len(parked) != 1 || parked[0].Event.ResourceID != u.ID || parked[0].Attempts != 1 ||
					parked[0].LastError != "HTTP 400: invalid_audience: not for us" {
					t.Fatalf("parked = %+v, %v", parked, err)
				}
				if len(rcv.got()) != 0 {
					t.Fatal("a refused SET was counted as received")
				}
				return
			}
			if got := rcv.got(); len(got) != 1 || !strings.HasSuffix(got[0].Claims.SubID.URI, u.ID) {
				t.Fatalf("received %+v", got)
			}
			if s.Parked != 0 {
				t.Fatalf("parked: %+v", s)
			}
		})
	}
}

// TestGiveUpAfterMaxAge: a receiver that never recovers gets the SET retried until MaxAge,
// then it is parked and visible; the next SET of the same resource then goes.
func TestGiveUpAfterMaxAge(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	tn := e.tenant(t, "acme")
	rcv := newReceiver(t, e.jwks)
	rcv.respond = func(_ int, c events.Claims, w http.ResponseWriter) bool {
		if _, ok := c.Events[events.CreateNotice]; ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	st := e.stream(t, store.StreamPush, rcv.srv.URL, tn.ID, nil, "")
	u := e.createUser(t, tn, "ann@example.com")
	if err := e.dir.DeleteUser(ctx, tn, u.ID, ""); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Now()
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(d)
	}
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	rcv.clock = now // the receiver lives in the same (moved) time
	d := deliverer(e, events.Config{MaxAge: time.Hour, Now: now})
	if _, err := d.DeliverOnce(ctx, st); err != nil { // attempt 1: 503, retried
		t.Fatal(err)
	}
	if s := stats(t, e.s, st.ID); s.Parked != 0 || s.Undelivered != 2 {
		t.Fatalf("after one failure: %+v", s)
	}
	advance(2 * time.Hour) // past MaxAge: the next failure parks it
	waitFor(t, 20*time.Second, "the create parked and the delete delivered", func() bool {
		if _, err := d.DeliverOnce(ctx, st); err != nil {
			t.Fatal(err)
		}
		s := stats(t, e.s, st.ID)
		return s.Parked == 1 && s.Undelivered == 0
	})
	parked, _ := e.s.ParkedDeliveries(ctx, st.ID, 10)
	if len(parked) != 1 || parked[0].Event.Name != "user_create_provision" || parked[0].Attempts < 2 ||
		!strings.Contains(parked[0].LastError, "gave up after") || !strings.Contains(parked[0].LastError, "HTTP 503") {
		t.Fatalf("parked = %+v", parked)
	}
	if got := rcv.got(); len(got) != 1 || got[0].Claims.Events[events.Delete] == nil {
		t.Fatalf("received %+v", got)
	}
}

// TestNoRedirects: a receiver that redirects is not followed; the SET is retried.
func TestNoRedirects(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	tn := e.tenant(t, "acme")
	followed := false
	target := newReceiver(t, e.jwks)
	target.respond = func(int, events.Claims, http.ResponseWriter) bool { followed = true; return false }
	redirect := newReceiver(t, e.jwks)
	redirect.respond = func(_ int, _ events.Claims, w http.ResponseWriter) bool {
		w.Header().Set("Location", target.srv.URL)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return true
	}
	st := e.stream(t, store.StreamPush, redirect.srv.URL, tn.ID, nil, "")
	e.createUser(t, tn, "ann@example.com")
	if _, err := deliverer(e, events.Config{}).DeliverOnce(ctx, st); err != nil {
		t.Fatal(err)
	}
	if followed || stats(t, e.s, st.ID).Undelivered != 1 {
		t.Fatalf("redirect followed (%v) or SET not kept for retry: %+v", followed, stats(t, e.s, st.ID))
	}
}

// TestTwoDeliverers: two deliverers (two replicas) on one database deliver one stream
// without sending any SET twice: each is claimed by one of them.
func TestTwoDeliverers(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s)
		tn := e.tenant(t, "acme")
		rcv := newReceiver(t, e.jwks)
		st := e.stream(t, store.StreamPush, rcv.srv.URL, tn.ID, nil, "")
		const n = 200
		for i := range n {
			e.createUser(t, tn, fmt.Sprintf("user%d@example.com", i))
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				drain(t, deliverer(e, events.Config{MaxInFlight: 8}), st, 60*time.Second)
			}()
		}
		wg.Wait()
		if len(rcv.seen) != n {
			t.Fatalf("received %d distinct SETs, want %d", len(rcv.seen), n)
		}
		for jti, c := range rcv.seen {
			if c != 1 {
				t.Fatalf("SET %s sent %d times", jti, c)
			}
		}
	})
}

// unusedAddr returns an address nothing listens on.
func unusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestReceiverUnreachable: nothing listening is a retry, not a park.
func TestReceiverUnreachable(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	tn := e.tenant(t, "acme")
	st := e.stream(t, store.StreamPush, "http://"+unusedAddr(t)+"/events", tn.ID, nil, "")
	e.createUser(t, tn, "ann@example.com")
	if _, err := deliverer(e, events.Config{BaseBackoff: time.Hour}).DeliverOnce(ctx, st); err != nil {
		t.Fatal(err)
	}
	if s := stats(t, e.s, st.ID); s.Undelivered != 1 || s.Parked != 0 {
		t.Fatalf("%+v", s)
	}
}
