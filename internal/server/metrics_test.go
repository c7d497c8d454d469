package server_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

// scrape reads /metrics and returns its families by name.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("/metrics = %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		e.t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// labelValues returns every value the label takes in the family.
func labelValues(f *dto.MetricFamily, label string) map[string]bool {
	out := map[string]bool{}
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				out[lp.GetValue()] = true
			}
		}
	}
	return out
}

// hasSeries reports whether the family has a series with all the labels given.
func hasSeries(f *dto.MetricFamily, labels map[string]string) bool {
	if f == nil {
		return false
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range labels {
			if got[k] != v {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

// traffic drives a user's and a group's whole life through the router, with a refused
// create, a bad token and an unknown id on the way.
func (e *env) traffic() {
	e.t.Helper()
	u := e.createUser("ann@example.com", map[string]any{"displayName": "Ann"})
	uid := u["id"].(string)
	e.want(e.do("GET", "/scim/v2/Users?filter="+strings.ReplaceAll(`userName eq "ann@example.com"`, " ", "%20"), nil), http.StatusOK, "")
	e.want(e.do("GET", "/scim/v2/Users/"+uid, nil), http.StatusOK, "")
	e.want(e.do("PATCH", "/scim/v2/Users/"+uid, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "Ann B"}},
	}), http.StatusOK, "")
	e.want(e.do("PATCH", "/scim/v2/Users/"+uid, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}},
	}), http.StatusOK, "")
	e.want(e.do("POST", "/scim/v2/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "bad@example.com", "userType": "pirate",
	}), http.StatusBadRequest, "invalidValue")
	g := e.createGroup("Sales", uid)
	gid := g["id"].(string)
	e.want(e.do("GET", "/scim/v2/Groups?filter=displayName%20eq%20%22Sales%22", nil), http.StatusOK, "")
	e.want(e.do("PATCH", "/scim/v2/Groups/"+gid, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "remove", "path": `members[value eq "` + uid + `"]`}},
	}), http.StatusNoContent, "")
	e.want(e.do("DELETE", "/scim/v2/Groups/"+gid, nil), http.StatusNoContent, "")
	e.want(e.do("DELETE", "/scim/v2/Users/"+uid, nil), http.StatusNoContent, "")
	e.want(e.do("GET", "/scim/v2/Users/"+uid, nil), http.StatusNotFound, "")
	e.want(e.doToken("scimd_not-a-token", "GET", "/scim/v2/Users", nil), http.StatusUnauthorized, "")
	e.want(e.do("GET", "/scim/v2/Nope/"+uid+"?filter=userName%20eq%20%22x%22", nil), http.StatusNotFound, "")
}

var uuidPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

