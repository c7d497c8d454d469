package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/events"
)

func TestStreamCLIValidation(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"tenant", "create", "acme", "--database", dsn}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no scope", []string{"--url", "https://app.example.com/e"}, "--tenant SLUG or --all-tenants"},
		{"both scopes", []string{"--url", "https://app.example.com/e", "--tenant", "acme", "--all-tenants"}, "--tenant SLUG or --all-tenants"},
		{"no target", []string{"--tenant", "acme"}, "--url URL (push) or --poll"},
		{"url and poll", []string{"--tenant", "acme", "--poll", "--url", "https://a.example/e"}, "--url URL (push) or --poll"},
		{"plain http", []string{"--tenant", "acme", "--url", "http://app.example.com/e"}, "use https"},
		{"credentials in the URL", []string{"--tenant", "acme", "--url", "https://u:p@app.example.com/e"}, "credentials"},
		{"relative", []string{"--tenant", "acme", "--url", "/e"}, "absolute"},
		{"unknown event", []string{"--tenant", "acme", "--url", "https://a.example/e", "--events", "prov:create:full"}, "not an event scimd sends"},
		{"unknown tenant", []string{"--tenant", "nope", "--url", "https://a.example/e"}, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"events", "stream", "create", "--database", dsn}, tc.args...)
			if code := run(context.Background(), args, &out, &errb); code == 0 || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want an error naming %q", code, errb.String(), tc.want)
			}
		})
	}
}

// TestStreamsEndToEnd: a poll stream made with the CLI receives the SCIM changes made
// through the real server at /events/poll, signed with the keys of /.well-known/jwks.json;
// pause, replay, status and delete act on it.
func TestStreamsEndToEnd(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "scimd.db")
	addr, stderr, stop, done := startServe(t, dsn)
	defer func() { stop(); <-done }()
	token := bootstrapToken(t, stderr.String())
	base := "http://" + addr
	cli := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "--database", dsn), &out, &errb); code != 0 {
			t.Fatalf("scimd %v = %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	out := cli("events", "stream", "create", "--poll", "--tenant", "default", "--events", "prov:create:notice,prov:delete")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	cred := lines[len(lines)-1]
	if !strings.HasPrefix(cred, "scimd_stream_") {
		t.Fatalf("create printed %q", out)
	}
	id := strings.Fields(lines[0])[3]

	scim := func(method, path, body string) map[string]any {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return m
	}
	poll := func(body string) map[string]string {
		req, _ := http.NewRequest(http.MethodPost, base+events.PollPath, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cred)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("poll = %d", res.StatusCode)
		}
		var pr struct{ Sets map[string]string }
		json.NewDecoder(res.Body).Decode(&pr)
		return pr.Sets
	}
	u := scim("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com"}`)
	scim("PATCH", "/scim/v2/Users/"+u["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"x"}]}`)
	sets := poll(`{"returnImmediately":true}`)
	if len(sets) != 1 {
		t.Fatalf("polled %d SETs, want the create (the PATCH is not in --events)", len(sets))
	}
	var jti string
	for k, set := range sets {
		jti = k
		payload := strings.Split(set, ".")[1]
		if !strings.HasPrefix(set, "ey") || payload == "" {
			t.Fatalf("not a compact JWS: %q", set)
		}
	}
	if res, err := http.Get(base + "/.well-known/jwks.json"); err != nil || res.StatusCode != 200 {
		t.Fatalf("JWKS: %v %v", res, err)
	}
	if sets := poll(`{"returnImmediately":true,"ack":["` + jti + `"]}`); len(sets) != 0 {
		t.Fatalf("after ack: %v", sets)
	}
	if out := cli("events", "stream", "status"); !strings.Contains(out, id) || !strings.Contains(out, "poll") || !strings.Contains(out, "default") {
		t.Fatalf("status:\n%s", out)
	}
	cli("events", "stream", "pause", id)
	if out := cli("events", "stream", "status", id); !strings.Contains(out, "paused") {
		t.Fatalf("status after pause:\n%s", out)
	}
	if out := cli("events", "stream", "replay", id, "--since", "1h"); !strings.Contains(out, "1 SETs") {
		t.Fatalf("replay: %s", out)
	}
	if sets := poll(`{"returnImmediately":true}`); len(sets) != 0 {
		t.Fatal("a paused stream handed out SETs")
	}
	cli("events", "stream", "resume", id)
	start := time.Now()
	sets = poll(`{"maxEvents":5}`)
	if len(sets) != 1 || sets[jti] != "" || time.Since(start) > 10*time.Second {
		t.Fatalf("after replay got %d SETs (the replay must carry a new jti)", len(sets))
	}
	cli("events", "stream", "delete", id)
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"events", "stream", "pause", id, "--database", dsn}, &o, &e); code == 0 {
		t.Fatal("paused a deleted stream")
	}
}
