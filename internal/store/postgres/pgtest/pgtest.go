// Package pgtest gives tests a throwaway PostgreSQL database. It reads
// SCIMD_TEST_DATABASE_URL (a URL of a server where the user may create databases); without
// it a test is skipped with a loud message, except under CI=true, where it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable naming the test server.
const EnvURL = "SCIMD_TEST_DATABASE_URL"

// BaseURL returns SCIMD_TEST_DATABASE_URL, or skips (fails under CI=true) when it is unset.
func BaseURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI must run the PostgreSQL tests", EnvURL)
		}
		tb.Skipf("SKIPPING PostgreSQL test: set %s (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run it", EnvURL)
	}
	return u
}

// NewDatabase creates an empty database (from template, if given) and returns its URL; it is
// dropped when the test ends.
func NewDatabase(tb testing.TB, template string) string {
	tb.Helper()
	base := BaseURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: cannot reach %s: %v", EnvURL, err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "scimd_test_" + hex.EncodeToString(b[:])
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		stmt += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := admin.Exec(ctx, stmt); err != nil {
		tb.Fatalf("pgtest: %s: %v", stmt, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return WithDatabase(tb, base, name)
}

// WithDatabase returns base with its database name replaced by name.
func WithDatabase(tb testing.TB, base, name string) string {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("pgtest: bad %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// DatabaseName returns the database name of a URL made by NewDatabase.
func DatabaseName(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	return u.Path[1:]
}
