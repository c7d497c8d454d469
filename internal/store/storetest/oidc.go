package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/store"
)

var oidcNow = time.Date(2026, 7, 8, 9, 10, 11, 0, time.UTC)

func testOIDCClients(t *testing.T, s store.Store) {
	pub := store.OIDCClient{ID: "c-pub", Name: "SPA", RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:9/cb"}, Public: true, CreatedAt: oidcNow}
	conf := store.OIDCClient{ID: "c-conf", Name: "Backend", RedirectURIs: []string{"https://app.example/cb"}, SecretHash: []byte("h1"), CreatedAt: oidcNow}
	for _, c := range []store.OIDCClient{pub, conf} {
		if err := s.CreateOIDCClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateOIDCClient(ctx, pub); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate CreateOIDCClient: %v, want ErrConflict", err)
	}
	got, err := s.OIDCClient(ctx, "c-pub")
	if err != nil || !got.Public || !slices.Equal(got.RedirectURIs, pub.RedirectURIs) || got.SecretHash != nil || !got.CreatedAt.Equal(oidcNow) {
		t.Fatalf("OIDCClient = %+v, %v", got, err)
	}
	list, err := s.OIDCClients(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "Backend" || list[1].Name != "SPA" {
		t.Fatalf("OIDCClients = %+v, %v", list, err)
	}
	grace := oidcNow.Add(time.Hour)
	if err := s.RotateOIDCClientSecret(ctx, "c-conf", []byte("h2"), grace); err != nil {
		t.Fatal(err)
	}
	got, _ = s.OIDCClient(ctx, "c-conf")
	if string(got.SecretHash) != "h2" || string(got.PreviousSecretHash) != "h1" || !got.PreviousSecretExpiresAt.Equal(grace) {
		t.Fatalf("after rotation: %+v", got)
	}
	if err := s.RotateOIDCClientSecret(ctx, "nope", []byte("x"), grace); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RotateOIDCClientSecret(unknown): %v", err)
	}
	if err := s.DeleteOIDCClient(ctx, "c-pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OIDCClient(ctx, "c-pub"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted client: %v", err)
	}
	if err := s.DeleteOIDCClient(ctx, "c-pub"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func mustAuthRequest(t *testing.T, s store.Store, tenantID, id string) {
	t.Helper()
	if err := s.CreateOIDCAuthRequest(ctx, store.OIDCAuthRequest{TenantID: tenantID, ID: id, ClientID: "c", BindingHash: []byte("b"),
		Params: []byte(`{"state":"s"}`), CreatedAt: oidcNow, ExpiresAt: oidcNow.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
}

func testOIDCAuthRequests(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	mustAuthRequest(t, s, a.ID, "r1")
	if _, err := s.OIDCAuthRequest(ctx, b.ID, "r1", oidcNow); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's request: %v", err)
	}
	if _, err := s.OIDCAuthRequest(ctx, a.ID, "r1", oidcNow.Add(10*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired request: %v", err)
	}
	// No code before the user signed in.
	if err := s.SetOIDCCode(ctx, a.ID, "r1", []byte("code"), oidcNow.Add(time.Minute)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("SetOIDCCode before sign-in: %v, want ErrConflict", err)
	}
	if err := s.StartOIDCLogin(ctx, a.ID, "r1", oidcNow); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteOIDCAuthRequest(ctx, a.ID, "r1", "user-1", oidcNow.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteOIDCAuthRequest(ctx, b.ID, "r1", "user-1", oidcNow); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing another tenant's request: %v", err)
	}
	got, err := s.OIDCAuthRequest(ctx, a.ID, "r1", oidcNow)
	if err != nil || got.UserID != "user-1" || !got.AuthTime.Equal(oidcNow.Add(time.Second)) || !got.LoginStartedAt.Equal(oidcNow) ||
		string(got.Params) != `{"state":"s"}` || got.CodeHash != nil {
		t.Fatalf("OIDCAuthRequest = %+v, %v", got, err)
	}
	if err := s.SetOIDCCode(ctx, a.ID, "r1", []byte("code"), oidcNow.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOIDCCode(ctx, a.ID, "r1", []byte("code2"), oidcNow.Add(time.Minute)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second SetOIDCCode: %v, want ErrConflict", err)
	}
	if err := s.SetOIDCCode(ctx, a.ID, "nope", []byte("code"), oidcNow); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetOIDCCode(unknown): %v", err)
	}
	refused := []struct {
		name   string
		tenant string
		hash   string
		now    time.Time
		want   error
	}{
		{"wrong code", a.ID, "other", oidcNow, store.ErrNotFound},
		{"other tenant", b.ID, "code", oidcNow, store.ErrNotFound},
		{"expired", a.ID, "code", oidcNow.Add(time.Minute), store.ErrNotFound},
	}
	for _, tc := range refused {
		if _, err := s.TakeOIDCCode(ctx, tc.tenant, "r1", []byte(tc.hash), tc.now); !errors.Is(err, tc.want) {
			t.Errorf("TakeOIDCCode %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Concurrent exchanges of one code: one wins, the others see a replay.
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.TakeOIDCCode(ctx, a.ID, "r1", []byte("code"), oidcNow.Add(time.Second)) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("TakeOIDCCode: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d exchanges took the code, want 1", won)
	}
}

func testOIDCTokens(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	tok := func(id, kind, family string) store.OIDCToken {
		return store.OIDCToken{TenantID: a.ID, ID: id, Kind: kind, Family: family, ClientID: "c", UserID: "u", Scopes: []string{"openid", "offline_access"},
			AuthTime: oidcNow, Hash: []byte("h-" + id), CreatedAt: oidcNow, ExpiresAt: oidcNow.Add(time.Hour)}
	}
	for _, tk := range []store.OIDCToken{tok("at1", store.OIDCAccessToken, "f1"), tok("rt1", store.OIDCRefreshToken, "f1"), tok("rt2", store.OIDCRefreshToken, "f2")} {
		if err := s.CreateOIDCToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.OIDCToken(ctx, a.ID, "rt1")
	if err != nil || got.Kind != store.OIDCRefreshToken || got.Family != "f1" || !slices.Equal(got.Scopes, []string{"openid", "offline_access"}) ||
		string(got.Hash) != "h-rt1" || !got.UsedAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Fatalf("OIDCToken = %+v, %v", got, err)
	}
	if _, err := s.OIDCToken(ctx, b.ID, "rt1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's token: %v", err)
	}
	if _, err := s.UseOIDCRefreshToken(ctx, a.ID, "at1", oidcNow); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UseOIDCRefreshToken(access token): %v", err)
	}
	if _, err := s.UseOIDCRefreshToken(ctx, a.ID, "rt1", oidcNow.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UseOIDCRefreshToken(expired): %v", err)
	}
	if got, err := s.UseOIDCRefreshToken(ctx, a.ID, "rt1", oidcNow); err != nil || got.UsedAt.IsZero() {
		t.Fatalf("UseOIDCRefreshToken = %+v, %v", got, err)
	}
	if _, err := s.UseOIDCRefreshToken(ctx, a.ID, "rt1", oidcNow); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("reuse: %v, want ErrConflict", err)
	}
	if n, err := s.RevokeOIDCFamily(ctx, a.ID, "f1", oidcNow); err != nil || n != 2 {
		t.Fatalf("RevokeOIDCFamily = %d, %v; want 2", n, err)
	}
	if n, err := s.RevokeOIDCFamily(ctx, a.ID, "f1", oidcNow); err != nil || n != 0 {
		t.Fatalf("second RevokeOIDCFamily = %d, %v; want 0", n, err)
	}
	if n, err := s.RevokeOIDCFamily(ctx, b.ID, "f2", oidcNow); err != nil || n != 0 {
		t.Fatalf("RevokeOIDCFamily of another tenant = %d, %v; want 0", n, err)
	}
	if got, _ := s.OIDCToken(ctx, a.ID, "at1"); got.RevokedAt.IsZero() {
		t.Fatal("the access token of the revoked family is not revoked")
	}
	if got, _ := s.OIDCToken(ctx, a.ID, "rt2"); !got.RevokedAt.IsZero() {
		t.Fatal("another family was revoked")
	}
	mustAuthRequest(t, s, b.ID, "r1")
	if n, err := s.PruneOIDC(ctx, oidcNow.Add(time.Hour)); err != nil || n != 4 {
		t.Fatalf("PruneOIDC = %d, %v; want 4", n, err)
	}
	if _, err := s.OIDCToken(ctx, a.ID, "rt2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pruned token: %v", err)
	}
}
