package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/store"
)

var _ store.OIDCStore = (*Store)(nil)

// ---- clients (deployment-wide) ----

const oidcClientCols = `id, name, redirect_uris, public, secret_hash, previous_secret_hash, previous_secret_expires_at, created_at`

func scanOIDCClient(r Row) (store.OIDCClient, error) {
	var c store.OIDCClient
	var uris string
	err := r.Scan(&c.ID, &c.Name, &uris, &c.Public, &c.SecretHash, &c.PreviousSecretHash, timeDest{&c.PreviousSecretExpiresAt}, timeDest{&c.CreatedAt})
	if uris != "" {
		c.RedirectURIs = strings.Split(uris, "\n")
	}
	return c, err
}

// CreateOIDCClient implements store.OIDCStore.
func (s *Store) CreateOIDCClient(ctx context.Context, c store.OIDCClient) error {
	return s.db.Exec(ctx, `INSERT INTO oidc_clients (`+oidcClientCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, c.Name, strings.Join(c.RedirectURIs, "\n"), c.Public, c.SecretHash, c.PreviousSecretHash,
		s.nullTime(c.PreviousSecretExpiresAt), s.timeArg(c.CreatedAt))
}

// OIDCClient implements store.OIDCStore.
func (s *Store) OIDCClient(ctx context.Context, id string) (store.OIDCClient, error) {
	return scanOIDCClient(s.db.QueryRow(ctx, `SELECT `+oidcClientCols+` FROM oidc_clients WHERE id = $1`, id))
}

// OIDCClients implements store.OIDCStore.
func (s *Store) OIDCClients(ctx context.Context) ([]store.OIDCClient, error) {
	return collect[store.OIDCClient](s.db.Query(ctx, `SELECT `+oidcClientCols+` FROM oidc_clients ORDER BY name, id`))(scanOIDCClient)
}

// DeleteOIDCClient implements store.OIDCStore.
func (s *Store) DeleteOIDCClient(ctx context.Context, id string) error {
	var got string
	return s.db.QueryRow(ctx, `DELETE FROM oidc_clients WHERE id = $1 RETURNING id`, id).Scan(&got)
}

// RotateOIDCClientSecret implements store.OIDCStore.
func (s *Store) RotateOIDCClientSecret(ctx context.Context, id string, hash []byte, previousExpires time.Time) error {
	var got string
	return s.db.QueryRow(ctx, `UPDATE oidc_clients SET previous_secret_hash = secret_hash, previous_secret_expires_at = $3,
		secret_hash = $2 WHERE id = $1 RETURNING id`, id, hash, s.timeArg(previousExpires)).Scan(&got)
}

// ---- authorization requests ----

const oidcAuthCols = `tenant_id, id, client_id, binding_hash, params, COALESCE(user_id, ''), auth_time, login_started_at,
	code_hash, code_expires_at, code_used_at, created_at, expires_at`

func scanOIDCAuth(r Row) (store.OIDCAuthRequest, error) {
	var a store.OIDCAuthRequest
	err := r.Scan(&a.TenantID, &a.ID, &a.ClientID, &a.BindingHash, &a.Params, &a.UserID, timeDest{&a.AuthTime}, timeDest{&a.LoginStartedAt},
		&a.CodeHash, timeDest{&a.CodeExpiresAt}, timeDest{&a.CodeUsedAt}, timeDest{&a.CreatedAt}, timeDest{&a.ExpiresAt})
	return a, err
}

// CreateOIDCAuthRequest implements store.OIDCStore.
func (s *Store) CreateOIDCAuthRequest(ctx context.Context, a store.OIDCAuthRequest) error {
	return s.db.Exec(ctx, `INSERT INTO oidc_auth_requests (tenant_id, id, client_id, binding_hash, params, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.TenantID, a.ID, a.ClientID, a.BindingHash, a.Params, s.timeArg(a.CreatedAt), s.timeArg(a.ExpiresAt))
}

// OIDCAuthRequest implements store.OIDCStore.
func (s *Store) OIDCAuthRequest(ctx context.Context, tenantID, id string, now time.Time) (store.OIDCAuthRequest, error) {
	return scanOIDCAuth(s.db.QueryRow(ctx, `SELECT `+oidcAuthCols+` FROM oidc_auth_requests
		WHERE tenant_id = $1 AND id = $2 AND expires_at > $3`, tenantID, id, s.timeArg(now)))
}

// StartOIDCLogin implements store.OIDCStore.
func (s *Store) StartOIDCLogin(ctx context.Context, tenantID, id string, at time.Time) error {
	var got string
	return s.db.QueryRow(ctx, `UPDATE oidc_auth_requests SET login_started_at = $3 WHERE tenant_id = $1 AND id = $2 RETURNING id`,
		tenantID, id, s.timeArg(at)).Scan(&got)
}

// CompleteOIDCAuthRequest implements store.OIDCStore.
func (s *Store) CompleteOIDCAuthRequest(ctx context.Context, tenantID, id, userID string, authTime time.Time) error {
	var got string
	return s.db.QueryRow(ctx, `UPDATE oidc_auth_requests SET user_id = $3, auth_time = $4 WHERE tenant_id = $1 AND id = $2 RETURNING id`,
		tenantID, id, userID, s.timeArg(authTime)).Scan(&got)
}

// SetOIDCCode implements store.OIDCStore: the update only takes a request without a code,
// so two replicas answering the same request cannot both issue one.
func (s *Store) SetOIDCCode(ctx context.Context, tenantID, id string, codeHash []byte, expiresAt time.Time) error {
	var got string
	err := s.db.QueryRow(ctx, `UPDATE oidc_auth_requests SET code_hash = $3, code_expires_at = $4
		WHERE tenant_id = $1 AND id = $2 AND code_hash IS NULL AND user_id IS NOT NULL RETURNING id`,
		tenantID, id, codeHash, s.timeArg(expiresAt)).Scan(&got)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.db.QueryRow(ctx, `SELECT id FROM oidc_auth_requests WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&got); err != nil {
			return err
		}
		return store.ErrConflict
	}
	return err
}

