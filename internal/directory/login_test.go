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

// TestSignIn: the sign-in rules are the directory's: a deactivated user cannot sign in,
// an unknown one is created just in time only when asked, with the tenant's userType in its
// case or, for a userType the tenant does not have, the tenant's default.
func TestSignIn(t *testing.T) {
	ctx := directory.WithActor(context.Background(), directory.Actor{Name: directory.ActorSAML})
	d := directory.New(teststores.SQLite(t), slog.New(slog.DiscardHandler), nil)
	tn, err := d.CreateTenant(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, tn, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "gone", "active": false}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, tn, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "here"}); err != nil {
		t.Fatal(err)
	}
	jit := func(userType any) map[string]any {
		a := map[string]any{"userName": "", "active": true}
		if userType != nil {
			a["userType"] = userType
		}
		return a
	}
	for _, tc := range []struct {
		name, login  string
		jit          map[string]any
		err          error
		wantUserType string // of the user signed in
	}{
		{"active user", "here", nil, nil, "member"},
		{"deactivated user refused", "gone", jit(nil), directory.ErrInactive, ""},
		{"unknown user without JIT", "new1", nil, directory.ErrNotProvisioned, ""},
		{"JIT with the tenant's userType in another case", "new2", jit("ADMIN"), nil, "admin"},
		{"JIT with an unknown userType gets the default", "new3", jit("Employee"), nil, "member"},
		{"JIT without a userType gets the default", "new4", jit(nil), nil, "member"},
		{"JIT with a userType that is no string gets the default", "new5", jit(42), nil, "member"},
		{"JIT refused by the user rules", "new6", map[string]any{"userName": " "}, directory.ErrJITRefused, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.jit != nil && tc.jit["userName"] == "" {
				tc.jit["userName"] = tc.login
			}
			u, err := d.SignIn(ctx, tn, tc.login, tc.jit)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (u != nil) {
				t.Fatalf("SignIn(%q) = %v, %v; want error %v", tc.login, u, err, tc.err)
			}
			if u != nil && (scim.String(u.Attrs, "userType") != tc.wantUserType || !directory.CanSignIn(u)) {
				t.Fatalf("signed in %v, want userType %q", u.Attrs, tc.wantUserType)
			}
		})
	}
}
