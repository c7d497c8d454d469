package faults

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/postgres/pgtest"
	"github.com/scimd/scimd/internal/testkit"
	"github.com/scimd/scimd/internal/testlog"
)

// pgServer is scimd's real router on PostgreSQL, in process.
type pgServer struct {
	url    string
	client *client
	logs   *testlog.Buffer
}

// newPGServer serves the real router on a PostgreSQL store opened on dsn, with a tenant and
// its token.
func newPGServer(t *testing.T, dsn string, cfg server.Config) *pgServer {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	srv := testkit.Serve(t, s, testkit.Options{Server: cfg, Log: slog.New(slog.NewJSONHandler(logs, nil))}, "acme")
	return &pgServer{url: srv.URL, client: newClient(srv.URL, srv.Token), logs: logs}
}

// TestDatabaseOutage cuts scimd's connections to PostgreSQL (a proxy between them closes
// its listener and every connection) while workers create users and add them to groups,
// then brings the database back. During the outage every request is answered quickly with
// 503, a SCIM error body and Retry-After, and /readyz is 503; after it, requests succeed
// again without a restart; afterwards every acknowledged write is in the database and no
// resource is torn.
func TestDatabaseOutage(t *testing.T) {
	dsn := pgtest.NewDatabase(t, "")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = px.addr
	q := viaProxy.Query()
	q.Set("connect_timeout", "2")
	viaProxy.RawQuery = q.Encode()
	srv := newPGServer(t, viaProxy.String(), server.Config{RequestTimeout: 5 * time.Second, ReadyTimeout: time.Second})
	c := srv.client
	var groups []string
	for _, name := range []string{"Sales", "Engineering", "Support"} {
		groups = append(groups, c.createGroup(t, name))
	}

	var state atomic.Value
	state.Store("before")
	l := newLedger()
	ctx, stop := context.WithTimeout(context.Background(), 45*time.Second)
	defer stop()
	wg := storm(ctx, c, "outage", groups, l, stormOptions{workers: 4, max: 100000, state: func() string { return state.Load().(string) }})

	time.Sleep(time.Second)
	px.cut()
	state.Store("outage")
	cutAt := time.Now()
	readyDeadline := time.Now().Add(5 * time.Second)
	ready := 0
	for time.Now().Before(readyDeadline) {
		if ready = get(t, srv.url+"/readyz"); ready == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ready != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage = %d, want 503", ready)
	}
	time.Sleep(3*time.Second - time.Since(cutAt))
	state.Store("restoring")
	px.restore()
	restoredAt := time.Now()
	recovered := time.Duration(0)
	for i := 0; time.Since(restoredAt) < 15*time.Second; i++ {
		if r := c.createUser("probe-" + time.Now().Format("150405.000000000") + "@example.com"); r.Status == http.StatusCreated {
			l.ackUser(r.str("id"), "probe")
			recovered = time.Since(restoredAt)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if recovered == 0 {
		t.Fatalf("no request succeeded within 15 s of the database coming back")
	}
	t.Logf("recovered %v after the database came back", recovered.Round(time.Millisecond))
	if recovered > 5*time.Second {
		t.Errorf("requests succeeded again only %v after the database came back, want within 5 s", recovered)
	}
	state.Store("after")
	time.Sleep(time.Second)
	if got := get(t, srv.url+"/readyz"); got != http.StatusOK {
		t.Errorf("/readyz after the outage = %d", got)
	}
	stop()
	wg.Wait()

	counts := map[string]map[int]int{}
	for st, rs := range l.byState {
		counts[st] = map[int]int{}
		for _, r := range rs {
			counts[st][r.Status]++
		}
	}
	t.Logf("responses by state and status: %v", counts)
	for _, r := range l.results {
		switch {
		case r.Err != nil:
			t.Errorf("a request failed in transport: %v", r.Err)
		case r.Status >= 500 && r.Status != http.StatusServiceUnavailable:
			t.Errorf("status %d: %s", r.Status, r.Raw)
		case r.Status == http.StatusServiceUnavailable && (!isSCIMError(r, 503) || r.Header.Get("Retry-After") == ""):
			t.Errorf("503 without a SCIM error body or Retry-After: %v %s", r.Header, r.Raw)
		case r.Status >= 400 && r.Status != http.StatusServiceUnavailable:
			t.Errorf("status %d: %s", r.Status, r.Raw)
		}
	}
	during := l.byState["outage"]
	if len(during) < 4 {
		t.Fatalf("only %d requests started and ended during the outage; the test proves nothing", len(during))
	}
	var slowest time.Duration
	for _, r := range during {
		if r.Status != http.StatusServiceUnavailable {
			t.Errorf("during the outage: %s, want 503", r)
		}
		slowest = max(slowest, r.Duration)
	}
	if slowest > 6*time.Second {
		t.Errorf("the slowest answer during the outage took %v, want under 6 s", slowest)
	}
	t.Logf("%d requests during the outage, slowest %v", len(during), slowest.Round(time.Millisecond))
	if len(l.byState["after"]) == 0 {
		t.Error("no request completed after the outage")
	}

	for _, line := range strings.Split(srv.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"internal error"`) || strings.Contains(line, `"msg":"panic"`) {
			t.Errorf("logged: %s", line)
		}
	}
	users := verify(t, openSQL(t, dsn), l)
	t.Logf("%d users in the database, %d acknowledged", users, len(l.users))
}

// get returns the status of a GET of url.
func get(t *testing.T, url string) int {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	res, err := hc.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
