package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/store"
)

// testSessionSubject: a session keeps the NameID and SessionIndex of its login.
func testSessionSubject(t *testing.T, s store.Store) {
	a := mustTenant(t, s, "acme")
	hash := []byte("subject-session-hash")
	if err := s.CreateSession(ctx, store.Session{TenantID: a.ID, Hash: hash, Kind: store.SessionSSO, UserID: store.NewID(),
		CreatedAt: samlNow, ExpiresAt: samlNow.Add(time.Hour), NameID: "ann@example.com",
		NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", SessionIndex: "idx-1"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByHash(ctx, a.ID, store.SessionSSO, hash, samlNow)
	if err != nil || got.NameID != "ann@example.com" || got.NameIDFormat != "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" || got.SessionIndex != "idx-1" {
		t.Fatalf("SessionByHash = %+v, %v", got, err)
	}
}

// testDeleteSAMLSessions: an IdP logout ends the sessions of its NameID (and SessionIndex)
// in its tenant, nobody else's.
func testDeleteSAMLSessions(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	ann, bob := store.NewID(), store.NewID()
	mk := func(tenant, hash, user, nameID, index string) {
		t.Helper()
		if err := s.CreateSession(ctx, store.Session{TenantID: tenant, Hash: []byte(hash), Kind: store.SessionSSO, UserID: user,
			CreatedAt: samlNow, ExpiresAt: samlNow.Add(time.Hour), NameID: nameID, SessionIndex: index}); err != nil {
			t.Fatal(err)
		}
	}
	mk(a.ID, "ann-1", ann, "ann@example.com", "s1")
	mk(a.ID, "ann-2", ann, "ann@example.com", "s2")
	mk(a.ID, "bob-1", bob, "bob@example.com", "s1")
	mk(b.ID, "ann-b", ann, "ann@example.com", "s1")
	live := func(tenant, hash string) bool {
		_, err := s.SessionByHash(ctx, tenant, store.SessionSSO, []byte(hash), samlNow)
		return err == nil
	}

	tests := []struct {
		name    string
		nameID  string
		indexes []string
		users   []string
		gone    []string // sessions of tenant a ended by this step
	}{
		{"unknown NameID", "nobody@example.com", nil, nil, nil},
		{"other index", "ann@example.com", []string{"s9"}, nil, nil},
		{"one index", "ann@example.com", []string{"s1"}, []string{ann}, []string{"ann-1"}},
		{"every session of the NameID", "ann@example.com", nil, []string{ann}, []string{"ann-2"}},
		{"again: none left", "ann@example.com", nil, nil, nil},
	}
	ended := map[string]bool{}
	for _, tc := range tests {
		users, err := s.DeleteSAMLSessions(ctx, a.ID, tc.nameID, tc.indexes)
		if err != nil || !slices.Equal(users, tc.users) {
			t.Fatalf("%s: DeleteSAMLSessions = %v, %v; want %v", tc.name, users, err, tc.users)
		}
		for _, h := range tc.gone {
			ended[h] = true
		}
		for _, h := range []string{"ann-1", "ann-2", "bob-1"} {
			if live(a.ID, h) == ended[h] {
				t.Fatalf("%s: session %s live = %v", tc.name, h, !ended[h])
			}
		}
	}
	if !live(b.ID, "ann-b") {
		t.Fatal("another tenant's session with the same NameID was ended")
	}
}

// testRevokeOIDCUserTokens: every live token of the user in the tenant, nobody else's.
func testRevokeOIDCUserTokens(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	tok := func(tenant, id, kind, user string) {
		t.Helper()
		if err := s.CreateOIDCToken(ctx, store.OIDCToken{TenantID: tenant, ID: id, Kind: kind, Family: "f-" + id, ClientID: "c", UserID: user,
			Scopes: []string{"openid"}, AuthTime: oidcNow, Hash: []byte("h-" + id), CreatedAt: oidcNow, ExpiresAt: oidcNow.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	tok(a.ID, "at1", store.OIDCAccessToken, "ann")
	tok(a.ID, "rt1", store.OIDCRefreshToken, "ann")
	tok(a.ID, "rt2", store.OIDCRefreshToken, "bob")
	tok(b.ID, "rt3", store.OIDCRefreshToken, "ann")
	if n, err := s.RevokeOIDCUserTokens(ctx, a.ID, "ann", oidcNow); err != nil || n != 2 {
		t.Fatalf("RevokeOIDCUserTokens = %d, %v; want 2", n, err)
	}
	if n, err := s.RevokeOIDCUserTokens(ctx, a.ID, "ann", oidcNow); err != nil || n != 0 {
		t.Fatalf("again = %d, %v; want 0", n, err)
	}
	for _, c := range []struct {
		tenant, id string
		revoked    bool
	}{{a.ID, "at1", true}, {a.ID, "rt1", true}, {a.ID, "rt2", false}, {b.ID, "rt3", false}} {
		got, err := s.OIDCToken(ctx, c.tenant, c.id)
		if err != nil || got.RevokedAt.IsZero() == c.revoked {
			t.Fatalf("token %s: %+v, %v; want revoked %v", c.id, got, err, c.revoked)
		}
	}
	if _, err := s.UseOIDCRefreshToken(ctx, a.ID, "rt1", oidcNow); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refresh with a revoked token: %v, want ErrNotFound", err)
	}
}

func metadataConfig(t *testing.T, s store.Store, slug, url string) store.Tenant {
	t.Helper()
	tn := mustTenant(t, s, slug)
	c := samlConfig(tn, "key")
	c.IdPMetadataURL = url
	if _, err := s.PutSAMLConfig(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	return tn
}

// testMetadataRefreshClaims: a due row is claimed once per lease; a finished claim moves
// the due time; a lost claim records nothing; a tenant without a URL is never claimed.
func testMetadataRefreshClaims(t *testing.T, s store.Store) {
	a := metadataConfig(t, s, "acme", "https://idp.example.com/metadata")
	b := metadataConfig(t, s, "beta", "")
	if _, err := s.SAMLMetadataRefresh(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("state before scheduling: %v", err)
	}
	for _, tn := range []store.Tenant{a, b} {
		if err := s.ScheduleSAMLMetadataRefresh(ctx, tn.ID, samlNow, samlNow.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.SAMLMetadataRefresh(ctx, a.ID)
	if err != nil || st.URL != "https://idp.example.com/metadata" || !st.LastSuccessAt.Equal(samlNow) || !st.DueAt.Equal(samlNow.Add(time.Hour)) || st.LastError != "" {
		t.Fatalf("SAMLMetadataRefresh = %+v, %v", st, err)
	}
	const lease = time.Minute
	if got, err := s.ClaimSAMLMetadataRefreshes(ctx, samlNow.Add(time.Minute), lease, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim before due = %+v, %v", got, err)
	}
	at := samlNow.Add(time.Hour)
	got, err := s.ClaimSAMLMetadataRefreshes(ctx, at, lease, 10)
	if err != nil || len(got) != 1 || got[0].TenantID != a.ID || got[0].URL != "https://idp.example.com/metadata" || got[0].LeaseToken == "" {
		t.Fatalf("claim when due = %+v, %v; want tenant acme only", got, err)
	}
	first := got[0]
	if again, err := s.ClaimSAMLMetadataRefreshes(ctx, at.Add(lease/2), lease, 10); err != nil || len(again) != 0 {
		t.Fatalf("claim within the lease = %+v, %v", again, err)
	}
	// The lease expires: another claimer takes over, and the first one's outcome is void.
	second, err := s.ClaimSAMLMetadataRefreshes(ctx, at.Add(lease), lease, 10)
	if err != nil || len(second) != 1 || second[0].LeaseToken == first.LeaseToken {
		t.Fatalf("claim after the lease = %+v, %v", second, err)
	}
	if err := s.FinishSAMLMetadataRefresh(ctx, a.ID, first.LeaseToken, at, at.Add(time.Hour), ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finish under a lost claim: %v, want ErrNotFound", err)
	}
	if err := s.FinishSAMLMetadataRefresh(ctx, a.ID, second[0].LeaseToken, at.Add(lease), at.Add(2*time.Hour), "invalid XML"); err != nil {
		t.Fatal(err)
	}
	st, err = s.SAMLMetadataRefresh(ctx, a.ID)
	if err != nil || st.LastError != "invalid XML" || !st.LastErrorAt.Equal(at.Add(lease)) || !st.LastSuccessAt.Equal(samlNow) ||
		st.Failures != 1 || st.LeaseToken != "" || !st.DueAt.Equal(at.Add(2*time.Hour)) {
		t.Fatalf("after a failure = %+v, %v", st, err)
	}
	third, err := s.ClaimSAMLMetadataRefreshes(ctx, at.Add(2*time.Hour), lease, 10)
	if err != nil || len(third) != 1 {
		t.Fatalf("claim when due again = %+v, %v", third, err)
	}
	if err := s.FinishSAMLMetadataRefresh(ctx, a.ID, third[0].LeaseToken, at.Add(2*time.Hour), at.Add(14*time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	st, _ = s.SAMLMetadataRefresh(ctx, a.ID)
	if st.LastError != "" || st.Failures != 0 || !st.LastSuccessAt.Equal(at.Add(2*time.Hour)) {
		t.Fatalf("after a success = %+v", st)
	}
}

// testMetadataRefreshClaimConcurrent: of many replicas claiming at once, one gets the row.
func testMetadataRefreshClaimConcurrent(t *testing.T, s store.Store) {
	a := metadataConfig(t, s, "acme", "https://idp.example.com/metadata")
	if err := s.ScheduleSAMLMetadataRefresh(ctx, a.ID, samlNow, samlNow); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	claimed := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.ClaimSAMLMetadataRefreshes(ctx, samlNow, time.Minute, 5)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			claimed += len(got)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if claimed != 1 {
		t.Fatalf("%d claims of one due row; want exactly 1", claimed)
	}
}
