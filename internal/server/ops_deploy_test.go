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
	sso, err := saml.New(saml.Config{PublicURL: "http://scimd.test"}, s, dir, log, prometheus.NewRegistry())
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
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
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
		"ScimdOIDCServerErrors", "ScimdOIDCTokenReplay", "ScimdEventsLagging", "ScimdEventsParked"} {
		if !alerts[name] {
			t.Errorf("alerts.yml has no alert %s", name)
		}
	}
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
