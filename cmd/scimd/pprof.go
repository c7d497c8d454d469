package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
)

// listenPprof opens the profiler's listener (--pprof-addr), or returns nil when addr is
// empty. The profiler shows goroutine stacks and heap contents, so it listens on a loopback
// address only: an operator reaches it through the machine (kubectl port-forward, ssh),
// never through the network.
func listenPprof(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usageErr("--pprof-addr %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, usageErr("--pprof-addr %q: the profiler listens on a loopback address only (127.0.0.1, ::1, localhost)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s for the profiler: %w", addr, err)
	}
	return ln, nil
}

// pprofHandler serves net/http/pprof's endpoints under /debug/pprof/ on a mux of its own
// (never the default mux, which a library could add routes to).
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
