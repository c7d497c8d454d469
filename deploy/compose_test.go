package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of the Compose specification compose.yaml uses; decoding with
// KnownFields catches misspelt keys (Docker is not available to `docker compose config`).
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Configs  map[string]struct {
		Content string `yaml:"content"`
		File    string `yaml:"file"`
	} `yaml:"configs"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image    string `yaml:"image"`
	Hostname string `yaml:"hostname"`
	Build    *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Configs     []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"configs"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		StartPeriod string   `yaml:"start_period"`
		Retries     int      `yaml:"retries"`
	} `yaml:"healthcheck"`
	ReadOnly    bool     `yaml:"read_only"`
	SecurityOpt []string `yaml:"security_opt"`
	Restart     string   `yaml:"restart"`
}

func decodeYAMLStrict(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := yaml.NewDecoder(f)
	d.KnownFields(true)
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestCompose: postgres, scimd, prometheus and grafana with health checks, start order, and
// mounts of files that exist; Prometheus scrapes scimd and loads the alert rules; Grafana
// gets the datasource and the dashboard.
func TestCompose(t *testing.T) {
	var c composeFile
	decodeYAMLStrict(t, "compose.yaml", &c)
	for _, name := range []string{"postgres", "scimd", "prometheus", "grafana"} {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("compose.yaml has no %s service", name)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 {
			t.Errorf("service %s has no healthcheck", name)
		}
		for _, v := range s.Volumes {
			src, target, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %s mounts %s, which does not exist: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %s, which is not declared", name, src)
			}
			_ = target
		}
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown %s", name, dep)
			}
		}
	}
	scimd := c.Services["scimd"]
	if scimd.Build == nil || filepath.Join(scimd.Build.Context, scimd.Build.Dockerfile) != filepath.Join("..", "deploy", "Dockerfile") {
		t.Errorf("scimd must build deploy/Dockerfile from the repository root, got %+v", scimd.Build)
	}
	if _, err := os.Stat(filepath.Join(scimd.Build.Context, "go.mod")); err != nil {
		t.Errorf("scimd's build context %s is not the module root: %v", scimd.Build.Context, err)
	}
	if !slices.Equal(scimd.Command, []string{"serve"}) {
		t.Errorf("scimd command %v, want [serve] (it migrates on start)", scimd.Command)
	}
	if db := scimd.Environment["SCIMD_DATABASE"]; !strings.HasPrefix(db, "postgres://") || !strings.Contains(db, "@postgres:5432/") {
		t.Errorf("scimd SCIMD_DATABASE %q does not point at the postgres service", db)
	}
	if scimd.DependsOn["postgres"].Condition != "service_healthy" {
		t.Error("scimd must wait for a healthy postgres")
	}
	if !slices.Equal(scimd.Healthcheck.Test, []string{"CMD", "/usr/local/bin/scimd", "healthcheck"}) {
		t.Errorf("scimd healthcheck %v: the distroless image has only the scimd binary", scimd.Healthcheck.Test)
	}
	_, port, _ := strings.Cut(scimd.Environment["SCIMD_ADDR"], ":")

	// Prometheus: the inline config scrapes scimd and loads the mounted alerts.yml.
	prom := c.Services["prometheus"]
	if len(prom.Configs) != 1 {
		t.Fatalf("prometheus configs %+v", prom.Configs)
	}
	var pc struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(c.Configs[prom.Configs[0].Source].Content), &pc); err != nil {
		t.Fatalf("prometheus config: %v", err)
	}
	if prom.Configs[0].Target != "/etc/prometheus/prometheus.yml" {
		t.Errorf("prometheus config mounted at %s", prom.Configs[0].Target)
	}
	mounts := map[string]string{} // target → source
	for _, v := range prom.Volumes {
		parts := strings.Split(v, ":")
		mounts[parts[1]] = parts[0]
	}
	if len(pc.RuleFiles) != 1 || mounts[pc.RuleFiles[0]] != "./prometheus/alerts.yml" {
		t.Errorf("prometheus rule_files %v, mounts %v: want deploy/prometheus/alerts.yml loaded", pc.RuleFiles, mounts)
	}
	if len(pc.ScrapeConfigs) != 1 || pc.ScrapeConfigs[0].MetricsPath != "/metrics" ||
		!slices.Contains(pc.ScrapeConfigs[0].StaticConfigs[0].Targets, "scimd:"+port) {
		t.Errorf("prometheus scrape configs %+v: want scimd:%s/metrics", pc.ScrapeConfigs, port)
	}

	// Grafana: provisioning directory with a Prometheus datasource at the prometheus
	// service, and a dashboard provider whose path holds scimd.json.
	g := c.Services["grafana"]
	gm := map[string]string{}
	for _, v := range g.Volumes {
		parts := strings.Split(v, ":")
		gm[parts[1]] = parts[0]
	}
	if gm["/etc/grafana/provisioning"] != "./grafana/provisioning" {
		t.Errorf("grafana mounts %v: want ./grafana/provisioning at /etc/grafana/provisioning", gm)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool `yaml:"isDefault"`
			Editable                     bool `yaml:"editable"`
		} `yaml:"datasources"`
	}
	decodeYAMLStrict(t, "grafana/provisioning/datasources/prometheus.yaml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("grafana datasources %+v: want the prometheus service", ds.Datasources)
	}
	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeYAMLStrict(t, "grafana/provisioning/dashboards/scimd.yaml", &dp)
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" {
		t.Fatalf("grafana dashboard providers %+v", dp.Providers)
	}
	if src := gm[dp.Providers[0].Options.Path+"/scimd.json"]; src != "./grafana/scimd.json" {
		t.Errorf("the dashboard provider reads %s, where compose mounts %q, want ./grafana/scimd.json", dp.Providers[0].Options.Path, src)
	}
}

// TestDockerfile: a static build on a distroless image as non-root, with a health check
// the image can run (it has no shell).
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %v", froms)
	}
	if final := froms[len(froms)-1][1]; !strings.Contains(final, "distroless/static") && final != "scratch" {
		t.Errorf("final image %s: want distroless/static or scratch", final)
	}
	for _, want := range []string{
		"CGO_ENABLED=0",
		"go build",
		"./cmd/scimd",
		`HEALTHCHECK`,
		`CMD ["/usr/local/bin/scimd", "healthcheck"]`,
		`ENTRYPOINT ["/usr/local/bin/scimd"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1][1], "0") || strings.HasPrefix(users[len(users)-1][1], "root") {
		t.Errorf("USER %v: want a non-root user", users)
	}
	if _, err := os.Stat("Dockerfile.dockerignore"); err != nil {
		t.Errorf("no Dockerfile.dockerignore: the build context would carry node_modules and databases")
	}
}
