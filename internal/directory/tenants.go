package directory

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/scimd/scimd/internal/store"
)

// DefaultUserTypes are monday.com's user types; DefaultUserType is applied when a create
// leaves userType out.
var (
	DefaultUserTypes = []string{"admin", "member", "viewer", "guest"}
	DefaultUserType  = "member"
)

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// CreateTenant creates a tenant with the default user types. The slug is lower-case
// letters, digits and inner dashes, at most 63 characters.
func (d *Directory) CreateTenant(ctx context.Context, slug, name string) (store.Tenant, error) {
	if !slugPattern.MatchString(slug) {
		return store.Tenant{}, fmt.Errorf("tenant slug %q: use lower-case letters, digits and dashes (at most 63)", slug)
	}
	if name == "" {
		name = slug
	}
	t := store.Tenant{ID: store.NewID(), Slug: slug, Name: name, DefaultUserType: DefaultUserType,
		UserTypes: DefaultUserTypes, CreatedAt: d.now()}
	if err := d.store.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return t, fmt.Errorf("tenant %q already exists", slug)
		}
		return t, err
	}
	return t, nil
}

// Tenant returns the tenant with the slug.
func (d *Directory) Tenant(ctx context.Context, slug string) (store.Tenant, error) {
	t, err := d.store.TenantBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		return t, fmt.Errorf("no tenant %q", slug)
	}
	return t, err
}

// HashToken returns the SHA-256 hash under which a token is stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Reasons a token is refused, as metrics and audit events name them.
const (
	AuthMissing   = "missing"
	AuthMalformed = "malformed"
	AuthUnknown   = "unknown"
	AuthRevoked   = "revoked"
)

// AuthError says why a bearer token was refused.
type AuthError struct{ Reason string }

func (e *AuthError) Error() string { return "token " + e.Reason }

// Authenticator resolves bearer tokens to tenants. A token is looked up by its SHA-256
// hash: equal hashes are found by the database's index (or, cached, by a map keyed by the
// hash), so no comparison of secret bytes happens in Go, and an unknown and a revoked token
// cost the same lookup.
//
// Tokens found are cached per process, keyed by their hash, with their tenant: a lookup
// then costs no database round trip. Staleness is bounded by TokenCacheTTL: a revoked
// token, or a tenant whose settings changed, is forgotten in the process that made the
// change at its commit, and in every other process on a PostgreSQL database when the
// commit's notification arrives (LISTEN/NOTIFY, milliseconds). A cached token older than
// TokenCacheTTL is used only while the listener has proved, within TokenCacheTTL, that it
// missed nothing (its heartbeat came back: notifications arrive in commit order), and never
// beyond tokenCacheMaxAge; so even when notifications are lost (a listening connection that
// broke; it forgets everything when it reconnects) a revocation takes effect within
// TokenCacheTTL. Unknown and revoked tokens are not cached: guessing cannot fill the cache
// (at most tokenCacheMax entries), and refusing either still costs the same one lookup.
type Authenticator struct {
	store store.Store
	now   func() time.Time
	ttl   time.Duration

	mu      sync.Mutex
	touched map[string]time.Time // token id → when last_used_at was last written
	cache   map[[sha256.Size]byte]cachedToken
	gen     uint64    // bumped by every invalidation: a lookup that raced one is not cached
	through time.Time // every change committed before it has been heard (heartbeats)
}

// TokenCacheTTL bounds how long a process trusts a token it found without asking the
// database again: the longest a revoked token can still be accepted by a replica that
// missed the revocation's notification.
const TokenCacheTTL = 5 * time.Second

// tokenCacheMax bounds the cache; when full it is emptied. tokenCacheMaxAge bounds how long
// a token is used from the cache while heartbeats keep coming (so that, with a thousand
// tenants each sending a request now and then, a lookup does not read its token again
// every TokenCacheTTL).
const (
	tokenCacheMax    = 10_000
	tokenCacheMaxAge = 10 * time.Minute
)

