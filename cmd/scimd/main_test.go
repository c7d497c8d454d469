package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/testkit"
	"github.com/scimd/scimd/internal/testlog"
)

// startServe runs the real serve command on 127.0.0.1:0 and returns its address and the
// stderr it writes.
func startServe(t *testing.T, dsn string) (string, *testlog.Buffer, context.CancelFunc, <-chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &testlog.Buffer{}
	listening := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		fs := newFlagSet("serve", stderr)
		c := serveFlags(fs)
		if _, err := parseArgs(fs, []string{"--addr", "127.0.0.1:0", "--database", dsn}); err != nil {
			t.Error(err)
		}
		if err := serve(ctx, c, stderr, listening); err != nil {
			t.Errorf("serve: %v\n%s", err, stderr.String())
			done <- 1
			close(listening)
			return
		}
		done <- 0
	}()
	addr, ok := <-listening
	if !ok {
		t.Fatalf("serve did not start:\n%s", stderr.String())
	}
	return addr, stderr, cancel, done
}

func bootstrapToken(t *testing.T, stderr string) string {
	t.Helper()
	lines := strings.Split(stderr, "\n")
	for i, l := range lines {
		if strings.Contains(l, "will not be shown again") && i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
	}
	t.Fatalf("no bootstrap token in:\n%s", stderr)
	return ""
}

