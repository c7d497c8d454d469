package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// Population sizes. The user benchmarks run on a tenant of seededUsers; the scale
// benchmarks on one of bigUsers, with a group of all of them.
const (
	seededUsers = 10_000
	bigUsers    = 100_000
	manyGroups  = 10_000
	fewGroups   = 10
	pageSize    = 100
)

func userBody(name string) []byte {
	b, _ := json.Marshal(map[string]any{"schemas": []string{scim.UserSchema}, "userName": name, "externalId": name, "displayName": name,
		"name":   map[string]any{"givenName": "Bench", "familyName": name},
		"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}}})
	return b
}

func activeBody(active bool) []byte {
	return []byte(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`, active))
}

// BenchmarkUsers measures the single-user SCIM operations IdPs send most: create,
// get, lookup by userName, PATCH deactivate, each through the real router (bearer-token
// auth included) and through the directory (no HTTP, no auth), beside the floor: raw
// driver calls doing the same row work on the same database.
func BenchmarkUsers(b *testing.B) {
	for _, be := range teststores.All() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be)
			tn := e.tenant(b, "acme")
			ids := e.seedUsers(b, tn, "seed", seededUsers)
			e.analyze(b)
			ctx := directory.WithActor(context.Background(), directory.Actor{Name: "token bench", TokenID: "tok_bench"})
			r := ratios{}
			seq := 0
			next := func() string { seq++; return fmt.Sprintf("new-%d@example.com", seq) }

			r.measure(b, "create/scim", "create/scim", func(b *testing.B) {
				for b.Loop() {
					e.must(b, tn, http.StatusCreated, "POST", "/scim/v2/Users", userBody(next()))
				}
			})
			r.measure(b, "create/dir", "create/directory", func(b *testing.B) {
				for b.Loop() {
					var body map[string]any
					json.Unmarshal(userBody(next()), &body)
					if _, err := e.dir.CreateUser(ctx, tn.t, body); err != nil {
						b.Fatal(err)
					}
				}
			})
			r.measure(b, "create/floor", "create/floor", func(b *testing.B) {
				for b.Loop() {
					name, id, now := next(), store.NewID(), time.Now().UTC()
					err := e.rawTx(func(c rawConn) error {
						if err := c.exec(userInsert, tn.t.ID, id, e.timeArg(now), e.timeArg(now), e.jsonArg(userData(name, name, true)), name, name, true, name, scim.FoldKey(name)); err != nil {
							return err
						}
						return e.rawEvent(c, tn.t.ID, directory.EventUserCreate, "User", id, name, now)
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})

			i := 0
			r.measure(b, "get/scim", "get/scim", func(b *testing.B) {
				for b.Loop() {
					i++
					e.must(b, tn, http.StatusOK, "GET", "/scim/v2/Users/"+ids[i%len(ids)], nil)
				}
			})
			r.measure(b, "get/dir", "get/directory", func(b *testing.B) {
				for b.Loop() {
					i++
					if _, err := e.dir.Get(ctx, scim.Users, tn.t, ids[i%len(ids)], true); err != nil {
						b.Fatal(err)
					}
				}
			})
			r.measure(b, "get/floor", "get/floor", func(b *testing.B) {
				var id string
				var created, modified any
				var version int64
				var data []byte
				for b.Loop() {
					i++
					if err := e.rawQueryRow(`SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1 AND id = $2`,
						[]any{tn.t.ID, ids[i%len(ids)]}, &id, &created, &modified, &version, &data); err != nil {
						b.Fatal(err)
					}
				}
			})

			lookup := func(i int) string { return fmt.Sprintf("seed-%d@example.com", i%seededUsers) }
			r.measure(b, "lookup/scim", "lookup-userName/scim", func(b *testing.B) {
				for b.Loop() {
					i++
					out := e.must(b, tn, http.StatusOK, "GET", filterPath("Users", `userName eq "`+lookup(i)+`"`), nil)
					if len(out) < 200 {
						b.Fatalf("lookup found nothing: %s", out)
					}
				}
			})
			r.measure(b, "lookup/scim-nogroups", "lookup-userName/scim-excluding-groups", func(b *testing.B) {
				for b.Loop() {
					i++
					e.must(b, tn, http.StatusOK, "GET", filterPath("Users", `userName eq "`+lookup(i)+`"`, "excludedAttributes", "groups"), nil)
				}
			})
			r.measure(b, "lookup/dir", "lookup-userName/directory", func(b *testing.B) {
				for b.Loop() {
					i++
					f, err := filter.Parse(`userName eq "`+lookup(i)+`"`, scim.Users)
					if err != nil {
						b.Fatal(err)
					}
					p, err := e.dir.List(ctx, scim.Users, tn.t, store.Query{Filter: f, StartIndex: 1, Count: 100, WithMembers: true})
					if err != nil || len(p.Resources) != 1 {
						b.Fatalf("lookup: %v, %d found", err, len(p.Resources))
					}
				}
			})
			r.measure(b, "lookup/floor", "lookup-userName/floor", func(b *testing.B) {
				var id string
				var created, modified any
				var version int64
				var data []byte
				for b.Loop() {
					i++
					if err := e.rawQueryRow(`SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1 AND lower(user_name) = lower($2)`,
						[]any{tn.t.ID, lookup(i)}, &id, &created, &modified, &version, &data); err != nil {
						b.Fatal(err)
					}
				}
			})

			// Where the lookup's time goes: the filter parser, the bearer-token check, and the
			// COUNT(*) that ListResources no longer runs for a page that is not full.
			r.measure(b, "lookup/parse", "lookup-userName/part-filter-parse", func(b *testing.B) {
				for b.Loop() {
					i++
					if _, err := filter.Parse(`userName eq "`+lookup(i)+`"`, scim.Users); err != nil {
						b.Fatal(err)
					}
				}
			})
			auth := directory.NewAuthenticator(e.st)
			r.measure(b, "lookup/auth", "lookup-userName/part-token-auth", func(b *testing.B) {
				for b.Loop() {
					if _, _, err := auth.Authenticate(ctx, "Bearer "+tn.token); err != nil {
						b.Fatal(err)
					}
				}
			})
			r.measure(b, "lookup/count", "lookup-userName/part-count-query-skipped", func(b *testing.B) {
				for b.Loop() {
					i++
					var n int
					if err := e.rawQueryRow(`SELECT COUNT(*) FROM users r WHERE r.tenant_id = $1 AND (lower(r.user_name) = lower($2))`,
						[]any{tn.t.ID, lookup(i)}, &n); err != nil || n != 1 {
						b.Fatalf("count: %v, %d", err, n)
					}
				}
			})

			// PATCH deactivate: every op changes the user (deactivate on the first pass over
			// the users, reactivate on the second, …), so none is skipped as a no-op.
			const patched = 1000
			patchN := map[string]int{}
			toggle := func(key string) (string, bool) {
				offset := 0 // the SCIM and floor runs patch disjoint users
				if key == "floor" {
					offset = patched
				}
				n := patchN[key]
				patchN[key]++
				return ids[offset+n%patched], (n/patched)%2 == 1
			}
			r.measure(b, "patch/scim", "patch-deactivate/scim", func(b *testing.B) {
				for b.Loop() {
					id, active := toggle("scim")
					e.must(b, tn, http.StatusOK, "PATCH", "/scim/v2/Users/"+id, activeBody(active))
				}
			})
			r.measure(b, "patch/floor", "patch-deactivate/floor", func(b *testing.B) {
				lock := ""
				if e.pg != nil {
					lock = " FOR UPDATE"
				}
				for b.Loop() {
					id, active := toggle("floor")
					now := time.Now().UTC()
					err := e.rawTx(func(c rawConn) error {
						var version int64
						var data []byte
						if err := c.scan(`SELECT version, data FROM users WHERE tenant_id = $1 AND id = $2`+lock, []any{tn.t.ID, id}, &version, &data); err != nil {
							return err
						}
						if err := c.exec(`UPDATE users SET last_modified = $3, version = $4, data = $5, active = $6 WHERE tenant_id = $1 AND id = $2`,
							tn.t.ID, id, e.timeArg(now), version+1, e.jsonArg(userData(id, id, active)), active); err != nil {
							return err
						}
						return e.rawEvent(c, tn.t.ID, directory.EventUserDeprov, "User", id, id, now)
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})

			r.report(b, "create: scim / raw insert+event", "create/scim", "create/floor", 2)
			r.info(b, "create: directory / raw insert+event", "create/dir", "create/floor")
			r.info(b, "get: scim / raw select by id", "get/scim", "get/floor")
			r.info(b, "get: directory / raw select by id", "get/dir", "get/floor")
			r.report(b, "userName lookup: scim / raw indexed select", "lookup/scim", "lookup/floor", 2)
			r.info(b, "userName lookup (no groups): scim / raw", "lookup/scim-nogroups", "lookup/floor")
			r.info(b, "userName lookup: directory / raw", "lookup/dir", "lookup/floor")
			r.info(b, "filter.Parse / raw indexed select", "lookup/parse", "lookup/floor")
			r.info(b, "token auth / raw indexed select", "lookup/auth", "lookup/floor")
			r.info(b, "COUNT(*) no longer run / raw indexed select", "lookup/count", "lookup/floor")
			r.info(b, "PATCH deactivate: scim / raw lock+update+event", "patch/scim", "patch/floor")
		})
	}
}

// BenchmarkScale measures what must not grow with the data: cursor paging
// of the last page of 100,000 users against the first; adding and removing one member of a
// group of 100,000 against one of 100; a group lookup by displayName with members excluded
// on a tenant of 10,000 groups against one of 10.
func BenchmarkScale(b *testing.B) {
	for _, be := range teststores.All() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be)
			tn := e.tenant(b, "acme")
			users := e.seedUsers(b, tn, "u", bigUsers)
			small := e.seedGroup(b, tn, "small", users[:100])
			big := e.seedGroup(b, tn, "big", users)
			few, many := e.tenant(b, "few"), e.tenant(b, "many")
			e.seedGroups(b, few, "g", fewGroups)
			e.seedGroups(b, many, "g", manyGroups)
			e.analyze(b)
			r := ratios{}

			// ---- paging ----
			lastCursor := e.cursorAt(b, tn, bigUsers-pageSize)
			var lastCreated any
			if err := e.rawQueryRow(`SELECT created_at FROM users WHERE tenant_id = $1 AND id = $2`, []any{tn.t.ID, users[bigUsers-pageSize-1]}, &lastCreated); err != nil {
				b.Fatal(err)
			}
			page := func(path string, want int) func(b *testing.B) {
				return func(b *testing.B) {
					for b.Loop() {
						out := e.must(b, tn, http.StatusOK, "GET", path, nil)
						var lr struct{ ItemsPerPage int }
						json.Unmarshal(out, &lr)
						if lr.ItemsPerPage != want {
							b.Fatalf("%s: %d items, want %d", path, lr.ItemsPerPage, want)
						}
					}
				}
			}
			r.measure(b, "cursor/first", "page/cursor-first/scim", page(fmt.Sprintf("/scim/v2/Users?count=%d&cursor=", pageSize), pageSize))
			r.measure(b, "cursor/last", "page/cursor-last/scim", page(fmt.Sprintf("/scim/v2/Users?count=%d&cursor=%s", pageSize, url.QueryEscape(lastCursor)), pageSize))
			r.measure(b, "index/first", "page/index-first/scim", page(fmt.Sprintf("/scim/v2/Users?count=%d&startIndex=1", pageSize), pageSize))
			r.measure(b, "index/last", "page/index-last/scim", page(fmt.Sprintf("/scim/v2/Users?count=%d&startIndex=%d", pageSize, bigUsers-pageSize+1), pageSize))
			keyset := func(after bool) func(b *testing.B) {
				return func(b *testing.B) {
					var id string
					var created, modified any
					var version int64
					var data []byte
					for b.Loop() {
						q, args := `SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1 ORDER BY created_at, id LIMIT 100`, []any{tn.t.ID}
						if after {
							q = `SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1 AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT 100`
							args = append(args, lastCreated, users[bigUsers-pageSize-1])
						}
						if n, err := e.rawQueryAll(q, args, &id, &created, &modified, &version, &data); err != nil || n != pageSize {
							b.Fatalf("keyset page: %v, %d rows", err, n)
						}
					}
				}
			}
			r.measure(b, "cursor/first-floor", "page/keyset-first/floor", keyset(false))
			r.measure(b, "cursor/last-floor", "page/keyset-last/floor", keyset(true))
			r.measure(b, "count-floor", "page/count-all/floor", func(b *testing.B) {
				for b.Loop() {
					var n int
					if err := e.rawQueryRow(`SELECT COUNT(*) FROM users WHERE tenant_id = $1`, []any{tn.t.ID}, &n); err != nil || n < bigUsers {
						b.Fatalf("count: %v, %d", err, n)
					}
				}
			})

			// ---- group lookup ----
			lookup := filterPath("Groups", `displayName eq "g-5"`, "excludedAttributes", "members")
			r.measure(b, "glookup/10", fmt.Sprintf("group-lookup/groups=%d/scim", fewGroups), func(b *testing.B) {
				for b.Loop() {
					e.must(b, few, http.StatusOK, "GET", lookup, nil)
				}
			})
			r.measure(b, "glookup/10000", fmt.Sprintf("group-lookup/groups=%d/scim", manyGroups), func(b *testing.B) {
				for b.Loop() {
					e.must(b, many, http.StatusOK, "GET", lookup, nil)
				}
			})
			r.measure(b, "glookup/floor", fmt.Sprintf("group-lookup/groups=%d/floor", manyGroups), func(b *testing.B) {
				var id string
				var data []byte
				for b.Loop() {
					if err := e.rawQueryRow(`SELECT id, data FROM groups WHERE tenant_id = $1 AND lower(display_name) = lower($2)`, []any{many.t.ID, "g-5"}, &id, &data); err != nil {
						b.Fatal(err)
					}
				}
			})

			// ---- membership ----
			batch := 0
			fresh := func(b *testing.B) []string {
				batch++
				return e.seedUsers(b, tn, fmt.Sprintf("x%d", batch), b.N)
			}
			patchMembers := func(op, path, id string) []byte {
				v := `[{"value":"` + id + `"}]`
				if path != "members" {
					v = `null`
				}
				return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"` + op + `","path":` + strconvQuote(path) + `,"value":` + v + `}]}`)
			}
			add := func(group, query string) func(b *testing.B) {
				return func(b *testing.B) {
					ids := fresh(b)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						e.must(b, tn, http.StatusOK, "PATCH", "/scim/v2/Groups/"+group+query, patchMembers("add", "members", ids[i]))
					}
					b.StopTimer()
					e.removeRawMembers(b, tn, group, ids)
				}
			}
			remove := func(group string) func(b *testing.B) {
				return func(b *testing.B) {
					ids := fresh(b)
					e.addRawMembers(b, tn, group, ids)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						e.must(b, tn, http.StatusOK, "PATCH", "/scim/v2/Groups/"+group+"?excludedAttributes=members",
							patchMembers("remove", `members[value eq "`+ids[i]+`"]`, ""))
					}
				}
			}
			floorAdd := func(group string) func(b *testing.B) {
				lock := ""
				if e.pg != nil {
					lock = " FOR UPDATE"
				}
				return func(b *testing.B) {
					ids := fresh(b)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						now := time.Now().UTC()
						err := e.rawTx(func(c rawConn) error {
							var version int64
							var one int
							if err := c.scan(`SELECT version FROM groups WHERE tenant_id = $1 AND id = $2`+lock, []any{tn.t.ID, group}, &version); err != nil {
								return err
							}
							if err := c.scan(`SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2`, []any{tn.t.ID, ids[i]}, &one); err != nil {
								return err
							}
							if err := c.exec(`INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES ($1, $2, $3, 'User') ON CONFLICT DO NOTHING`,
								tn.t.ID, group, ids[i]); err != nil {
								return err
							}
							if err := c.exec(`UPDATE groups SET version = $3, last_modified = $4 WHERE tenant_id = $1 AND id = $2`, tn.t.ID, group, version+1, e.timeArg(now)); err != nil {
								return err
							}
							return e.rawEvent(c, tn.t.ID, directory.EventGroupUpdate, "Group", group, "big", now)
						})
						if err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					e.removeRawMembers(b, tn, group, ids)
				}
			}
			r.measure(b, "add/100", "add-member/members=100/scim", add(small, "?excludedAttributes=members"))
			r.measure(b, "add/100000", "add-member/members=100000/scim", add(big, "?excludedAttributes=members"))
			r.measure(b, "add/100-floor", "add-member/members=100/floor", floorAdd(small))
			r.measure(b, "add/100000-floor", "add-member/members=100000/floor", floorAdd(big))
			r.measure(b, "remove/100", "remove-member/members=100/scim", remove(small))
			r.measure(b, "remove/100000", "remove-member/members=100000/scim", remove(big))
			// The default PATCH response is the whole group (RFC 7644 §3.5.2: 200 with the
			// entire resource), so it grows with the group by contract; measured to show it.
			r.measure(b, "addfull/100", "add-member-full-response/members=100/scim", add(small, ""))
			r.measure(b, "addfull/100000", "add-member-full-response/members=100000/scim", add(big, ""))

			r.report(b, "cursor paging: last page / first page", "cursor/last", "cursor/first", 1.5)
			r.info(b, "cursor first page: scim / raw keyset", "cursor/first", "cursor/first-floor")
			r.info(b, "cursor last page: scim / raw keyset", "cursor/last", "cursor/last-floor")
			r.info(b, "index paging: last page / first page", "index/last", "index/first")
			r.report(b, "group lookup: 10,000 groups / 10 groups", "glookup/10000", "glookup/10", 1.5)
			r.info(b, "group lookup: scim / raw indexed select", "glookup/10000", "glookup/floor")
			r.report(b, "add member: 100,000-member / 100-member group", "add/100000", "add/100", 1.5)
			r.report(b, "remove member: 100,000 / 100", "remove/100000", "remove/100", 1.5)
			r.info(b, "add member floor: 100,000 / 100", "add/100000-floor", "add/100-floor")
			r.info(b, "add member (100,000): scim / raw", "add/100000", "add/100000-floor")
			r.info(b, "add member, full response: 100,000 / 100", "addfull/100000", "addfull/100")
		})
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// cursorAt pages through the tenant's users by cursor and returns the cursor that follows
// the first pos users (pos a multiple of pageSize).
func (e *env) cursorAt(b *testing.B, tn tenant, pos int) string {
	b.Helper()
	cursor := ""
	for done := 0; done < pos; {
		n := pageSize
		if pos-done >= 1000 {
			n = 1000
		}
		out := e.must(b, tn, http.StatusOK, "GET", fmt.Sprintf("/scim/v2/Users?count=%d&excludedAttributes=groups&cursor=%s", n, url.QueryEscape(cursor)), nil)
		var lr struct {
			NextCursor   string
			ItemsPerPage int
		}
		if err := json.Unmarshal(out, &lr); err != nil || lr.NextCursor == "" || lr.ItemsPerPage != n {
			b.Fatalf("paging to %d: at %d: %v %s", pos, done, err, out[:min(len(out), 300)])
		}
		cursor, done = lr.NextCursor, done+n
	}
	return cursor
}

// seedGroups writes n groups without members named prefix-<i>.
func (e *env) seedGroups(b *testing.B, tn tenant, prefix string, n int) {
	b.Helper()
	err := e.rawTx(func(c rawConn) error {
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			e.clock = e.clock.Add(time.Microsecond)
			data, _ := json.Marshal(map[string]any{"displayName": name})
			if err := c.exec(`INSERT INTO groups (tenant_id, id, created_at, last_modified, version, data, display_name) VALUES ($1, $2, $3, $4, 1, $5, $6)`,
				tn.t.ID, store.NewID(), e.timeArg(e.clock), e.timeArg(e.clock), e.jsonArg(data), name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// removeRawMembers deletes membership rows straight from group_members.
func (e *env) removeRawMembers(b *testing.B, tn tenant, group string, members []string) {
	b.Helper()
	err := e.rawTx(func(c rawConn) error {
		for start := 0; start < len(members); start += 500 {
			chunk := members[start:min(start+500, len(members))]
			args := []any{tn.t.ID, group}
			ph := ""
			for i, m := range chunk {
				if i > 0 {
					ph += ", "
				}
				args = append(args, m)
				ph += fmt.Sprintf("$%d", i+3)
			}
			if err := c.exec(`DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id IN (`+ph+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
