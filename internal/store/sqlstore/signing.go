package sqlstore

import (
	"context"
	"time"

	"github.com/scimd/scimd/internal/store"
)

var _ store.SigningKeyStore = (*Store)(nil)

const signingKeyCols = `generation, kid, algorithm, private_key, created_at, not_before, expires_at`

func scanSigningKey(r Row) (store.SigningKey, error) {
	var k store.SigningKey
	err := r.Scan(&k.Generation, &k.ID, &k.Algorithm, &k.PrivateKey, timeDest{&k.CreatedAt}, timeDest{&k.NotBefore}, timeDest{&k.ExpiresAt})
	return k, err
}

// nullTime turns the zero time into NULL.
func (s *Store) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.timeArg(t)
}

// CreateFirstSigningKey implements store.SigningKeyStore. Generation 1 is the primary key
// of the first key, so of two replicas starting at once one inserts and the other collides
// (ErrConflict).
func (s *Store) CreateFirstSigningKey(ctx context.Context, k store.SigningKey) (store.SigningKey, error) {
	k.Generation = 1
	var out store.SigningKey
	err := s.db.Tx(ctx, func(c Conn) error {
		var n int64
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM signing_keys`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return store.ErrConflict
		}
		var err error
		out, err = scanSigningKey(c.QueryRow(ctx, `INSERT INTO signing_keys (`+signingKeyCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+signingKeyCols,
			k.Generation, k.ID, k.Algorithm, k.PrivateKey, s.timeArg(k.CreatedAt), s.timeArg(k.NotBefore), s.nullTime(k.ExpiresAt)))
		return err
	})
	return out, err
}

// AddSigningKey implements store.SigningKeyStore. The new generation is read and written
// in one transaction; a concurrent rotation that read the same newest generation collides
// on the primary key (ErrConflict).
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey, olderExpire time.Time) (store.SigningKey, error) {
	var out store.SigningKey
	err := s.db.Tx(ctx, func(c Conn) error {
		var newest int64
		if err := c.QueryRow(ctx, `SELECT COALESCE(MAX(generation), 0) FROM signing_keys`).Scan(&newest); err != nil {
			return err
		}
		k.Generation = newest + 1
		var err error
		out, err = scanSigningKey(c.QueryRow(ctx, `INSERT INTO signing_keys (`+signingKeyCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+signingKeyCols,
			k.Generation, k.ID, k.Algorithm, k.PrivateKey, s.timeArg(k.CreatedAt), s.timeArg(k.NotBefore), s.nullTime(k.ExpiresAt)))
		if err != nil {
			return err
		}
		return c.Exec(ctx, `UPDATE signing_keys SET expires_at = $1 WHERE generation < $2 AND expires_at IS NULL`,
			s.timeArg(olderExpire), k.Generation)
	})
	return out, err
}

// SigningKeys implements store.SigningKeyStore.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	return collect[store.SigningKey](s.db.Query(ctx, `SELECT `+signingKeyCols+` FROM signing_keys
		WHERE expires_at IS NULL OR expires_at > $1 ORDER BY generation`, s.timeArg(now)))(scanSigningKey)
}

// PruneSigningKeys implements store.SigningKeyStore.
func (s *Store) PruneSigningKeys(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.db.Tx(ctx, func(c Conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM signing_keys WHERE expires_at <= $1`, s.timeArg(now)).Scan(&n); err != nil {
			return err
		}
		return c.Exec(ctx, `DELETE FROM signing_keys WHERE expires_at <= $1`, s.timeArg(now))
	})
	return n, err
}
