// Package signing owns the deployment's one signing key set: the RSA keys kept in the
// database and shared by every replica, which of them signs now (the current key, named by
// its "kid"), publish-before-sign rotation, the JWKS document that publishes them at one
// URL, and compact JWS signing with the current key. OpenID Connect tokens and Security
// Event Tokens (RFC 8417) are both signed here, so an application trusts one JWKS.
//
// Rotation: a new key is published in the JWKS at once but signs only from PublishLead
// later, so every replica and every relying party has seen it before the first token
// signed with it arrives. The key it replaces stays published until every token it can
// have signed has expired (MaxTokenLifetime after it stopped signing, plus the key cache).
package signing

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/store"
)

// Algorithm is the one JWS algorithm the key set signs with: RS256, the OpenID Connect
// default that every client library verifies.
const Algorithm = jose.RS256

// Defaults of Options.
const (
	DefaultPublishLead      = 10 * time.Minute
	DefaultMaxTokenLifetime = 24 * time.Hour
	DefaultCacheFor         = 30 * time.Second
	DefaultBits             = 2048
	// maxJWKSAge caps the Cache-Control max-age of the JWKS document.
	maxJWKSAge = 5 * time.Minute
)

// ErrUnknownKey is returned by Verify for a JWS whose kid is not published.
var ErrUnknownKey = errors.New("signing: the JWS names no published key")

// Options tune a KeySet; zero fields take the defaults.
type Options struct {
	// PublishLead is how long a new key is published before it signs (DefaultPublishLead).
	// It must exceed how long relying parties cache the JWKS; the JWKS document's max-age
	// is kept below it.
	PublishLead time.Duration
	// MaxTokenLifetime is the longest any token signed by the set lives
	// (DefaultMaxTokenLifetime): a replaced key stays published that long after it stopped
	// signing.
	MaxTokenLifetime time.Duration
	// CacheFor is how long a replica reuses the keys it read before reading them again
	// (DefaultCacheFor).
	CacheFor time.Duration
	// Bits is the RSA modulus size of new keys (DefaultBits).
	Bits int
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Key is one key of the set.
type Key struct {
	// ID is the JWS "kid": the RFC 7638 SHA-256 thumbprint of the public key, base64url.
	ID        string
	Algorithm jose.SignatureAlgorithm
	Private   *rsa.PrivateKey
	// CreatedAt is when the key was published, NotBefore when it starts signing,
	// ExpiresAt (zero while it is the newest key) when it stops being published.
	CreatedAt time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

// Public returns the key's public JWK (use "sig").
func (k Key) Public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.Private.PublicKey, KeyID: k.ID, Algorithm: string(k.Algorithm), Use: "sig"}
}

// KeySet is the deployment's signing key set on a store. It is safe for concurrent use;
// every replica makes its own on the shared database.
type KeySet struct {
	st  store.SigningKeyStore
	opt Options

	mu       sync.Mutex
	keys     []Key // oldest first
	loadedAt time.Time
}

// New returns the key set kept in st. Nothing is read until a key is needed.
func New(st store.SigningKeyStore, o Options) *KeySet {
	defaults.Positive(&o.PublishLead, DefaultPublishLead)
	defaults.Positive(&o.MaxTokenLifetime, DefaultMaxTokenLifetime)
	defaults.Positive(&o.CacheFor, DefaultCacheFor)
	defaults.Positive(&o.Bits, DefaultBits)
	if o.Now == nil {
		o.Now = time.Now
	}
	return &KeySet{st: st, opt: o}
}

// Options returns the options in effect (defaults filled in).
func (ks *KeySet) Options() Options { return ks.opt }

