package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// Migration is one applied migration.
type Migration struct {
	Version int
	Name    string
}

// Migrations lists the migrations in dir of files, in order.
func Migrations(files fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(files, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", name)
		}
		out = append(out, Migration{Version: v, Name: base})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies the migrations of dir in files that the database has not applied yet,
// each in its own transaction, and returns those it applied. Replicas starting at once are
// serialized (Postgres: an advisory lock; SQLite: the write lock).
func (s *Store) Migrate(ctx context.Context, files fs.FS, dir string) ([]Migration, error) {
	all, err := Migrations(files, dir)
	if err != nil {
		return nil, err
	}
	if err := s.db.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range all {
		body, err := fs.ReadFile(files, dir+"/"+m.Name)
		if err != nil {
			return nil, err
		}
		done := false
		err = s.db.Tx(ctx, func(c Conn) error {
			if s.d == sqlfilter.Postgres {
				if err := c.Exec(ctx, `SELECT pg_advisory_xact_lock(7342001)`); err != nil {
					return err
				}
			}
			var n int
			if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return err
			}
			if done = n > 0; done {
				return nil
			}
			if err := c.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			return c.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UTC().Format(time.RFC3339))
		})
		if err != nil {
			return applied, err
		}
		if !done {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// Version returns the highest applied migration version (0 for none).
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.prio().QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
