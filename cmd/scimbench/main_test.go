package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store/sqlite"
	"github.com/scimd/scimd/internal/testkit"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p90 of 1..100", ms(hundred...), 90, 90 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p50 of four", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of four", ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestRecorderReport(t *testing.T) {
	rec := newRecorder("p")
	t0 := time.Unix(1000, 0)
	for i := range 10 {
		// 10 requests over one second, 10 ms … 100 ms; the 3rd and 7th unexpected.
		status, ok := 200, i != 2 && i != 6
		if !ok {
			status = 500 + i%2*9 // 500, 500
		}
		rec.record("op", t0.Add(time.Duration(i)*100*time.Millisecond), time.Duration(i+1)*10*time.Millisecond, status, ok)
	}
	rec.record("other", t0, time.Millisecond, 0, false)
	got := rec.report()
	if len(got.Ops) != 2 || got.Ops[0].Op != "op" || got.Ops[1].Op != "other" {
		t.Fatalf("ops = %+v, want op then other", got.Ops)
	}
	o := got.Ops[0]
	if o.Count != 10 || o.P50 != 50 || o.P90 != 90 || o.Max != 100 {
		t.Errorf("op = %+v, want count 10, p50 50, p90 90, max 100", o)
	}
	if o.Errors["500"] != 2 || len(o.Errors) != 1 {
		t.Errorf("errors = %v, want 500×2", o.Errors)
	}
	// first start t0, last end t0+900ms+100ms: 10 requests in one second.
	if o.Throughput < 9.99 || o.Throughput > 10.01 {
		t.Errorf("throughput = %v, want 10/s", o.Throughput)
	}
	if total, bad := rec.counts(); total != 11 || bad != 3 {
		t.Errorf("counts = %d, %d; want 11, 3", total, bad)
	}
	if s := errString(got.Ops[1].Errors); s != "no-response×1" {
		t.Errorf("errString = %q", s)
	}
}

func TestParseStatus(t *testing.T) {
	rss, hwm, err := parseStatus("Name:\tscimd\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n")
	if err != nil || rss != 100 || hwm != 200 {
		t.Fatalf("parseStatus = %v, %v, %v; want 100, 200", rss, hwm, err)
	}
	if _, _, err := parseStatus("Name:\tscimd\n"); err == nil {
		t.Fatal("parseStatus without Vm lines: no error")
	}
}

func TestCheckLoopback(t *testing.T) {
	cases := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1", true}, {"127.1.2.3", true}, {"::1", true}, {"[::1]", true}, {"localhost", true},
		{"10.0.0.1", false}, {"example.com", false}, {"0.0.0.0", false}, {"", false},
	}
	for _, tc := range cases {
		if err := checkLoopback(tc.host); (err == nil) != tc.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %v", tc.host, err, tc.ok)
		}
	}
}

func TestFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"--token", "x"}, "either --url"},
		{"both targets", []string{"--url", "http://127.0.0.1/scim/v2", "--scimd", "scimd", "--database", "sqlite:x"}, "either --url"},
		{"bad scenario", []string{"--url", "http://127.0.0.1/scim/v2", "--scenario", "chaos"}, "--scenario"},
		{"floor without database", []string{"--url", "http://127.0.0.1/scim/v2", "--floor"}, "--floor needs --database"},
		{"remote database", []string{"--url", "http://127.0.0.1/scim/v2", "--floor", "--database", "postgres://u@db.example.com/x"}, "not a loopback"},
		{"zero concurrency", []string{"--url", "http://127.0.0.1/scim/v2", "--concurrency", "0"}, "positive"},
		{"idp-storm without groups", []string{"--url", "http://127.0.0.1/scim/v2", "--scenario", "idp-storm", "--groups", "0"}, "--groups of 1"},
		{"negative retry-for", []string{"--url", "http://127.0.0.1/scim/v2", "--retry-for", "-1s"}, "--retry-for"},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tc.name, code, errb.String(), tc.want)
		}
	}
}

// scimd is an in-process scimd on a SQLite file, behind 127.0.0.1.
type scimd struct {
	url, token, dsn string
	// wrap, if set, sees every request first; it may answer it itself.
	wrap atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
	// next is the real server, for a wrap that lets a request through and changes its answer.
	next http.Handler
}

