package sqlstore

import (
	"context"
	"time"

	"github.com/scimd/scimd/internal/store"
)

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
