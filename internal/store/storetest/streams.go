package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// StreamsBackend is the store the stream tests use: event streams are part of store.Store.
type StreamsBackend = store.Store

var provisioning = []string{"user_create_provision", "user_update_provision", "user_deprovision", "user_delete_provision",
	"group_create_provision", "group_update_provision", "group_delete_provision"}

func mustStream(t *testing.T, s StreamsBackend, tenantID string, events []string, hash []byte) store.Stream {
	t.Helper()
	kind := store.StreamPush
	if hash != nil {
		kind = store.StreamPoll
	}
	st := store.Stream{ID: store.NewID(), Kind: kind, URL: "https://app.example.com/events", Audience: "https://app.example.com",
		TenantID: tenantID, Events: events, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.CreateStream(ctx, st, hash); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	return st
}

// createUser creates a user with its create event, and returns it.
func createUser(t *testing.T, s store.Store, tn store.Tenant, name string) *scim.Resource {
	t.Helper()
	u := newUser(name, nil)
	if err := s.CreateResource(ctx, scim.Users, tn.ID, u, nil, ev(tn, "user_create_provision", u.ID)); err != nil {
		t.Fatal(err)
	}
	return u
}

// updateUser changes the user's title and writes an update event.
func updateUser(t *testing.T, s store.Store, tn store.Tenant, id, title string) {
	t.Helper()
	_, err := s.UpdateResource(ctx, scim.Users, tn.ID, id, func(r *scim.Resource) (store.Change, error) {
		r.Attrs["title"] = title
		e := ev(tn, "user_update_provision", id)
		e.Changed, e.Method = []string{"title"}, "PATCH"
		return store.Change{Attrs: r.Attrs, Event: e}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// queue creates a user and then changes it, n changes in all: a queue of n SETs of one
// resource.
func queue(t *testing.T, s store.Store, tn store.Tenant, name string, n int) *scim.Resource {
	t.Helper()
	u := createUser(t, s, tn, name)
	for i := 1; i < n; i++ {
		updateUser(t, s, tn, u.ID, fmt.Sprint("title ", i))
	}
	return u
}

func claim(t *testing.T, s StreamsBackend, st store.Stream, now time.Time, max int) []store.Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(ctx, st.ID, now, time.Minute, max, 1)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return ds
}

func finish(t *testing.T, s StreamsBackend, st store.Stream, ds []store.Delivery, state string) {
	t.Helper()
	for _, d := range ds {
		n, err := s.FinishDeliveries(ctx, st.ID, time.Now(), []store.DeliveryOutcome{{TenantID: d.Event.TenantID, EventID: d.Event.ID, Claim: d.Claim, State: state}})
		if err != nil || n != 1 {
			t.Fatalf("FinishDeliveries = %d, %v; want 1 row", n, err)
		}
	}
}

func names(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.TenantSlug+":"+d.Event.Name+":"+d.Event.ResourceName)
	}
	return out
}

func testStreamCRUD(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	push := mustStream(t, s, tn.ID, []string{"user_create_provision"}, nil)
	poll := mustStream(t, s, "", provisioning, []byte("hash-of-credential-0123456789abcd"))
	got, err := s.Stream(ctx, push.ID)
	if err != nil || got.TenantID != tn.ID || got.Kind != store.StreamPush || !slices.Equal(got.Events, push.Events) || got.Paused {
		t.Fatalf("Stream = %+v, %v", got, err)
	}
	if got, err := s.StreamByCredential(ctx, []byte("hash-of-credential-0123456789abcd")); err != nil || got.ID != poll.ID || got.TenantID != "" {
		t.Fatalf("StreamByCredential = %+v, %v", got, err)
	}
	if _, err := s.StreamByCredential(ctx, []byte("other")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown credential: %v", err)
	}
	dup := poll
	dup.ID = store.NewID()
	if err := s.CreateStream(ctx, dup, []byte("hash-of-credential-0123456789abcd")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate credential hash: %v", err)
	}
	if err := s.SetStreamPaused(ctx, push.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Stream(ctx, push.ID); !got.Paused {
		t.Fatal("not paused")
	}
	all, err := s.Streams(ctx)
	if err != nil || len(all) != 2 || all[0].ID != push.ID {
		t.Fatalf("Streams = %+v, %v", all, err)
	}
	if err := s.DeleteStream(ctx, push.ID); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{s.DeleteStream(ctx, push.ID), s.SetStreamPaused(ctx, push.ID, false)} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("on a deleted stream: %v", err)
		}
	}
}

