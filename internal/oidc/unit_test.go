package oidc

import (
	"testing"
	"time"

	"github.com/scimd/scimd/internal/store"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		location string
		want     string
	}{
		{"page", 200, "", OutcomeSuccess},
		{"to the sign-in", 302, "/oidc/login?id=x", OutcomeSuccess},
		{"code to the application", 302, "https://app.example/cb?code=c&state=s", OutcomeSuccess},
		{"error to the application", 302, "https://app.example/cb?error=invalid_request&state=s", OutcomeClientError},
		{"error in the fragment", 302, "https://app.example/cb#error=access_denied", OutcomeClientError},
		{"refused", 400, "", OutcomeClientError},
		{"unauthorized", 401, "", OutcomeClientError},
		{"server", 500, "", OutcomeServerError},
		{"unavailable", 503, "", OutcomeServerError},
	}
	for _, tc := range tests {
		if got := outcome(tc.status, tc.location); got != tc.want {
			t.Errorf("%s: outcome(%d, %q) = %s, want %s", tc.name, tc.status, tc.location, got, tc.want)
		}
	}
}

func TestCheckRedirectURI(t *testing.T) {
	tests := []struct {
		uri    string
		public bool
		ok     bool
	}{
		{"https://app.example/cb", false, true},
		{"https://app.example/cb?x=1", true, true},
		{"http://127.0.0.1:8080/cb", false, true},
		{"http://localhost/cb", false, true},
		{"http://[::1]:9/cb", false, true},
		{"http://127.0.0.1:8080/cb", true, false},
		{"http://app.example/cb", false, false},
		{"https://*.app.example/cb", false, false},
		{"https://app.example/cb#frag", false, false},
		{"https://user@app.example/cb", false, false},
		{"/cb", false, false},
		{"app://cb", false, false},
		{"javascript:alert(1)", false, false},
	}
	for _, tc := range tests {
		if err := CheckRedirectURI(tc.uri, tc.public); (err == nil) != tc.ok {
			t.Errorf("CheckRedirectURI(%q, public=%v) = %v, want ok=%v", tc.uri, tc.public, err, tc.ok)
		}
	}
}

func TestSecretMatches(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := store.OIDCClient{SecretHash: hash("new"), PreviousSecretHash: hash("old"), PreviousSecretExpiresAt: now.Add(time.Hour)}
	tests := []struct {
		name   string
		c      store.OIDCClient
		secret string
		at     time.Time
		want   bool
	}{
		{"current", c, "new", now, true},
		{"previous in its grace period", c, "old", now, true},
		{"previous after it", c, "old", now.Add(time.Hour), false},
		{"wrong", c, "nope", now, false},
		{"empty", c, "", now, false},
		{"public client", store.OIDCClient{Public: true}, "", now, false},
	}
	for _, tc := range tests {
		if got := SecretMatches(tc.c, tc.secret, tc.at); got != tc.want {
			t.Errorf("%s: SecretMatches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
