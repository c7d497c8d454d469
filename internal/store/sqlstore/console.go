package sqlstore

import (
	"context"
	"time"

	"github.com/scimd/scimd/internal/store"
)

var _ store.ConsoleStore = (*Store)(nil)

// CreateAdminLink implements store.ConsoleStore. Expired links are deleted per tenant as
// new ones are made, so no housekeeping spans tenants.
func (s *Store) CreateAdminLink(ctx context.Context, l store.AdminLink) error {
	return s.db.Tx(ctx, func(c Conn) error {
		if err := c.Exec(ctx, `DELETE FROM admin_links WHERE tenant_id = $1 AND expires_at <= $2`,
			l.TenantID, s.timeArg(l.CreatedAt)); err != nil {
			return err
		}
		return c.Exec(ctx, `INSERT INTO admin_links (tenant_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			l.TenantID, l.Hash, s.timeArg(l.CreatedAt), s.timeArg(l.ExpiresAt))
	})
}

// TakeAdminLink implements store.ConsoleStore: DELETE … RETURNING, so that of two
// requests using one link only one gets the row.
func (s *Store) TakeAdminLink(ctx context.Context, tenantID string, hash []byte, now time.Time) (store.AdminLink, error) {
	var l store.AdminLink
	err := s.db.QueryRow(ctx, `DELETE FROM admin_links WHERE tenant_id = $1 AND hash = $2 AND expires_at > $3
		RETURNING tenant_id, hash, created_at, expires_at`, tenantID, hash, s.timeArg(now)).
		Scan(&l.TenantID, &l.Hash, timeDest{&l.CreatedAt}, timeDest{&l.ExpiresAt})
	return l, err
}

// CreateAdminSession implements store.ConsoleStore.
func (s *Store) CreateAdminSession(ctx context.Context, as store.AdminSession) error {
	return s.db.Tx(ctx, func(c Conn) error {
		if err := c.Exec(ctx, `DELETE FROM admin_sessions WHERE tenant_id = $1 AND expires_at <= $2`,
			as.TenantID, s.timeArg(as.CreatedAt)); err != nil {
			return err
		}
		return c.Exec(ctx, `INSERT INTO admin_sessions (tenant_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			as.TenantID, as.Hash, s.timeArg(as.CreatedAt), s.timeArg(as.ExpiresAt))
	})
}

// AdminSessionByHash implements store.ConsoleStore.
func (s *Store) AdminSessionByHash(ctx context.Context, tenantID string, hash []byte, now time.Time) (store.AdminSession, error) {
	var as store.AdminSession
	err := s.db.QueryRow(ctx, `SELECT tenant_id, hash, created_at, expires_at FROM admin_sessions
		WHERE tenant_id = $1 AND hash = $2 AND expires_at > $3`, tenantID, hash, s.timeArg(now)).
		Scan(&as.TenantID, &as.Hash, timeDest{&as.CreatedAt}, timeDest{&as.ExpiresAt})
	return as, err
}

// DeleteAdminSession implements store.ConsoleStore.
func (s *Store) DeleteAdminSession(ctx context.Context, tenantID string, hash []byte) error {
	return s.db.Exec(ctx, `DELETE FROM admin_sessions WHERE tenant_id = $1 AND hash = $2`, tenantID, hash)
}
