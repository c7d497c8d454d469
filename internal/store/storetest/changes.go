package storetest

import (
	"testing"
	"time"

	"github.com/scimd/scimd/internal/store"
)

// testTenantChanges: a subscriber hears of every committed revocation and tenant settings
// change, with the tenant's id (the token cache forgets that tenant's tokens).
func testTenantChanges(t *testing.T, s store.Store) {
	tn := mustTenant(t, s, "acme")
	heard := make(chan string, 100)
	unsubscribe := s.SubscribeTenantChanges(func(ch store.TenantChange) {
		select {
		case heard <- ch.TenantID:
		default:
		}
	})
	defer unsubscribe()
	expect := func(what string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case id := <-heard:
				if id == tn.ID {
					return
				}
			case <-deadline:
				t.Fatalf("%s: the subscriber did not hear of tenant %s within 5s", what, tn.ID)
			}
		}
	}
	if err := s.CreateToken(ctx, store.Token{ID: "tok1", TenantID: tn.ID, Label: "okta", CreatedAt: tick()}, []byte("hash-1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tn.ID, "tok1", tick(), nil); err != nil {
		t.Fatal(err)
	}
	expect("RevokeToken")
	tn.Name = "Acme Inc"
	if err := s.UpdateTenant(ctx, tn, nil); err != nil {
		t.Fatal(err)
	}
	expect("UpdateTenant")
	if err := s.SetUserTypeRules(ctx, tn.ID, store.UserTypeRules{Source: store.UserTypeFromIdP}, nil); err != nil {
		t.Fatal(err)
	}
	expect("SetUserTypeRules")
}
