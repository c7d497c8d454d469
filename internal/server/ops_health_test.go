package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store/sqlstore"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/migrations"
)

// embeddedVersion is the highest migration embedded for SQLite.
func embeddedVersion(t *testing.T) int {
	t.Helper()
	all, err := sqlstore.Migrations(migrations.FS, "sqlite")
	if err != nil || len(all) == 0 {
		t.Fatalf("migrations: %v %v", all, err)
	}
	return all[len(all)-1].Version
}

func TestReadyzMigrationVersion(t *testing.T) {
	v := embeddedVersion(t)
	cases := []struct {
		name     string
		expected int
		status   int
		reason   string
	}{
		{"not checked", 0, http.StatusOK, ""},
		{"at the embedded version", v, http.StatusOK, ""},
		{"database ahead of the binary", v - 1, http.StatusOK, ""},
		{"database behind the binary", v + 1, http.StatusServiceUnavailable, "expected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvConfig(t, teststores.SQLite(t), func(c *server.Config) { c.ExpectedMigration = tc.expected })
			r := e.doToken("", "GET", "/readyz", nil)
			if r.Status != tc.status {
				t.Fatalf("/readyz = %d %s, want %d", r.Status, r.Raw, tc.status)
			}
			if !strings.Contains(r.str("reason"), tc.reason) {
				t.Fatalf("reason %q, want it to mention %q", r.str("reason"), tc.reason)
			}
			if tc.expected > 0 {
				got := e.scrape()["scimd_db_migration_expected_version"].GetMetric()[0].GetGauge().GetValue()
				if int(got) != tc.expected {
					t.Fatalf("scimd_db_migration_expected_version = %v, want %d", got, tc.expected)
				}
			}
		})
	}
}

func TestReadyzDatabaseDown(t *testing.T) {
	e := newEnvConfig(t, teststores.SQLite(t), func(c *server.Config) { c.ExpectedMigration = embeddedVersion(t) })
	e.store.Close()
	r := e.doToken("", "GET", "/readyz", nil)
	if r.Status != http.StatusServiceUnavailable || r.str("reason") != "database unreachable" {
		t.Fatalf("/readyz with the database closed = %d %s", r.Status, r.Raw)
	}
	if up := e.scrape()["scimd_db_up"].GetMetric()[0].GetGauge().GetValue(); up != 0 {
		t.Fatalf("scimd_db_up = %v with the database closed", up)
	}
}

// accessLines returns the access log's records ("msg":"request").
func (e *env) accessLines() []map[string]any {
	e.t.Helper()
	return e.logLines("request")
}

// logLines returns the JSON log records with the message msg.
func (e *env) logLines(msg string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			e.t.Fatalf("log line is not JSON: %v: %s", err, sc.Bytes())
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestAccessLog: one JSON line per request with the request id, tenant, route, status,
// duration, bytes and User-Agent; never a token, a password or a SAML assertion, whether
// they come in a header, the body or the query.
func TestAccessLog(t *testing.T) {
	const assertion = "PHNhbWxwOlJlc3BvbnNlIHNlY3JldC1hc3NlcnRpb24+"
	acs := func(r chi.Router) {
		r.Post("/t/{slug}/saml/acs", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			w.WriteHeader(http.StatusSeeOther)
		})
	}
	e := newEnvRoutes(t, teststores.SQLite(t), acs)
	ua := "JumpCloud SCIM/1.0"
	u := e.createUser("ann@example.com", map[string]any{"password": secretPassword})
	e.do("PATCH", "/scim/v2/Users/"+u["id"].(string), patchOps(map[string]any{"op": "replace", "path": "password", "value": secretPassword}),
		"User-Agent", ua, server.RequestIDHeader, "req-123")
	e.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "ann@example.com"`), nil, "User-Agent", ua)
	e.doToken(e.token+"x", "GET", "/scim/v2/Users", nil)
	form := url.Values{"SAMLResponse": {assertion}, "RelayState": {"/home"}}
	res, err := http.Post(e.url+"/t/acme/saml/acs?SAMLResponse="+assertion, "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	logs := e.logs.String()
	for name, secret := range map[string]string{"token": e.token, "password": secretPassword, "SAML assertion": assertion,
		"filter value": "ann@example.com"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s reached the log", name)
		}
	}
	lines := e.accessLines()
	if len(lines) != 5 {
		t.Fatalf("%d access lines, want 5 (one per request):\n%s", len(lines), logs)
	}
	want := []struct {
		route, tenant string
		status        float64
	}{
		{"/scim/v2/Users", "acme", 201},
		{"/scim/v2/Users/{id}", "acme", 200},
		{"/scim/v2/Users", "acme", 200},
		{"/scim/v2/*", "", 401}, // refused before the route is matched
		{"/t/{slug}/saml/acs", "acme", 303},
	}
	for i, w := range want {
		l := lines[i]
		if l["route"] != w.route || l["status"] != w.status {
			t.Errorf("line %d: route %v status %v, want %s %v", i, l["route"], l["status"], w.route, w.status)
		}
		if got, _ := l["tenant"].(string); got != w.tenant {
			t.Errorf("line %d: tenant %q, want %q", i, got, w.tenant)
		}
		for _, key := range []string{"request_id", "method", "duration_ms", "bytes", "user_agent"} {
			if _, ok := l[key]; !ok {
				t.Errorf("line %d has no %s: %v", i, key, l)
			}
		}
		if n, _ := l["bytes"].(float64); n <= 0 && w.status != 303 {
			t.Errorf("line %d: bytes %v", i, l["bytes"])
		}
	}
	if lines[1]["request_id"] != "req-123" || lines[1]["user_agent"] != ua {
		t.Errorf("line 1: request_id %v user_agent %v", lines[1]["request_id"], lines[1]["user_agent"])
	}
	if lines[3]["auth_failure"] != "unknown" {
		t.Errorf("refused token line: auth_failure %v", lines[3]["auth_failure"])
	}
}