func TestMetricsAfterTraffic(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.traffic()
		fams := e.scrape()
		for _, name := range []string{
			"scimd_http_requests_total", "scimd_http_request_duration_seconds", "scimd_http_requests_in_flight",
			"scimd_http_request_size_bytes", "scimd_http_response_size_bytes", "scimd_auth_failures_total",
			"scimd_provisioning_events_total", "scimd_db_query_duration_seconds",
			"scimd_db_pool_acquired_connections", "scimd_db_pool_idle_connections", "scimd_db_pool_total_connections",
			"scimd_db_pool_max_connections", "scimd_db_up", "scimd_db_migration_version",
			"go_goroutines", "process_cpu_seconds_total",
		} {
			if fams[name] == nil {
				t.Errorf("no metric family %s", name)
			}
		}
		series := []struct {
			family string
			labels map[string]string
		}{
			{"scimd_http_requests_total", map[string]string{"route": "/scim/v2/Users", "method": "POST", "code": "2xx"}},
			{"scimd_http_requests_total", map[string]string{"route": "/scim/v2/Users", "method": "POST", "code": "4xx"}},
			{"scimd_http_requests_total", map[string]string{"route": "/scim/v2/Users/{id}", "method": "PATCH", "code": "2xx"}},
			{"scimd_http_requests_total", map[string]string{"route": "/scim/v2/Users/{id}", "method": "GET", "code": "4xx"}},
			{"scimd_http_requests_total", map[string]string{"route": "/scim/v2/Groups/{id}", "method": "DELETE", "code": "2xx"}},
			{"scimd_http_request_duration_seconds", map[string]string{"route": "/scim/v2/Groups", "method": "GET"}},
			{"scimd_auth_failures_total", map[string]string{"reason": "unknown"}},
			{"scimd_provisioning_events_total", map[string]string{"event": "user_create_provision", "outcome": "success"}},
			{"scimd_provisioning_events_total", map[string]string{"event": "user_create_provision", "outcome": "client_error"}},
			{"scimd_provisioning_events_total", map[string]string{"event": "user_update_provision", "outcome": "success"}},
			{"scimd_provisioning_events_total", map[string]string{"event": "user_deprovision", "outcome": "success"}},
			{"scimd_provisioning_events_total", map[string]string{"event": "user_delete_provision", "outcome": "success"}},
			{"scimd_provisioning_events_total", map[string]string{"event": "group_create_provision", "outcome": "success"}},
			{"scimd_provisioning_events_total", map[string]string{"event": "group_update_provision", "outcome": "success"}},
			{"scimd_provisioning_events_total", map[string]string{"event": "group_delete_provision", "outcome": "success"}},
			{"scimd_db_query_duration_seconds", map[string]string{"operation": "create_resource"}},
			{"scimd_db_query_duration_seconds", map[string]string{"operation": "update_resource"}},
			{"scimd_db_query_duration_seconds", map[string]string{"operation": "list_resources"}},
			{"scimd_db_query_duration_seconds", map[string]string{"operation": "delete_resource"}},
			{"scimd_db_query_duration_seconds", map[string]string{"operation": "token_by_hash"}},
		}
		for _, s := range series {
			if !hasSeries(fams[s.family], s.labels) {
				t.Errorf("%s has no series %v", s.family, s.labels)
			}
		}
		if g := fams["scimd_db_up"].GetMetric()[0].GetGauge().GetValue(); g != 1 {
			t.Errorf("scimd_db_up = %v, want 1", g)
		}
		if v := fams["scimd_db_migration_version"].GetMetric()[0].GetGauge().GetValue(); v < 1 {
			t.Errorf("scimd_db_migration_version = %v", v)
		}
		for name, f := range fams {
			for route := range labelValues(f, "route") {
				if uuidPattern.MatchString(route) || strings.ContainsAny(route, "?\"%= ") {
					t.Errorf("%s has route label %q: an id or query text", name, route)
				}
			}
			for op := range labelValues(f, "operation") {
				if !regexp.MustCompile(`^[a-z_]+$`).MatchString(op) {
					t.Errorf("%s has operation label %q: not a fixed name", name, op)
				}
			}
			if labelValues(f, "tenant")["acme"] {
				t.Errorf("%s has a tenant label while it is off", name)
			}
		}
	})
}

func TestMetricsTenantLabel(t *testing.T) {
	cases := []struct {
		name string
		on   bool
	}{
		{"off", false},
		{"on", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOptions(t, teststores.SQLite(t), func(o *testkit.Options) { o.TenantLabel = tc.on })
			e.createUser("ann@example.com", nil)
			f := e.scrape()["scimd_provisioning_events_total"]
			got := hasSeries(f, map[string]string{"tenant": "acme", "event": "user_create_provision", "outcome": "success"})
			if got != tc.on {
				t.Fatalf("tenant label on user_create_provision: %v, want %v", got, tc.on)
			}
			if !hasSeries(f, map[string]string{"event": "user_create_provision", "outcome": "success"}) {
				t.Fatal("no user_create_provision series")
			}
		})
	}
}

func TestMetricsMethodLabelBounded(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	e.doToken("", "BREW", "/healthz", nil)
	methods := labelValues(e.scrape()["scimd_http_requests_total"], "method")
	if methods["BREW"] || !methods["other"] {
		t.Fatalf("method labels %v: a client's method must become \"other\"", methods)
	}
}
