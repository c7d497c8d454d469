package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/oidc"
	"github.com/scimd/scimd/internal/store/sqlite"
)

func TestAppAndOIDCCLI(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "apps.db")
	runCLI := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, "--database", dsn), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errb := runCLI("app", "create", "--name", "Backend", "--redirect-uri", "https://app.example/cb", "--redirect-uri", "http://127.0.0.1:9000/cb")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "app_") || !strings.HasPrefix(lines[1], "scimd_cs_") {
		t.Fatalf("app create = %d, stdout %q, stderr %q; want the client id and the secret alone", code, out, errb)
	}
	id, secret := lines[0], lines[1]
	code, out, _ = runCLI("app", "create", "--name", "SPA", "--redirect-uri", "https://spa.example/cb", "--public")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "app_") {
		t.Fatalf("public app create = %d %q; want the client id alone", code, out)
	}
	refused := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"app", "create", "--redirect-uri", "https://a.example/cb"}, "usage"},
		{"no redirect URI", []string{"app", "create", "--name", "X"}, "usage"},
		{"wildcard", []string{"app", "create", "--name", "X", "--redirect-uri", "https://*.example/cb"}, "wildcards"},
		{"plain http", []string{"app", "create", "--name", "X", "--redirect-uri", "http://app.example/cb"}, "https"},
		{"public on http", []string{"app", "create", "--name", "X", "--redirect-uri", "http://127.0.0.1/cb", "--public"}, "https"},
		{"delete unknown", []string{"app", "delete", "app_nope"}, "no application"},
		{"rotate unknown", []string{"app", "rotate-secret", "app_nope"}, "no application"},
		{"no subcommand", []string{"app"}, "subcommand"},
		{"oidc without rotate-key", []string{"oidc"}, "rotate-key"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errb := runCLI(tc.args...); code == 0 || !strings.Contains(errb, tc.want) {
				t.Fatalf("= %d %q; want a failure saying %q", code, errb, tc.want)
			}
		})
	}
	code, out, _ = runCLI("app", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "confidential") || !strings.Contains(out, "public") ||
		strings.Contains(out, secret) {
		t.Fatalf("app list = %d:\n%s", code, out)
	}
	code, out, _ = runCLI("app", "rotate-secret", id, "--grace", "1h")
	fresh := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(fresh, "scimd_cs_") || fresh == secret {
		t.Fatalf("rotate-secret = %d %q", code, out)
	}
	s, err := sqlite.Open(context.Background(), strings.TrimPrefix(dsn, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.OIDCClient(context.Background(), id)
	s.Close()
	if err != nil || !oidc.SecretMatches(c, fresh, time.Now()) || !oidc.SecretMatches(c, secret, time.Now()) ||
		oidc.SecretMatches(c, secret, time.Now().Add(2*time.Hour)) {
		t.Fatalf("after rotate-secret the new and (for an hour) the old secret work: %+v, %v", c, err)
	}

	code, first, _ := runCLI("oidc", "rotate-key", "--publish-lead", "1m")
	code2, second, _ := runCLI("oidc", "rotate-key")
	if code != 0 || code2 != 0 || strings.TrimSpace(first) == "" || first == second {
		t.Fatalf("rotate-key = %d %q, %d %q", code, first, code2, second)
	}
	if code, _, _ := runCLI("app", "delete", id); code != 0 {
		t.Fatal("app delete failed")
	}
	if _, out, _ := runCLI("app", "list"); strings.Contains(out, id) {
		t.Fatalf("the deleted app is listed:\n%s", out)
	}
}
