package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		other, otherToken := e.newTenant("other")
		_ = other
		u := e.createUser("ann@example.com", nil)
		id := u["id"].(string)
		revoked, rec, err := e.dir.IssueToken(context.Background(), e.tenant, "old")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.RevokeToken(context.Background(), e.tenant.ID, rec.ID, time.Now(), nil); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			header string
			status int
		}{
			{"good", "Bearer " + e.token, http.StatusOK},
			{"scheme in other case", "bearer " + e.token, http.StatusOK},
			{"missing", "", http.StatusUnauthorized},
			{"malformed", "Basic dXNlcjpwYXNz", http.StatusUnauthorized},
			{"empty bearer", "Bearer ", http.StatusUnauthorized},
			{"unknown", "Bearer scimd_nope", http.StatusUnauthorized},
			{"revoked", "Bearer " + revoked, http.StatusUnauthorized},
			{"other tenant's", "Bearer " + otherToken, http.StatusNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				r := e.doToken("", "GET", "/scim/v2/Users/"+id, nil, "Authorization", tc.header)
				e.want(r, tc.status, "")
				if tc.status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
				}
			})
		}
		// An unknown and a revoked token get the same answer: whether a token was ever
		// valid is not told to whoever holds it.
		unknownBody := e.doToken("scimd_nope", "GET", "/scim/v2/Users", nil).str("detail")
		revokedBody := e.doToken(revoked, "GET", "/scim/v2/Users", nil).str("detail")
		if unknownBody != revokedBody {
			t.Fatalf("unknown token: %q, revoked token: %q", unknownBody, revokedBody)
		}
		if strings.Contains(e.logs.String(), e.token) || strings.Contains(e.logs.String(), revoked) {
			t.Fatal("a token reached the log")
		}
	})
}

func TestHealth(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for _, path := range []string{"/healthz", "/readyz"} {
			if r := e.doToken("", "GET", path, nil); r.Status != http.StatusOK {
				t.Fatalf("%s = %d %s", path, r.Status, r.Raw)
			}
		}
		e.store.Close()
		if r := e.doToken("", "GET", "/readyz", nil); r.Status != http.StatusServiceUnavailable {
			t.Fatalf("/readyz with the database closed = %d", r.Status)
		}
	})
}

func TestErrorsAreSCIM(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + strings.Repeat("x", 2<<20) + `"}`
		cases := []struct {
			name, method, path string
			body               any
			status             int
			scimType           string
		}{
			{"unknown route", "GET", "/scim/v2/Nope", nil, http.StatusNotFound, ""},
			{"wrong method", "DELETE", "/scim/v2/Users", nil, http.StatusMethodNotAllowed, ""},
			{"body too large", "POST", "/scim/v2/Users", big, http.StatusRequestEntityTooLarge, ""},
			{"malformed JSON", "POST", "/scim/v2/Users", `{"userName":`, http.StatusBadRequest, "invalidSyntax"},
			{"not an object", "POST", "/scim/v2/Users", `[1,2]`, http.StatusBadRequest, "invalidSyntax"},
			{"empty body", "POST", "/scim/v2/Users", ``, http.StatusBadRequest, "invalidSyntax"},
			{"unknown id", "GET", "/scim/v2/Users/6d1f0d36-2a4e-4a38-9b0e-3f1a2c9d8e7f", nil, http.StatusNotFound, ""},
			{"malformed id", "GET", "/scim/v2/Users/not-an-id", nil, http.StatusNotFound, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				e.want(e.do(tc.method, tc.path, tc.body), tc.status, tc.scimType)
			})
		}
	})
}

func TestRequestIDAndAccessLog(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/scim/v2/Users?filter=userName+eq+%22secret%40example.com%22", nil, "X-Request-Id", "req-123")
		e.want(r, http.StatusOK, "")
		if r.Header.Get("X-Request-Id") != "req-123" {
			t.Fatalf("request id = %q", r.Header.Get("X-Request-Id"))
		}
		deadline := time.Now().Add(2 * time.Second)
		for !strings.Contains(e.logs.String(), `"request_id":"req-123"`) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		logs := e.logs.String()
		for _, want := range []string{`"request_id":"req-123"`, `"route":"/scim/v2/Users"`, `"tenant":"acme"`, `"status":200`} {
			if !strings.Contains(logs, want) {
				t.Errorf("access log lacks %s:\n%s", want, logs)
			}
		}
		if strings.Contains(logs, "secret@example.com") {
			t.Errorf("a filter value reached the log")
		}
	})
}
