package directory_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/sqlfilter"
	"github.com/scimd/scimd/internal/store/sqlite"
	"github.com/scimd/scimd/internal/store/sqlstore"
	"github.com/scimd/scimd/internal/store/teststores"
)

// errAudit is the failure injected into the audit event's insert.
var errAudit = errors.New("injected: the audit insert failed")

// failingAudit is a backend's database whose transactions fail at the audit event's insert
// while failing is set: the change before it in the same transaction must roll back too.
type failingAudit struct {
	sqlstore.DB
	failing *bool
}

func (f failingAudit) Tx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	return f.DB.Tx(ctx, func(c sqlstore.Conn) error { return fn(failingConn{Conn: c, failing: f.failing}) })
}

type failingConn struct {
	sqlstore.Conn
	failing *bool
}

func (c failingConn) Exec(ctx context.Context, query string, args ...any) error {
	if *c.failing && strings.Contains(query, "INSERT INTO audit_events") {
		return errAudit
	}
	return c.Conn.Exec(ctx, query, args...)
}

// QueryRow fails the audit insert too when it is written with RETURNING (its id is the
// key of the change's SCIM event deliveries).
func (c failingConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	if *c.failing && strings.Contains(query, "INSERT INTO audit_events") {
		return errRow{}
	}
	return c.Conn.QueryRow(ctx, query, args...)
}

type errRow struct{}

func (errRow) Scan(...any) error { return errAudit }

// withFailingAudit returns the SQL store of s on a database that fails audit inserts while
// *failing.
func withFailingAudit(t *testing.T, s store.Store, failing *bool) store.Store {
	t.Helper()
	switch b := s.(type) {
	case *sqlite.Store:
		return sqlstore.New(failingAudit{DB: b.Store.DB(), failing: failing}, sqlfilter.SQLite)
	case *postgres.Store:
		return sqlstore.New(failingAudit{DB: b.Store.DB(), failing: failing}, sqlfilter.Postgres)
	}
	t.Fatalf("unknown backend %T", s)
	return nil
}

// TestAdminChangeRolledBackWithItsEvent: when the audit event of a token create, a token
// revoke, a SAML configure or a user-type change cannot be written, the change is not made
// either; when it can, both are there.
func TestAdminChangeRolledBackWithItsEvent(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		ctx := directory.WithActor(context.Background(), directory.Actor{Name: "cli"})
		failing := false
		d := directory.New(withFailingAudit(t, s, &failing), slog.New(slog.DiscardHandler), nil)
		tn, err := d.CreateTenant(ctx, "acme", "")
		if err != nil {
			t.Fatal(err)
		}
		_, live, err := d.IssueToken(ctx, tn, "okta")
		if err != nil {
			t.Fatal(err)
		}
		samlCfg := store.SAMLConfig{IdPEntityID: "https://idp.example.com", IdPSSOURL: "https://idp.example.com/sso",
			IdPCertPEM: "cert", SPKeyPEM: []byte("key"), SPCertPEM: "sp-cert", CreatedAt: time.Now(), UpdatedAt: time.Now()}

		failing = true
		if _, _, err := d.IssueToken(ctx, tn, "entra"); !errors.Is(err, errAudit) {
			t.Fatalf("IssueToken = %v, want the audit failure", err)
		}
		if err := d.RevokeToken(ctx, tn, live.ID); !errors.Is(err, errAudit) {
			t.Fatalf("RevokeToken = %v, want the audit failure", err)
		}
		if _, err := d.ConfigureSAML(ctx, tn, samlCfg); !errors.Is(err, errAudit) {
			t.Fatalf("ConfigureSAML = %v, want the audit failure", err)
		}
		if _, err := d.SetUserTypes(ctx, tn, []string{"member", "admin"}, "admin"); !errors.Is(err, errAudit) {
			t.Fatalf("SetUserTypes = %v, want the audit failure", err)
		}
		failing = false

		toks, err := s.Tokens(ctx, tn.ID)
		if err != nil || len(toks) != 1 || toks[0].ID != live.ID || toks[0].Revoked() {
			t.Fatalf("tokens after the failed create and revoke = %+v, %v; want the one live token", toks, err)
		}
		if _, err := s.SAMLConfig(ctx, tn.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SAML config after the failed configure: %v, want ErrNotFound", err)
		}
		if got, err := s.Tenant(ctx, tn.ID); err != nil || got.DefaultUserType != tn.DefaultUserType {
			t.Fatalf("default user type after the failed change = %q, %v; want %q", got.DefaultUserType, err, tn.DefaultUserType)
		}
		evs, err := s.Events(ctx, tn.ID, store.EventQuery{})
		if err != nil || len(evs) != 1 || evs[0].Name != directory.EventTokenCreate || evs[0].ResourceID != live.ID {
			t.Fatalf("events = %+v, %v; want only the first token's create", evs, err)
		}

		// The same changes succeed, each with its event, once the audit insert works.
		if err := d.RevokeToken(ctx, tn, live.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ConfigureSAML(ctx, tn, samlCfg); err != nil {
			t.Fatal(err)
		}
		if _, err := d.SetUserTypes(ctx, tn, []string{"member", "admin"}, "admin"); err != nil {
			t.Fatal(err)
		}
		if evs, err = s.Events(ctx, tn.ID, store.EventQuery{}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range evs {
			names = append(names, e.Name+" by "+e.Actor)
		}
		want := "user_types_update by cli,saml_configure by cli,scim_token_revoke by cli,scim_token_create by cli"
		if strings.Join(names, ",") != want {
			t.Fatalf("events = %v, want %s", names, want)
		}
	})
}

// TestTokenLabelRules: the label rules are the directory's, so the CLI and the console
// refuse the same labels.
func TestTokenLabelRules(t *testing.T) {
	for _, tc := range []struct {
		name, label, want, wantErr string
	}{
		{"trimmed", "  okta  ", "okta", ""},
		{"empty", "   ", "", "give the token a label"},
		{"at the bound", strings.Repeat("a", directory.MaxTokenLabel), strings.Repeat("a", directory.MaxTokenLabel), ""},
		{"too long", strings.Repeat("a", directory.MaxTokenLabel+1), "", "at most 100 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := directory.CheckTokenLabel(tc.label)
			var ie *directory.InputError
			switch {
			case tc.wantErr == "" && (err != nil || got != tc.want):
				t.Fatalf("CheckTokenLabel(%q) = %q, %v; want %q", tc.label, got, err, tc.want)
			case tc.wantErr != "" && (!errors.As(err, &ie) || ie.Field != "label" || !strings.Contains(ie.Msg, tc.wantErr)):
				t.Fatalf("CheckTokenLabel(%q) error = %v, want an *InputError on label saying %q", tc.label, err, tc.wantErr)
			}
		})
	}
}
