package directory_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// TestSwapSAMLSPKeysAudited: a step of the SP certificate's rotation is written with its
// audit event, by the actor of ctx, or not at all.
func TestSwapSAMLSPKeysAudited(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		ctx := directory.WithActor(context.Background(), directory.Actor{Name: "cli"})
		failing := false
		d := directory.New(withFailingAudit(t, s, &failing), slog.New(slog.DiscardHandler), nil)
		tn, err := d.CreateTenant(ctx, "acme", "")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := d.ConfigureSAML(ctx, tn, store.SAMLConfig{IdPEntityID: "https://idp.example.com", IdPSSOURL: "https://idp.example.com/sso",
			IdPCertPEM: "cert", SPKeyPEM: []byte("key"), SPCertPEM: "sp-cert", CreatedAt: time.Now(), UpdatedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		next := cfg
		next.SPNextKeyPEM, next.SPNextCertPEM = []byte("key-2"), "sp-cert-2"
		failing = true
		if _, err := d.SwapSAMLSPKeys(ctx, tn, next, "sp-cert", "", directory.EventSAMLSPCertRotate, "rotated"); !errors.Is(err, errAudit) {
			t.Fatalf("SwapSAMLSPKeys = %v, want the audit failure", err)
		}
		failing = false
		if got, err := s.SAMLConfig(ctx, tn.ID); err != nil || got.SPNextCertPEM != "" {
			t.Fatalf("after the failed swap: %q, %v; want no next certificate", got.SPNextCertPEM, err)
		}
		if _, err := d.SwapSAMLSPKeys(ctx, tn, next, "sp-cert", "", directory.EventSAMLSPCertRotate, "rotated"); err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(ctx, tn.ID, store.EventQuery{Name: directory.EventSAMLSPCertRotate})
		if err != nil || len(evs) != 1 || evs[0].Actor != "cli" || evs[0].Detail != "rotated" || evs[0].ResourceType != "SAML" {
			t.Fatalf("rotate events = %+v, %v", evs, err)
		}
	})
}
