package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

// TestFlagsFromEnv: every flag of serve reads its SCIMD_ variable, the command line wins,
// and a value that does not parse is an error naming the variable, not a silent default.
func TestFlagsFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(*serveConfig) bool
		wantErr string
	}{
		{"default", nil, nil, func(c *serveConfig) bool { return c.MaxPageSize == 1000 && *c.database == "sqlite:scimd.db" }, ""},
		{"int from env", map[string]string{"SCIMD_MAX_PAGE_SIZE": "50"}, nil, func(c *serveConfig) bool { return c.MaxPageSize == 50 }, ""},
		{"duration from env", map[string]string{"SCIMD_TENANT_QUEUE_WAIT": "3s"}, nil, func(c *serveConfig) bool { return c.TenantQueueWait == 3*time.Second }, ""},
		{"bool from env", map[string]string{"SCIMD_METRICS_TENANT_LABEL": "true"}, nil, func(c *serveConfig) bool { return c.MetricsTenantLabel }, ""},
		{"float from env", map[string]string{"SCIMD_RATE_LIMIT": "2.5"}, nil, func(c *serveConfig) bool { return c.RateLimit == 2.5 }, ""},
		{"string from env", map[string]string{"SCIMD_DATABASE": "sqlite:/tmp/x.db"}, nil, func(c *serveConfig) bool { return *c.database == "sqlite:/tmp/x.db" }, ""},
		{"empty is unset", map[string]string{"SCIMD_MAX_PAGE_SIZE": ""}, nil, func(c *serveConfig) bool { return c.MaxPageSize == 1000 }, ""},
		{"flag beats env", map[string]string{"SCIMD_MAX_PAGE_SIZE": "50"}, []string{"--max-page-size", "70"}, func(c *serveConfig) bool { return c.MaxPageSize == 70 }, ""},
		{"bad int", map[string]string{"SCIMD_MAX_PAGE_SIZE": "lots"}, nil, nil, "SCIMD_MAX_PAGE_SIZE"},
		{"bad duration", map[string]string{"SCIMD_REQUEST_TIMEOUT": "30"}, nil, nil, "SCIMD_REQUEST_TIMEOUT"},
		{"bad bool", map[string]string{"SCIMD_METRICS_TENANT_LABEL": "maybe"}, nil, nil, "SCIMD_METRICS_TENANT_LABEL"},
		{"bad env even when the flag is given", map[string]string{"SCIMD_MAX_PAGE_SIZE": "lots"}, []string{"--max-page-size", "70"}, nil, "SCIMD_MAX_PAGE_SIZE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fs := newFlagSet("serve", &bytes.Buffer{})
			c := serveFlags(fs)
			_, err := parseArgs(fs, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v does not hold what %v and %v set", c.limitsConfig, tc.env, tc.args)
			}
		})
	}
}

// TestEveryServeFlagReadsEnv: no flag of serve is left out of the environment.
func TestEveryServeFlagReadsEnv(t *testing.T) {
	fs := newFlagSet("serve", &bytes.Buffer{})
	serveFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasSuffix(f.Usage, envNote(f.Name)) {
			t.Errorf("--%s is not read from %s", f.Name, envVar(f.Name))
		}
	})
}

// clearEnv unsets every SCIMD_ variable for the test, so that the machine's do not leak in.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SCIMD_") {
			t.Setenv(name, "")
		}
	}
}
