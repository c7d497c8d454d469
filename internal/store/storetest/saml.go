package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

var samlNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func samlConfig(tn store.Tenant, key string) store.SAMLConfig {
	return store.SAMLConfig{TenantID: tn.ID, IdPEntityID: "https://idp.example.com/" + tn.Slug, IdPSSOURL: "https://idp.example.com/sso",
		IdPCertPEM: "-----BEGIN CERTIFICATE-----\nidp\n-----END CERTIFICATE-----\n", JIT: true, DefaultRedirect: "/t/" + tn.Slug + "/",
		SPKeyPEM: []byte(key), SPCertPEM: "cert-of-" + key, CreatedAt: samlNow, UpdatedAt: samlNow}
}

func testSAMLConfig(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	if _, err := s.SAMLConfig(ctx, tn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SAMLConfig before configure: %v, want ErrNotFound", err)
	}
	first, err := s.PutSAMLConfig(ctx, samlConfig(tn, "key-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(first.SPKeyPEM) != "key-1" || !first.JIT || first.AllowIdPInitiated || first.JITTrustUserType || !first.CreatedAt.Equal(samlNow) {
		t.Fatalf("first PutSAMLConfig = %+v", first)
	}
	next := samlConfig(tn, "key-2")
	next.IdPSSOURL, next.JIT, next.AllowIdPInitiated = "https://idp.example.com/other", false, true
	next.JITTrustUserType = true
	next.CreatedAt, next.UpdatedAt = samlNow.Add(time.Hour), samlNow.Add(time.Hour)
	got, err := s.PutSAMLConfig(ctx, next, nil)
	if err != nil {
		t.Fatal(err)
	}
	read, err := s.SAMLConfig(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []store.SAMLConfig{got, read} {
		if string(c.SPKeyPEM) != "key-1" || c.SPCertPEM != "cert-of-key-1" {
			t.Fatalf("the SP key pair changed on update: %q %q", c.SPKeyPEM, c.SPCertPEM)
		}
		if c.IdPSSOURL != "https://idp.example.com/other" || c.JIT || !c.AllowIdPInitiated || !c.JITTrustUserType {
			t.Fatalf("IdP settings not updated: %+v", c)
		}
		if !c.CreatedAt.Equal(samlNow) || !c.UpdatedAt.Equal(samlNow.Add(time.Hour)) {
			t.Fatalf("created %v updated %v", c.CreatedAt, c.UpdatedAt)
		}
	}
}

func testSAMLConfigIsolation(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	if _, err := s.PutSAMLConfig(ctx, samlConfig(a, "key-a"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SAMLConfig(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other tenant's config: %v, want ErrNotFound", err)
	}
	if _, err := s.PutSAMLConfig(ctx, samlConfig(b, "key-b"), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SAMLConfig(ctx, b.ID); string(got.SPKeyPEM) != "key-b" || got.IdPEntityID != "https://idp.example.com/beta" {
		t.Fatalf("beta's config = %+v", got)
	}
}

func testSAMLRequests(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	browser, other := []byte("browser-1-hash-32-bytes........."), []byte("browser-2-hash-32-bytes.........")
	reqs := []store.SAMLRequest{
		{TenantID: a.ID, ID: "id-1", BindingHash: browser, ReturnTo: "/t/acme/x", CreatedAt: samlNow, ExpiresAt: samlNow.Add(10 * time.Minute)},
		{TenantID: a.ID, ID: "id-2", BindingHash: browser, ReturnTo: "/t/acme/", CreatedAt: samlNow.Add(time.Second), ExpiresAt: samlNow.Add(10 * time.Minute)},
		{TenantID: a.ID, ID: "id-old", BindingHash: browser, ReturnTo: "/t/acme/", CreatedAt: samlNow.Add(-time.Hour), ExpiresAt: samlNow.Add(-time.Minute)},
		{TenantID: a.ID, ID: "id-3", BindingHash: other, ReturnTo: "/t/acme/", CreatedAt: samlNow, ExpiresAt: samlNow.Add(10 * time.Minute)},
		{TenantID: b.ID, ID: "id-4", BindingHash: browser, ReturnTo: "/t/beta/", CreatedAt: samlNow, ExpiresAt: samlNow.Add(10 * time.Minute)},
	}
	for _, r := range reqs {
		if err := s.CreateSAMLRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SAMLRequests(ctx, a.ID, browser, samlNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "id-2" || got[1].ID != "id-1" || got[1].ReturnTo != "/t/acme/x" ||
		!bytes.Equal(got[1].BindingHash, browser) || !got[1].ExpiresAt.Equal(samlNow.Add(10*time.Minute)) {
		t.Fatalf("SAMLRequests = %+v; want id-2, id-1 (newest first; not expired, this browser, this tenant)", got)
	}
	if _, err := s.TakeSAMLRequest(ctx, b.ID, "id-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("taking another tenant's request: %v, want ErrNotFound", err)
	}
}

func testSAMLRequestTakenOnce(t *testing.T, s store.Store) {
	a := mustTenant(t, s, "acme")
	r := store.SAMLRequest{TenantID: a.ID, ID: "id-1", BindingHash: []byte("h"), ReturnTo: "/t/acme/", CreatedAt: samlNow, ExpiresAt: samlNow.Add(time.Minute)}
	if err := s.CreateSAMLRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeSAMLRequest(ctx, a.ID, "id-1")
	if err != nil || got.ReturnTo != "/t/acme/" {
		t.Fatalf("TakeSAMLRequest = %+v, %v", got, err)
	}
	if _, err := s.TakeSAMLRequest(ctx, a.ID, "id-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second take: %v, want ErrNotFound", err)
	}
	if left, _ := s.SAMLRequests(ctx, a.ID, []byte("h"), samlNow); len(left) != 0 {
		t.Fatalf("requests left after take: %+v", left)
	}
}

func testAssertionReplay(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	exp, later := samlNow.Add(5*time.Minute), samlNow.Add(time.Hour)
	tests := []struct {
		name    string
		tenant  store.Tenant
		id      string
		expires time.Time
		now     time.Time
		want    error
	}{
		{"first use", a, "_a1", exp, samlNow, nil},
		{"replay", a, "_a1", exp, samlNow.Add(time.Minute), store.ErrConflict},
		{"other assertion", a, "_a2", exp, samlNow, nil},
		{"same id, other tenant", b, "_a1", exp, samlNow, nil},
		{"after the record expired", a, "_a1", later, exp.Add(time.Second), nil},
		{"replay of the renewed record", a, "_a1", later, exp.Add(2 * time.Second), store.ErrConflict},
	}
	for _, tc := range tests {
		err := s.ConsumeAssertion(ctx, tc.tenant.ID, tc.id, tc.expires, tc.now)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Fatalf("%s: ConsumeAssertion = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func testAssertionReplayConcurrent(t *testing.T, s store.Store) {
	a := mustTenant(t, s, "acme")
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.ConsumeAssertion(ctx, a.ID, "_race", samlNow.Add(time.Hour), samlNow)
		}()
	}
	wg.Wait()
	close(errs)
	ok, replays := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			replays++
		default:
			t.Fatalf("ConsumeAssertion: %v", err)
		}
	}
	if ok != 1 || replays != n-1 {
		t.Fatalf("%d accepted, %d refused as replays; want exactly one accepted", ok, replays)
	}
}

func testSessions(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	user := store.NewID()
	hash := []byte("session-hash-32-bytes-long......")
	ss := store.Session{TenantID: a.ID, Hash: hash, Kind: store.SessionSSO, UserID: user, CreatedAt: samlNow, ExpiresAt: samlNow.Add(time.Hour)}
	if err := s.CreateSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByHash(ctx, a.ID, store.SessionSSO, hash, samlNow)
	if err != nil || got.UserID != user || got.Kind != store.SessionSSO || !got.ExpiresAt.Equal(samlNow.Add(time.Hour)) {
		t.Fatalf("SessionByHash = %+v, %v", got, err)
	}
	// A console session belongs to no user.
	consoleHash := []byte("console-hash-32-bytes-long......")
	if err := s.CreateSession(ctx, store.Session{TenantID: a.ID, Hash: consoleHash, Kind: store.SessionConsole, CreatedAt: samlNow, ExpiresAt: samlNow.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByHash(ctx, a.ID, store.SessionConsole, consoleHash, samlNow); err != nil || got.UserID != "" || got.Kind != store.SessionConsole {
		t.Fatalf("console SessionByHash = %+v, %v", got, err)
	}
	cases := []struct {
		name   string
		tenant string
		kind   string
		hash   []byte
		now    time.Time
	}{
		{"other tenant", b.ID, store.SessionSSO, hash, samlNow},
		{"unknown hash", a.ID, store.SessionSSO, []byte("nope"), samlNow},
		{"expired", a.ID, store.SessionSSO, hash, samlNow.Add(time.Hour)},
		{"an sso session asked for as console", a.ID, store.SessionConsole, hash, samlNow},
		{"a console session asked for as sso", a.ID, store.SessionSSO, consoleHash, samlNow},
	}
	for _, tc := range cases {
		if _, err := s.SessionByHash(ctx, tc.tenant, tc.kind, tc.hash, tc.now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
		}
	}
	if err := s.DeleteSession(ctx, a.ID, hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, a.ID, store.SessionSSO, hash, samlNow); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteSession(ctx, a.ID, hash); err != nil {
		t.Fatalf("deleting a deleted session: %v", err)
	}
}

func testSAMLPrune(t *testing.T, s store.Store) {
	a := mustTenant(t, s, "acme")
	past, future := samlNow.Add(-time.Minute), samlNow.Add(time.Minute)
	for i, exp := range []time.Time{past, future} {
		id := []string{"old", "new"}[i]
		if err := s.CreateSAMLRequest(ctx, store.SAMLRequest{TenantID: a.ID, ID: id, BindingHash: []byte("h"), CreatedAt: samlNow.Add(-time.Hour), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		if err := s.ConsumeAssertion(ctx, a.ID, id, exp, samlNow.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, store.Session{TenantID: a.ID, Hash: []byte(id), Kind: store.SessionSSO, UserID: store.NewID(), CreatedAt: samlNow.Add(-time.Hour), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneSAML(ctx, samlNow)
	if err != nil || n != 3 {
		t.Fatalf("PruneSAML = %d, %v; want 3", n, err)
	}
	if left, _ := s.SAMLRequests(ctx, a.ID, []byte("h"), samlNow.Add(-time.Hour)); len(left) != 1 || left[0].ID != "new" {
		t.Fatalf("requests left: %+v", left)
	}
	if _, err := s.SessionByHash(ctx, a.ID, store.SessionSSO, []byte("new"), samlNow); err != nil {
		t.Fatalf("live session pruned: %v", err)
	}
	if err := s.ConsumeAssertion(ctx, a.ID, "new", future, samlNow); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("live assertion record pruned: %v", err)
	}
}

func testPendingSAMLRequests(t *testing.T, s store.Store) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	for i, exp := range []time.Duration{time.Minute, time.Minute, time.Minute, -time.Minute} {
		r := store.SAMLRequest{TenantID: a.ID, ID: "id-" + string(rune('a'+i)), BindingHash: []byte("h"), ReturnTo: "/t/acme/",
			CreatedAt: samlNow, ExpiresAt: samlNow.Add(exp)}
		if err := s.CreateSAMLRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		tenant string
		limit  int
		want   int
	}{{a.ID, 10, 3}, {a.ID, 2, 2}, {b.ID, 10, 0}} {
		got, err := s.PendingSAMLRequests(ctx, tc.tenant, samlNow, tc.limit)
		if err != nil || got != tc.want {
			t.Errorf("PendingSAMLRequests(limit %d) = %d, %v; want %d (unexpired, this tenant, at most the limit)", tc.limit, got, err, tc.want)
		}
	}
}

func testSAMLIdentities(t *testing.T, s store.Store) {
	acme, beta := mustTenant(t, s, "acme"), mustTenant(t, s, "beta")
	ann, bob := newUser("ann@example.com", nil), newUser("bob@example.com", nil)
	mustCreate(t, s, scim.Users, acme, ann)
	mustCreate(t, s, scim.Users, acme, bob)
	const idp = "https://idp.example.com/metadata"
	if _, err := s.SAMLIdentity(ctx, acme.ID, idp, "opaque-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown NameID: %v, want ErrNotFound", err)
	}
	if err := s.PutSAMLIdentity(ctx, acme.ID, idp, "opaque-1", ann.ID, samlNow); err != nil {
		t.Fatal(err)
	}
	if id, err := s.SAMLIdentity(ctx, acme.ID, idp, "opaque-1"); err != nil || id != ann.ID {
		t.Fatalf("SAMLIdentity = %q, %v; want ann", id, err)
	}
	// The NameID is exact: another case, another IdP or another tenant names nobody.
	for _, q := range []struct{ tenant, issuer, nameID string }{
		{acme.ID, idp, "OPAQUE-1"}, {acme.ID, "https://other.example.com", "opaque-1"}, {beta.ID, idp, "opaque-1"},
	} {
		if _, err := s.SAMLIdentity(ctx, q.tenant, q.issuer, q.nameID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SAMLIdentity%v: %v, want ErrNotFound", q, err)
		}
	}
	// Put again moves the NameID to another user; twice is harmless.
	for range 2 {
		if err := s.PutSAMLIdentity(ctx, acme.ID, idp, "opaque-1", bob.ID, samlNow.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if id, _ := s.SAMLIdentity(ctx, acme.ID, idp, "opaque-1"); id != bob.ID {
		t.Fatalf("after the move SAMLIdentity = %q, want bob", id)
	}
	// Users of other tenants and unknown or malformed ids cannot be named.
	for _, id := range []string{store.NewID(), "not-an-id"} {
		if err := s.PutSAMLIdentity(ctx, acme.ID, idp, "opaque-2", id, samlNow); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PutSAMLIdentity(%s): %v, want ErrNotFound", id, err)
		}
	}
	if err := s.PutSAMLIdentity(ctx, beta.ID, idp, "opaque-2", ann.ID, samlNow); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutSAMLIdentity of another tenant's user: %v, want ErrNotFound", err)
	}
	// A deleted user's identities go with them.
	if err := s.DeleteResource(ctx, scim.Users, acme.ID, bob.ID, func(*scim.Resource) (*store.Event, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SAMLIdentity(ctx, acme.ID, idp, "opaque-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("identity of a deleted user: %v, want ErrNotFound", err)
	}
}
