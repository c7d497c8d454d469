package events_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// burstChanges is the size of the burst BenchmarkBurst makes.
var burstChanges = 10000

// burst makes n user creates through the directory with 8 writers and returns how long
// they took.
func burst(b *testing.B, e *env, tn store.Tenant, prefix string, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := e.dir.CreateUser(ctx, tn, map[string]any{"schemas": []any{scim.UserSchema},
					"userName": fmt.Sprintf("%s%d@example.com", prefix, i)}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkBurst: 10,000 changes made by 8 writers, first with no stream (the floor), then
// with a push stream and a running deliverer, and how long the SETs take to reach a
// receiver that answers 202 at once. Run with -benchtime=1x; BENCHMARKS.md has figures.
func BenchmarkBurst(b *testing.B) {
	if n, err := strconv.Atoi(os.Getenv("SCIMD_BURST")); err == nil && n > 0 {
		burstChanges = n // a smaller burst for profiling
	}
	for _, be := range teststores.All() {
		b.Run(be.Name, func(b *testing.B) {
			for range b.N {
				e := newEnv(b, be.Open(b))
				tn, err := e.dir.CreateTenant(ctx, "acme", "acme")
				if err != nil {
					b.Fatal(err)
				}
				floor := burst(b, e, tn, "floor", burstChanges)

				// The outbox alone: a (paused) stream, no deliverer.
				quiet := store.Stream{ID: store.NewID(), Kind: store.StreamPush, URL: "http://127.0.0.1:1/", Audience: "a", TenantID: tn.ID,
					Events: events.AuditEvents(nil), Paused: true, CreatedAt: time.Now().UTC()}
				if err := e.s.CreateStream(ctx, quiet, nil); err != nil {
					b.Fatal(err)
				}
				outbox := burst(b, e, tn, "outbox", burstChanges)
				if err := e.s.DeleteStream(ctx, quiet.ID); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(burstChanges)/outbox.Seconds(), "changes/s-outbox-only")
				b.Logf("%s: %d changes with a stream's outbox rows written but no deliverer: %s (%.0f/s)", be.Name, burstChanges,
					outbox.Round(time.Millisecond), float64(burstChanges)/outbox.Seconds())

				var received atomic.Int64
				rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					received.Add(1)
					w.WriteHeader(http.StatusAccepted)
				}))
				st := store.Stream{ID: store.NewID(), Kind: store.StreamPush, URL: rcv.URL, Audience: "a", TenantID: tn.ID,
					Events: events.AuditEvents(nil), CreatedAt: time.Now().UTC()}
				if err := e.s.CreateStream(ctx, st, nil); err != nil {
					b.Fatal(err)
				}
				runCtx, cancel := context.WithCancel(ctx)
				d := events.NewDeliverer(e.s, e.keys, events.Config{Issuer: issuer, Idle: 50 * time.Millisecond, Refresh: 100 * time.Millisecond}, e.log, nil)
				done := make(chan struct{})
				start := time.Now()
				go func() { d.Run(runCtx); close(done) }()
				withStream := burst(b, e, tn, "stream", burstChanges)
				lagAtEnd := time.Duration(0)
				if s := stats(b, e.s, st.ID); !s.OldestPending.IsZero() {
					lagAtEnd = time.Since(s.OldestPending)
				}
				atEnd := received.Load()
				for received.Load() < int64(burstChanges) && time.Since(start) < 10*time.Minute {
					time.Sleep(10 * time.Millisecond)
				}
				drained := time.Since(start)
				cancel()
				<-done
				rcv.Close()
				if received.Load() < int64(burstChanges) {
					b.Fatalf("only %d of %d SETs delivered", received.Load(), burstChanges)
				}
				b.ReportMetric(float64(burstChanges)/floor.Seconds(), "changes/s-no-stream")
				b.ReportMetric(float64(burstChanges)/withStream.Seconds(), "changes/s-with-stream")
				b.ReportMetric(float64(burstChanges)/drained.Seconds(), "SETs/s")
				b.ReportMetric(lagAtEnd.Seconds(), "lag-at-end-s")
				b.ReportMetric((drained - withStream).Seconds(), "drain-after-s")
				b.Logf("%s: %d changes without a stream in %s (%.0f/s); with a stream in %s (%.0f/s); %d SETs delivered when the burst ended, lag then %s; all %d delivered %s after the start (%.0f SETs/s), %s after the burst",
					be.Name, burstChanges, floor.Round(time.Millisecond), float64(burstChanges)/floor.Seconds(),
					withStream.Round(time.Millisecond), float64(burstChanges)/withStream.Seconds(), atEnd, lagAtEnd.Round(time.Millisecond),
					burstChanges, drained.Round(time.Millisecond), float64(burstChanges)/drained.Seconds(), (drained - withStream).Round(time.Millisecond))
			}
		})
	}
}
