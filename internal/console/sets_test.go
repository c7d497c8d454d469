package console_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// TestConsoleSETDelivery: the audit page shows the tenant's SETs per stream that delivers
// its changes, with their delivery state (pending, in flight or unacknowledged, parked
// with the receiver's error and the attempts, delivered), paged; another tenant's stream
// and another tenant's SETs in a stream of every tenant are not shown.
func TestConsoleSETDelivery(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s)
		admin := e.user(e.acme, "ann@acme.test", "admin")
		newStream := func(kind, tenantID string, hash []byte) store.Stream {
			st := store.Stream{ID: store.NewID(), Kind: kind, URL: "https://app.example.com/events", Audience: "https://app.example.com",
				TenantID: tenantID, Events: []string{"user_create_provision", "user_update_provision", "user_deprovision"}, CreatedAt: e.now}
			if kind == store.StreamPoll {
				st.URL = ""
			}
			if err := s.CreateStream(ctx, st, hash); err != nil {
				t.Fatal(err)
			}
			return st
		}
		all := newStream(store.StreamPush, "", nil)
		polled := newStream(store.StreamPoll, "", []byte("hash-of-a-poll-credential-0000000"))
		betaOnly := newStream(store.StreamPush, e.beta.ID, nil)
		const users = 30
		for i := range users {
			e.user(e.acme, fmt.Sprintf("user%02d@acme.test", i), "member")
		}
		e.user(e.beta, "zed@beta.test", "member")
		e.user(e.beta, "yan@beta.test", "member")

		// Push: acme's oldest SET is refused (parked), the next accepted; beta's oldest
		// accepted, its other parked (it must not show on acme's pages).
		now := time.Now()
		claimed, err := s.ClaimDeliveries(ctx, all.ID, now, time.Minute, 100, 1)
		if err != nil {
			t.Fatal(err)
		}
		var outs []store.DeliveryOutcome
		acmeSeen, betaSeen := 0, 0
		for _, d := range claimed {
			o := store.DeliveryOutcome{TenantID: d.Event.TenantID, EventID: d.Event.ID, Claim: d.Claim, State: store.DeliveryDelivered}
			switch {
			case d.Event.TenantID == e.acme.ID && acmeSeen == 0:
				o.State, o.Error = store.DeliveryParked, "HTTP 400: invalid_request: unknown user <b>"
				acmeSeen++
			case d.Event.TenantID == e.acme.ID && acmeSeen == 1:
				acmeSeen++
			case d.Event.TenantID == e.beta.ID && betaSeen == 0:
				o.State, o.Error = store.DeliveryParked, "HTTP 400: beta's refusal"
				betaSeen++
			case d.Event.TenantID == e.beta.ID && betaSeen == 1:
				betaSeen++
			default:
				o = store.DeliveryOutcome{TenantID: d.Event.TenantID, EventID: d.Event.ID, Claim: d.Claim, Unsent: true}
			}
			outs = append(outs, o)
		}
		if _, err := s.FinishDeliveries(ctx, all.ID, now, outs); err != nil {
			t.Fatal(err)
		}
		// Poll: one of acme's SETs handed out and not acknowledged.
		if ds, err := s.ClaimDeliveries(ctx, polled.ID, now, time.Hour, 1, 1); err != nil || len(ds) != 1 || ds[0].Event.TenantID != e.acme.ID {
			t.Fatalf("poll claim = %+v, %v", ds, err)
		}

		cookies := []*http.Cookie{e.session(e.acme, admin)}
		get := func(path string, status int) string {
			t.Helper()
			r := e.do("GET", path, nil, cookies)
			if r.status != status {
				t.Fatalf("GET %s = %d, want %d:\n%s", path, r.status, status, r.body)
			}
			return r.body
		}
		audit := get("/t/acme/admin/events", http.StatusOK)
		for _, want := range []string{`id="stream-` + all.ID + `"`, `id="stream-` + polled.ID + `"`, "polled by the application",
			`href="/t/acme/admin/events/streams/` + all.ID + `?state=parked">1</a>`} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit page lacks %s", want)
			}
		}
		if strings.Contains(audit, betaOnly.ID) {
			t.Error("the audit page shows another tenant's stream")
		}

		rows := regexp.MustCompile(`<tr class="set set-(\w+)">`)
		parked := get("/t/acme/admin/events/streams/"+all.ID+"?state=parked", http.StatusOK)
		if m := rows.FindAllStringSubmatch(parked, -1); len(m) != 1 || m[0][1] != "parked" {
			t.Fatalf("parked SETs: %v", m)
		}
		for _, want := range []string{html.EscapeString("HTTP 400: invalid_request: unknown user <b>"), "failed (parked)",
			`<td class="right">1</td>`, "user00@acme.test", `id="count-parked">1<`} {
			if !strings.Contains(parked, want) {
				t.Errorf("the parked SET's page lacks %s", want)
			}
		}
		if strings.Contains(parked, "beta&#39;s refusal") || strings.Contains(parked, "beta's refusal") {
			t.Error("acme's page shows beta's parked SET")
		}

		// Every SET of acme's in the stream, 25 a page, newest first; none of beta's.
		var states []string
		page := get("/t/acme/admin/events/streams/"+all.ID, http.StatusOK)
		for i := 0; ; i++ {
			if strings.Contains(page, "zed@beta.test") || strings.Contains(page, "yan@beta.test") {
				t.Fatal("acme's page shows beta's SETs")
			}
			for _, m := range rows.FindAllStringSubmatch(page, -1) {
				states = append(states, m[1])
			}
			older := regexp.MustCompile(`id="older" href="([^"]+)"`).FindStringSubmatch(page)
			if older == nil || i > 3 {
				break
			}
			page = get(html.UnescapeString(older[1]), http.StatusOK)
			if !strings.Contains(page, `id="newest"`) {
				t.Error("a later page has no link to the newest")
			}
		}
		if len(states) != users { // the admin was created before the streams
			t.Fatalf("%d SETs of acme listed across pages, want %d: %v", len(states), users, states)
		}
		if states[len(states)-1] != "parked" || states[len(states)-2] != "delivered" || states[0] != "pending" {
			t.Errorf("states newest first = %v; want pending … delivered, parked", states)
		}

		unacked := get("/t/acme/admin/events/streams/"+polled.ID+"?state=inflight", http.StatusOK)
		if m := rows.FindAllStringSubmatch(unacked, -1); len(m) != 1 || !strings.Contains(unacked, "unacknowledged") {
			t.Errorf("the poll stream's unacknowledged SETs: %v", m)
		}

		get("/t/acme/admin/events/streams/"+betaOnly.ID, http.StatusNotFound)
		get("/t/acme/admin/events/streams/"+store.NewID(), http.StatusNotFound)

		// Beta's admin sees beta's parked SET in the stream of every tenant, not acme's.
		zed := e.user(e.beta, "boss@beta.test", "admin")
		r := e.do("GET", "/t/beta/admin/events/streams/"+all.ID+"?state=parked", nil, []*http.Cookie{e.session(e.beta, zed)})
		if r.status != http.StatusOK || !strings.Contains(r.body, "beta&#39;s refusal") || strings.Contains(r.body, "unknown user") {
			t.Fatalf("beta's parked SETs = %d:\n%s", r.status, r.body)
		}
		// Nobody signed in sees nothing.
		if r := e.do("GET", "/t/acme/admin/events/streams/"+all.ID, nil, nil); r.status == http.StatusOK {
			t.Fatal("the SETs page answered without a session")
		}
	})
}
