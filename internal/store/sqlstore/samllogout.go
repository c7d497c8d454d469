package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// maxSessionIndexes bounds the SessionIndexes one LogoutRequest may name (the statement has
// one placeholder each); the caller refuses more.
const maxSessionIndexes = 32

// DeleteSAMLSessions implements store.SAMLLogoutStore: one DELETE … RETURNING on the
// (tenant_id, name_id) index.
func (s *Store) DeleteSAMLSessions(ctx context.Context, tenantID, nameID string, sessionIndexes []string) ([]string, error) {
	if nameID == "" {
		return nil, nil
	}
	if len(sessionIndexes) > maxSessionIndexes {
		sessionIndexes = sessionIndexes[:maxSessionIndexes]
	}
	userID := `CAST(user_id AS text)`
	if s.d == sqlfilter.SQLite {
		userID = `user_id`
	}
	q := `DELETE FROM sessions WHERE tenant_id = $1 AND kind = $2 AND name_id = $3`
	args := []any{tenantID, store.SessionSSO, nameID}
	if len(sessionIndexes) > 0 {
		ph := make([]string, len(sessionIndexes))
		for i, si := range sessionIndexes {
			args = append(args, si)
			ph[i] = "$" + strconv.Itoa(len(args))
		}
		q += ` AND session_index IN (` + strings.Join(ph, ", ") + `)`
	}
	ids, err := collect[string](s.db.Query(ctx, q+` RETURNING `+userID, args...))(func(r Row) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// RevokeOIDCUserTokens implements store.SAMLLogoutStore on the (tenant_id, user_id) index.
func (s *Store) RevokeOIDCUserTokens(ctx context.Context, tenantID, userID string, at time.Time) (int64, error) {
	return s.revokeOIDCTokens(ctx, "user_id", tenantID, userID, at)
}
