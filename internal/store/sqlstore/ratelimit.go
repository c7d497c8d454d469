package sqlstore

import (
	"context"
	"math"
	"time"

	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// TakeToken implements store.Store with one upsert: the bucket is refilled for the time since
// its last use, capped at burst, and one token taken when there is one. The row lock of the
// upsert serialises concurrent takers on every replica.
func (s *Store) TakeToken(ctx context.Context, tenantID string, rate, burst float64, now time.Time) (bool, time.Duration, error) {
	least := "LEAST"
	if s.d == sqlfilter.SQLite {
		least = "MIN"
	}
	refill := least + `($3, rate_limits.tokens + ($4 - rate_limits.updated_at) * $2)`
	var left float64
	var taken int
	err := s.db.QueryRow(ctx, `INSERT INTO rate_limits (tenant_id, tokens, updated_at, taken) VALUES ($1, $3 - 1, $4, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET
			tokens = CASE WHEN `+refill+` >= 1 THEN `+refill+` - 1 ELSE `+refill+` END,
			taken = CASE WHEN `+refill+` >= 1 THEN 1 ELSE 0 END,
			updated_at = $4
		RETURNING tokens, taken`, tenantID, rate, burst, float64(now.UnixNano())/1e9).Scan(&left, &taken)
	if err != nil {
		return false, 0, err
	}
	if taken == 1 {
		return true, 0, nil
	}
	wait := time.Duration(math.Ceil((1-left)/rate*1000)) * time.Millisecond
	return false, max(wait, time.Millisecond), nil
}