// Published returns the keys in the JWKS now, oldest first: the current key, keys
// waiting to sign, and replaced keys whose tokens may still be live. The first call (on
// an empty database) makes the first key.
func (ks *KeySet) Published(ctx context.Context) ([]Key, error) {
	keys, err := ks.load(ctx, false)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		if err := ks.createFirst(ctx); err != nil {
			return nil, err
		}
		if keys, err = ks.load(ctx, true); err != nil {
			return nil, err
		}
	}
	now := ks.opt.Now()
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		if k.ExpiresAt.IsZero() || k.ExpiresAt.After(now) {
			out = append(out, k)
		}
	}
	return out, nil
}

// Current returns the key that signs now: the newest published key whose NotBefore has
// passed. The first call on an empty database makes the first key, which signs at once
// (nothing can have cached an older JWKS that lacks it).
func (ks *KeySet) Current(ctx context.Context) (Key, error) {
	keys, err := ks.Published(ctx)
	if err != nil {
		return Key{}, err
	}
	now := ks.opt.Now()
	for i := len(keys) - 1; i >= 0; i-- {
		if !keys[i].NotBefore.After(now) {
			return keys[i], nil
		}
	}
	return Key{}, errors.New("signing: no key may sign yet")
}

// JWKS returns the public keys of Published as a JSON Web Key Set.
func (ks *KeySet) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	keys, err := ks.Published(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	return set, nil
}

// ServeHTTP serves the JWKS document (GET and HEAD), cacheable for less than the publish
// lead so that a relying party sees a new key before it signs.
func (ks *KeySet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	set, err := ks.JWKS(r.Context())
	if err != nil {
		http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
		return
	}
	body, err := json.Marshal(set)
	if err != nil {
		http.Error(w, "signing keys unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(ks.JWKSMaxAge().Seconds())))
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// JWKSMaxAge is how long a relying party may cache the JWKS document: below the publish
// lead less the replicas' key cache, at most five minutes.
func (ks *KeySet) JWKSMaxAge() time.Duration {
	age := ks.opt.PublishLead - ks.opt.CacheFor
	if age > maxJWKSAge {
		age = maxJWKSAge
	}
	if age < 0 {
		age = 0
	}
	return age
}

// Sign signs payload with the current key and returns the compact JWS. The protected
// header carries alg (RS256), kid, and typ when typ is not empty (for example "JWT", or
// "secevent+jwt" for a Security Event Token).
func (ks *KeySet) Sign(ctx context.Context, payload []byte, typ string) (string, error) {
	k, err := ks.Current(ctx)
	if err != nil {
		return "", err
	}
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), k.ID)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Algorithm, Key: k.Private}, opts)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return jws.CompactSerialize()
}

