package sqlstore

import (
	"context"
	"math"
	"time"

	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// TakeTokens implements store.Store with one upsert: the bucket is refilled for the time
// since its last use, capped at burst, and up to n whole tokens taken (as many as there are,
// at most n). The row lock of the upsert serialises concurrent takers on every replica.
func (s *Store) TakeTokens(ctx context.Context, tenantID string, rate, burst float64, n int, now time.Time) (int, time.Duration, error) {
	least := "LEAST"
	whole := func(x string) string { return `FLOOR(` + x + `)` }
	if s.d == sqlfilter.SQLite {
		least = "MIN"
		whole = func(x string) string { return `CAST(` + x + ` AS INTEGER)` } // truncates: the floor of x ≥ 0
	}
	refill := least + `($3, rate_limits.tokens + ($4 - rate_limits.updated_at) * $2)`
	take := least + `($5, ` + whole(refill) + `)` // whole tokens taken from a refilled bucket
	first := least + `($5, ` + whole(`$3`) + `)`  // from a new, full one
	var left float64
	var taken int
	err := s.db.QueryRow(ctx, `INSERT INTO rate_limits (tenant_id, tokens, updated_at, taken) VALUES ($1, $3 - `+first+`, $4, `+first+`)
		ON CONFLICT (tenant_id) DO UPDATE SET
			tokens = CASE WHEN `+refill+` >= 1 THEN `+refill+` - `+take+` ELSE `+refill+` END,
			taken = CASE WHEN `+refill+` >= 1 THEN `+take+` ELSE 0 END,
			updated_at = $4
		RETURNING tokens, taken`, tenantID, rate, burst, float64(now.UnixNano())/1e9, max(1, n)).Scan(&left, &taken)
	if err != nil {
		return 0, 0, err
	}
	if taken >= 1 {
		return taken, 0, nil
	}
	wait := time.Duration(math.Ceil((1-left)/rate*1000)) * time.Millisecond
	return 0, max(wait, time.Millisecond), nil
}
