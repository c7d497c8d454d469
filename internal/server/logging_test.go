package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testlog"
)

// failingList is a store whose list of resources fails with err.
type failingList struct {
	store.Store
	err error
}

func (f failingList) ListResources(context.Context, *scim.ResourceType, string, store.Query) (store.Page, error) {
	return store.Page{}, f.err
}

// TestLogLinesCarryRequestID: a line written inside a handler (the 500 of a failing store)
// carries the request's request_id, and the access line of a 5xx carries its cause.
func TestLogLinesCarryRequestID(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		status    int
		logged    string // the message of the line written inside the handler; "" for none
		wantCause string
	}{
		{"internal error", errors.New("disk on fire"), http.StatusInternalServerError, "internal error", "disk on fire"},
		{"database unavailable", fmt.Errorf("%w: dial tcp: connection refused", store.ErrUnavailable), http.StatusServiceUnavailable, "", "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, failingList{Store: teststores.SQLite(t), err: tc.err})
			r := e.do("GET", "/scim/v2/Users", nil, server.RequestIDHeader, "req-"+tc.name[:4])
			e.want(r, tc.status, "")
			id := r.Header.Get(server.RequestIDHeader)
			if id != "req-"+tc.name[:4] {
				t.Fatalf("request id = %q", id)
			}
			if tc.logged != "" {
				lines := e.logLines(tc.logged)
				if len(lines) != 1 || lines[0]["request_id"] != id {
					t.Fatalf("%q lines = %v, want one with request_id %q", tc.logged, lines, id)
				}
				if !strings.Contains(fmt.Sprint(lines[0]["err"]), tc.wantCause) {
					t.Fatalf("%q line err = %v, want the cause", tc.logged, lines[0]["err"])
				}
			}
			var access map[string]any
			deadline := time.Now().Add(5 * time.Second)
			for access == nil && time.Now().Before(deadline) { // the access line follows the response
				for _, l := range e.accessLines() {
					if l["request_id"] == id {
						access = l
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
			if access == nil {
				t.Fatalf("no access line with request_id %q:\n%s", id, e.logs.String())
			}
			if !strings.Contains(fmt.Sprint(access["err"]), tc.wantCause) || access["status"] != float64(tc.status) {
				t.Fatalf("access line = %v, want status %d and err with %q", access, tc.status, tc.wantCause)
			}
			if strings.Contains(string(r.Raw), tc.wantCause) {
				t.Fatalf("the cause reached the client: %s", r.Raw)
			}
		})
	}
}

// TestLogHandlerOutsideRequest: a record written outside a request has no request_id, and
// wrapping a wrapped handler adds it once.
func TestLogHandlerOutsideRequest(t *testing.T) {
	var buf testlog.Buffer
	h := server.LogHandler(slog.NewJSONHandler(&buf, nil))
	if server.LogHandler(h) != h {
		t.Fatal("LogHandler wraps a wrapped handler again")
	}
	slog.New(h).InfoContext(context.Background(), "outside")
	if strings.Contains(buf.String(), "request_id") {
		t.Fatalf("a record outside a request has a request_id: %s", buf.String())
	}
	e := newEnv(t, teststores.SQLite(t))
	e.want(e.do("GET", "/scim/v2/Users", nil, server.RequestIDHeader, "req-once"), http.StatusOK, "")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.logs.String(), "req-once") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(e.logs.String(), `"request_id":"req-once"`); n != 1 {
		t.Fatalf("request_id %d times on the request's lines, want once:\n%s", n, e.logs.String())
	}
}