// Verify checks a compact JWS against the published keys and returns its payload and the
// key that signed it. ErrUnknownKey when its kid is not published (or the key has been
// retired); other errors for a malformed JWS, another algorithm or a bad signature.
func (ks *KeySet) Verify(ctx context.Context, compact string) ([]byte, Key, error) {
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{Algorithm})
	if err != nil {
		return nil, Key{}, fmt.Errorf("signing: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, Key{}, errors.New("signing: want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := ks.Published(ctx)
	if err != nil {
		return nil, Key{}, err
	}
	for _, k := range keys {
		if k.ID == kid {
			payload, err := jws.Verify(&k.Private.PublicKey)
			if err != nil {
				return nil, Key{}, fmt.Errorf("signing: %w", err)
			}
			return payload, k, nil
		}
	}
	return nil, Key{}, ErrUnknownKey
}

// Rotate publishes a new key that starts signing PublishLead from now; the keys it
// replaces stay published until every token they can sign has expired. On an empty
// database it makes the first key, which signs at once.
func (ks *KeySet) Rotate(ctx context.Context) (Key, error) {
	keys, err := ks.load(ctx, true)
	if err != nil {
		return Key{}, err
	}
	if len(keys) == 0 {
		if err := ks.createFirst(ctx); err != nil {
			return Key{}, err
		}
		return ks.Current(ctx)
	}
	now := ks.opt.Now()
	for attempt := 0; ; attempt++ {
		k, rec, err := ks.newKey(now, now.Add(ks.opt.PublishLead))
		if err != nil {
			return Key{}, err
		}
		// A replaced key may still sign until NotBefore, and a replica whose cache is
		// stale until CacheFor after; its tokens live MaxTokenLifetime more.
		retire := k.NotBefore.Add(ks.opt.CacheFor + ks.opt.MaxTokenLifetime)
		_, err = ks.st.AddSigningKey(ctx, rec, retire)
		if errors.Is(err, store.ErrConflict) && attempt < 3 {
			continue // another rotation took the generation; add ours after it
		}
		if err != nil {
			return Key{}, err
		}
		ks.invalidate()
		return k, nil
	}
}

// Prune deletes the keys that are no longer published; returns how many.
func (ks *KeySet) Prune(ctx context.Context) (int64, error) {
	n, err := ks.st.PruneSigningKeys(ctx, ks.opt.Now())
	if n > 0 {
		ks.invalidate()
	}
	return n, err
}

func (ks *KeySet) invalidate() {
	ks.mu.Lock()
	ks.keys, ks.loadedAt = nil, time.Time{}
	ks.mu.Unlock()
}

// load returns the keys, from the cache unless it is older than CacheFor or force.
func (ks *KeySet) load(ctx context.Context, force bool) ([]Key, error) {
	now := ks.opt.Now()
	ks.mu.Lock()
	if !force && ks.keys != nil && now.Sub(ks.loadedAt) < ks.opt.CacheFor && !now.Before(ks.loadedAt) {
		keys := ks.keys
		ks.mu.Unlock()
		return keys, nil
	}
	ks.mu.Unlock()
	recs, err := ks.st.SigningKeys(ctx, now)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, 0, len(recs))
	for _, rec := range recs {
		k, err := fromRecord(rec)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		ks.mu.Lock()
		ks.keys, ks.loadedAt = keys, now
		ks.mu.Unlock()
	}
	return keys, nil
}

// createFirst makes the first key; a replica that loses the race reads the winner's.
func (ks *KeySet) createFirst(ctx context.Context) error {
	now := ks.opt.Now()
	_, rec, err := ks.newKey(now, now)
	if err != nil {
		return err
	}
	if _, err := ks.st.CreateFirstSigningKey(ctx, rec); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	ks.invalidate()
	return nil
}

// newKey generates a key published at now that signs from notBefore.
func (ks *KeySet) newKey(now, notBefore time.Time) (Key, store.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, ks.opt.Bits)
	if err != nil {
		return Key{}, store.SigningKey{}, fmt.Errorf("signing: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Key{}, store.SigningKey{}, fmt.Errorf("signing: %w", err)
	}
	kid, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return Key{}, store.SigningKey{}, err
	}
	k := Key{ID: kid, Algorithm: Algorithm, Private: priv, CreatedAt: now, NotBefore: notBefore}
	rec := store.SigningKey{ID: kid, Algorithm: string(Algorithm), PrivateKey: der, CreatedAt: now, NotBefore: notBefore}
	return k, rec, nil
}

func fromRecord(rec store.SigningKey) (Key, error) {
	if rec.Algorithm != string(Algorithm) {
		return Key{}, fmt.Errorf("signing: key %s has algorithm %q; want %s", rec.ID, rec.Algorithm, Algorithm)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(rec.PrivateKey)
	if err != nil {
		return Key{}, fmt.Errorf("signing: key %s: %w", rec.ID, err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return Key{}, fmt.Errorf("signing: key %s is a %T, not RSA", rec.ID, parsed)
	}
	return Key{ID: rec.ID, Algorithm: Algorithm, Private: priv, CreatedAt: rec.CreatedAt, NotBefore: rec.NotBefore, ExpiresAt: rec.ExpiresAt}, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url without padding.
func thumbprint(pub *rsa.PublicKey) (string, error) {
	sum, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("signing: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
