package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/sqlite"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
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

// BenchmarkPageTotal is one list page of 100 on a tenant of 100,000 users, whose
// totalResults comes from the tenant's counter rows (unfiltered, migration 0040) or from a
// count of the rows the filter matches (filtered), beside the floor of a page without a
// total (a keyset select of 100 rows) and of the COUNT(*) every page paid before:
//
//	go test -run='^$' -bench='PageTotal' -benchtime=200x -timeout=30m ./internal/bench/
func BenchmarkPageTotal(b *testing.B) {
	for _, be := range teststores.All() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be)
			tn := e.tenant(b, "acme")
			e.seedUsers(b, tn, "u", bigUsers)
			e.analyze(b)
			page := func(path string) func(b *testing.B) {
				return func(b *testing.B) {
					for b.Loop() {
						out := e.must(b, tn, http.StatusOK, "GET", path, nil)
						var lr struct{ TotalResults, ItemsPerPage int }
						json.Unmarshal(out, &lr)
						if lr.ItemsPerPage != pageSize || lr.TotalResults < pageSize {
							b.Fatalf("%s: %d items of %d", path, lr.ItemsPerPage, lr.TotalResults)
						}
					}
				}
			}
			b.Run("cursor-first-unfiltered", page(fmt.Sprintf("/scim/v2/Users?count=%d&cursor=", pageSize)))
			b.Run("index-first-unfiltered", page(fmt.Sprintf("/scim/v2/Users?count=%d&startIndex=1", pageSize)))
			b.Run("index-first-filtered-all", page(filterPath("Users", `active eq true`, "count", fmt.Sprint(pageSize))))
			b.Run("index-first-filtered-11k", page(filterPath("Users", `userName sw "u-1"`, "count", fmt.Sprint(pageSize))))
			b.Run("floor-keyset-page", func(b *testing.B) {
				var id string
				var created, modified any
				var version int64
				var data []byte
				for b.Loop() {
					if n, err := e.rawQueryAll(`SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1 ORDER BY created_at, id LIMIT 100`,
						[]any{tn.t.ID}, &id, &created, &modified, &version, &data); err != nil || n != pageSize {
						b.Fatalf("keyset page: %v, %d rows", err, n)
					}
				}
			})
			b.Run("floor-count-all", func(b *testing.B) {
				for b.Loop() {
					var n int
					if err := e.rawQueryRow(`SELECT COUNT(*) FROM users WHERE tenant_id = $1`, []any{tn.t.ID}, &n); err != nil || n != bigUsers {
						b.Fatalf("count: %v, %d", err, n)
					}
				}
			})
		})
	}
}

// BenchmarkLookupHTTP is the lookup as scimd serves it: a real HTTP server on loopback,
// the JSON access log written (to a file), 8 clients at once. Its CPU profile is the one
// BENCHMARKS.md summarises:
//
//	go test -run='^$' -bench='LookupHTTP/postgres' -benchtime=20000x -cpuprofile=/tmp/lookup.prof ./internal/bench/
func BenchmarkLookupHTTP(b *testing.B) {
	const users = 2000
	for _, be := range teststores.All() {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			logf, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer logf.Close()
			log := slog.New(slog.NewJSONHandler(logf, nil))
			hs := httptest.NewServer(nil)
			defer hs.Close()
			sv, err := testkit.New(context.Background(), st, testkit.Options{Server: server.Config{PublicURL: hs.URL}, Log: log})
			if err != nil {
				b.Fatal(err)
			}
			hs.Config.Handler = sv.Router
			e := &env{backend: be.Name, st: st, tenants: map[string]tenant{}, clock: time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond), dir: sv.Dir, h: sv.Router}
			switch s := st.(type) {
			case *postgres.Store:
				e.pg = s.Pool
			case *sqlite.Store:
				e.sq = s.DB
			}
			tn := e.tenant(b, "acme")
			e.seedUsers(b, tn, "seed", users)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			var seq atomic.Int64
			b.SetParallelism(4) // 8 clients on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					req, _ := http.NewRequest("GET", hs.URL+filterPath("Users", fmt.Sprintf(`userName eq "seed-%d@example.com"`, i%users)), nil)
					req.Header.Set("Authorization", "Bearer "+tn.token)
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK || len(body) < 200 {
						b.Errorf("lookup: %d %s", res.StatusCode, body)
						return
					}
				}
			})
		})
	}
}
