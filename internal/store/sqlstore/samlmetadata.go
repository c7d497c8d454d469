package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

const samlMetadataCols = `tenant_id, due_at, lease_token, lease_until, last_attempt_at, last_success_at, last_error, last_error_at, failures`

func scanSAMLMetadataRefresh(r Row) (store.SAMLMetadataRefresh, error) {
	var m store.SAMLMetadataRefresh
	err := r.Scan(&m.TenantID, timeDest{&m.DueAt}, &m.LeaseToken, timeDest{&m.LeaseUntil}, timeDest{&m.LastAttemptAt},
		timeDest{&m.LastSuccessAt}, &m.LastError, timeDest{&m.LastErrorAt}, &m.Failures)
	return m, err
}

// ScheduleSAMLMetadataRefresh implements store.SAMLMetadataStore.
func (s *Store) ScheduleSAMLMetadataRefresh(ctx context.Context, tenantID string, at, due time.Time) error {
	return s.db.Exec(ctx, `INSERT INTO saml_metadata_refresh (tenant_id, due_at, last_attempt_at, last_success_at)
		VALUES ($1, $2, $3, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET due_at = excluded.due_at, lease_token = '', lease_until = NULL,
			last_attempt_at = excluded.last_attempt_at, last_success_at = excluded.last_success_at,
			last_error = '', last_error_at = NULL, failures = 0`,
		tenantID, s.timeArg(due), s.timeArg(at))
}

// SAMLMetadataRefresh implements store.SAMLMetadataStore.
func (s *Store) SAMLMetadataRefresh(ctx context.Context, tenantID string) (store.SAMLMetadataRefresh, error) {
	var url string
	m, err := scanSAMLMetadataRefresh(s.db.QueryRow(ctx, `SELECT `+samlMetadataCols+` FROM saml_metadata_refresh WHERE tenant_id = $1`, tenantID))
	if err != nil {
		return m, err
	}
	if err := s.db.QueryRow(ctx, `SELECT idp_metadata_url FROM saml_configs WHERE tenant_id = $1`, tenantID).Scan(&url); err != nil {
		return m, err
	}
	m.URL = url
	return m, nil
}

// ClaimSAMLMetadataRefreshes implements store.SAMLMetadataStore. In one transaction: the
// due, unleased rows of tenants that still have a metadata URL, earliest first (PostgreSQL
// locks them FOR UPDATE SKIP LOCKED, so concurrent claimers take disjoint rows; SQLite has
// one writer), then each is given the new lease by an UPDATE that checks the lease again.
func (s *Store) ClaimSAMLMetadataRefreshes(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.SAMLMetadataRefresh, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if s.d == sqlfilter.Postgres {
		lock = ` FOR UPDATE OF m SKIP LOCKED`
	}
	var out []store.SAMLMetadataRefresh
	err := s.db.Tx(ctx, func(c Conn) error {
		out = nil
		type due struct{ tenant, url string }
		cands, err := collect[due](c.Query(ctx, `SELECT m.tenant_id, g.idp_metadata_url FROM saml_metadata_refresh m
			JOIN saml_configs g ON g.tenant_id = m.tenant_id
			WHERE m.due_at <= $1 AND (m.lease_until IS NULL OR m.lease_until <= $1) AND g.idp_metadata_url <> ''
			ORDER BY m.due_at LIMIT $2`+lock, s.timeArg(now), limit))(func(r Row) (due, error) {
			var d due
			err := r.Scan(&d.tenant, &d.url)
			return d, err
		})
		if err != nil {
			return err
		}
		for _, d := range cands {
			m, err := scanSAMLMetadataRefresh(c.QueryRow(ctx, `UPDATE saml_metadata_refresh SET lease_token = $2, lease_until = $3, last_attempt_at = $4
				WHERE tenant_id = $1 AND (lease_until IS NULL OR lease_until <= $4) RETURNING `+samlMetadataCols,
				d.tenant, store.NewID(), s.timeArg(now.Add(lease)), s.timeArg(now)))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			m.URL = d.url
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// FinishSAMLMetadataRefresh implements store.SAMLMetadataStore: the UPDATE names the
// claim's lease token, so a claimer whose lease expired (and was taken over) records nothing.
func (s *Store) FinishSAMLMetadataRefresh(ctx context.Context, tenantID, leaseToken string, at, due time.Time, errText string) error {
	if leaseToken == "" {
		return store.ErrNotFound
	}
	var q string
	if errText == "" {
		q = `UPDATE saml_metadata_refresh SET lease_token = '', lease_until = NULL, due_at = $3, last_success_at = $4,
			last_error = $5, last_error_at = NULL, failures = 0
			WHERE tenant_id = $1 AND lease_token = $2 RETURNING tenant_id`
	} else {
		q = `UPDATE saml_metadata_refresh SET lease_token = '', lease_until = NULL, due_at = $3, last_error_at = $4,
			last_error = $5, failures = failures + 1
			WHERE tenant_id = $1 AND lease_token = $2 RETURNING tenant_id`
	}
	var id string
	return s.db.QueryRow(ctx, q, tenantID, leaseToken, s.timeArg(due), s.timeArg(at), errText).Scan(&id)
}