func TestServeEndToEnd(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "scimd.db")
	addr, stderr, stop, done := startServe(t, dsn)
	token := bootstrapToken(t, stderr.String())
	if !strings.HasPrefix(token, "scimd_") {
		t.Fatalf("token = %q", token)
	}
	base := "http://" + addr
	c := &testkit.Client{Base: base, Token: token}
	do := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		r, err := c.Do(method, path, body)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, want, r.Raw)
		}
		return r.Body
	}
	created := do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com"}`, http.StatusCreated)
	loc := created["meta"].(map[string]any)["location"].(string)
	if !strings.HasPrefix(loc, base+"/scim/v2/Users/") {
		t.Fatalf("meta.location = %q, want under %s", loc, base)
	}
	// /Bulk is served, with the default limits advertised.
	bulkCfg := do("GET", "/scim/v2/ServiceProviderConfig", nil, http.StatusOK)["bulk"].(map[string]any)
	if bulkCfg["supported"] != true || bulkCfg["maxOperations"] != json.Number("1000") || bulkCfg["maxPayloadSize"] != json.Number(fmt.Sprint(2<<20)) {
		t.Fatalf("bulk = %v", bulkCfg)
	}
	bulk := do("POST", "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
		"Operations":[{"method":"DELETE","path":"/Users/`+created["id"].(string)+`"}]}`, http.StatusOK)
	if ops, _ := bulk["Operations"].([]any); len(ops) != 1 || ops[0].(map[string]any)["status"] != "204" {
		t.Fatalf("bulk = %v", bulk)
	}
	if r, err := (&testkit.Client{Base: base}).Do("GET", "/scim/v2/Users", nil); err != nil || r.Status != http.StatusUnauthorized {
		t.Fatalf("unauthenticated list = %d, %v", r.Status, err)
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	// A second start on the same database creates no new tenant and prints no token.
	_, stderr2, stop2, done2 := startServe(t, dsn)
	stop2()
	<-done2
	if strings.Contains(stderr2.String(), "will not be shown again") {
		t.Fatal("second start printed a bootstrap token again")
	}
}

func TestCLI(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "--database", dsn), &out, &errb); code != 0 {
			t.Fatalf("scimd %v = %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	if out := runOK("migrate"); !strings.Contains(out, "applied 0001_init.sql") {
		t.Fatalf("migrate printed %q", out)
	}
	if out := runOK("migrate"); !strings.Contains(out, "no pending migrations") {
		t.Fatalf("second migrate printed %q", out)
	}
	runOK("tenant", "create", "acme", "--name", "Acme Inc")
	if out := runOK("tenant", "list"); !strings.Contains(out, "acme") || !strings.Contains(out, "Acme Inc") {
		t.Fatalf("tenant list = %q", out)
	}
	tok := strings.TrimSpace(runOK("token", "create", "--tenant", "acme", "--label", "jumpcloud"))
	if !strings.HasPrefix(tok, "scimd_") || strings.ContainsAny(tok, " \n") {
		t.Fatalf("token create printed %q, want the token alone", tok)
	}
	list := runOK("token", "list", "--tenant", "acme")
	if !strings.Contains(list, "jumpcloud") || strings.Contains(list, tok) || !strings.Contains(list, "live") {
		t.Fatalf("token list = %q", list)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	runOK("token", "revoke", id)
	if list := runOK("token", "list", "--tenant", "acme"); !strings.Contains(list, "revoked") {
		t.Fatalf("after revoke: %q", list)
	}
	if out := runOK("tenant", "user-types", "acme", "--allowed", "admin,member,contractor", "--default", "contractor"); !strings.Contains(out, "default contractor") {
		t.Fatalf("user-types printed %q", out)
	}
}

func TestCLIErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"bad flag", []string{"serve", "--nope"}, "flag provided but not defined"},
		{"bad database", []string{"migrate", "--database", "mysql://x"}, "use postgres://"},
		{"unreachable postgres", []string{"migrate", "--database", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"}, "cannot reach the database"},
		{"taken port", []string{"serve", "--addr", ln.Addr().String(), "--database", "sqlite:" + filepath.Join(dir, "a.db")}, "cannot listen"},
		{"bad log level", []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "loud", "--database", "sqlite:" + filepath.Join(dir, "b.db")}, "--log-level"},
		{"bad bulk limit", []string{"serve", "--addr", "127.0.0.1:0", "--bulk-max-operations", "0", "--database", "sqlite:" + filepath.Join(dir, "b.db")}, "--bulk-max-operations"},
		{"bad SAML clock skew", []string{"serve", "--addr", "127.0.0.1:0", "--saml-clock-skew", "0s", "--database", "sqlite:" + filepath.Join(dir, "b.db")}, "--saml-clock-skew"},
		{"missing tenant", []string{"token", "create", "--database", "sqlite:" + filepath.Join(dir, "c.db")}, "usage"},
		{"unknown tenant", []string{"token", "create", "--tenant", "nope", "--database", "sqlite:" + filepath.Join(dir, "c.db")}, `no tenant "nope"`},
		{"bad slug", []string{"tenant", "create", "Not A Slug", "--database", "sqlite:" + filepath.Join(dir, "c.db")}, "lower-case"},
		{"revoke unknown", []string{"token", "revoke", "tok_nope", "--database", "sqlite:" + filepath.Join(dir, "c.db")}, "no token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errb)
			if code == 0 {
				t.Fatalf("exit 0; stderr %q", errb.String())
			}
			last := strings.TrimSpace(errb.String())
			if i := strings.LastIndex(last, "\n"); i >= 0 {
				last = last[i+1:]
			}
			if !strings.HasPrefix(last, "scimd: ") || !strings.Contains(last, tc.want) {
				t.Fatalf("stderr ends with %q, want a scimd: line containing %q", last, tc.want)
			}
		})
	}
}

// TestCLIAudits: token and SAML changes made from the command line are in the audit log.
func TestCLIAudits(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "audit.db")
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "--database", dsn), &out, &errb); code != 0 {
			t.Fatalf("scimd %v = %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	runOK("tenant", "create", "acme")
	runOK("token", "create", "--tenant", "acme", "--label", "okta")
	id := strings.Fields(strings.Split(runOK("token", "list", "--tenant", "acme"), "\n")[1])[0]
	runOK("token", "revoke", id)
	events := runOK("events", "--tenant", "acme", "--json")
	for _, want := range []string{`"scim_token_create"`, `"scim_token_revoke"`, `"cli"`} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %s:\n%s", want, events)
		}
	}
}
