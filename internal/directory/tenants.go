package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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

// SetUserTypes sets a tenant's allowed user types and default (which must be one of them).
func (d *Directory) SetUserTypes(ctx context.Context, t store.Tenant, types []string, def string) (store.Tenant, error) {
	var clean []string
	for _, ut := range types {
		if ut = strings.TrimSpace(ut); ut != "" {
			clean = append(clean, ut)
		}
	}
	if len(clean) == 0 {
		return t, errors.New("at least one user type is needed")
	}
	found := false
	for _, ut := range clean {
		if strings.EqualFold(ut, def) {
			def, found = ut, true
		}
	}
	if !found {
		return t, fmt.Errorf("default user type %q is not one of %s", def, strings.Join(clean, ", "))
	}
	t.UserTypes, t.DefaultUserType = clean, def
	return t, d.store.UpdateTenant(ctx, t)
}

// TokenPrefix starts every SCIM token, so that secret scanners can recognise one.
const TokenPrefix = "scimd_"

// HashToken returns the SHA-256 hash under which a token is stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// IssueToken creates a new 256-bit random token for the tenant and returns it; only its hash
// is stored, so this is the one time it can be shown.
func (d *Directory) IssueToken(ctx context.Context, t store.Tenant, label string) (string, store.Token, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", store.Token{}, err
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", store.Token{}, err
	}
	rec := store.Token{ID: "tok_" + base64.RawURLEncoding.EncodeToString(id[:]), TenantID: t.ID, Label: label, CreatedAt: d.now()}
	if err := d.store.CreateToken(ctx, rec, HashToken(token)); err != nil {
		return "", rec, err
	}
	err := d.Record(ctx, t, store.Event{Name: EventTokenCreate, TokenID: rec.ID, ResourceType: "Token", ResourceID: rec.ID, ResourceName: label})
	return token, rec, err
}

// RevokeToken revokes the tenant's token with the id (a revoked one stays revoked) and
// records it. An id that is no token of the tenant is an error saying so.
func (d *Directory) RevokeToken(ctx context.Context, t store.Tenant, id string) error {
	toks, err := d.store.Tokens(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, tok := range toks {
		if tok.ID != id {
			continue
		}
		if tok.Revoked() {
			return nil
		}
		if err := d.store.RevokeToken(ctx, id, d.now()); err != nil {
			return err
		}
		return d.Record(ctx, t, store.Event{Name: EventTokenRevoke, TokenID: id, ResourceType: "Token", ResourceID: id, ResourceName: tok.Label})
	}
	return fmt.Errorf("tenant %q has no token %q", t.Slug, id)
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
// hash: equal hashes are found by the database's index, so no comparison of secret bytes
// happens in Go, and an unknown and a revoked token cost the same lookup.
type Authenticator struct {
	store store.Store
	now   func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time // token id → when last_used_at was last written
}

// NewAuthenticator returns an Authenticator on s.
func NewAuthenticator(s store.Store) *Authenticator {
	return &Authenticator{store: s, now: func() time.Time { return time.Now().UTC() }, touched: map[string]time.Time{}}
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
	tok, t, err := a.store.TokenByHash(ctx, HashToken(token))
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
