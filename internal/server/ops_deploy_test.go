package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/oidc"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// pendingMetrics are used by the deploy files and exported by work that lands separately
// (SAML logins).
var pendingMetrics = map[string]bool{"scimd_saml_logins_total": true}

// descRecorder is a Registerer that keeps the names of what is registered on it.
type descRecorder struct{ names map[string]bool }

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 100)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := descName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}

func (d *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		d.Register(c)
	}
}

func (d *descRecorder) Unregister(prometheus.Collector) bool { return true }

// knownMetrics returns every metric family scimd exports: those NewMetrics registers
// (labelled families appear in a scrape only once used) and those a real server's scrape
// shows after traffic (the database collector, Go and process collectors).
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	rec := &descRecorder{names: map[string]bool{}}
	server.NewMetrics(rec, false)
	s, log := teststores.SQLite(t), slog.New(slog.DiscardHandler)
	dir := directory.New(s, log, nil)
	sso, err := saml.New(saml.Config{PublicURL: "http://scimd.test"}, s, dir, log, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oidc.New(context.Background(), oidc.Config{Issuer: "http://scimd.test"}, s, dir, signing.New(s, signing.Options{}), sso, log, rec); err != nil {
		t.Fatal(err)
	}
	events.NewMetrics(rec, s.(store.EventStreamStore))
	e := newEnvConfig(t, teststores.SQLite(t), func(c *server.Config) { c.ExpectedMigration = embeddedVersion(t) })
	e.traffic()
	for name := range e.scrape() {
		rec.names[name] = true
	}
	return rec.names
}

// checkExpr parses a PromQL expression and checks that every metric it selects exists.
func checkExpr(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	node, err := parser.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return
	}
	selectors := 0
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		selectors++
		name := vs.Name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
				name = base
			}
		}
		if !known[name] && !pendingMetrics[name] {
			t.Errorf("%s: metric %s is not exported by scimd", where, vs.Name)
		}
		return nil
	})
	if selectors == 0 {
		t.Errorf("%s selects no metric: %s", where, expr)
	}
}

func TestDeployAlerts(t *testing.T) {
	known := knownMetrics(t)
	content, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(content, false, model.UTF8Validation)
	for _, err := range errs {
		t.Errorf("alerts.yml: %v", err)
	}
	if groups == nil {
		t.FailNow()
	}
	alerts, exprs := map[string]bool{}, map[string]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert], exprs[r.Alert] = true, r.Expr
			checkExpr(t, "alert "+r.Alert, r.Expr, known)
			for _, key := range []string{"summary", "description"} {
				if r.Annotations[key] == "" {
					t.Errorf("alert %s has no %s", r.Alert, key)
				}
			}
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity", r.Alert)
			}
		}
	}
	for _, name := range []string{"ScimdHigh5xxRatio", "ScimdHighLatencyP99", "ScimdTokenFailuresSpike", "ScimdSAMLFailuresSpike", "ScimdDatabaseNotReady",
		"ScimdOIDCServerErrors", "ScimdOIDCTokenReplay", "ScimdEventsLagging", "ScimdEventsParked", "ScimdSAMLIdPCertificateExpiring"} {
		if !alerts[name] {
			t.Errorf("alerts.yml has no alert %s", name)
		}
	}
	// The certificate alerts fire for a certificate 10 days from expiry, per tenant with
	// --metrics-tenant-label and for the minimum without, and not for one 40 days out.
	const day = 86400
	certTests := []struct {
		name    string
		samples []sample
		firing  int
	}{
		{"10 days, tenant label", []sample{{map[string]string{"job": "scimd", "tenant": "acme"}, 10 * day}, {map[string]string{"job": "scimd", "tenant": "beta"}, 400 * day}}, 1},
		{"10 days, minimum", []sample{{map[string]string{"job": "scimd"}, 10 * day}}, 1},
		{"expired", []sample{{map[string]string{"job": "scimd"}, -day}}, 1},
		{"40 days", []sample{{map[string]string{"job": "scimd"}, 40 * day}}, 0},
		{"no SAML tenant", nil, 0},
	}
	for alert, metric := range map[string]string{
		"ScimdSAMLIdPCertificateExpiring": "scimd_saml_idp_certificate_expiry_seconds",
		"ScimdSAMLSPCertificateExpiring":  "scimd_saml_sp_certificate_expiry_seconds",
	} {
		expr := exprs[alert]
		if expr == "" {
			t.Errorf("alerts.yml has no alert %s", alert)
			continue
		}
		for _, tc := range certTests {
			named := make([]sample, len(tc.samples))
			for i, s := range tc.samples {
				labels := map[string]string{"__name__": metric}
				for k, v := range s.labels {
					labels[k] = v
				}
				named[i] = sample{labels, s.value}
			}
			if got := evalInstant(t, expr, named); len(got) != tc.firing {
				t.Errorf("%s, %s: %d alerts (%v), want %d", alert, tc.name, len(got), got, tc.firing)
			} else if tc.firing == 1 && got[0].labels["tenant"] != tc.samples[0].labels["tenant"] {
				t.Errorf("%s, %s: alert labels %v", alert, tc.name, got[0].labels)
			}
		}
	}
}

