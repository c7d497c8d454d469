package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/store"
)

var keyNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func signingKey(id string, notBefore time.Time) store.SigningKey {
	return store.SigningKey{ID: id, Algorithm: "RS256", PrivateKey: []byte("der-" + id), CreatedAt: keyNow, NotBefore: notBefore}
}

func testSigningFirstKey(t *testing.T, s store.Store) {
	got, err := s.CreateFirstSigningKey(ctx, signingKey("k1", keyNow))
	if err != nil || got.Generation != 1 || got.ID != "k1" || string(got.PrivateKey) != "der-k1" ||
		!got.NotBefore.Equal(keyNow) || !got.ExpiresAt.IsZero() {
		t.Fatalf("CreateFirstSigningKey = %+v, %v", got, err)
	}
	if _, err := s.CreateFirstSigningKey(ctx, signingKey("k2", keyNow)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second CreateFirstSigningKey: %v, want ErrConflict", err)
	}
	keys, err := s.SigningKeys(ctx, keyNow)
	if err != nil || len(keys) != 1 || keys[0].ID != "k1" {
		t.Fatalf("SigningKeys = %+v, %v; want only k1", keys, err)
	}
}

// testSigningFirstKeyConcurrent: replicas starting at once on an empty database end with
// one key between them.
func testSigningFirstKeyConcurrent(t *testing.T, s store.Store) {
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateFirstSigningKey(ctx, signingKey(string(rune('a'+i)), keyNow))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("CreateFirstSigningKey: %v", err)
		}
	}
	keys, err := s.SigningKeys(ctx, keyNow)
	if won != 1 || err != nil || len(keys) != 1 {
		t.Fatalf("%d replicas made a first key, %d keys stored (%v); want 1 and 1", won, len(keys), err)
	}
}

func testSigningRotation(t *testing.T, s store.Store) {
	if _, err := s.CreateFirstSigningKey(ctx, signingKey("k1", keyNow)); err != nil {
		t.Fatal(err)
	}
	retire1 := keyNow.Add(2 * time.Hour)
	k2, err := s.AddSigningKey(ctx, signingKey("k2", keyNow.Add(10*time.Minute)), retire1)
	if err != nil || k2.Generation != 2 || !k2.ExpiresAt.IsZero() {
		t.Fatalf("AddSigningKey(k2) = %+v, %v", k2, err)
	}
	// A second rotation keeps k1's expiry and gives k2 one.
	retire2 := keyNow.Add(3 * time.Hour)
	k3, err := s.AddSigningKey(ctx, signingKey("k3", keyNow.Add(20*time.Minute)), retire2)
	if err != nil || k3.Generation != 3 {
		t.Fatalf("AddSigningKey(k3) = %+v, %v", k3, err)
	}
	if _, err := s.AddSigningKey(ctx, signingKey("k3", keyNow), retire2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AddSigningKey with a taken kid: %v, want ErrConflict", err)
	}
	keys, err := s.SigningKeys(ctx, keyNow)
	if err != nil || len(keys) != 3 {
		t.Fatalf("SigningKeys = %+v, %v", keys, err)
	}
	want := []struct {
		id      string
		gen     int64
		expires time.Time
	}{{"k1", 1, retire1}, {"k2", 2, retire2}, {"k3", 3, time.Time{}}}
	for i, w := range want {
		if k := keys[i]; k.ID != w.id || k.Generation != w.gen || !k.ExpiresAt.Equal(w.expires) {
			t.Errorf("key %d = %s gen %d expires %v; want %s gen %d expires %v", i, k.ID, k.Generation, k.ExpiresAt, w.id, w.gen, w.expires)
		}
	}
	// At retire1 k1 is no longer listed; pruning then deletes it and only it.
	keys, err = s.SigningKeys(ctx, retire1)
	if err != nil || len(keys) != 2 || keys[0].ID != "k2" {
		t.Fatalf("SigningKeys at k1's expiry = %+v, %v; want k2, k3", keys, err)
	}
	if n, err := s.PruneSigningKeys(ctx, retire1.Add(-time.Second)); err != nil || n != 0 {
		t.Fatalf("PruneSigningKeys before any expiry = %d, %v", n, err)
	}
	if n, err := s.PruneSigningKeys(ctx, retire1); err != nil || n != 1 {
		t.Fatalf("PruneSigningKeys = %d, %v; want 1", n, err)
	}
	keys, err = s.SigningKeys(ctx, keyNow)
	if err != nil || len(keys) != 2 || keys[0].ID != "k2" || keys[1].ID != "k3" {
		t.Fatalf("SigningKeys after prune = %+v, %v", keys, err)
	}
	// The generation keeps growing after a prune.
	k4, err := s.AddSigningKey(ctx, signingKey("k4", keyNow), retire2)
	if err != nil || k4.Generation != 4 {
		t.Fatalf("AddSigningKey(k4) = %+v, %v", k4, err)
	}
}
