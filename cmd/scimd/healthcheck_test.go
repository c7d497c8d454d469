package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheck: `scimd healthcheck` exits 0 only when /healthz answers 200, and reaches
// a wildcard listen address on loopback.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := strings.Cut(addr, ":")
	for _, tc := range []struct {
		name   string
		addr   string
		status int
		code   int
	}{
		{"healthy", addr, http.StatusOK, 0},
		{"wildcard address", "0.0.0.0:" + port, http.StatusOK, 0},
		{"unhealthy", addr, http.StatusServiceUnavailable, 1},
		{"nothing listening", "127.0.0.1:1", http.StatusOK, 1},
		{"bad address", "nope", http.StatusOK, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status = tc.status
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"healthcheck", "--addr", tc.addr}, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr.String())
			}
		})
	}
}
