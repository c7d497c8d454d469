package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestComposeHA: the HA topology has the pg_auto_failover monitor and two nodes, three
// scimd replicas on one multi-host read-write URL with a drain delay, and HAProxy checking
// /readyz of each replica with the error files it answers with; every service has a
// health check, every dependency exists, every mounted file exists.
func TestComposeHA(t *testing.T) {
	var c composeFile
	decodeYAMLStrict(t, "compose.ha.yaml", &c)
	want := []string{"monitor", "node1", "node2", "scimd1", "scimd2", "scimd3", "haproxy"}
	for _, name := range want {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("compose.ha.yaml has no %s service", name)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 {
			t.Errorf("service %s has no healthcheck", name)
		}
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts undeclared volume %s", name, src)
			}
		}
	}
	for _, name := range []string{"monitor", "node1", "node2"} {
		s := c.Services[name]
		if len(s.Command) < 3 || s.Command[0] != "pg_autoctl" || !slices.Contains(s.Command, "--run") {
			t.Errorf("%s command %v: want pg_autoctl create … --run", name, s.Command)
		}
	}
	if b := c.Services["monitor"].Build; b == nil {
		t.Error("monitor has no build")
	} else if _, err := os.Stat(filepath.Join(b.Context, b.Dockerfile)); err != nil {
		t.Errorf("monitor's Dockerfile: %v", err)
	}
	publicURL := ""
	for _, name := range []string{"scimd1", "scimd2", "scimd3"} {
		s := c.Services[name]
		env := s.Environment
		db := env["SCIMD_DATABASE"]
		if !strings.Contains(db, "@node1:5432,node2:5432/") || !strings.Contains(db, "target_session_attrs=read-write") {
			t.Errorf("%s SCIMD_DATABASE %q: want both nodes and target_session_attrs=read-write", name, db)
		}
		if env["SCIMD_DRAIN_DELAY"] == "" {
			t.Errorf("%s has no SCIMD_DRAIN_DELAY: SIGTERM would close the listener before HAProxy notices", name)
		}
		if publicURL == "" {
			publicURL = env["SCIMD_PUBLIC_URL"]
		} else if env["SCIMD_PUBLIC_URL"] != publicURL {
			t.Errorf("%s SCIMD_PUBLIC_URL %q, scimd1 %q: SAML needs one public URL for all replicas", name, env["SCIMD_PUBLIC_URL"], publicURL)
		}
		if !slices.Equal(s.Command, []string{"serve"}) || s.Image != "scimd:dev" {
			t.Errorf("%s: image %s command %v", name, s.Image, s.Command)
		}
	}
	hp := c.Services["haproxy"]
	mounts := map[string]string{}
	for _, v := range hp.Volumes {
		parts := strings.Split(v, ":")
		mounts[parts[1]] = parts[0]
	}
	if mounts["/usr/local/etc/haproxy/haproxy.cfg"] != "./ha/haproxy.cfg" || mounts["/usr/local/etc/haproxy/errors"] != "./ha/errors" {
		t.Errorf("haproxy mounts %v", mounts)
	}
	cfg, err := os.ReadFile("ha/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"option httpchk GET /readyz", "http-check expect status 200", "bind :8080",
		"server scimd1 scimd1:8080", "server scimd2 scimd2:8080", "server scimd3 scimd3:8080",
		"errorfile 502 /usr/local/etc/haproxy/errors/502.http", "errorfile 503 /usr/local/etc/haproxy/errors/503.http",
		"errorfile 504 /usr/local/etc/haproxy/errors/504.http"} {
		if !bytes.Contains(cfg, []byte("\n    "+line+"\n")) {
			t.Errorf("ha/haproxy.cfg lacks %q", line)
		}
	}
}

// TestHAProxyErrorFiles: HAProxy's own answers are complete HTTP responses whose body is a
// SCIM error of the same status, with Retry-After, so that an IdP retries them.
func TestHAProxyErrorFiles(t *testing.T) {
	for _, status := range []int{502, 503, 504} {
		path := filepath.Join("ha", "errors", strconv.Itoa(status)+".http")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var body struct {
			Schemas []string `json:"schemas"`
			Status  string   `json:"status"`
			Detail  string   `json:"detail"`
		}
		b, err := io.ReadAll(res.Body) // fails if Content-Length is more than the body
		if err != nil {
			t.Fatalf("%s: body: %v", path, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			t.Fatalf("%s: body: %v", path, err)
		}
		if res.StatusCode != status || res.Header.Get("Retry-After") == "" || res.Header.Get("Content-Type") != "application/scim+json" ||
			res.ContentLength <= 0 || body.Status != strconv.Itoa(status) || body.Detail == "" ||
			!slices.Equal(body.Schemas, []string{"urn:ietf:params:scim:api:messages:2.0:Error"}) {
			t.Errorf("%s: status %d, headers %v, body %+v", path, res.StatusCode, res.Header, body)
		}
		if dec.More() || int64(len(b)) != res.ContentLength {
			t.Errorf("%s: more than one JSON value, or Content-Length %d for %d bytes", path, res.ContentLength, len(b))
		}
	}
}
