package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
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
	return applied, s.fillFoldKeys(ctx)
}

// Version returns the highest applied migration version (0 for none).
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.prio().QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// fillFoldKeys writes the folded key (scim.FoldKey) of userName and group displayName on
// rows stored before the key columns existed (NULL). Two old names that fold the same (SQLite
// compared ASCII only) both keep working: the later one's key gets a suffix no folded name
// has (folded text holds no lower-case ASCII; the suffix does), so the unique index holds
// and a new name that folds the same as either is refused.
func (s *Store) fillFoldKeys(ctx context.Context) error {
	for _, t := range []struct{ table, name, key string }{
		{"users", "user_name", "user_name_key"},
		{"groups", "display_name", "display_name_key"},
	} {
		for {
			rows, err := s.db.Query(ctx, `SELECT tenant_id, id, `+t.name+` FROM `+t.table+` WHERE `+t.key+` IS NULL LIMIT 500`)
			if err != nil {
				return err
			}
			type row struct{ tenant, id, name string }
			var batch []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.tenant, &r.id, &r.name); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			set := `UPDATE ` + t.table + ` SET ` + t.key + ` = $3 WHERE tenant_id = $1 AND id = $2`
			for _, r := range batch {
				err := s.db.Exec(ctx, set, r.tenant, r.id, scim.FoldKey(r.name))
				if errors.Is(err, store.ErrConflict) {
					err = s.db.Exec(ctx, set, r.tenant, r.id, scim.FoldKey(r.name)+"\ndup:"+r.id)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}
