package directory_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

func TestFindLoginUser(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		d := directory.New(s, slog.New(slog.DiscardHandler), nil)
		acme, err := d.CreateTenant(ctx, "acme", "Acme")
		if err != nil {
			t.Fatal(err)
		}
		beta, err := d.CreateTenant(ctx, "beta", "Beta")
		if err != nil {
			t.Fatal(err)
		}
		user := func(tn store.Tenant, userName string, emails ...any) string {
			t.Helper()
			body := map[string]any{"schemas": []any{scim.UserSchema}, "userName": userName}
			if len(emails) > 0 {
				body["emails"] = emails
			}
			u, err := d.CreateUser(ctx, tn, body)
			if err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		email := func(v string, primary bool) map[string]any { return map[string]any{"value": v, "primary": primary} }
		ann := user(acme, "Ann@Example.com")
		bob := user(acme, "bob", email("Bob.Smith@Example.com", true))
		user(acme, "carol", email("carol@example.com", false))
		user(acme, "dee1", email("dee@example.com", true))
		user(acme, "dee2", email("dee@example.com", true))
		user(acme, "erin", email("erin@example.com", true))
		erin := user(acme, "erin@example.com")
		user(beta, "zed@example.com")

		tests := []struct {
			name, login, want string
			err               error
		}{
			{"userName, any case", "ann@EXAMPLE.com", ann, nil},
			{"primary email, any case", "bob.smith@example.COM", bob, nil},
			{"a non-primary email names nobody", "carol@example.com", "", nil},
			{"two users with the same primary email", "dee@example.com", "", directory.ErrAmbiguousLogin},
			{"userName wins over another's primary email", "erin@example.com", erin, nil},
			{"another tenant's user", "zed@example.com", "", nil},
			{"filter text is a value", `x" or userName pr or userName eq "`, "", nil},
			{"empty", "  ", "", nil},
		}
		for _, tc := range tests {
			u, err := d.FindLoginUser(ctx, acme, tc.login)
			got := ""
			if u != nil {
				got = u.ID
			}
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("%s: FindLoginUser(%q) = %q, %v; want %q, %v", tc.name, tc.login, got, err, tc.want, tc.err)
			}
		}
	})
}
