package signing_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

var ctx = context.Background()

// clock is a settable clock shared by the key sets of one test (its replicas).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSet(s store.Store, c *clock) *signing.KeySet {
	return signing.New(s, signing.Options{PublishLead: 10 * time.Minute, MaxTokenLifetime: time.Hour,
		CacheFor: 30 * time.Second, Bits: 1024, Now: c.Now})
}

func header(t *testing.T, compact string) jose.Header {
	t.Helper()
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header
}

func TestSignVerify(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		c := &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
		ks := newSet(s, c)
		tests := []struct{ name, typ string }{{"JWT", "JWT"}, {"SET", "secevent+jwt"}, {"no typ", ""}}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				jws, err := ks.Sign(ctx, []byte(`{"sub":"x"}`), tc.typ)
				if err != nil {
					t.Fatal(err)
				}
				cur, _ := ks.Current(ctx)
				h := header(t, jws)
				if h.KeyID != cur.ID || h.Algorithm != "RS256" {
					t.Fatalf("header = %+v; want kid %s, RS256, typ %q", h, cur.ID, tc.typ)
				}
				if got, _ := h.ExtraHeaders["typ"].(string); got != tc.typ {
					t.Fatalf("typ = %q, want %q", got, tc.typ)
				}
				payload, k, err := ks.Verify(ctx, jws)
				if err != nil || string(payload) != `{"sub":"x"}` || k.ID != cur.ID {
					t.Fatalf("Verify = %s, %s, %v", payload, k.ID, err)
				}
			})
		}
		good, _ := ks.Sign(ctx, []byte(`{"a":1}`), "JWT")
		parts := strings.Split(good, ".")
		refused := []struct{ name, jws string }{
			{"tampered payload", parts[0] + ".eyJhIjoyfQ." + parts[2]},
			{"not a JWS", "garbage"},
			{"HS256", hs256(t)},
		}
		for _, tc := range refused {
			t.Run("refused "+tc.name, func(t *testing.T) {
				if _, _, err := ks.Verify(ctx, tc.jws); err == nil {
					t.Fatal("Verify accepted it")
				}
			})
		}
	})
}

func hs256(t *testing.T) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.Sign([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := j.CompactSerialize()
	return out
}

// TestRotation: a new key is published before it signs, on every replica; the previous
// key verifies its tokens until they have expired, and is then unpublished and pruned.
func TestRotation(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		c := &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
		a, b := newSet(s, c), newSet(s, c) // two replicas
		old, err := a.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := b.Current(ctx); got.ID != old.ID {
			t.Fatalf("replica b signs with %s, a with %s", got.ID, old.ID)
		}
		oldToken, _ := a.Sign(ctx, []byte(`{"n":1}`), "JWT")

		fresh, err := a.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Minute) // past b's cache
		for name, ks := range map[string]*signing.KeySet{"a": a, "b": b} {
			jwks, _ := ks.JWKS(ctx)
			if len(jwks.Keys) != 2 || len(jwks.Key(fresh.ID)) != 1 {
				t.Fatalf("%s: JWKS after rotation has %d keys, want the old and the new", name, len(jwks.Keys))
			}
			if cur, _ := ks.Current(ctx); cur.ID != old.ID {
				t.Fatalf("%s: the new key signs before its publish lead", name)
			}
		}
		c.Add(10 * time.Minute) // the lead has passed
		newToken, _ := b.Sign(ctx, []byte(`{"n":2}`), "JWT")
		if h := header(t, newToken); h.KeyID != fresh.ID {
			t.Fatalf("after the lead b signs with %s, want %s", h.KeyID, fresh.ID)
		}
		// Until an hour of token lifetime (plus the cache) after the new key took over, the
		// old key's tokens still verify: now is 1h10m after the rotation, the expiry 1h10m30s.
		c.Add(59 * time.Minute)
		for _, tok := range []string{oldToken, newToken} {
			if _, _, err := b.Verify(ctx, tok); err != nil {
				t.Fatalf("Verify before the old key's expiry: %v", err)
			}
		}
		c.Add(31 * time.Second) // every token of the old key has expired
		if _, _, err := b.Verify(ctx, oldToken); !errors.Is(err, signing.ErrUnknownKey) {
			t.Fatalf("Verify of the old key's token after its expiry: %v, want ErrUnknownKey", err)
		}
		if n, err := a.Prune(ctx); err != nil || n != 1 {
			t.Fatalf("Prune = %d, %v; want 1", n, err)
		}
		jwks, _ := a.JWKS(ctx)
		if len(jwks.Keys) != 1 || jwks.Keys[0].KeyID != fresh.ID {
			t.Fatalf("JWKS after prune = %+v", jwks.Keys)
		}
	})
}

// TestFirstKeyOneForAllReplicas: replicas starting together on an empty database agree on
// one key.
func TestFirstKeyOneForAllReplicas(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		c := &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
		ids := make([]string, 4)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() {
				k, err := newSet(s, c).Current(ctx)
				if err != nil {
					t.Error(err)
				}
				ids[i] = k.ID
			})
		}
		wg.Wait()
		for _, id := range ids[1:] {
			if id != ids[0] {
				t.Fatalf("replicas sign with different first keys: %v", ids)
			}
		}
	})
}

func TestJWKSHandler(t *testing.T) {
	c := &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	ks := newSet(teststores.SQLite(t), c)
	tests := []struct {
		method string
		status int
	}{{http.MethodGet, 200}, {http.MethodHead, 200}, {http.MethodPost, 405}}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			ks.ServeHTTP(rec, httptest.NewRequest(tc.method, "/jwks", nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.method != http.MethodGet {
				return
			}
			if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/json" || cc != "public, max-age=300" {
				t.Fatalf("Content-Type %q, Cache-Control %q", ct, cc)
			}
			if strings.Contains(rec.Body.String(), `"d"`) || strings.Contains(rec.Body.String(), `"p"`) {
				t.Fatalf("the JWKS leaks private parts: %s", rec.Body)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("JWKS %s: %v", rec.Body, err)
			}
			k := set.Keys[0]
			if k.Use != "sig" || k.Algorithm != "RS256" || !k.IsPublic() || k.KeyID == "" {
				t.Fatalf("key = %+v", k)
			}
		})
	}
}

func TestJWKSMaxAgeBelowLead(t *testing.T) {
	tests := []struct {
		lead, cache, want time.Duration
	}{
		{10 * time.Minute, 30 * time.Second, 5 * time.Minute},
		{2 * time.Minute, 30 * time.Second, 90 * time.Second},
		{10 * time.Second, 30 * time.Second, 0},
	}
	for _, tc := range tests {
		ks := signing.New(nil, signing.Options{PublishLead: tc.lead, CacheFor: tc.cache})
		if got := ks.JWKSMaxAge(); got != tc.want {
			t.Errorf("lead %v cache %v: max-age %v, want %v", tc.lead, tc.cache, got, tc.want)
		}
	}
}