// cachedToken is a token found in the database at a time.
type cachedToken struct {
	tok   store.Token
	t     store.Tenant
	found time.Time
}

// NewAuthenticator returns an Authenticator on s with the default cache lifetime.
func NewAuthenticator(s store.Store) *Authenticator { return NewAuthenticatorTTL(s, TokenCacheTTL) }

// NewAuthenticatorTTL returns an Authenticator on s caching found tokens for ttl (0: no
// cache), forgetting a tenant's tokens when s announces a change of the tenant.
func NewAuthenticatorTTL(s store.Store, ttl time.Duration) *Authenticator {
	a := &Authenticator{store: s, now: func() time.Time { return time.Now().UTC() }, ttl: ttl,
		touched: map[string]time.Time{}, cache: map[[sha256.Size]byte]cachedToken{}}
	if ttl > 0 {
		s.SubscribeTenantChanges(a.forget)
	}
	return a
}

// SetClock replaces the Authenticator's clock (tests).
func (a *Authenticator) SetClock(now func() time.Time) { a.now = now }

// forget applies a change: drops the cached tokens of a tenant (of every tenant on a
// reset), or notes how far the heartbeats have caught up.
func (a *Authenticator) forget(ch store.TenantChange) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !ch.Through.IsZero() {
		if ch.Through.After(a.through) {
			a.through = ch.Through
		}
		return
	}
	a.gen++
	if ch.Reset {
		clear(a.cache)
		return
	}
	for h, c := range a.cache {
		if c.tok.TenantID == ch.TenantID {
			delete(a.cache, h)
		}
	}
}

// Authenticate checks an Authorization header value. It returns the tenant and token, or an
// *AuthError, or a store error when the database cannot answer.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (store.Tenant, store.Token, error) {
	if header == "" {
		return store.Tenant{}, store.Token{}, &AuthError{AuthMissing}
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 256 {
		return store.Tenant{}, store.Token{}, &AuthError{AuthMalformed}
	}
	hash := sha256.Sum256([]byte(token))
	tok, t, err := a.lookup(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, store.Token{}, &AuthError{AuthUnknown}
	}
	if err != nil {
		return store.Tenant{}, store.Token{}, err
	}
	if tok.Revoked() {
		return store.Tenant{}, tok, &AuthError{AuthRevoked}
	}
	a.touch(ctx, tok)
	return t, tok, nil
}

// lookup returns the token with the hash and its tenant, from the cache when found there
// less than ttl ago.
func (a *Authenticator) lookup(ctx context.Context, hash [sha256.Size]byte) (store.Token, store.Tenant, error) {
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[hash]
	gen, through := a.gen, a.through
	a.mu.Unlock()
	if age := now.Sub(c.found); ok && age >= 0 && (age < a.ttl || now.Sub(through) < a.ttl && age < tokenCacheMaxAge) {
		return c.tok, c.t, nil
	}
	tok, t, err := a.store.TokenByHash(ctx, hash[:])
	if err != nil || a.ttl <= 0 || tok.Revoked() {
		return tok, t, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen == gen { // no invalidation since the read began: what was read is current
		if len(a.cache) >= tokenCacheMax {
			clear(a.cache)
		}
		a.cache[hash] = cachedToken{tok: tok, t: t, found: now}
	}
	return tok, t, nil
}

// touch writes last_used_at at most once a minute per token and process.
func (a *Authenticator) touch(ctx context.Context, tok store.Token) {
	now := a.now()
	a.mu.Lock()
	last, ok := a.touched[tok.ID]
	if ok && now.Sub(last) < time.Minute || !ok && now.Sub(tok.LastUsedAt) < time.Minute {
		a.mu.Unlock()
		return
	}
	a.touched[tok.ID] = now
	a.mu.Unlock()
	// Bounded: a busy database must not hold the request for a bookkeeping write.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = a.store.TouchToken(tctx, tok.TenantID, tok.ID, now)
}

// Tenants lists every tenant by slug.
func (d *Directory) Tenants(ctx context.Context) ([]store.Tenant, error) { return d.store.Tenants(ctx) }
