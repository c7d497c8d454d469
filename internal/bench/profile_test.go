package bench_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/scimd/scimd/internal/store/teststores"
)

// BenchmarkLookupProfile is the IdP's hottest call alone, `GET /Users?filter=userName eq
// "…"` through the real router (bearer-token auth, middleware, JSON), on a tenant of 2,000
// users, so that a CPU profile of it shows only the lookup (BENCHMARKS.md, "Where a lookup's
// time goes"):
//
//	go test -run='^$' -bench='LookupProfile/sqlite' -benchtime=5000x -cpuprofile=/tmp/lookup.prof ./internal/bench/
//	go tool pprof -top -nodecount=30 /tmp/lookup.prof
func BenchmarkLookupProfile(b *testing.B) {
	const users = 2000
	for _, be := range teststores.All() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be)
			tn := e.tenant(b, "acme")
			e.seedUsers(b, tn, "seed", users)
			e.analyze(b)
			i := 0
			b.ResetTimer()
			for b.Loop() {
				i++
				out := e.must(b, tn, http.StatusOK, "GET", filterPath("Users", fmt.Sprintf(`userName eq "seed-%d@example.com"`, i%users)), nil)
				if len(out) < 200 {
					b.Fatalf("lookup found nothing: %s", out)
				}
			}
		})
	}
}
