package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"1", time.Second}, {"0", 0}, {"3", 3 * time.Second}, {"120", 5 * time.Second},
		{"", 200 * time.Millisecond}, {"-1", 200 * time.Millisecond}, {"Wed, 21 Oct 2015 07:28:00 GMT", 200 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := retryDelay(tc.header); got != tc.want {
			t.Errorf("retryDelay(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// readLedger reads a --ledger file.
func readLedger(t *testing.T, path string) []LedgerLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []LedgerLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l LedgerLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("ledger line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// TestIdPStormRetries: a scimd that refuses some requests with 503 + Retry-After, answers
// some creates 503 after applying them (the commit happened, the answer was lost), and
// closes the connection without an answer after applying some PATCHes.
// The storm retries both; a retried create that meets 409 finds the user by userName. The
// run passes, and the ledger names every user once, each present on the server.
func TestIdPStormRetries(t *testing.T) {
	s := startScimd(t)
	var posts, patches atomic.Int64
	flaky := func(w http.ResponseWriter, r *http.Request) bool {
		refuse := func() {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"503","detail":"retry"}`))
		}
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Users"):
			switch n := posts.Add(1); {
			case n%5 == 1: // refused before doing anything
				io.Copy(io.Discard, r.Body)
				refuse()
				return true
			case n%5 == 3: // applied, then the answer lost
				s.next.ServeHTTP(httptest.NewRecorder(), r)
				refuse()
				return true
			}
		case r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/Groups/") && patches.Add(1)%4 == 0:
			io.Copy(io.Discard, r.Body)
			refuse()
			return true
		case r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/Users/") && patches.Add(1)%5 == 0:
			// Applied, then the connection closed with no answer (a load balancer whose
			// replica died mid-request).
			s.next.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler)
		}
		return false
	}
	s.wrap.Store(&flaky)
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	code, rep, stderr := s.runJSON(t, "--scenario", scIdPStorm, "--groups", "2", "--concurrency", "3", "--duration", "60s",
		"--max-ops", "30", "--ledger", path) // --max-ops ends it; the duration only bounds a slow machine
	if code != 0 || !rep.OK {
		t.Fatalf("exit %d, failures %v\n%s", code, rep.Failures, stderr)
	}
	ops := opsOf(rep)
	for _, op := range []string{"idp-storm/create-user: 503, retried", "idp-storm/add-member: 503, retried", "idp-storm/patch-user: 0, retried", "idp-storm/lookup-after-409"} {
		if ops[op].Count == 0 || len(ops[op].Errors) != 0 {
			t.Errorf("%s = %+v, want some, all expected (ops %v)", op, ops[op], ops)
		}
	}
	users, adopted, members := map[string]string{}, 0, 0
	for _, l := range readLedger(t, path) {
		switch l.Kind {
		case "user":
			if prev, ok := users[l.UserName]; ok {
				t.Errorf("user %s acknowledged twice (%s, %s)", l.UserName, prev, l.User)
			}
			users[l.UserName] = l.User
			if l.Adopted {
				adopted++
			}
		case "member":
			members++
		case "attempt":
			if l.Start == 0 || l.End < l.Start || l.Op == "" || l.Attempt < 1 {
				t.Errorf("attempt line %+v", l)
			}
		}
	}
	if len(users) != 30 || adopted == 0 || members != 30 {
		t.Fatalf("ledger: %d users (%d adopted), %d memberships; want 30 users, some adopted, 30 memberships", len(users), adopted, members)
	}
	c, _ := newClient(s.url, s.token, 1)
	for name, id := range users {
		r := c.do(t.Context(), "GET", "/Users"+filterQuery(`userName eq "`+name+`"`), nil)
		lr, err := decodeList(r)
		if err != nil || lr.TotalResults != 1 {
			t.Fatalf("user %s: %v, %d found", name, err, lr.TotalResults)
		}
		if got, _ := idOf(lr.Resources[0]); got != id {
			t.Errorf("user %s is %s on the server, %s in the ledger", name, got, id)
		}
	}
}

// TestIdPStormFails: what an IdP cannot live with fails the run: a 500, a 503 without
// Retry-After (nothing says when to come back), retries that run out.
func TestIdPStormFails(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header string
		args   []string
		op     string
	}{
		{"500", http.StatusInternalServerError, "", nil, "idp-storm/patch-user"},
		{"503 without Retry-After", http.StatusServiceUnavailable, "", nil, "idp-storm/patch-user"},
		{"retries run out", http.StatusServiceUnavailable, "0", []string{"--retry-for", "300ms"}, "idp-storm/patch-user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startScimd(t)
			fail := func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/Users/") {
					io.Copy(io.Discard, r.Body)
					if tc.header != "" {
						w.Header().Set("Retry-After", tc.header)
					}
					w.WriteHeader(tc.status)
					return true
				}
				return false
			}
			s.wrap.Store(&fail)
			code, rep, _ := s.runJSON(t, append([]string{"--scenario", scIdPStorm, "--groups", "1", "--concurrency", "1",
				"--max-ops", "2", "--duration", "60s"}, tc.args...)...)
			if code != 1 || rep.OK {
				t.Fatalf("exit %d, ok %v; want a failed run", code, rep.OK)
			}
			if got := opsOf(rep)[tc.op].Errors[strconv.Itoa(tc.status)]; got != 2 {
				t.Fatalf("%s errors %v, want %d×2 (phases %+v)", tc.op, opsOf(rep)[tc.op].Errors, tc.status, rep.Phases)
			}
		})
	}
}

// TestRetryForDefault: idp-storm retries for a minute unless told otherwise.
func TestRetryForDefault(t *testing.T) {
	cases := []struct {
		args []string
		want time.Duration
	}{
		{[]string{"--scenario", scIdPStorm}, time.Minute},
		{[]string{"--scenario", scIdPStorm, "--retry-for", "0"}, 0},
		{[]string{"--scenario", scIdPStorm, "--retry-for", "5s"}, 5 * time.Second},
		{[]string{"--scenario", scSteadyState}, 0},
	}
	for _, tc := range cases {
		c, err := parseFlags(append([]string{"--url", "http://127.0.0.1/scim/v2"}, tc.args...), io.Discard)
		if err != nil || c.retryFor != tc.want {
			t.Errorf("%v: retry-for %v (%v), want %v", tc.args, c.retryFor, err, tc.want)
		}
	}
}