func testOutboxFanOut(t *testing.T, s StreamsBackend) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "bravo")
	all := mustStream(t, s, "", []string{"user_create_provision", "user_update_provision"}, nil)
	onlyA := mustStream(t, s, a.ID, []string{"user_delete_provision"}, nil)
	ua := createUser(t, s, a, "ann")
	createUser(t, s, b, "bob")
	updateUser(t, s, a, ua.ID, "CEO")
	// Neither a refused change nor an authentication failure becomes a SET.
	refused := ev(a, "user_update_provision", ua.ID)
	refused.Outcome = "client_error"
	if err := s.AppendEvent(ctx, refused); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvent(ctx, &store.Event{TenantID: a.ID, At: tick(), Name: "auth_failure", Outcome: "client_error", Actor: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteResource(ctx, scim.Users, a.ID, ua.ID, func(r *scim.Resource) (*store.Event, error) {
		return ev(a, "user_delete_provision", ua.ID), nil
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	got := claim(t, s, all, now, 10)
	// ann's update waits behind her create; bob's create is due.
	if want := []string{"acme:user_create_provision:", "bravo:user_create_provision:"}; !slices.Equal(names(got), want) {
		t.Fatalf("first claim = %v, want %v", names(got), want)
	}
	if got[0].Event.ResourceID != ua.ID || got[0].Attempts != 1 || got[0].State != store.DeliveryInflight {
		t.Fatalf("delivery = %+v", got[0])
	}
	if again := claim(t, s, all, now, 10); len(again) != 0 {
		t.Fatalf("claimed rows claimed again: %v", names(again))
	}
	finish(t, s, all, got, store.DeliveryDelivered)
	next := claim(t, s, all, now, 10)
	if len(next) != 1 || next[0].Event.Name != "user_update_provision" || next[0].Event.Method != "PATCH" || !slices.Equal(next[0].Event.Changed, []string{"title"}) {
		t.Fatalf("after the creates: %+v", next)
	}
	del := claim(t, s, onlyA, now, 10)
	if len(del) != 1 || del[0].Event.Name != "user_delete_provision" || del[0].TenantSlug != "acme" {
		t.Fatalf("tenant stream got %v", names(del))
	}
}

func testResourceOrder(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, nil)
	u := queue(t, s, tn, "ann", 6)
	other := createUser(t, s, tn, "bob")
	var order []int64
	for range 10 {
		ds := claim(t, s, st, time.Now(), 10)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			if d.Event.ResourceID == u.ID {
				order = append(order, d.Event.ID)
			}
		}
		if len(ds) > 2 {
			t.Fatalf("claimed %d rows of 2 resources: %v", len(ds), names(ds))
		}
		finish(t, s, st, ds, store.DeliveryDelivered)
	}
	if len(order) != 6 || !slices.IsSorted(order) {
		t.Fatalf("ann's SETs went in order %v; want 6 in commit order", order)
	}
	_ = other
}

func testLeaseExpiry(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, nil)
	createUser(t, s, tn, "ann")
	now := time.Now()
	first := claim(t, s, st, now, 10)
	if len(first) != 1 {
		t.Fatalf("claimed %d", len(first))
	}
	if again := claim(t, s, st, now.Add(59*time.Second), 10); len(again) != 0 {
		t.Fatal("claimed inside the lease")
	}
	second := claim(t, s, st, now.Add(61*time.Second), 10)
	if len(second) != 1 || second[0].Attempts != 2 || second[0].Claim == first[0].Claim {
		t.Fatalf("after the lease: %+v", second)
	}
	// The first claim's late outcome is not recorded over the second's.
	n, err := s.FinishDeliveries(ctx, st.ID, now, []store.DeliveryOutcome{{TenantID: tn.ID, EventID: first[0].Event.ID, Claim: first[0].Claim, State: store.DeliveryParked}})
	if err != nil || n != 0 {
		t.Fatalf("stale claim finished %d rows, %v", n, err)
	}
	// A retry waits for its time.
	n, err = s.FinishDeliveries(ctx, st.ID, now, []store.DeliveryOutcome{{TenantID: tn.ID, EventID: second[0].Event.ID, Claim: second[0].Claim,
		State: store.DeliveryPending, NextAt: now.Add(time.Hour), Error: "HTTP 500"}})
	if err != nil || n != 1 {
		t.Fatalf("retry: %d, %v", n, err)
	}
	if got := claim(t, s, st, now.Add(59*time.Minute), 10); len(got) != 0 {
		t.Fatal("claimed before its retry time")
	}
	if got := claim(t, s, st, now.Add(61*time.Minute), 10); len(got) != 1 || got[0].LastError != "HTTP 500" || got[0].Attempts != 3 {
		t.Fatalf("at its retry time: %+v", got)
	}
}

