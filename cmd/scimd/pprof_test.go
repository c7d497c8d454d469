package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestListenPprof(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"", true}, // off
		{"127.0.0.1:0", true},
		{"localhost:0", true},
		{"0.0.0.0:0", false},
		{":0", false},
		{"10.0.0.1:0", false},
		{"example.com:6060", false},
		{"127.0.0.1", false}, // no port
	} {
		t.Run(tc.addr, func(t *testing.T) {
			ln, err := listenPprof(tc.addr)
			if ln != nil {
				ln.Close()
			}
			var ee *exitError
			switch {
			case tc.ok && err != nil:
				t.Fatalf("listenPprof(%q) = %v, want a listener", tc.addr, err)
			case !tc.ok && !errors.As(err, &ee):
				t.Fatalf("listenPprof(%q) = %v, want a usage error", tc.addr, err)
			case tc.addr == "" && ln != nil:
				t.Fatal("an empty address opened a listener")
			}
		})
	}
}

func TestPprofHandler(t *testing.T) {
	srv := httptest.NewServer(pprofHandler())
	defer srv.Close()
	for path, want := range map[string]int{
		"/debug/pprof/":                  http.StatusOK,
		"/debug/pprof/goroutine?debug=1": http.StatusOK,
		"/debug/pprof/cmdline":           http.StatusOK,
		"/metrics":                       http.StatusNotFound, // the profiler's mux holds nothing else
	} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, res.StatusCode, want)
		}
	}
}