// TakeOIDCCode implements store.OIDCStore: one UPDATE … WHERE code_used_at IS NULL, so of
// two exchanges of one code on any replicas one gets the row.
func (s *Store) TakeOIDCCode(ctx context.Context, tenantID, id string, codeHash []byte, now time.Time) (store.OIDCAuthRequest, error) {
	a, err := scanOIDCAuth(s.db.QueryRow(ctx, `UPDATE oidc_auth_requests SET code_used_at = $4
		WHERE tenant_id = $1 AND id = $2 AND code_hash = $3 AND code_used_at IS NULL AND code_expires_at > $4
		RETURNING `+oidcAuthCols, tenantID, id, codeHash, s.timeArg(now)))
	if !errors.Is(err, store.ErrNotFound) {
		return a, err
	}
	var used time.Time
	if err := s.db.QueryRow(ctx, `SELECT code_used_at FROM oidc_auth_requests WHERE tenant_id = $1 AND id = $2 AND code_hash = $3`,
		tenantID, id, codeHash).Scan(timeDest{&used}); err != nil {
		return store.OIDCAuthRequest{}, err
	}
	if !used.IsZero() {
		return store.OIDCAuthRequest{}, store.ErrConflict
	}
	return store.OIDCAuthRequest{}, store.ErrNotFound
}

// ---- tokens ----

const oidcTokenCols = `tenant_id, id, kind, family, client_id, user_id, scopes, auth_time, hash, created_at, expires_at, used_at, revoked_at`

func scanOIDCToken(r Row) (store.OIDCToken, error) {
	var t store.OIDCToken
	var scopes string
	err := r.Scan(&t.TenantID, &t.ID, &t.Kind, &t.Family, &t.ClientID, &t.UserID, &scopes, timeDest{&t.AuthTime}, &t.Hash,
		timeDest{&t.CreatedAt}, timeDest{&t.ExpiresAt}, timeDest{&t.UsedAt}, timeDest{&t.RevokedAt})
	t.Scopes = strings.Fields(scopes)
	return t, err
}

// CreateOIDCToken implements store.OIDCStore.
func (s *Store) CreateOIDCToken(ctx context.Context, t store.OIDCToken) error {
	return s.db.Exec(ctx, `INSERT INTO oidc_tokens (`+oidcTokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		t.TenantID, t.ID, t.Kind, t.Family, t.ClientID, t.UserID, strings.Join(t.Scopes, " "), s.timeArg(t.AuthTime), t.Hash,
		s.timeArg(t.CreatedAt), s.timeArg(t.ExpiresAt), s.nullTime(t.UsedAt), s.nullTime(t.RevokedAt))
}

// OIDCToken implements store.OIDCStore.
func (s *Store) OIDCToken(ctx context.Context, tenantID, id string) (store.OIDCToken, error) {
	return scanOIDCToken(s.db.QueryRow(ctx, `SELECT `+oidcTokenCols+` FROM oidc_tokens WHERE tenant_id = $1 AND id = $2`, tenantID, id))
}

// UseOIDCRefreshToken implements store.OIDCStore: one UPDATE … WHERE used_at IS NULL, so of
// two refreshes with one token on any replicas one gets the row.
func (s *Store) UseOIDCRefreshToken(ctx context.Context, tenantID, id string, now time.Time) (store.OIDCToken, error) {
	t, err := scanOIDCToken(s.db.QueryRow(ctx, `UPDATE oidc_tokens SET used_at = $3
		WHERE tenant_id = $1 AND id = $2 AND kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3
		RETURNING `+oidcTokenCols, tenantID, id, s.timeArg(now)))
	if !errors.Is(err, store.ErrNotFound) {
		return t, err
	}
	t, err = s.OIDCToken(ctx, tenantID, id)
	if err != nil {
		return store.OIDCToken{}, err
	}
	if t.Kind == store.OIDCRefreshToken && !t.UsedAt.IsZero() {
		return t, store.ErrConflict
	}
	return store.OIDCToken{}, store.ErrNotFound
}

// RevokeOIDCFamily implements store.OIDCStore.
func (s *Store) RevokeOIDCFamily(ctx context.Context, tenantID, family string, at time.Time) (int64, error) {
	var n int64
	err := s.db.Tx(ctx, func(c Conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM oidc_tokens WHERE tenant_id = $1 AND family = $2 AND revoked_at IS NULL`,
			tenantID, family).Scan(&n); err != nil {
			return err
		}
		return c.Exec(ctx, `UPDATE oidc_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND family = $2 AND revoked_at IS NULL`,
			tenantID, family, s.timeArg(at))
	})
	return n, err
}

// PruneOIDC implements store.OIDCStore. Like PruneSAML it is housekeeping that spans
// tenants. A refresh token's row outlives its rotation until it expires, so that its
// replay is still recognised.
func (s *Store) PruneOIDC(ctx context.Context, now time.Time) (int64, error) {
	return s.pruneExpired(ctx, now, "oidc_auth_requests", "oidc_tokens")
}
