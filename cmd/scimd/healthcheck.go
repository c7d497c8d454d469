package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheckCmd is `scimd healthcheck`: it GETs /healthz of the server on this host and
// exits non-zero unless it answers 200. It exists for container health checks, since the
// distroless image has no shell or curl. The address comes from --addr (env SCIMD_ADDR, as
// for serve); a wildcard host is reached on loopback.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address scimd serve listens on")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for an answer")
	fromEnv(fs, "addr")
	if pos, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("healthcheck takes no arguments, got %q", pos[0])
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return usageErr("--addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, res.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
