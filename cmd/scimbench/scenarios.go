package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario names.
const (
	scInitialSync = "initial-sync"
	scSteadyState = "steady-state"
	scImport      = "import"
	scBigGroup    = "big-group"
)

var scenarios = []string{scInitialSync, scSteadyState, scImport, scBigGroup, scIdPStorm, scOps}

const patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// bench is one run against one scimd.
type bench struct {
	cfg      config
	c        *client
	run      string // prefix of every name this run writes, so runs never collide
	userIDs  []string
	groupIDs []string
	// members[j] is the user indexes put in group j.
	members [][]int
	// failures are verification failures, each a sentence.
	failures []string
	current  atomic.Pointer[recorder]
	ledger   *ledger // --ledger; nil writes nothing
}

func (b *bench) userName(i int) string  { return fmt.Sprintf("%s-u%d@example.com", b.run, i) }
func (b *bench) groupName(j int) string { return fmt.Sprintf("%s-g%d", b.run, j) }

func (b *bench) fail(format string, args ...any) {
	b.failures = append(b.failures, fmt.Sprintf(format, args...))
}

// phase starts a new phase: its recorder is the one the progress line reports.
func (b *bench) phase(name string) *recorder {
	rec := newRecorder(name)
	b.current.Store(rec)
	return rec
}

// forEach calls fn(i) for every i in [0, n) on conc goroutines, and stops handing out work
// when ctx is done.
func forEach(ctx context.Context, n, conc int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(conc, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func userBody(name, externalID string) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"userName":    name,
		"externalId":  externalID,
		"active":      true,
		"displayName": "Bench " + externalID,
		"title":       "Engineer",
		"name":        map[string]any{"givenName": "Bench", "familyName": externalID},
		"emails":      []any{map[string]any{"value": name, "type": "work", "primary": true}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D", "costCenter": "4130"},
	}
}

func patchOps(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{patchSchema}, "Operations": list}
}

func memberValues(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id}
	}
	return out
}

// createUsers does what a connector does for each new user: look the userName up (Okta
// sends it in another case now and then), then create the user. ids[i] gets the new id.
func (b *bench) createUsers(ctx context.Context, rec *recorder, from, n int, ids []string) {
	forEach(ctx, n, b.cfg.concurrency, func(k int) {
		i := from + k
		name := b.userName(i)
		lookup := name
		if i%2 == 1 {
			lookup = strings.ToUpper(name)
		}
		r := b.c.call(ctx, rec, "lookup-user", http.StatusOK, "GET", "/Users"+filterQuery(`userName eq "`+lookup+`"`, "startIndex", "1", "count", "100"), nil)
		if lr, err := decodeList(r); err == nil && lr.TotalResults != 0 {
			b.fail("lookup of new user %s found %d users", name, lr.TotalResults)
		}
		r = b.c.call(ctx, rec, "create-user", http.StatusCreated, "POST", "/Users", userBody(name, fmt.Sprintf("%s-u%d", b.run, i)))
		if r.status == http.StatusCreated {
			ids[k], _ = idOf(r.body)
		}
	})
}

// initialSync replays a connector's first sync: every user looked up and created, every
// group looked up (members excluded, as Entra does) and created, then members added in
// batches by PATCH, all at the configured concurrency; then it checks what it wrote.
func (b *bench) initialSync(ctx context.Context, rec *recorder) {
	cfg := b.cfg
	b.userIDs = make([]string, cfg.users)
	b.createUsers(ctx, rec, 0, cfg.users, b.userIDs)
	b.groupIDs = make([]string, cfg.groups)
	forEach(ctx, cfg.groups, cfg.concurrency, func(j int) {
		name := b.groupName(j)
		b.c.call(ctx, rec, "lookup-group", http.StatusOK, "GET", "/Groups"+filterQuery(`displayName eq "`+name+`"`, "excludedAttributes", "members"), nil)
		r := b.c.call(ctx, rec, "create-group", http.StatusCreated, "POST", "/Groups",
			map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name, "externalId": name})
		if r.status == http.StatusCreated {
			b.groupIDs[j], _ = idOf(r.body)
		}
	})
	// Group j gets members-per-group distinct users, starting at j*members-per-group.
	m := min(cfg.membersPerGroup, cfg.users)
	b.members = make([][]int, cfg.groups)
	type batch struct{ group, from, to int }
	var batches []batch
	for j := range cfg.groups {
		for k := 0; k < m; k++ {
			b.members[j] = append(b.members[j], (j*m+k)%cfg.users)
		}
		for from := 0; from < m; from += cfg.memberBatch {
			batches = append(batches, batch{j, from, min(from+cfg.memberBatch, m)})
		}
	}
	forEach(ctx, len(batches), cfg.concurrency, func(i int) {
		bt := batches[i]
		var ids []string
		for _, u := range b.members[bt.group][bt.from:bt.to] {
			if b.userIDs[u] != "" {
				ids = append(ids, b.userIDs[u])
			}
		}
		if b.groupIDs[bt.group] == "" || len(ids) == 0 {
			return
		}
		b.c.call(ctx, rec, "add-members", http.StatusNoContent, "PATCH", "/Groups/"+b.groupIDs[bt.group],
			patchOps(map[string]any{"op": "add", "path": "members", "value": memberValues(ids)}))
	})
}