// sample is one series' value at the evaluation instant.
type sample struct {
	labels map[string]string
	value  float64
}

// evalInstant evaluates a PromQL expression at one instant over samples, for the subset of
// PromQL the alert rules checked this way use: selectors with equality matchers, number
// literals, parentheses, arithmetic on numbers, comparisons of a vector with a number (a
// filter, as in an alert) and min/max/sum by (…). Anything else fails the test, so a
// rule rewritten beyond it is noticed rather than evaluated wrongly. (Prometheus' own
// engine, promqltest, would pull the cloud SDKs of its remote storage into go.mod.)
func evalInstant(t *testing.T, expr string, samples []sample) []sample {
	t.Helper()
	node, err := parser.ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	var eval func(n parser.Node) ([]sample, float64, bool) // vector, or scalar (isScalar)
	eval = func(n parser.Node) ([]sample, float64, bool) {
		switch n := n.(type) {
		case *parser.NumberLiteral:
			return nil, n.Val, true
		case *parser.ParenExpr:
			return eval(n.Expr)
		case *parser.VectorSelector:
			var out []sample
		next:
			for _, s := range samples {
				for _, m := range n.LabelMatchers {
					if m.Type != labels.MatchEqual {
						t.Fatalf("evalInstant: matcher %s not supported", m)
					}
					if s.labels[m.Name] != m.Value {
						continue next
					}
				}
				out = append(out, s)
			}
			return out, 0, false
		case *parser.AggregateExpr:
			in, _, scalar := eval(n.Expr)
			if scalar || n.Without || (n.Op != parser.MIN && n.Op != parser.MAX && n.Op != parser.SUM) {
				t.Fatalf("evalInstant: aggregation %s not supported", n)
			}
			groups := map[string]*sample{}
			var order []string
			for _, s := range in {
				key, ls := "", map[string]string{}
				for _, g := range n.Grouping {
					if v := s.labels[g]; v != "" {
						ls[g] = v
					}
					key += g + "=" + s.labels[g] + "\x00"
				}
				g, ok := groups[key]
				if !ok {
					groups[key] = &sample{ls, s.value}
					order = append(order, key)
					continue
				}
				switch n.Op {
				case parser.MIN:
					g.value = min(g.value, s.value)
				case parser.MAX:
					g.value = max(g.value, s.value)
				case parser.SUM:
					g.value += s.value
				}
			}
			var out []sample
			for _, k := range order {
				out = append(out, *groups[k])
			}
			return out, 0, false
		case *parser.BinaryExpr:
			lv, l, lScalar := eval(n.LHS)
			_, r, rScalar := eval(n.RHS)
			if !rScalar {
				t.Fatalf("evalInstant: %s needs a number on the right", n)
			}
			arith := map[parser.ItemType]func(a, b float64) float64{
				parser.ADD: func(a, b float64) float64 { return a + b }, parser.SUB: func(a, b float64) float64 { return a - b },
				parser.MUL: func(a, b float64) float64 { return a * b }, parser.DIV: func(a, b float64) float64 { return a / b },
			}
			cmp := map[parser.ItemType]func(a, b float64) bool{
				parser.LSS: func(a, b float64) bool { return a < b }, parser.LTE: func(a, b float64) bool { return a <= b },
				parser.GTR: func(a, b float64) bool { return a > b }, parser.GTE: func(a, b float64) bool { return a >= b },
			}
			switch {
			case lScalar && arith[n.Op] != nil:
				return nil, arith[n.Op](l, r), true
			case !lScalar && cmp[n.Op] != nil && !n.ReturnBool:
				var out []sample
				for _, s := range lv {
					if cmp[n.Op](s.value, r) {
						out = append(out, s)
					}
				}
				return out, 0, false
			}
			t.Fatalf("evalInstant: %s not supported", n)
		}
		t.Fatalf("evalInstant: %T not supported", n)
		return nil, 0, false
	}
	out, _, scalar := eval(node)
	if scalar {
		t.Fatalf("evalInstant: %s is a number, not an alert", expr)
	}
	return out
}

// grafanaVars are the dashboard's variables, replaced as Grafana would before parsing.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$job", ".*")

func TestDeployGrafanaDashboard(t *testing.T) {
	known := knownMetrics(t)
	content, err := os.ReadFile("../../deploy/grafana/scimd.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(content, &dash); err != nil {
		t.Fatalf("scimd.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Fatalf("dashboard uid %q title %q", dash.UID, dash.Title)
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			expr := grafanaVars.Replace(tg.Expr)
			checkExpr(t, "panel "+p.Title, expr, known)
			for name := range known {
				if strings.Contains(expr, name) {
					used[name] = true
				}
			}
		}
	}
	for name := range known {
		if strings.HasPrefix(name, "scimd_") && !used[name] && !strings.HasSuffix(name, "_size_bytes") && name != "scimd_db_migration_expected_version" {
			t.Logf("note: %s is on no panel", name)
		}
	}
}
