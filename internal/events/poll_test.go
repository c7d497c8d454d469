package events_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

const cred = "scimd_stream_test-credential"

func poller(e *env, cfg events.PollConfig) *httptest.Server {
	cfg.Issuer = issuer
	return httptest.NewServer(events.NewPoller(e.s, e.keys, cfg, e.log, nil))
}

// pollOnce sends one RFC 8936 poll request and returns the verified SETs by jti.
func pollOnce(t *testing.T, e *env, url, credential string, req map[string]any) (int, map[string]events.Claims, events.PollResponse) {
	t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+credential)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pr events.PollResponse
	json.NewDecoder(resp.Body).Decode(&pr)
	got := map[string]events.Claims{}
	for jti, set := range pr.Sets {
		c, err := verify(e.jwks, "https://app.example.com", set)
		if err != nil {
			t.Fatalf("SET %s: %v", jti, err)
		}
		if c.Jti != jti {
			t.Fatalf("sets key %q holds the SET of jti %q", jti, c.Jti)
		}
		got[jti] = c
	}
	return resp.StatusCode, got, pr
}

func keys(m map[string]events.Claims) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPollAckAndRedelivery(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	tn := e.tenant(t, "acme")
	e.stream(t, store.StreamPoll, "", tn.ID, nil, cred)
	srv := poller(e, events.PollConfig{AckTimeout: 300 * time.Millisecond})
	defer srv.Close()
	e.createUser(t, tn, "ann@example.com")
	e.createUser(t, tn, "bob@example.com")

	code, first, pr := pollOnce(t, e, srv.URL, cred, map[string]any{"maxEvents": 1, "returnImmediately": true})
	if code != 200 || len(first) != 1 || !pr.MoreAvailable {
		t.Fatalf("first poll: %d %v more=%v", code, keys(first), pr.MoreAvailable)
	}
	// Acknowledge the first, take the rest.
	_, second, _ := pollOnce(t, e, srv.URL, cred, map[string]any{"ack": keys(first), "returnImmediately": true})
	if len(second) != 1 || second[keys(first)[0]].Jti != "" {
		t.Fatalf("second poll: %v", keys(second))
	}
	// Not acknowledged: within the ack timeout nothing comes; after it, the same SET again.
	if _, none, _ := pollOnce(t, e, srv.URL, cred, map[string]any{"returnImmediately": true}); len(none) != 0 {
		t.Fatalf("redelivered inside the ack timeout: %v", keys(none))
	}
	time.Sleep(350 * time.Millisecond)
	_, again, _ := pollOnce(t, e, srv.URL, cred, map[string]any{"returnImmediately": true})
	if len(again) != 1 || again[keys(second)[0]].Jti == "" {
		t.Fatalf("after the ack timeout got %v, want %v again", keys(again), keys(second))
	}
	// setErrs parks it; acknowledging an unknown or foreign jti is harmless.
	code, last, _ := pollOnce(t, e, srv.URL, cred, map[string]any{"returnImmediately": true, "ack": []string{"nonsense", "1.2.3.4"},
		"setErrs": map[string]any{keys(again)[0]: map[string]string{"err": "invalid_request", "description": "cannot map user"}}})
	if code != 200 || len(last) != 0 {
		t.Fatalf("after setErrs: %d %v", code, keys(last))
	}
	st := stats(t, e.s, e.streamID(t))
	if st.Parked != 1 || st.Undelivered != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func (e *env) streamID(t *testing.T) string {
	t.Helper()
	all, err := e.s.Streams(ctx)
	if err != nil || len(all) == 0 {
		t.Fatal(all, err)
	}
	return all[len(all)-1].ID
}

// TestTwoPollers: two pollers of one stream never get the same SET within the ack timeout.
func TestTwoPollers(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s)
		tn := e.tenant(t, "acme")
		e.stream(t, store.StreamPoll, "", tn.ID, nil, cred)
		srv := poller(e, events.PollConfig{AckTimeout: time.Minute})
		defer srv.Close()
		const n = 60
		for i := range n {
			e.createUser(t, tn, "user"+strings.Repeat("x", i)+"@example.com")
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, got, _ := pollOnce(t, e, srv.URL, cred, map[string]any{"maxEvents": 7, "returnImmediately": true})
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for jti := range got {
						seen[jti]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("pollers got %d distinct SETs, want %d", len(seen), n)
		}
		for jti, c := range seen {
			if c != 1 {
				t.Fatalf("SET %s handed out %d times within the ack timeout", jti, c)
			}
		}
	})
}

// TestLongPoll: a poll without returnImmediately waits for a change, bounded by MaxWait.
func TestLongPoll(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	tn := e.tenant(t, "acme")
	e.stream(t, store.StreamPoll, "", tn.ID, nil, cred)
	srv := poller(e, events.PollConfig{MaxWait: 400 * time.Millisecond, Interval: 20 * time.Millisecond})
	defer srv.Close()
	start := time.Now()
	if _, got, _ := pollOnce(t, e, srv.URL, cred, map[string]any{}); len(got) != 0 || time.Since(start) < 350*time.Millisecond {
		t.Fatalf("empty long poll returned %v after %s", keys(got), time.Since(start))
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		e.createUser(t, tn, "ann@example.com")
	}()
	srv2 := poller(e, events.PollConfig{MaxWait: 10 * time.Second, Interval: 20 * time.Millisecond})
	defer srv2.Close()
	start = time.Now()
	if _, got, _ := pollOnce(t, e, srv2.URL, cred, map[string]any{}); len(got) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("long poll got %v after %s", keys(got), time.Since(start))
	}
}

// TestPollRefused: only the stream credential opens a poll stream; malformed requests are
// 400 with RFC 8935's error object, never 500.
func TestPollRefused(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	tn := e.tenant(t, "acme")
	e.stream(t, store.StreamPoll, "", tn.ID, nil, cred)
	push := e.stream(t, store.StreamPush, "https://app.example.com/events", tn.ID, nil, "scimd_stream_push-has-no-poll")
	_ = push
	scimToken, _, err := e.dir.IssueToken(ctx, tn, "idp")
	if err != nil {
		t.Fatal(err)
	}
	srv := poller(e, events.PollConfig{MaxEvents: 50, MaxAcks: 3, MaxWait: 50 * time.Millisecond})
	defer srv.Close()
	for _, tc := range []struct {
		name, cred, body string
		want             int
	}{
		{"no credential", "", `{}`, 401},
		{"a tenant's SCIM token", scimToken, `{}`, 401},
		{"a push stream's credential", "scimd_stream_push-has-no-poll", `{}`, 401},
		{"not JSON", cred, `{"maxEvents":`, 400},
		{"maxEvents negative", cred, `{"maxEvents":-1}`, 400},
		{"maxEvents above the bound", cred, `{"maxEvents":51}`, 400},
		{"too many acks", cred, `{"ack":["a","b","c","d"]}`, 400},
		{"ack not a list", cred, `{"ack":"a"}`, 400},
		{"too large", cred, `{"ack":["` + strings.Repeat("a", 300<<10) + `"]}`, 413},
		{"empty body: the defaults", cred, ``, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(tc.body))
			if tc.cred != "" {
				r.Header.Set("Authorization", "Bearer "+tc.cred)
			}
			if tc.want == 200 {
				r.Body = http.NoBody
				r.Header.Set("Content-Type", "application/json")
			}
			q := r.URL.Query()
			r.URL.RawQuery = q.Encode()
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.want, body)
			}
			if tc.want >= 400 && (body["err"] == nil || body["description"] == nil) {
				t.Fatalf("error body %v lacks err and description", body)
			}
			if tc.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}
