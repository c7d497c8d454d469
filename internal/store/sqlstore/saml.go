package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

const samlConfigCols = `tenant_id, idp_entity_id, idp_sso_url, idp_cert_pem, jit, allow_idp_initiated, default_redirect,
	sp_key_pem, sp_cert_pem, created_at, updated_at, jit_trust_user_type,
	sp_next_key_pem, sp_next_cert_pem, require_encrypted_assertions`

func scanSAMLConfig(r Row) (store.SAMLConfig, error) {
	var c store.SAMLConfig
	err := r.Scan(&c.TenantID, &c.IdPEntityID, &c.IdPSSOURL, &c.IdPCertPEM, &c.JIT, &c.AllowIdPInitiated, &c.DefaultRedirect,
		&c.SPKeyPEM, &c.SPCertPEM, timeDest{&c.CreatedAt}, timeDest{&c.UpdatedAt}, &c.JITTrustUserType,
		&c.SPNextKeyPEM, &c.SPNextCertPEM, &c.RequireEncryptedAssertions)
	return c, err
}

// PutSAMLConfig implements store.SAMLStore. The upsert never touches the key pair or
// created_at of a stored row, so two replicas configuring at once keep one key pair.
func (s *Store) PutSAMLConfig(ctx context.Context, c store.SAMLConfig, ev *store.Event) (store.SAMLConfig, error) {
	if len(c.SPKeyPEM) == 0 || c.SPCertPEM == "" {
		return store.SAMLConfig{}, errors.New("sqlstore: a SAML config needs the SP key pair")
	}
	var out store.SAMLConfig
	err := s.db.Tx(ctx, func(tx Conn) error {
		var err error
		if out, err = s.putSAMLConfig(ctx, tx, c); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, ev)
	})
	return out, err
}

