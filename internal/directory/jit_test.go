package directory_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

func TestJITNeverDuplicatesAnotherUsersEmail(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		ctx := directory.WithActor(context.Background(), directory.Actor{Name: "saml"})
		d := directory.New(s, slog.New(slog.DiscardHandler), nil)
		acme, err := d.CreateTenant(ctx, "acme", "Acme")
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []map[string]any{
			{"schemas": []any{scim.UserSchema}, "userName": "ann@example.com"},
			{"schemas": []any{scim.UserSchema}, "userName": "bob", "emails": []any{map[string]any{"value": "bob@example.com", "primary": true}}},
			{"schemas": []any{scim.UserSchema}, "userName": "cid", "emails": []any{map[string]any{"value": "cid@example.com", "primary": false}}},
		} {
			if _, err := d.CreateUser(ctx, acme, body); err != nil {
				t.Fatal(err)
			}
		}
		jit := func(userName, email string) map[string]any {
			return map[string]any{"userName": userName, "active": true,
				"emails": []any{map[string]any{"value": email, "type": "work", "primary": true}}}
		}
		tests := []struct {
			name, userName, email string
			refused               bool
		}{
			{"email is another's userName", "00u1opaque", "ANN@example.com", true},
			{"email is another's primary email", "00u2opaque", "bob@example.com", true},
			{"email is only another's secondary email", "00u3opaque", "cid@example.com", false},
			{"email of nobody", "00u4opaque", "dan@example.com", false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u, err := d.CreateJITUser(ctx, acme, jit(tc.userName, tc.email))
				se := scim.AsError(err)
				switch {
				case tc.refused && (se == nil || se.Status != 409 || se.ScimType != scim.Uniqueness):
					t.Fatalf("CreateJITUser = %v, %v; want 409 uniqueness", u, err)
				case !tc.refused && err != nil:
					t.Fatalf("CreateJITUser: %v", err)
				}
			})
		}
		evs, err := s.Events(ctx, acme.ID, store.EventQuery{Name: directory.EventUserJIT, Outcome: directory.OutcomeClientErr})
		if err != nil || len(evs) != 2 {
			t.Fatalf("refused JIT events = %d, %v; want 2", len(evs), err)
		}
	})
}
