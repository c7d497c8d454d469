package faults

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
	"github.com/scimd/scimd/internal/testlog"
)

// TestRefusedTokenTiming: refusing an unknown token and refusing a revoked one take about
// the same time. Both are looked up by hash through one index, and the revoked token's
// audit event is written after the answer is flushed; the samples alternate so that drift
// hits both alike, and pause so that work done after an answer lands on neither. Client and
// server share one process on a loaded machine here, so the bound is generous (half the
// median request, at least 2 ms): it catches a secret compared in Go or a slow path for
// either kind, not the tenth of a millisecond of CPU the audit write takes from the client.
// Neither token may reach the log.
func TestRefusedTokenTiming(t *testing.T) {
	ctx := context.Background()
	s := teststores.SQLite(t)
	logs := &testlog.Buffer{}
	sv := testkit.Serve(t, s, testkit.Options{Server: server.Config{AuthFailuresPerMinute: -1},
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, "acme")
	hs, tn, live := sv, sv.Tenant, sv.Token
	revoked, rec, err := sv.Dir.IssueToken(ctx, tn, "old")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tn.ID, rec.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	// An unknown token of the same shape and length as a real one.
	unknown := "scimd_" + strings.Repeat("A", len(revoked)-len("scimd_"))

	hc := &http.Client{Timeout: 10 * time.Second}
	sample := func(token string) time.Duration {
		req, _ := http.NewRequest("GET", hs.URL+"/scim/v2/Users?count=1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body) // the refusal is complete when its body is
		d := time.Since(start)
		res.Body.Close()
		// Let the server finish what it does after answering (a revoked token's audit
		// event) before the next sample, so that it lands on neither kind.
		time.Sleep(5 * time.Millisecond)
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", res.StatusCode)
		}
		return d
	}
	for range 20 { // warm up connections and caches
		sample(unknown)
		sample(revoked)
	}
	const n = 300
	var us, rs []time.Duration
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		if i%2 == 0 {
			us = append(us, sample(unknown))
			rs = append(rs, sample(revoked))
		} else {
			rs = append(rs, sample(revoked))
			us = append(us, sample(unknown))
		}
	}
	mu, mr := median(us), median(rs)
	diff := max(mu, mr) - min(mu, mr)
	bound := max(2*time.Millisecond, max(mu, mr)/2)
	t.Logf("%d samples each: median unknown %v, revoked %v, difference %v (bound %v)", len(us), mu, mr, diff, bound)
	if diff > bound {
		t.Errorf("refusing a revoked token takes %v, an unknown one %v: a difference of %v is measurable", mr, mu, diff)
	}
	for _, tok := range []string{live, revoked, unknown} {
		if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), tok[len("scimd_"):]) {
			t.Errorf("a token reached the log")
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
