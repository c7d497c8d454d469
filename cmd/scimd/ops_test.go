package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

func TestParseDays(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90d", 90 * 24 * time.Hour, false},
		{"1.5d", 36 * time.Hour, false},
		{"24h", 24 * time.Hour, false},
		{"30m", 30 * time.Minute, false},
		{"d", 0, true},
		{"ninety days", 0, true},
		{"", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseDays(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("parseDays(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"24h", now.Add(-24 * time.Hour), false},
		{"7d", now.AddDate(0, 0, -7), false},
		{"0", time.Time{}, false},
		{"2026-03-01T00:00:00Z", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"-5h", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSince(tc.in, now)
			if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
				t.Fatalf("parseSince(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestEventsRetentionFlag(t *testing.T) {
	cases := []struct {
		name    string
		env     string
		args    []string
		want    time.Duration
		wantErr bool
	}{
		{"default keeps everything", "", nil, 0, false},
		{"flag in days", "", []string{"--events-retention", "90d"}, 90 * 24 * time.Hour, false},
		{"flag zero", "30d", []string{"--events-retention", "0"}, 0, false},
		{"environment", "30d", nil, 30 * 24 * time.Hour, false},
		{"flag beats environment", "30d", []string{"--events-retention", "720h"}, 720 * time.Hour, false},
		{"bad flag", "", []string{"--events-retention", "soon"}, 0, true},
		{"bad environment", "soon", nil, 0, true},
		{"under an hour", "", []string{"--events-retention", "5m"}, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SCIMD_EVENTS_RETENTION", tc.env)
			fs := newFlagSet("serve", &bytes.Buffer{})
			c := serveFlags(fs)
			_, err := parseArgs(fs, tc.args)
			got := time.Duration(c.EventsRetention)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("retention = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestMetricsTenantLabelFlag(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, false},
		{"true", nil, true},
		{"", []string{"--metrics-tenant-label"}, true},
		{"true", []string{"--metrics-tenant-label=false"}, false},
	} {
		t.Setenv("SCIMD_METRICS_TENANT_LABEL", tc.env)
		fs := newFlagSet("serve", &bytes.Buffer{})
		c := serveFlags(fs)
		if _, err := parseArgs(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		if c.MetricsTenantLabel != tc.want {
			t.Errorf("env %q args %q: tenant label %v, want %v", tc.env, tc.args, c.MetricsTenantLabel, tc.want)
		}
	}
}

// TestPruneLoop: the background pruning deletes events older than the retention, of every
// tenant, and keeps the newer ones.
func TestPruneLoop(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		d := directory.New(s, slog.New(slog.DiscardHandler), nil)
		var tenants []store.Tenant
		for _, slug := range []string{"acme", "other"} {
			tn, err := d.CreateTenant(ctx, slug, "")
			if err != nil {
				t.Fatal(err)
			}
			tenants = append(tenants, tn)
		}
		for _, tn := range tenants {
			for _, age := range []time.Duration{100 * 24 * time.Hour, 91 * 24 * time.Hour, 89 * 24 * time.Hour, time.Hour} {
				ev := &store.Event{TenantID: tn.ID, At: now.Add(-age), Name: directory.EventUserCreate, Outcome: directory.OutcomeSuccess,
					Actor: "test", Detail: age.String()}
				if err := s.AppendEvent(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			pruneEvents(s, 90*24*time.Hour, func() time.Time { return now }).loop(lctx, slog.New(slog.DiscardHandler))
			close(done)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			evs, err := s.Events(ctx, tenants[1].ID, store.EventQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		for _, tn := range tenants {
			evs, err := s.Events(ctx, tn.ID, store.EventQuery{})
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			for _, ev := range evs {
				kept = append(kept, ev.Detail)
			}
			if want := []string{"1h0m0s", "2136h0m0s"}; strings.Join(kept, ",") != strings.Join(want, ",") {
				t.Fatalf("tenant %s kept %v, want %v", tn.Slug, kept, want)
			}
		}
	})
}

// TestEventsCommand runs `scimd events` against a database with changes made through the
// directory.
func TestEventsCommand(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "scimd.db")
	ctx := context.Background()
	var annID, groupID string
	err := withDirectory(ctx, dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
		tn, err := d.CreateTenant(ctx, "acme", "")
		if err != nil {
			return err
		}
		actx := directory.WithActor(ctx, directory.Actor{Name: "token jumpcloud", TokenID: "tok_1"})
		user := func(name string) map[string]any {
			return map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name}
		}
		ann, err := d.CreateUser(actx, tn, user("ann@example.com"))
		if err != nil {
			return err
		}
		annID = ann.ID
		if _, err := d.CreateUser(actx, tn, user("bob@example.com")); err != nil {
			return err
		}
		ops := []patch.Operation{{Op: "replace", Value: map[string]any{"title": "Engineer"}}}
		if _, err := d.PatchUser(actx, tn, ann.ID, ops, ""); err != nil {
			return err
		}
		g, err := d.CreateGroup(actx, tn, map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Sales", "members": []any{map[string]any{"value": ann.ID}}})
		if err != nil {
			return err
		}
		groupID = g.ID
		_, err = d.CreateUser(actx, tn, map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userType": "pirate",
			"userName": "eve@example.com"})
		if err == nil {
			t.Error("a user with a bad userType was created")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	events := func(t *testing.T, args ...string) []eventJSON {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append([]string{"events", "--database", dsn, "--tenant", "acme", "--json"}, args...)
		if code := run(ctx, args, &stdout, &stderr); code != 0 {
			t.Fatalf("scimd %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		}
		var out []eventJSON
		dec := json.NewDecoder(&stdout)
		for dec.More() {
			var ev eventJSON
			if err := dec.Decode(&ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
		return out
	}
	names := func(evs []eventJSON) string {
		var s []string
		for _, ev := range evs {
			s = append(s, ev.Event+"/"+ev.Outcome)
		}
		return strings.Join(s, " ")
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"all, newest first", nil,
			"user_create_provision/client_error group_create_provision/success user_update_provision/success user_create_provision/success user_create_provision/success"},
		{"one user", []string{"--user", annID}, "user_update_provision/success user_create_provision/success"},
		{"one group", []string{"--group", groupID}, "group_create_provision/success"},
		{"a group id given as a user", []string{"--user", groupID}, ""},
		{"one event name", []string{"--event", "user_update_provision"}, "user_update_provision/success"},
		{"refusals", []string{"--outcome", "client_error"}, "user_create_provision/client_error"},
		{"limit", []string{"--limit", "2"}, "user_create_provision/client_error group_create_provision/success"},
		{"since the future", []string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, ""},
		{"days", []string{"--since", "7d"},
			"user_create_provision/client_error group_create_provision/success user_update_provision/success user_create_provision/success user_create_provision/success"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(events(t, tc.args...)); got != tc.want {
				t.Fatalf("events %v:\n got %s\nwant %s", tc.args, got, tc.want)
			}
		})
	}
	t.Run("fields", func(t *testing.T) {
		ev := events(t, "--event", "user_update_provision")[0]
		if ev.Tenant != "acme" || ev.Actor != "token jumpcloud" || ev.TokenID != "tok_1" || ev.ResourceType != "User" ||
			ev.ResourceID != annID || ev.ResourceName != "ann@example.com" || strings.Join(ev.Changed, ",") != "title" || ev.Time.IsZero() {
			t.Fatalf("event %+v", ev)
		}
	})
	t.Run("table", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run(ctx, []string{"events", "--database", dsn, "--tenant", "acme", "--user", annID}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[1], "user_update_provision") ||
			!strings.Contains(lines[1], "title") || !strings.Contains(lines[2], "user_create_provision") {
			t.Fatalf("table:\n%s", stdout.String())
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no tenant", []string{"events", "--database", dsn}, 2},
		{"unknown tenant", []string{"events", "--database", dsn, "--tenant", "nope"}, 1},
		{"user and group", []string{"events", "--database", dsn, "--tenant", "acme", "--user", annID, "--group", groupID}, 2},
		{"bad since", []string{"events", "--database", dsn, "--tenant", "acme", "--since", "last week"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(ctx, tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr.String())
			}
			if lines := strings.Count(stderr.String(), "\n"); lines != 1 {
				t.Fatalf("stderr is %d lines, want one: %s", lines, stderr.String())
			}
		})
	}
}