func (s *Store) putSAMLConfig(ctx context.Context, tx Conn, c store.SAMLConfig) (store.SAMLConfig, error) {
	return scanSAMLConfig(tx.QueryRow(ctx, `INSERT INTO saml_configs (`+samlConfigCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (tenant_id) DO UPDATE SET idp_entity_id = excluded.idp_entity_id, idp_sso_url = excluded.idp_sso_url,
			idp_cert_pem = excluded.idp_cert_pem, jit = excluded.jit, allow_idp_initiated = excluded.allow_idp_initiated,
			default_redirect = excluded.default_redirect, updated_at = excluded.updated_at,
			jit_trust_user_type = excluded.jit_trust_user_type,
			require_encrypted_assertions = excluded.require_encrypted_assertions
		RETURNING `+samlConfigCols,
		c.TenantID, c.IdPEntityID, c.IdPSSOURL, c.IdPCertPEM, c.JIT, c.AllowIdPInitiated, c.DefaultRedirect,
		c.SPKeyPEM, c.SPCertPEM, s.timeArg(c.CreatedAt), s.timeArg(c.UpdatedAt), c.JITTrustUserType,
		[]byte{}, "", c.RequireEncryptedAssertions))
}

// SAMLConfig implements store.SAMLStore.
func (s *Store) SAMLConfig(ctx context.Context, tenantID string) (store.SAMLConfig, error) {
	return scanSAMLConfig(s.db.QueryRow(ctx, `SELECT `+samlConfigCols+` FROM saml_configs WHERE tenant_id = $1`, tenantID))
}

// SwapSAMLSPKeys implements store.SAMLStore: one guarded UPDATE, so that of two rotations
// started from the same key pairs only one is written.
func (s *Store) SwapSAMLSPKeys(ctx context.Context, c store.SAMLConfig, fromCert, fromNextCert string, ev *store.Event) (store.SAMLConfig, error) {
	if len(c.SPKeyPEM) == 0 || c.SPCertPEM == "" {
		return store.SAMLConfig{}, errors.New("sqlstore: SP key pairs need a current key pair")
	}
	if c.SPNextKeyPEM == nil {
		c.SPNextKeyPEM = []byte{}
	}
	var out store.SAMLConfig
	err := s.db.Tx(ctx, func(tx Conn) error {
		var err error
		out, err = scanSAMLConfig(tx.QueryRow(ctx, `UPDATE saml_configs SET sp_key_pem = $4, sp_cert_pem = $5,
				sp_next_key_pem = $6, sp_next_cert_pem = $7, updated_at = $8
			WHERE tenant_id = $1 AND sp_cert_pem = $2 AND sp_next_cert_pem = $3
			RETURNING `+samlConfigCols,
			c.TenantID, fromCert, fromNextCert, c.SPKeyPEM, c.SPCertPEM, c.SPNextKeyPEM, c.SPNextCertPEM, s.timeArg(c.UpdatedAt)))
		if errors.Is(err, store.ErrNotFound) {
			var one int
			if tx.QueryRow(ctx, `SELECT 1 FROM saml_configs WHERE tenant_id = $1`, c.TenantID).Scan(&one) == nil {
				return store.ErrConflict
			}
		}
		if err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, ev)
	})
	return out, err
}

const samlRequestCols = `tenant_id, id, binding_hash, return_to, created_at, expires_at`

func scanSAMLRequest(r Row) (store.SAMLRequest, error) {
	var q store.SAMLRequest
	err := r.Scan(&q.TenantID, &q.ID, &q.BindingHash, &q.ReturnTo, timeDest{&q.CreatedAt}, timeDest{&q.ExpiresAt})
	return q, err
}

// CreateSAMLRequest implements store.SAMLStore.
func (s *Store) CreateSAMLRequest(ctx context.Context, r store.SAMLRequest) error {
	return s.db.Exec(ctx, `INSERT INTO saml_requests (`+samlRequestCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		r.TenantID, r.ID, r.BindingHash, r.ReturnTo, s.timeArg(r.CreatedAt), s.timeArg(r.ExpiresAt))
}

// PendingSAMLRequests implements store.SAMLStore; the count reads at most limit index
// entries.
func (s *Store) PendingSAMLRequests(ctx context.Context, tenantID string, now time.Time, limit int) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM saml_requests WHERE tenant_id = $1 AND expires_at > $2 LIMIT $3) p`,
		tenantID, s.timeArg(now), limit).Scan(&n)
	return n, err
}

// SAMLRequests implements store.SAMLStore.
func (s *Store) SAMLRequests(ctx context.Context, tenantID string, bindingHash []byte, now time.Time) ([]store.SAMLRequest, error) {
	return collect[store.SAMLRequest](s.db.Query(ctx, `SELECT `+samlRequestCols+` FROM saml_requests
		WHERE tenant_id = $1 AND binding_hash = $2 AND expires_at > $3 ORDER BY created_at DESC, id DESC LIMIT 50`,
		tenantID, bindingHash, s.timeArg(now)))(scanSAMLRequest)
}

// TakeSAMLRequest implements store.SAMLStore: DELETE … RETURNING, so that of two replicas
// finishing the same login only one gets the row.
func (s *Store) TakeSAMLRequest(ctx context.Context, tenantID, id string) (store.SAMLRequest, error) {
	return scanSAMLRequest(s.db.QueryRow(ctx, `DELETE FROM saml_requests WHERE tenant_id = $1 AND id = $2 RETURNING `+samlRequestCols,
		tenantID, id))
}

// ConsumeAssertion implements store.SAMLStore. One statement: the insert either adds the
// id, takes over an expired record of it, or returns no row (a replay); concurrent
// consumers of one id serialise on its primary key.
func (s *Store) ConsumeAssertion(ctx context.Context, tenantID, assertionID string, expiresAt, now time.Time) error {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO saml_assertions (tenant_id, id, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, id) DO UPDATE SET expires_at = excluded.expires_at WHERE saml_assertions.expires_at <= $4
		RETURNING id`, tenantID, assertionID, s.timeArg(expiresAt), s.timeArg(now)).Scan(&id)
	if errors.Is(err, store.ErrNotFound) {
		return store.ErrConflict
	}
	return err
}

// CreateSession implements store.SAMLStore.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	return s.db.Exec(ctx, `INSERT INTO sessions (tenant_id, hash, kind, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		ss.TenantID, ss.Hash, ss.Kind, nullString(ss.UserID), s.timeArg(ss.CreatedAt), s.timeArg(ss.ExpiresAt))
}

// SessionByHash implements store.SAMLStore.
func (s *Store) SessionByHash(ctx context.Context, tenantID, kind string, hash []byte, now time.Time) (store.Session, error) {
	var ss store.Session
	userID := `COALESCE(CAST(user_id AS text), '')`
	if s.d == sqlfilter.SQLite {
		userID = `COALESCE(user_id, '')`
	}
	err := s.db.QueryRow(ctx, `SELECT tenant_id, hash, kind, `+userID+`, created_at, expires_at FROM sessions
		WHERE tenant_id = $1 AND kind = $2 AND hash = $3 AND expires_at > $4`, tenantID, kind, hash, s.timeArg(now)).
		Scan(&ss.TenantID, &ss.Hash, &ss.Kind, &ss.UserID, timeDest{&ss.CreatedAt}, timeDest{&ss.ExpiresAt})
	return ss, err
}

// DeleteSession implements store.SAMLStore.
func (s *Store) DeleteSession(ctx context.Context, tenantID string, hash []byte) error {
	return s.db.Exec(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND hash = $2`, tenantID, hash)
}

// SAMLIdentity implements store.SAMLStore.
func (s *Store) SAMLIdentity(ctx context.Context, tenantID, issuer, nameID string) (string, error) {
	userID := `CAST(user_id AS text)`
	if s.d == sqlfilter.SQLite {
		userID = `user_id`
	}
	var id string
	err := s.db.QueryRow(ctx, `SELECT `+userID+` FROM saml_identities WHERE tenant_id = $1 AND issuer = $2 AND name_id = $3`,
		tenantID, issuer, nameID).Scan(&id)
	return id, err
}

// PutSAMLIdentity implements store.SAMLStore: one upsert that takes the user id from the
// users table, so that an identity never names a user that does not exist.
func (s *Store) PutSAMLIdentity(ctx context.Context, tenantID, issuer, nameID, userID string, now time.Time) error {
	if !validID(userID) {
		return store.ErrNotFound
	}
	var id string
	return s.db.QueryRow(ctx, `INSERT INTO saml_identities (tenant_id, issuer, name_id, user_id, created_at, updated_at)
		SELECT u.tenant_id, $2, $3, u.id, $5, $5 FROM users u WHERE u.tenant_id = $1 AND u.id = $4
		ON CONFLICT (tenant_id, issuer, name_id) DO UPDATE SET user_id = excluded.user_id, updated_at = excluded.updated_at
		RETURNING name_id`, tenantID, issuer, nameID, userID, s.timeArg(now)).Scan(&id)
}

// PruneSAML implements store.SAMLStore. Like PruneEvents it is the housekeeping query that
// spans tenants.
func (s *Store) PruneSAML(ctx context.Context, now time.Time) (int64, error) {
	return s.pruneExpired(ctx, now, "saml_requests", "saml_assertions", "sessions")
}

// pruneExpired deletes the rows of the tables (names from the code, never from input) that
// expired by now, in one transaction, and returns how many.
func (s *Store) pruneExpired(ctx context.Context, now time.Time, tables ...string) (int64, error) {
	var total int64
	err := s.db.Tx(ctx, func(c Conn) error {
		total = 0
		for _, table := range tables {
			var n int64
			if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM `+table+` WHERE expires_at <= $1`, s.timeArg(now)).Scan(&n); err != nil {
				return err
			}
			if err := c.Exec(ctx, `DELETE FROM `+table+` WHERE expires_at <= $1`, s.timeArg(now)); err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}
