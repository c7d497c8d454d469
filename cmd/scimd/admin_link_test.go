package main

import (
	"bytes"
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminLinkCmd: `scimd admin link` prints one sign-in URL of the tenant, a new one
// each time, and refuses bad arguments with a usage error.
func TestAdminLinkCmd(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "scimd.db")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"tenant", "create", "acme", "--database", dsn}, &out, &errb); code != 0 {
		t.Fatalf("tenant create = %d: %s", code, errb.String())
	}
	links := map[string]bool{}
	for range 2 {
		out.Reset()
		errb.Reset()
		code := run(context.Background(), []string{"admin", "link", "--tenant", "acme", "--database", dsn, "--public-url", "https://app.example.com/"}, &out, &errb)
		if code != 0 {
			t.Fatalf("admin link = %d: %s", code, errb.String())
		}
		link := strings.TrimSpace(out.String())
		u, err := url.Parse(link)
		if err != nil || u.Scheme != "https" || u.Host != "app.example.com" || u.Path != "/t/acme/admin/signin" || len(u.Query().Get("token")) != 43 {
			t.Fatalf("admin link printed %q", out.String())
		}
		if strings.Count(out.String(), "\n") != 1 || !strings.Contains(errb.String(), "works once") {
			t.Fatalf("stdout %q, stderr %q", out.String(), errb.String())
		}
		links[link] = true
	}
	if len(links) != 2 {
		t.Fatal("two links are the same")
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"admin"}, 2, "usage: scimd admin link"},
		{"unknown subcommand", []string{"admin", "unlink", "--tenant", "acme"}, 2, "usage: scimd admin link"},
		{"no tenant", []string{"admin", "link", "--database", dsn}, 2, "usage: scimd admin link"},
		{"unknown tenant", []string{"admin", "link", "--tenant", "nope", "--database", dsn}, 1, `no tenant "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.want) || out.Len() != 0 {
				t.Fatalf("= %d, stdout %q, stderr %q; want %d and %q", code, out.String(), errb.String(), tc.code, tc.want)
			}
		})
	}
}
