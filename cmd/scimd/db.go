package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/sqlite"
	"github.com/scimd/scimd/internal/store/sqlstore"
)

// database is an opened store with its migration runner.
type database interface {
	store.Store
	Migrate(ctx context.Context) ([]sqlstore.Migration, error)
	// MigrationDir names the dialect's folder of embedded migrations.
	MigrationDir() string
}

// openDatabase opens the store a DSN names: postgres://… (or postgresql://…) or sqlite:PATH.
func openDatabase(ctx context.Context, dsn string) (database, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn)
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		return sqlite.Open(ctx, path)
	}
	return nil, usageErr("database %q: use postgres://user@host:5432/db or sqlite:PATH", redact(dsn))
}

// redact hides a password in a DSN shown in an error.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return dsn[:i+3] + rest[:colon] + ":***" + rest[at:]
			}
		}
	}
	return dsn
}

// openMigrated opens the database and applies pending migrations.
func openMigrated(ctx context.Context, dsn string) (database, []sqlstore.Migration, error) {
	db, err := openDatabase(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrating %s: %w", redact(dsn), err)
	}
	return db, applied, nil
}
