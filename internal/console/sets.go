package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/store"
)

// ---- SCIM events (SETs) sent to the application ----
//
// Streams are deployment-wide, but a tenant admin sees only the streams that deliver its
// tenant's changes (its own and those of every tenant), and in them only its tenant's
// SETs: the store reads them by tenant (TenantStreamStats, TenantDeliveries), never a
// stream's other rows.

// streamRow is one stream on the audit page, with the tenant's backlog in it.
type streamRow struct {
	ID, Kind    string
	AllTenants  bool
	Paused      bool
	Events      []string // the RFC 9967 events it keeps, short (prov:…); nil: all
	Pending     int64    // due or waiting for a retry
	Inflight    int64    // push: being sent; poll: handed out, not acknowledged
	Parked      int64
	OldestSince time.Time // enqueue time of the tenant's oldest undelivered SET
}

// Poll reports whether the application polls the stream (RFC 8936).
func (r streamRow) Poll() bool { return r.Kind == store.StreamPoll }

// tenantStreams returns the streams that deliver t's changes, oldest first.
func (s *Service) tenantStreams(ctx context.Context, t store.Tenant) ([]store.Stream, error) {
	all, err := s.store.Streams(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Stream
	for _, st := range all {
		if st.TenantID == "" || st.TenantID == t.ID {
			out = append(out, st)
		}
	}
	return out, nil
}

func newStreamRow(st store.Stream) streamRow {
	r := streamRow{ID: st.ID, Kind: st.Kind, AllTenants: st.TenantID == "", Paused: st.Paused}
	for _, u := range st.EventURIs {
		r.Events = append(r.Events, strings.TrimPrefix(u, events.URIPrefix))
	}
	return r
}

// count sets the row's counts from the tenant's backlog in the stream.
func (r *streamRow) count(b store.StreamStats) {
	r.Pending, r.Inflight, r.Parked, r.OldestSince = b.Undelivered-b.Inflight, b.Inflight, b.Parked, b.OldestPending
}

// streamRows are the audit page's streams with t's backlog in each.
func (s *Service) streamRows(ctx context.Context, t store.Tenant) ([]streamRow, error) {
	streams, err := s.tenantStreams(ctx, t)
	if err != nil || len(streams) == 0 {
		return nil, err
	}
	stats, err := s.store.TenantStreamStats(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	by := map[string]store.StreamStats{}
	for _, st := range stats {
		by[st.StreamID] = st
	}
	rows := make([]streamRow, 0, len(streams))
	for _, st := range streams {
		r := newStreamRow(st)
		r.count(by[st.ID])
		rows = append(rows, r)
	}
	return rows, nil
}

// setStates are the filters of a stream's SETs: the query value and the store states.
var setStates = []struct{ Value, Label string }{
	{"", "All"}, {store.DeliveryPending, "Pending"}, {store.DeliveryInflight, "In flight / unacknowledged"},
	{store.DeliveryParked, "Failed (parked)"}, {store.DeliveryDelivered, "Delivered"},
}

// setRow is one of the tenant's SETs of a stream.
type setRow struct {
	JTI       string
	Event     store.Event
	URIs      []string // the RFC 9967 events of the SET, short
	State     string   // the store's delivery state
	Label     string   // the state in words, as the stream's kind means it
	Badge     string   // the badge class
	Attempts  int
	LastError string
	Next      time.Time // pending: next attempt; inflight: end of the claim (push) or of the ack timeout (poll)
	Done      time.Time // delivered or parked: when
}

func newSetRow(st store.Stream, d store.Delivery) setRow {
	r := setRow{JTI: events.JTI(st.ID, d), Event: d.Event, State: d.State, Attempts: d.Attempts, LastError: d.LastError,
		Next: d.NextAt, Done: d.DoneAt}
	for u := range events.For(d.Event, st.EventURIs) {
		r.URIs = append(r.URIs, strings.TrimPrefix(u, events.URIPrefix))
	}
	slices.Sort(r.URIs)
	poll := st.Kind == store.StreamPoll
	switch d.State {
	case store.DeliveryPending:
		r.Label, r.Badge = "pending", "badge-muted"
		if d.LastError != "" {
			r.Label, r.Badge = "retrying", "badge-warn"
		}
	case store.DeliveryInflight:
		r.Label, r.Badge = "sending", "badge-muted"
		if poll {
			r.Label, r.Badge = "unacknowledged", "badge-warn"
		}
	case store.DeliveryDelivered:
		r.Label, r.Badge = "delivered", "badge-ok"
		if poll {
			r.Label = "acknowledged"
		}
	case store.DeliveryParked:
		r.Label, r.Badge = "failed (parked)", "badge-bad"
	}
	return r
}

// setsView is the page of one stream's SETs of the tenant.
type setsView struct {
	Stream streamRow
	State  string
	States []struct{ Value, Label string }
	Sets   []setRow
	Older  string // the next page's link, or ""
	Newest string // the first page's link when this is not it
}

// setsPage lists the tenant's SETs of one stream, newest first, pageSize at a time (keyset
// paging on the audit event id: each page is one bounded index range).
func (s *Service) setsPage(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx, p := r.Context(), r.URL.Query()
	st, err := s.store.Stream(ctx, chi.URLParam(r, "id"))
	if err != nil {
		return notFound(err)
	}
	if st.TenantID != "" && st.TenantID != q.tenant.ID {
		return errNotFound // another tenant's stream: as if it did not exist
	}
	v := &setsView{Stream: newStreamRow(st), States: setStates}
	dq := store.DeliveryQuery{StreamID: st.ID, Limit: pageSize + 1}
	for _, o := range setStates {
		if o.Value != "" && o.Value == p.Get("state") {
			v.State, dq.States = o.Value, []string{o.Value}
		}
	}
	if n, err := strconv.ParseInt(p.Get("before"), 10, 64); err == nil && n > 0 {
		dq.Before = n
	}
	stats, err := s.store.TenantStreamStats(ctx, q.tenant.ID)
	if err != nil {
		return err
	}
	for _, b := range stats {
		if b.StreamID == st.ID {
			v.Stream.count(b)
		}
	}
	ds, err := s.store.TenantDeliveries(ctx, q.tenant.ID, dq)
	if err != nil {
		return err
	}
	more := len(ds) > pageSize
	if more {
		ds = ds[:pageSize]
	}
	for _, d := range ds {
		v.Sets = append(v.Sets, newSetRow(st, d))
	}
	base := "/t/" + q.tenant.Slug + "/admin/events/streams/" + url.PathEscape(st.ID)
	link := func(before int64) string {
		w := url.Values{}
		if v.State != "" {
			w.Set("state", v.State)
		}
		if before > 0 {
			w.Set("before", strconv.FormatInt(before, 10))
		}
		if len(w) == 0 {
			return base
		}
		return base + "?" + w.Encode()
	}
	if more {
		v.Older = link(ds[len(ds)-1].Event.ID)
	}
	if dq.Before > 0 {
		v.Newest = link(0)
	}
	s.render(w, http.StatusOK, "sets", &view{Title: "SCIM events", Nav: "events", Slug: q.tenant.Slug, Page: v, req: q})
	return nil
}