// verifySync reads back the totals and every group's members and compares them with what
// initialSync wrote.
func (b *bench) verifySync(ctx context.Context) {
	count := func(endpoint, filter string) int {
		lr, err := decodeList(b.c.do(ctx, "GET", endpoint+filterQuery(filter, "count", "0"), nil))
		if err != nil {
			b.fail("verify: counting %s: %v", endpoint, err)
			return -1
		}
		return lr.TotalResults
	}
	if got := count("/Users", `userName sw "`+b.run+`-"`); got != b.cfg.users {
		b.fail("verify: %d users read back, %d written", got, b.cfg.users)
	}
	if got := count("/Groups", `displayName sw "`+b.run+`-"`); got != b.cfg.groups {
		b.fail("verify: %d groups read back, %d written", got, b.cfg.groups)
	}
	for j, gid := range b.groupIDs {
		if gid == "" {
			b.fail("verify: group %s was not created", b.groupName(j))
			continue
		}
		r := b.c.do(ctx, "GET", "/Groups/"+gid, nil)
		var g struct {
			Members []struct {
				Value string `json:"value"`
			} `json:"members"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &g) != nil {
			b.fail("verify: GET group %s: status %d", b.groupName(j), r.status)
			continue
		}
		got := map[string]bool{}
		for _, m := range g.Members {
			got[m.Value] = true
		}
		want := 0
		for _, u := range b.members[j] {
			if !got[b.userIDs[u]] {
				b.fail("verify: group %s lacks user %s", b.groupName(j), b.userName(u))
				break
			}
			want++
		}
		if len(got) != want {
			b.fail("verify: group %s has %d members, %d added", b.groupName(j), len(got), want)
		}
	}
}

// steadyState runs the day-to-day mix of a connector until the duration is over: profile
// PUTs after a GET (Okta), PATCH updates, deactivations and reactivations, membership adds
// and removes, lookups by userName and externalId.
func (b *bench) steadyState(ctx context.Context, rec *recorder) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.duration)
	defer cancel()
	users := b.userIDs
	if len(users) == 0 || len(b.groupIDs) == 0 {
		b.fail("steady-state: no users or groups to work on")
		return
	}
	var ops atomic.Int64
	forEach(ctx, b.cfg.concurrency, b.cfg.concurrency, func(int) {
		for ctx.Err() == nil && ops.Add(1) <= int64(b.cfg.maxOps) {
			i := rand.IntN(len(users))
			id := users[i]
			switch p := rand.IntN(100); {
			case p < 30:
				b.c.call(ctx, rec, "lookup-userName", http.StatusOK, "GET", "/Users"+filterQuery(`userName eq "`+b.userName(i)+`"`), nil)
			case p < 45:
				b.c.call(ctx, rec, "lookup-externalId", http.StatusOK, "GET", "/Users"+filterQuery(fmt.Sprintf(`externalId eq "%s-u%d"`, b.run, i)), nil)
			case p < 60:
				r := b.c.call(ctx, rec, "get-user", http.StatusOK, "GET", "/Users/"+id, nil)
				var u map[string]any
				if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil {
					continue
				}
				// GET-modify-PUT as Okta does; active, userType and groups are left out so that
				// a concurrent PATCH of them is not a conflict.
				for _, k := range []string{"active", "userType", "groups", "meta"} {
					delete(u, k)
				}
				u["title"] = fmt.Sprintf("Engineer %d", rand.IntN(1000))
				b.c.call(ctx, rec, "put-user", http.StatusOK, "PUT", "/Users/"+id, u)
			case p < 75:
				b.c.call(ctx, rec, "patch-user", http.StatusOK, "PATCH", "/Users/"+id,
					patchOps(map[string]any{"op": "Replace", "path": "title", "value": fmt.Sprintf("Lead %d", rand.IntN(1000))}))
			case p < 85:
				b.c.call(ctx, rec, "deactivate-user", http.StatusOK, "PATCH", "/Users/"+id,
					patchOps(map[string]any{"op": "replace", "value": map[string]any{"active": p%2 == 0}}))
			case p < 93:
				g := b.groupIDs[rand.IntN(len(b.groupIDs))]
				b.c.call(ctx, rec, "add-member", http.StatusOK, "PATCH", "/Groups/"+g+"?excludedAttributes=members",
					patchOps(map[string]any{"op": "add", "path": "members", "value": memberValues([]string{id})}))
			default:
				g := b.groupIDs[rand.IntN(len(b.groupIDs))]
				b.c.call(ctx, rec, "remove-member", http.StatusOK, "PATCH", "/Groups/"+g+"?excludedAttributes=members",
					patchOps(map[string]any{"op": "remove", "path": `members[value eq "` + id + `"]`}))
			}
		}
	})
}

// ensureUsers makes sure the tenant has at least n users, creating the missing ones.
func (b *bench) ensureUsers(ctx context.Context, rec *recorder, n int) {
	lr, err := decodeList(b.c.do(ctx, "GET", "/Users?count=0", nil))
	if err != nil {
		b.fail("counting users: %v", err)
		return
	}
	if missing := n - lr.TotalResults; missing > 0 {
		ids := make([]string, missing)
		b.createUsers(ctx, rec, 0, missing, ids)
	}
}

// importAll pages through every user as an IdP import does: with startIndex and count, then
// with cursors; then it fetches the first and the last page again, repeat times each, so
// that their costs can be compared. It checks every walk saw totalResults users.
func (b *bench) importAll(ctx context.Context, rec *recorder) {
	size := b.cfg.pageSize
	first := b.c.call(ctx, rec, "page-index", http.StatusOK, "GET", fmt.Sprintf("/Users?startIndex=1&count=%d", size), nil)
	lr, err := decodeList(first)
	if err != nil {
		b.fail("import: first page: %v", err)
		return
	}
	total, seen := lr.TotalResults, len(lr.Resources)
	lastIndex := 1
	for start := 1 + size; start <= total && ctx.Err() == nil; start += size {
		lr, err := decodeList(b.c.call(ctx, rec, "page-index", http.StatusOK, "GET", fmt.Sprintf("/Users?startIndex=%d&count=%d", start, size), nil))
		if err != nil {
			b.fail("import: page at %d: %v", start, err)
			return
		}
		seen += len(lr.Resources)
		lastIndex = start
	}
	if seen != total && ctx.Err() == nil {
		b.fail("import: startIndex walk read %d users, totalResults %d", seen, total)
	}
	cursor, lastCursor, seen := "", "", 0
	for pages := 0; pages <= total/size+1 && ctx.Err() == nil; pages++ {
		lr, err := decodeList(b.c.call(ctx, rec, "page-cursor", http.StatusOK, "GET", fmt.Sprintf("/Users?count=%d&cursor=%s", size, cursor), nil))
		if err != nil {
			b.fail("import: cursor page %d: %v", pages, err)
			return
		}
		seen += len(lr.Resources)
		if lr.NextCursor == "" {
			break
		}
		if seen < total {
			lastCursor = lr.NextCursor
		}
		cursor = lr.NextCursor
	}
	if seen != total && ctx.Err() == nil {
		b.fail("import: cursor walk read %d users, totalResults %d", seen, total)
	}
	for range b.cfg.repeat {
		b.c.call(ctx, rec, "page-index-first", http.StatusOK, "GET", fmt.Sprintf("/Users?startIndex=1&count=%d", size), nil)
		b.c.call(ctx, rec, "page-index-last", http.StatusOK, "GET", fmt.Sprintf("/Users?startIndex=%d&count=%d", lastIndex, size), nil)
		b.c.call(ctx, rec, "page-cursor-first", http.StatusOK, "GET", fmt.Sprintf("/Users?count=%d&cursor=", size), nil)
		if lastCursor != "" {
			b.c.call(ctx, rec, "page-cursor-last", http.StatusOK, "GET", fmt.Sprintf("/Users?count=%d&cursor=%s", size, lastCursor), nil)
		}
	}
}

// bigGroupSetup creates the users and the group big-group grows.
func (b *bench) bigGroupSetup(ctx context.Context, rec *recorder) string {
	b.userIDs = make([]string, b.cfg.membersPerGroup)
	b.createUsers(ctx, rec, 0, len(b.userIDs), b.userIDs)
	r := b.c.call(ctx, rec, "create-group", http.StatusCreated, "POST", "/Groups",
		map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": b.groupName(0)})
	id, err := idOf(r.body)
	if err != nil {
		b.fail("big-group: creating the group: status %d", r.status)
	}
	return id
}

// bigGroup grows one group to members-per-group members, one PATCH per member (with
// members excluded from the response, as the full group is the response otherwise), and
// records the first and the last 1,000 adds apart; then checks the group's size.
func (b *bench) bigGroup(ctx context.Context, rec *recorder, group string) {
	n := len(b.userIDs)
	edge := min(1000, n/2)
	forEach(ctx, n, b.cfg.concurrency, func(i int) {
		if b.userIDs[i] == "" {
			return
		}
		op := "add-member"
		switch {
		case i < edge:
			op = "add-member-first-1000"
		case i >= n-edge:
			op = "add-member-last-1000"
		}
		b.c.call(ctx, rec, op, http.StatusOK, "PATCH", "/Groups/"+group+"?excludedAttributes=members",
			patchOps(map[string]any{"op": "add", "path": "members", "value": memberValues([]string{b.userIDs[i]})}))
	})
	if ctx.Err() != nil {
		return
	}
	r := b.c.do(ctx, "GET", "/Groups/"+group, nil)
	var g struct {
		Members []json.RawMessage `json:"members"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &g) != nil {
		b.fail("verify: reading the big group: status %d", r.status)
	} else if len(g.Members) != n {
		b.fail("verify: the big group has %d members, %d added", len(g.Members), n)
	}
}

// elapsed formats a duration for the progress line.
func elapsed(d time.Duration) string { return d.Truncate(time.Second).String() }
