package events_test

import (
	"slices"
	"testing"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

// TestServiceProviderConfigAdvertisesEvents: /ServiceProviderConfig, through the router,
// carries RFC 9967 §4's securityEvents: asyncRequest "none" (every SCIM request completes
// synchronously) and eventUris, exactly the event URIs scimd issues.
func TestServiceProviderConfigAdvertisesEvents(t *testing.T) {
	srv := testkit.Serve(t, teststores.SQLite(t), testkit.Options{}, "acme")
	c := testkit.Client{Base: srv.URL, Token: srv.Token}
	r, err := c.Do("GET", "/scim/v2/ServiceProviderConfig", nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("GET /ServiceProviderConfig = %d, %v", r.Status, err)
	}
	se, _ := r.Body["securityEvents"].(map[string]any)
	if se == nil {
		t.Fatalf("no securityEvents in %v", r.Body)
	}
	if got := se["asyncRequest"]; got != "none" {
		t.Errorf("asyncRequest = %v, want none", got)
	}
	var uris []string
	list, _ := se["eventUris"].([]any)
	for _, u := range list {
		s, _ := u.(string)
		uris = append(uris, s)
	}
	want := slices.Clone(events.AllURIs)
	slices.Sort(uris)
	slices.Sort(want)
	if !slices.Equal(uris, want) {
		t.Errorf("eventUris = %v, want the URIs scimd issues %v", uris, want)
	}
	if len(se) != 2 {
		t.Errorf("securityEvents = %v; RFC 9967 §4 defines asyncRequest and eventUris only", se)
	}
}