func testPollAckGeneration(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, []byte("poll-credential-hash-000000000000"))
	createUser(t, s, tn, "ann")
	d := claim(t, s, st, time.Now(), 10)[0]
	wrong := store.DeliveryOutcome{TenantID: tn.ID, EventID: d.Event.ID, Gen: d.Gen + 1, State: store.DeliveryDelivered}
	if n, err := s.FinishDeliveries(ctx, st.ID, time.Now(), []store.DeliveryOutcome{wrong}); err != nil || n != 0 {
		t.Fatalf("ack of another generation: %d, %v", n, err)
	}
	ok := store.DeliveryOutcome{TenantID: tn.ID, EventID: d.Event.ID, Gen: d.Gen, State: store.DeliveryDelivered}
	if n, err := s.FinishDeliveries(ctx, st.ID, time.Now(), []store.DeliveryOutcome{ok, ok}); err != nil || n != 1 {
		t.Fatalf("ack (twice in one request): %d, %v", n, err)
	}
	if got := claim(t, s, st, time.Now().Add(time.Hour), 10); len(got) != 0 {
		t.Fatal("an acknowledged SET came back")
	}
}

func testReplay(t *testing.T, s StreamsBackend) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "bravo")
	before := createUser(t, s, a, "early") // before the stream: replay brings it
	st := mustStream(t, s, "", provisioning, nil)
	createUser(t, s, b, "bob")
	ds := claim(t, s, st, time.Now(), 10)
	if len(ds) != 1 {
		t.Fatalf("claimed %v", names(ds))
	}
	finish(t, s, st, ds, store.DeliveryDelivered)
	n, err := s.ReplayStream(ctx, st.ID, time.Time{}, time.Now())
	if err != nil || n != 2 {
		t.Fatalf("ReplayStream = %d, %v; want 2", n, err)
	}
	again := claim(t, s, st, time.Now(), 10)
	if len(again) != 2 {
		t.Fatalf("after replay: %v", names(again))
	}
	for _, d := range again {
		switch d.Event.ResourceID {
		case before.ID:
			if d.Gen != 0 {
				t.Fatalf("new row has generation %d", d.Gen)
			}
		default:
			if d.Gen != 1 {
				t.Fatalf("replayed row has generation %d, want 1", d.Gen)
			}
		}
	}
	if _, err := s.ReplayStream(ctx, store.NewID(), time.Time{}, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replay of no stream: %v", err)
	}
}

func testStatsAndParked(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, nil)
	createUser(t, s, tn, "ann")
	createUser(t, s, tn, "bob")
	stats, err := s.StreamStats(ctx)
	if err != nil || len(stats) != 1 || stats[0].Undelivered != 2 || stats[0].OldestPending.IsZero() {
		t.Fatalf("StreamStats = %+v, %v", stats, err)
	}
	ds := claim(t, s, st, time.Now(), 1)
	n, err := s.FinishDeliveries(ctx, st.ID, time.Now(), []store.DeliveryOutcome{{TenantID: tn.ID, EventID: ds[0].Event.ID, Claim: ds[0].Claim,
		State: store.DeliveryParked, Error: "HTTP 400: invalid_request"}})
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	stats, _ = s.StreamStats(ctx)
	if stats[0].Undelivered != 1 || stats[0].Parked != 1 {
		t.Fatalf("StreamStats = %+v", stats)
	}
	parked, err := s.ParkedDeliveries(ctx, st.ID, 10)
	if err != nil || len(parked) != 1 || parked[0].LastError != "HTTP 400: invalid_request" || parked[0].Event.Name != "user_create_provision" {
		t.Fatalf("ParkedDeliveries = %+v, %v", parked, err)
	}
}

