package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/store"
)

// testSwapSAMLSPKeys: a rotation publishes a next SP key pair, an activation makes it
// current; each is written only from the key pairs it read (a second rotation from the same
// state is ErrConflict), with its event; a settings update keeps the next key pair and
// stores the require-encrypted option.
func testSwapSAMLSPKeys(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "beta")
	cfg := samlConfig(tn, "key-1")
	if _, err := s.SwapSAMLSPKeys(ctx, cfg, "cert-of-key-1", "", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SwapSAMLSPKeys without settings = %v, want ErrNotFound", err)
	}
	if _, err := s.PutSAMLConfig(ctx, cfg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSAMLConfig(ctx, samlConfig(other, "key-b"), nil); err != nil {
		t.Fatal(err)
	}
	ev := func(name string) *store.Event {
		return &store.Event{TenantID: tn.ID, At: tick(), Name: name, Outcome: "success", Actor: "cli"}
	}
	later := samlNow.Add(time.Hour)
	rotate := cfg
	rotate.SPNextKeyPEM, rotate.SPNextCertPEM, rotate.UpdatedAt = []byte("key-2"), "cert-of-key-2", later
	got, err := s.SwapSAMLSPKeys(ctx, rotate, "cert-of-key-1", "", ev("saml_sp_cert_rotate"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.SPKeyPEM) != "key-1" || string(got.SPNextKeyPEM) != "key-2" || got.SPNextCertPEM != "cert-of-key-2" || !got.UpdatedAt.Equal(later) {
		t.Fatalf("after rotation: %+v", got)
	}
	// A second rotation read before the first was written loses.
	again := rotate
	again.SPNextKeyPEM, again.SPNextCertPEM = []byte("key-3"), "cert-of-key-3"
	if _, err := s.SwapSAMLSPKeys(ctx, again, "cert-of-key-1", "", ev("lost")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a rotation from stale key pairs = %v, want ErrConflict", err)
	}
	// A settings update keeps the next key pair and writes the option.
	update := samlConfig(tn, "key-x")
	update.RequireEncryptedAssertions, update.UpdatedAt = true, later
	if got, err = s.PutSAMLConfig(ctx, update, nil); err != nil {
		t.Fatal(err)
	}
	if string(got.SPKeyPEM) != "key-1" || got.SPNextCertPEM != "cert-of-key-2" || !got.RequireEncryptedAssertions {
		t.Fatalf("after a settings update: %+v", got)
	}
	activate := got
	activate.SPKeyPEM, activate.SPCertPEM, activate.SPNextKeyPEM, activate.SPNextCertPEM = got.SPNextKeyPEM, got.SPNextCertPEM, nil, ""
	if got, err = s.SwapSAMLSPKeys(ctx, activate, "cert-of-key-1", "cert-of-key-2", ev("saml_sp_cert_activate")); err != nil {
		t.Fatal(err)
	}
	read, err := s.SAMLConfig(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []store.SAMLConfig{got, read} {
		if string(c.SPKeyPEM) != "key-2" || c.SPCertPEM != "cert-of-key-2" || len(c.SPNextKeyPEM) != 0 || c.SPNextCertPEM != "" || !c.RequireEncryptedAssertions {
			t.Fatalf("after activation: %+v", c)
		}
	}
	if b, _ := s.SAMLConfig(ctx, other.ID); string(b.SPKeyPEM) != "key-b" || b.SPNextCertPEM != "" {
		t.Fatalf("the other tenant's key pairs changed: %+v", b)
	}
	evs, err := s.Events(ctx, tn.ID, store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range evs {
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[saml_sp_cert_activate saml_sp_cert_rotate]" {
		t.Fatalf("events = %v", names)
	}
}
