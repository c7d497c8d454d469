package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/store/teststores"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestDiscoveryGolden compares the discovery documents with testdata/*.golden.json (run
// with -update to rewrite them after a deliberate change).
func TestDiscoveryGolden(t *testing.T) {
	e := newEnv(t, teststores.SQLite(t))
	for _, path := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/User", "/Schemas",
		"/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group"} {
		t.Run(path, func(t *testing.T) {
			e := e.sub(t)
			r := e.do("GET", "/scim/v2"+path, nil)
			e.want(r, 200, "")
			var v any
			if err := json.Unmarshal(r.Raw, &v); err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(v, "", "  ")
			got = bytes.ReplaceAll(got, []byte(e.url), []byte("http://scimd.test"))
			name := filepath.Join("testdata", strings.NewReplacer("/", "_", ":", "_").Replace(strings.TrimPrefix(path, "/"))+".golden.json")
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(name, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(name)
			if err != nil {
				t.Fatalf("%v (run go test -run TestDiscoveryGolden -update)", err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Fatalf("%s differs from %s:\n%s", path, name, got)
			}
		})
	}
	e.want(e.do("GET", "/scim/v2/Schemas/urn:nope", nil), 404, "")
	e.want(e.do("GET", "/scim/v2/ResourceTypes/Nope", nil), 404, "")
	e.want(e.doToken("", "GET", "/scim/v2/ServiceProviderConfig", nil), 401, "")
}