func testConcurrentClaims(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, nil)
	const users = 60
	ids := map[string][]int64{} // each user's SETs in commit order
	for i := range users {
		u := createUser(t, s, tn, fmt.Sprint("user", i))
		updateUser(t, s, tn, u.ID, "one")
		updateUser(t, s, tn, u.ID, "two")
		ids[u.ID] = nil
	}
	all := claimAll(t, s, st)
	if len(all) != 3*users {
		t.Fatalf("claimed %d SETs in runs, want %d", len(all), 3*users)
	}
	for _, d := range all {
		ids[d.Event.ResourceID] = append(ids[d.Event.ResourceID], d.Event.ID)
	}
	// Six claimers, each taking runs of two SETs per user: no SET goes to two of them, and
	// what each user's SETs went is a prefix of them in commit order (a run never skips one).
	var mu sync.Mutex
	seen := map[int64]int{}
	got := map[string][]int64{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := s.ClaimDeliveries(ctx, st.ID, time.Now(), time.Minute, 4, 2)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.Event.ID]++
					got[d.Event.ResourceID] = append(got[d.Event.ResourceID], d.Event.ID)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("SET %d claimed %d times", id, n)
		}
	}
	for u, want := range ids {
		g := got[u]
		slices.Sort(g)
		if len(g) == 0 || len(g) > 2 || !slices.Equal(g, want[:len(g)]) {
			t.Fatalf("user %s: claimed %v of its SETs %v; want its oldest one or two", u, g, want)
		}
	}
}

// claimAll returns every due SET of the stream, in commit order per resource, and gives
// them back unsent (due again, attempts unchanged).
func claimAll(t *testing.T, s StreamsBackend, st store.Stream) []store.Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(ctx, st.ID, time.Now(), time.Minute, 1000, 256)
	if err != nil {
		t.Fatal(err)
	}
	var back []store.DeliveryOutcome
	for _, d := range ds {
		back = append(back, store.DeliveryOutcome{TenantID: d.Event.TenantID, EventID: d.Event.ID, Claim: d.Claim, Unsent: true})
	}
	if n, err := s.FinishDeliveries(ctx, st.ID, time.Now(), back); err != nil || n != len(ds) {
		t.Fatalf("giving back %d SETs: %d, %v", len(ds), n, err)
	}
	return ds
}

// testResourceRuns: a claim with run > 1 takes a resource's oldest SET and its next ones
// in commit order; a run's unsent SETs go back uncounted, and the next claim starts at the
// first SET not delivered.
func testResourceRuns(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, nil)
	u := queue(t, s, tn, "ann", 10)
	v := createUser(t, s, tn, "bob")
	now := time.Now()
	ds := claim4(t, s, st, now)
	var ann []store.Delivery
	var bob store.Delivery
	for _, d := range ds {
		switch d.Event.ResourceID {
		case u.ID:
			ann = append(ann, d)
		case v.ID:
			bob = d
		default:
			t.Fatalf("claimed %+v", d)
		}
	}
	if len(ds) != 5 || len(ann) != 4 || !slices.IsSortedFunc(ann, func(a, b store.Delivery) int { return int(a.Event.ID - b.Event.ID) }) {
		t.Fatalf("claim with runs of 4 = %v; want ann's 4 oldest in order and bob's", names(ds))
	}
	if again := claim4(t, s, st, now); len(again) != 0 {
		t.Fatalf("claimed while ann's run is inflight: %v", names(again))
	}
	out := []store.DeliveryOutcome{
		{TenantID: tn.ID, EventID: ann[0].Event.ID, Claim: ann[0].Claim, State: store.DeliveryDelivered},
		{TenantID: tn.ID, EventID: ann[1].Event.ID, Claim: ann[1].Claim, State: store.DeliveryParked, Error: "HTTP 400"},
		{TenantID: tn.ID, EventID: ann[2].Event.ID, Claim: ann[2].Claim, State: store.DeliveryPending, NextAt: now.Add(time.Hour), Error: "HTTP 500"},
		{TenantID: tn.ID, EventID: ann[3].Event.ID, Claim: ann[3].Claim, Unsent: true},
		{TenantID: tn.ID, EventID: bob.Event.ID, Claim: bob.Claim, State: store.DeliveryDelivered},
	}
	if n, err := s.FinishDeliveries(ctx, st.ID, now, out); err != nil || n != 5 {
		t.Fatalf("FinishDeliveries = %d, %v; want 5", n, err)
	}
	if early := claim4(t, s, st, now.Add(time.Minute)); len(early) != 0 {
		t.Fatalf("claimed behind a SET waiting for its retry: %v", names(early))
	}
	next := claim4(t, s, st, now.Add(2*time.Hour))
	if len(next) != 4 || next[0].Event.ID != ann[2].Event.ID || next[0].Attempts != 2 || next[1].Event.ID != ann[3].Event.ID || next[1].Attempts != 1 {
		t.Fatalf("after the run: %+v; want ann's third SET (attempt 2) then her fourth (attempt 1, the unsent one not counted)", next)
	}
}