func startScimd(t *testing.T) *scimd {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "scimd.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := &scimd{dsn: "sqlite:" + path}
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	sv, err := testkit.New(ctx, st, testkit.Options{Server: server.Config{PublicURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	h := sv.Router
	s.next = h
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := s.wrap.Load(); f != nil && (*f)(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
	tn, err := sv.Dir.CreateTenant(ctx, "bench", "")
	if err != nil {
		t.Fatal(err)
	}
	if s.token, _, err = sv.Dir.IssueToken(ctx, tn, "scimbench"); err != nil {
		t.Fatal(err)
	}
	s.url = srv.URL + "/scim/v2"
	return s
}

// runJSON runs scimbench with --json against s and returns its exit status and report.
func (s *scimd) runJSON(t *testing.T, args ...string) (int, Report, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--url", s.url, "--token", s.token, "--json", "--progress", "0", "--timeout", "60s"}, args...)
	code := run(context.Background(), args, &out, &errb)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("scimbench %v: exit %d, bad JSON %v:\n%s\n%s", args, code, err, out.String(), errb.String())
	}
	return code, rep, errb.String()
}

func opsOf(rep Report) map[string]OpReport {
	m := map[string]OpReport{}
	for _, ph := range rep.Phases {
		for _, o := range ph.Ops {
			m[ph.Phase+"/"+o.Op] = o
		}
	}
	if rep.Floor != nil {
		for _, o := range rep.Floor.Ops {
			m["floor/"+o.Op] = o
		}
	}
	return m
}

func TestInitialSyncWithFloor(t *testing.T) {
	s := startScimd(t)
	code, rep, stderr := s.runJSON(t, "--users", "30", "--groups", "3", "--members-per-group", "10", "--member-batch", "4",
		"--concurrency", "4", "--floor", "--database", s.dsn)
	if code != 0 || !rep.OK {
		t.Fatalf("exit %d, failures %v\n%s", code, rep.Failures, stderr)
	}
	ops := opsOf(rep)
	want := map[string]int{
		"initial-sync/lookup-user": 30, "initial-sync/create-user": 30, "initial-sync/lookup-group": 3,
		"initial-sync/create-group": 3, "initial-sync/add-members": 9, // 3 groups × ⌈10/4⌉
		"floor/lookup-user": 30, "floor/create-user": 30, "floor/create-group": 3, "floor/add-members": 9,
	}
	for op, n := range want {
		if o := ops[op]; o.Count != n || len(o.Errors) != 0 || o.P50 <= 0 || o.Max < o.P99 || o.P99 < o.P50 {
			t.Errorf("%s = %+v, want count %d without errors and ordered percentiles", op, o, n)
		}
	}
}

func TestOtherScenarios(t *testing.T) {
	s := startScimd(t)
	cases := []struct {
		scenario string
		args     []string
		want     map[string]int // op → least count
	}{
		{scSteadyState, []string{"--users", "10", "--groups", "2", "--members-per-group", "3", "--duration", "500ms"},
			map[string]int{"setup (initial-sync)/create-user": 10}},
		{scImport, []string{"--users", "25", "--page-size", "10", "--repeat", "2", "--floor", "--database", s.dsn},
			map[string]int{"import/page-index": 3, "import/page-cursor": 3, "import/page-cursor-last": 2, "floor/page-cursor-last": 2}},
		{scBigGroup, []string{"--members-per-group", "12", "--concurrency", "3", "--floor", "--database", s.dsn},
			map[string]int{"big-group/add-member-first-1000": 6, "big-group/add-member-last-1000": 6, "floor/add-member-last-1000": 6}},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			code, rep, stderr := s.runJSON(t, append([]string{"--scenario", tc.scenario}, tc.args...)...)
			if code != 0 || !rep.OK {
				t.Fatalf("exit %d, failures %v\n%s", code, rep.Failures, stderr)
			}
			ops := opsOf(rep)
			for op, n := range tc.want {
				if ops[op].Count < n {
					t.Errorf("%s: count %d, want at least %d (ops: %v)", op, ops[op].Count, n, ops)
				}
			}
		})
	}
}

// TestVerifyCatchesLostMembers runs initial-sync against a scimd that answers membership
// PATCHes with 200 but drops them: the statuses are all as expected, so only the read-back
// can tell, and the run must fail.
func TestVerifyCatchesLostMembers(t *testing.T) {
	s := startScimd(t)
	drop := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/Groups/") {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/scim+json")
			w.Write([]byte(`{}`))
			return true
		}
		return false
	}
	s.wrap.Store(&drop)
	code, rep, _ := s.runJSON(t, "--users", "8", "--groups", "2", "--members-per-group", "3", "--concurrency", "2")
	if code != 1 || rep.OK || !strings.Contains(strings.Join(rep.Failures, "\n"), "lacks user") {
		t.Fatalf("exit %d, ok %v, failures %v; want exit 1 naming a missing member", code, rep.OK, rep.Failures)
	}
}

// TestUnexpectedStatusFails: a 5xx fails the run and is counted under its status.
func TestUnexpectedStatusFails(t *testing.T) {
	s := startScimd(t)
	var n atomic.Int64
	fail := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Users") && n.Add(1)%3 == 0 {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	s.wrap.Store(&fail)
	code, rep, _ := s.runJSON(t, "--users", "9", "--groups", "0", "--concurrency", "1")
	if code != 1 || rep.OK {
		t.Fatalf("exit %d, ok %v; want a failed run", code, rep.OK)
	}
	if got := opsOf(rep)["initial-sync/create-user"].Errors["503"]; got != 3 {
		t.Fatalf("create-user 503s = %d, want 3 (report %+v)", got, rep.Phases)
	}
}

// TestUnexpectedAnswerNamed: the first unexpected answer keeps its method, path, status and
// body, so that a failed run says what failed, not only how many.
func TestUnexpectedAnswerNamed(t *testing.T) {
	rec := newRecorder("storm")
	rec.unexpected("POST", "/scim/v2/Users", response{status: 500, body: []byte(`{"detail":"boom"}`)})
	rec.unexpected("GET", "/scim/v2/Groups", response{status: 502})
	e := rec.firstErr.Load()
	if e == nil {
		t.Fatal("no unexpected answer kept")
	}
	if got := (*e).Error(); got != `POST /scim/v2/Users: 500 {"detail":"boom"}` {
		t.Fatalf("first unexpected answer = %q", got)
	}
}