func claim4(t *testing.T, s StreamsBackend, st store.Stream, now time.Time) []store.Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(ctx, st.ID, now, time.Minute, 10, 4)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return ds
}

func testPruneDeliveries(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, nil)
	createUser(t, s, tn, "ann")
	if _, err := s.PruneEvents(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ds := claim(t, s, st, time.Now(), 10); len(ds) != 0 {
		t.Fatalf("deliveries of pruned events remain: %+v", ds)
	}
}

// testTenantDeliveries: a tenant sees its own SETs, in its streams and in streams of every
// tenant, with their delivery state, and nothing of another tenant's.
func testTenantDeliveries(t *testing.T, s StreamsBackend) {
	a, b := mustTenant(t, s, "acme"), mustTenant(t, s, "bravo")
	all := mustStream(t, s, "", provisioning, nil)
	onlyB := mustStream(t, s, b.ID, provisioning, nil)
	ann := createUser(t, s, a, "ann")
	updateUser(t, s, a, ann.ID, "CEO")
	createUser(t, s, b, "bob")
	now := time.Now()
	ds := claim(t, s, all, now, 10)
	if len(ds) != 2 {
		t.Fatalf("claimed %v", names(ds))
	}
	for _, d := range ds {
		o := store.DeliveryOutcome{TenantID: d.Event.TenantID, EventID: d.Event.ID, Claim: d.Claim, State: store.DeliveryDelivered}
		if d.Event.TenantID == a.ID {
			o.State, o.Error = store.DeliveryParked, "HTTP 400: invalid_request"
		}
		if n, err := s.FinishDeliveries(ctx, all.ID, now, []store.DeliveryOutcome{o}); err != nil || n != 1 {
			t.Fatalf("FinishDeliveries = %d, %v", n, err)
		}
	}
	stats, err := s.TenantStreamStats(ctx, a.ID)
	if err != nil || len(stats) != 1 || stats[0].StreamID != all.ID || stats[0].Undelivered != 1 || stats[0].Inflight != 0 || stats[0].Parked != 1 {
		t.Fatalf("acme's TenantStreamStats = %+v, %v; want the all-tenants stream: 1 pending, 1 parked", stats, err)
	}
	got, err := s.TenantDeliveries(ctx, a.ID, store.DeliveryQuery{StreamID: all.ID, Limit: 10})
	if err != nil || len(got) != 2 {
		t.Fatalf("acme's TenantDeliveries = %+v, %v", got, err)
	}
	if g := got[0]; g.Event.Name != "user_update_provision" || g.State != store.DeliveryPending || g.TenantSlug != "acme" || g.Attempts != 0 {
		t.Fatalf("newest = %+v; want ann's update, pending", g)
	}
	if g := got[1]; g.Event.ResourceID != ann.ID || g.State != store.DeliveryParked || g.LastError != "HTTP 400: invalid_request" || g.Attempts != 1 || g.DoneAt.IsZero() {
		t.Fatalf("oldest = %+v; want ann's create, parked with its error after 1 attempt", g)
	}
	page, err := s.TenantDeliveries(ctx, a.ID, store.DeliveryQuery{StreamID: all.ID, Limit: 1, Before: got[0].Event.ID})
	if err != nil || len(page) != 1 || page[0].Event.ID != got[1].Event.ID {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	parked, err := s.TenantDeliveries(ctx, a.ID, store.DeliveryQuery{StreamID: all.ID, States: []string{store.DeliveryParked}})
	if err != nil || len(parked) != 1 || parked[0].State != store.DeliveryParked {
		t.Fatalf("parked = %+v, %v", parked, err)
	}
	if other, err := s.TenantDeliveries(ctx, a.ID, store.DeliveryQuery{StreamID: onlyB.ID}); err != nil || len(other) != 0 {
		t.Fatalf("acme's SETs in bravo's stream = %+v, %v", other, err)
	}
	// Handed out and not yet answered: inflight.
	if ds := claim(t, s, all, now, 10); len(ds) != 1 {
		t.Fatalf("claimed %v", names(ds))
	}
	if stats, _ := s.TenantStreamStats(ctx, a.ID); len(stats) != 1 || stats[0].Inflight != 1 || stats[0].Undelivered != 1 {
		t.Fatalf("after the claim: %+v", stats)
	}
	stats, err = s.TenantStreamStats(ctx, b.ID)
	if err != nil || len(stats) != 1 || stats[0].StreamID != onlyB.ID || stats[0].Undelivered != 1 || stats[0].Parked != 0 {
		t.Fatalf("bravo's TenantStreamStats = %+v, %v; want its own stream's pending SET only", stats, err)
	}
	bs, err := s.TenantDeliveries(ctx, b.ID, store.DeliveryQuery{StreamID: all.ID})
	if err != nil || len(bs) != 1 || bs[0].State != store.DeliveryDelivered || bs[0].TenantSlug != "bravo" {
		t.Fatalf("bravo's SETs of the all-tenants stream = %+v, %v", bs, err)
	}
}

// testLongQueueOneAtATime: with one SET per resource a claim (as a poll takes them), a
// long queue of one resource still advances one SET per claim: once its oldest is
// finished, the next is found first, not after the rest of its queue.
func testLongQueueOneAtATime(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, nil)
	const n = 150 // more than the claim's window of candidates (4·max)
	queue(t, s, tn, "ann", n)
	var order []int64
	for claims := 0; len(order) < n; claims++ {
		if claims == n+5 {
			t.Fatalf("%d claims delivered %d of %d SETs of one resource; want one per claim", claims, len(order), n)
		}
		ds := claim(t, s, st, time.Now(), 10)
		if len(ds) != 1 {
			t.Fatalf("claim %d took %d SETs, want the resource's next", claims, len(ds))
		}
		order = append(order, ds[0].Event.ID)
		o := store.DeliveryOutcome{TenantID: tn.ID, EventID: ds[0].Event.ID, Claim: ds[0].Claim, State: store.DeliveryDelivered}
		if claims%2 == 0 { // as a deliverer records it; without, as an acknowledgement (by jti)
			o.ResourceID = ds[0].Event.ResourceID
		}
		if n, err := s.FinishDeliveries(ctx, st.ID, time.Now(), []store.DeliveryOutcome{o}); err != nil || n != 1 {
			t.Fatalf("FinishDeliveries = %d, %v", n, err)
		}
	}
	if !slices.IsSorted(order) {
		t.Fatalf("delivered out of commit order: %v", order)
	}
}

// testClaimKeepsOrder: the oldest rows of resources a claim leaves out (it took max of
// them) keep their place: the next claim takes the next oldest, not a later change.
func testClaimKeepsOrder(t *testing.T, s StreamsBackend) {
	tn := mustTenant(t, s, "acme")
	st := mustStream(t, s, tn.ID, provisioning, nil)
	ann, bob := createUser(t, s, tn, "ann"), createUser(t, s, tn, "bob")
	now := time.Now().Add(time.Hour)
	if ds := claim(t, s, st, now, 1); len(ds) != 1 || ds[0].Event.ResourceID != ann.ID {
		t.Fatalf("first claim = %v, want ann's", names(ds))
	}
	createUser(t, s, tn, "cid") // changed after the claim, but due before its time
	if ds := claim(t, s, st, now.Add(time.Minute/2), 1); len(ds) != 1 || ds[0].Event.ResourceID != bob.ID {
		t.Fatalf("second claim = %v, want bob's (older than cid's)", names(ds))
	}
}
