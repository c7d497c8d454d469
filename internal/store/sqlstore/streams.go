package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

var _ store.EventStreamStore = (*Store)(nil)

// joinList stores a list as ",a,b,": a LIKE '%,a,%' finds a member, never a prefix of one.
func joinList(l []string) string { return "," + strings.Join(l, ",") + "," }

func splitJoined(s string) []string {
	return splitList(strings.Trim(s, ","))
}

// likeMember is the LIKE pattern that finds name in a joinList, with LIKE's wildcards in
// name escaped (event names hold underscores).
func likeMember(name string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%," + r.Replace(name) + ",%"
}

// enqueueDeliveries writes ev's delivery row for every stream of ev's tenant (or of every
// tenant) that receives ev's event, in the transaction that writes ev: the audit log is
// the outbox of the SCIM events. ev.ID must be set. (PostgreSQL does the same in
// insertEvent's one statement.)
func (s *Store) enqueueDeliveries(ctx context.Context, c Conn, ev *store.Event) error {
	return c.Exec(ctx, outboxInsert("$2", "$3", "$4", "$5", ""),
		ev.TenantID, ev.ID, ev.ResourceID, s.timeArg(ev.At), likeMember(ev.Name))
}

// outboxInsert is the statement that writes an event's delivery rows: one for every stream
// of tenant $1 (or of every tenant) whose events list holds the event. The other operands
// are SQL expressions of the caller's statement (placeholders, or a column of from).
func outboxInsert(eventID, resourceID, at, eventPattern, from string) string {
	return `INSERT INTO event_deliveries (tenant_id, stream_id, event_id, resource_id, state, enqueued_at, next_at)
		SELECT $1, s.id, ` + eventID + `, ` + resourceID + `, 'pending', ` + at + `, ` + at + ` FROM event_streams s` + from + `
		WHERE (s.tenant_id IS NULL OR s.tenant_id = $1) AND s.events LIKE ` + eventPattern + ` ESCAPE '\'`
}

// tkey is a delivery row's key in a statement's list: its tenant, claim ("" for any) and
// the value of the listed column (event id or resource id).
type tkey struct {
	tenant, claim string
	v             any
}

// inByTenant writes "col in keys" as an OR of one branch per tenant (and claim): each
// branch is tenantEq (the tenant column and "=", written by the caller so that the
// statement's text names its tenant filter) and the tenant, then cond (which should name
// stream_id and, for a partial index, its condition), then col IN (…). SQLite uses the
// index of each branch (a MULTI-INDEX OR); a row-value list, (tenant_id, event_id) IN
// ((…), …), it plans as a scan of the whole table.
func inByTenant(a *sqlfilter.Args, tenantEq, col, cond string, keys []tkey) string {
	type group struct{ tenant, claim string }
	var order []group
	vals := map[group][]string{}
	for _, k := range keys {
		g := group{k.tenant, k.claim}
		if _, ok := vals[g]; !ok {
			order = append(order, g)
		}
		vals[g] = append(vals[g], a.Add(k.v))
	}
	parts := make([]string, 0, len(order))
	for _, g := range order {
		b := "(" + tenantEq + a.Add(g.tenant) + cond
		if g.claim != "" {
			b += " AND claim = " + a.Add(g.claim)
		}
		parts = append(parts, b+" AND "+col+" IN ("+strings.Join(vals[g], ", ")+"))")
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// pendingOrInflight is the condition of the partial indexes of undelivered rows, as
// SQLite needs it written to use them.
const pendingOrInflight = ` AND state IN ('pending', 'inflight')`

// publishes reports whether ev can become a SCIM event: a provisioning change that was made.
func publishes(ev *store.Event) bool {
	return ev.Outcome == "success" && ev.ResourceID != "" && ev.ResourceType != ""
}

const streamCols = `id, kind, url, audience, COALESCE(tenant_id, ''), events, event_uris, paused, created_at`

func scanStream(r Row) (store.Stream, error) {
	var st store.Stream
	var events, uris string
	err := r.Scan(&st.ID, &st.Kind, &st.URL, &st.Audience, &st.TenantID, &events, &uris, &st.Paused, timeDest{&st.CreatedAt})
	st.Events, st.EventURIs = splitJoined(events), splitJoined(uris)
	return st, err
}

// CreateStream implements store.EventStreamStore.
func (s *Store) CreateStream(ctx context.Context, st store.Stream, credentialHash []byte) error {
	var hash any
	if credentialHash != nil {
		hash = credentialHash
	}
	return s.db.Exec(ctx, `INSERT INTO event_streams (id, kind, url, audience, tenant_id, events, event_uris, paused, created_at, credential_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		st.ID, st.Kind, st.URL, st.Audience, nullString(st.TenantID), joinList(st.Events), joinList(st.EventURIs), st.Paused,
		s.timeArg(st.CreatedAt), hash)
}

// Streams implements store.EventStreamStore.
func (s *Store) Streams(ctx context.Context) ([]store.Stream, error) {
	return collect[store.Stream](s.db.Query(ctx, `SELECT `+streamCols+` FROM event_streams ORDER BY created_at, id`))(scanStream)
}

// Stream implements store.EventStreamStore.
func (s *Store) Stream(ctx context.Context, id string) (store.Stream, error) {
	return scanStream(s.db.QueryRow(ctx, `SELECT `+streamCols+` FROM event_streams WHERE id = $1`, id))
}

// StreamByCredential implements store.EventStreamStore.
func (s *Store) StreamByCredential(ctx context.Context, hash []byte) (store.Stream, error) {
	return scanStream(s.db.QueryRow(ctx, `SELECT `+streamCols+` FROM event_streams WHERE credential_hash = $1`, hash))
}

// SetStreamPaused implements store.EventStreamStore.
func (s *Store) SetStreamPaused(ctx context.Context, id string, paused bool) error {
	return s.db.Tx(ctx, func(c Conn) error {
		if _, err := scanStream(c.QueryRow(ctx, `SELECT `+streamCols+` FROM event_streams WHERE id = $1`, id)); err != nil {
			return err
		}
		return c.Exec(ctx, `UPDATE event_streams SET paused = $2 WHERE id = $1`, id, paused)
	})
}

// DeleteStream implements store.EventStreamStore; the delivery rows go with the stream
// (ON DELETE CASCADE).
func (s *Store) DeleteStream(ctx context.Context, id string) error {
	return s.db.Tx(ctx, func(c Conn) error {
		if _, err := scanStream(c.QueryRow(ctx, `SELECT `+streamCols+` FROM event_streams WHERE id = $1`, id)); err != nil {
			return err
		}
		return c.Exec(ctx, `DELETE FROM event_streams WHERE id = $1`, id)
	})
}

// ClaimDeliveries implements store.EventStreamStore, in steps whose plans stay linear in
// the backlog whatever the planner knows of the table (a single statement with a
// correlated "oldest row of this resource" probe was planned quadratically before the
// table had statistics, on both the resource and the primary key index):
//
//  1. the stream's due rows, oldest first, a few times max of them (PostgreSQL locks them
//     FOR UPDATE SKIP LOCKED, so concurrent claimers take disjoint rows);
//  2. the oldest undelivered row of each of their resources, and how many it has, in one
//     grouped query: a row is claimable only when it is its resource's oldest, so a
//     resource's SETs go in the order their audit events were written, which is commit
//     order since the change's transaction holds the resource's row lock;
//  3. with run > 1, the next undelivered rows of each claimable resource that has more,
//     in event id order, up to the first that is not due (one UNION ALL of index range
//     scans, each with its LIMIT): a long queue of one resource drains run SETs per claim
//     instead of one. They need no lock of their own: only the claimer that locked a
//     resource's oldest row can take any row of it, and while the run is inflight its
//     oldest row is never due (PostgreSQL still locks them, SKIP LOCKED, and ends a run
//     before a row another claimer holds as a candidate, rather than wait for it);
//  4. the claimed rows become inflight under a new claim until now+lease. The others
//     (waiting behind their resource's oldest) get next_at = now, behind rows due earlier,
//     so a resource with a long queue does not crowd out the rest.
func (s *Store) ClaimDeliveries(ctx context.Context, streamID string, now time.Time, lease time.Duration, max, run int) ([]store.Delivery, error) {
	if max <= 0 {
		return nil, nil
	}
	run = min(run, maxRun)
	lock := ""
	if s.d == sqlfilter.Postgres {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	claim := store.NewID()
	type cand struct {
		tenant, resource string
		id               int64
	}
	type key struct {
		tenant string
		id     int64
	}
	var out []store.Delivery
	err := s.db.Tx(ctx, func(c Conn) error {
		out = out[:0]
		cands, err := collect[cand](c.Query(ctx, `SELECT tenant_id, event_id, resource_id FROM event_deliveries
			WHERE stream_id = $1 AND state IN ('pending', 'inflight') AND next_at <= $2
			ORDER BY next_at, event_id LIMIT $3`+lock, streamID, s.timeArg(now), 4*max))(func(r Row) (cand, error) {
			var k cand
			return k, r.Scan(&k.tenant, &k.id, &k.resource)
		})
		if err != nil || len(cands) == 0 {
			return err
		}
		a := sqlfilter.NewArgs(s.d, streamID)
		var keys []tkey
		seen := map[[2]string]bool{}
		for _, k := range cands {
			if !seen[[2]string{k.tenant, k.resource}] {
				seen[[2]string{k.tenant, k.resource}] = true
				keys = append(keys, tkey{tenant: k.tenant, v: k.resource})
			}
		}
		type head struct {
			key
			n int // the resource's undelivered rows
		}
		heads, err := collect[head](c.Query(ctx, `SELECT tenant_id, MIN(event_id), COUNT(*) FROM event_deliveries
			WHERE `+inByTenant(a, "tenant_id = ", "resource_id", " AND stream_id = $1"+pendingOrInflight, keys)+`
			GROUP BY tenant_id, resource_id`, a.Values()...))(func(r Row) (head, error) {
			var h head
			return h, r.Scan(&h.tenant, &h.id, &h.n)
		})
		if err != nil {
			return err
		}
		undelivered := map[key]int{}
		for _, h := range heads {
			undelivered[h.key] = h.n
		}
		taken := map[key]bool{}
		var runOf []cand // the claimable resources with more than one SET, by their oldest row
		claimable := 0
		for _, k := range cands {
			n, isHead := undelivered[key{k.tenant, k.id}]
			if isHead && claimable < max {
				claimable++
				taken[key{k.tenant, k.id}] = true
				if n > 1 {
					runOf = append(runOf, k)
				}
			}
		}
		if run > 1 && len(runOf) > 0 {
			q := sqlfilter.NewArgs(s.d, streamID, s.timeArg(now), run-1)
			var parts []string
			for i, h := range runOf {
				parts = append(parts, fmt.Sprintf(`SELECT * FROM (SELECT tenant_id, resource_id, event_id,
					CASE WHEN next_at <= $2 THEN 1 ELSE 0 END AS due FROM event_deliveries
					WHERE tenant_id = %s AND stream_id = $1 AND resource_id = %s AND state IN ('pending', 'inflight') AND event_id > %s
					ORDER BY event_id LIMIT $3) AS r%d`, q.Add(h.tenant), q.Add(h.resource), q.Add(h.id), i))
			}
			type row struct {
				cand
				due bool
			}
			rows, err := collect[row](c.Query(ctx, strings.Join(parts, " UNION ALL "), q.Values()...))(func(r Row) (row, error) {
				var x row
				var due int
				err := r.Scan(&x.tenant, &x.resource, &x.id, &due)
				x.due = due == 1
				return x, err
			})
			if err != nil {
				return err
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })
			// A run is consecutive: it ends at its resource's first row that is not due.
			var next []key
			stopped := map[[2]string]bool{}
			for _, x := range rows {
				r := [2]string{x.tenant, x.resource}
				if stopped[r] || !x.due {
					stopped[r] = true
					continue
				}
				next = append(next, key{x.tenant, x.id})
			}
			locked := map[key]bool{}
			if lock != "" && len(next) > 0 {
				// Another claimer may hold some of these rows as its candidates (step 1):
				// a run ends before the first of them, rather than wait for that claimer
				// (which could be waiting for ours).
				l := sqlfilter.NewArgs(s.d, streamID)
				var lk []tkey
				for _, k := range next {
					lk = append(lk, tkey{tenant: k.tenant, v: k.id})
				}
				got, err := collect[key](c.Query(ctx, `SELECT tenant_id, event_id FROM event_deliveries
					WHERE `+inByTenant(l, "tenant_id = ", "event_id", " AND stream_id = $1", lk)+lock, l.Values()...))(func(r Row) (key, error) {
					var k key
					return k, r.Scan(&k.tenant, &k.id)
				})
				if err != nil {
					return err
				}
				for _, k := range got {
					locked[k] = true
				}
			}
			ended := map[[2]string]bool{}
			for _, x := range rows {
				k, r := key{x.tenant, x.id}, [2]string{x.tenant, x.resource}
				if !x.due || ended[r] || lock != "" && !locked[k] {
					ended[r] = true
					continue
				}
				taken[k] = true
			}
		}
		back := sqlfilter.NewArgs(s.d, streamID, s.timeArg(now))
		var backKeys []tkey
		for _, k := range cands {
			// Only rows waiting behind their resource's oldest: an oldest row left out by
			// max keeps its place.
			if _, isHead := undelivered[key{k.tenant, k.id}]; !isHead && !taken[key{k.tenant, k.id}] {
				backKeys = append(backKeys, tkey{tenant: k.tenant, v: k.id})
			}
		}
		if len(backKeys) > 0 {
			if err := c.Exec(ctx, `UPDATE event_deliveries SET next_at = $2 WHERE `+
				inByTenant(back, "tenant_id = ", "event_id", " AND stream_id = $1", backKeys), back.Values()...); err != nil {
				return err
			}
		}
		if len(taken) == 0 {
			return nil
		}
		take := sqlfilter.NewArgs(s.d, streamID, s.timeArg(now.Add(lease)), claim)
		var takeKeys []tkey
		for k := range taken {
			takeKeys = append(takeKeys, tkey{tenant: k.tenant, v: k.id})
		}
		out, err = collect[store.Delivery](c.Query(ctx, `UPDATE event_deliveries SET state = 'inflight', next_at = $2, claim = $3, attempts = attempts + 1
			WHERE `+inByTenant(take, "tenant_id = ", "event_id", " AND stream_id = $1"+pendingOrInflight, takeKeys)+`
			RETURNING tenant_id, event_id, resource_id, gen, attempts, enqueued_at, next_at, COALESCE(last_error, '')`, take.Values()...))(func(r Row) (store.Delivery, error) {
			d := store.Delivery{StreamID: streamID, State: store.DeliveryInflight, Claim: claim}
			return d, r.Scan(&d.Event.TenantID, &d.Event.ID, &d.Event.ResourceID, &d.Gen, &d.Attempts, timeDest{&d.EnqueuedAt}, timeDest{&d.NextAt}, &d.LastError)
		})
		if err != nil {
			return err
		}
		return s.fillEvents(ctx, c, out)
	})
	if err != nil {
		return nil, err
	}
	// Commit order within each resource: a resource's audit event ids ascend in the order
	// its changes committed.
	sort.Slice(out, func(i, j int) bool { return out[i].Event.ID < out[j].Event.ID })
	return out, nil
}

// maxRun bounds the SETs of one resource one claim takes (and so, with max, the keys of
// the claim's statements).
const maxRun = 256

const deliveryEventCols = `a.tenant_id, a.id, a.at, a.event, a.outcome, a.actor, COALESCE(a.resource_type, ''), COALESCE(a.resource_id, ''),
	COALESCE(a.resource_name, ''), COALESCE(a.changed, ''), COALESCE(a.method, ''), n.slug`

// fillEvents reads the audit event and tenant slug of each delivery; a delivery whose
// event has been pruned keeps an empty Event.Name.
func (s *Store) fillEvents(ctx context.Context, c Conn, ds []store.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	a := sqlfilter.NewArgs(s.d)
	var keys []tkey
	for _, d := range ds {
		keys = append(keys, tkey{tenant: d.Event.TenantID, v: d.Event.ID})
	}
	rows, err := c.Query(ctx, `SELECT `+deliveryEventCols+` FROM audit_events a JOIN tenants n ON n.id = a.tenant_id
		WHERE `+inByTenant(a, "a.tenant_id = ", "a.id", "", keys), a.Values()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	type key struct {
		tenant string
		id     int64
	}
	found := map[key]struct {
		ev   store.Event
		slug string
	}{}
	for rows.Next() {
		var e store.Event
		var changed, slug string
		if err := rows.Scan(&e.TenantID, &e.ID, timeDest{&e.At}, &e.Name, &e.Outcome, &e.Actor, &e.ResourceType, &e.ResourceID,
			&e.ResourceName, &changed, &e.Method, &slug); err != nil {
			return err
		}
		e.Changed = splitList(changed)
		found[key{e.TenantID, e.ID}] = struct {
			ev   store.Event
			slug string
		}{e, slug}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range ds {
		if f, ok := found[key{ds[i].Event.TenantID, ds[i].Event.ID}]; ok {
			ds[i].Event, ds[i].TenantSlug = f.ev, f.slug
		}
	}
	return nil
}

// FinishDeliveries implements store.EventStreamStore.
func (s *Store) FinishDeliveries(ctx context.Context, streamID string, now time.Time, outcomes []store.DeliveryOutcome) (int, error) {
	changed := 0
	count := func(rows Rows, err error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			changed++
		}
		return rows.Err()
	}
	err := s.db.Tx(ctx, func(c Conn) error {
		changed = 0
		// The common case, pushes accepted, in one statement.
		done := sqlfilter.NewArgs(s.d, streamID, s.timeArg(now))
		var keys []tkey
		for _, o := range outcomes {
			if o.State == store.DeliveryDelivered && o.Claim != "" {
				keys = append(keys, tkey{tenant: o.TenantID, claim: o.Claim, v: o.EventID})
			}
		}
		if len(keys) > 0 {
			if err := count(c.Query(ctx, `UPDATE event_deliveries SET state = 'delivered', done_at = $2, last_error = NULL, claim = NULL
				WHERE `+inByTenant(done, "tenant_id = ", "event_id", " AND stream_id = $1 AND state = 'inflight'", keys)+`
				RETURNING event_id`, done.Values()...)); err != nil {
				return err
			}
		}
		// SETs of a run that were not sent go back, their claim's attempt uncounted.
		back := sqlfilter.NewArgs(s.d, streamID, s.timeArg(now))
		keys = keys[:0]
		for _, o := range outcomes {
			if o.Unsent && o.Claim != "" {
				keys = append(keys, tkey{tenant: o.TenantID, claim: o.Claim, v: o.EventID})
			}
		}
		if len(keys) > 0 {
			if err := count(c.Query(ctx, `UPDATE event_deliveries SET state = 'pending', next_at = $2, claim = NULL, attempts = attempts - 1
				WHERE `+inByTenant(back, "tenant_id = ", "event_id", " AND stream_id = $1 AND state = 'inflight'", keys)+`
				RETURNING event_id`, back.Values()...)); err != nil {
				return err
			}
		}
		for _, o := range outcomes {
			if o.State == store.DeliveryDelivered && o.Claim != "" || o.Unsent && o.Claim != "" {
				continue
			}
			next, doneAt := now, any(s.timeArg(now))
			if o.State == store.DeliveryPending {
				next, doneAt = o.NextAt, nil
			}
			args := []any{o.TenantID, streamID, o.EventID, o.State, s.timeArg(next), doneAt, nullString(o.Error)}
			q := `UPDATE event_deliveries SET state = $4, next_at = $5, done_at = $6, last_error = $7, claim = NULL
				WHERE tenant_id = $1 AND stream_id = $2 AND event_id = $3 AND state IN ('pending', 'inflight') AND gen = $8 RETURNING event_id`
			if o.Claim != "" {
				q = `UPDATE event_deliveries SET state = $4, next_at = $5, done_at = $6, last_error = $7, claim = NULL
					WHERE tenant_id = $1 AND stream_id = $2 AND event_id = $3 AND state = 'inflight' AND claim = $8 RETURNING event_id`
				args = append(args, o.Claim)
			} else {
				args = append(args, o.Gen)
			}
			if err := count(c.Query(ctx, q, args...)); err != nil {
				return err
			}
		}
		// The claim moved the rows waiting behind a resource's oldest to the back of the due
		// order (next_at = now), behind the rest of its own queue too. Once that oldest is
		// delivered or parked, they go back to their own place, so that the next claim finds
		// the resource's new oldest row first instead of after its whole queue.
		var resources, unknown []tkey
		seen := map[tkey]bool{}
		for _, o := range outcomes {
			switch {
			case o.State != store.DeliveryDelivered && o.State != store.DeliveryParked:
			case o.ResourceID == "":
				unknown = append(unknown, tkey{tenant: o.TenantID, v: o.EventID})
			case !seen[tkey{tenant: o.TenantID, v: o.ResourceID}]:
				seen[tkey{tenant: o.TenantID, v: o.ResourceID}] = true
				resources = append(resources, tkey{tenant: o.TenantID, v: o.ResourceID})
			}
		}
		if len(unknown) > 0 { // acknowledgements name a SET by its jti, not its resource
			look := sqlfilter.NewArgs(s.d, streamID)
			found, err := collect[tkey](c.Query(ctx, `SELECT DISTINCT tenant_id, resource_id FROM event_deliveries
				WHERE `+inByTenant(look, "tenant_id = ", "event_id", " AND stream_id = $1", unknown), look.Values()...))(func(r Row) (tkey, error) {
				var k tkey
				var id string
				err := r.Scan(&k.tenant, &id)
				k.v = id
				return k, err
			})
			if err != nil {
				return err
			}
			resources = append(resources, found...)
		}
		if len(resources) == 0 {
			return nil
		}
		restore := sqlfilter.NewArgs(s.d, streamID)
		return c.Exec(ctx, `UPDATE event_deliveries SET next_at = enqueued_at
			WHERE state = 'pending' AND attempts = 0 AND next_at > enqueued_at
			AND `+inByTenant(restore, "tenant_id = ", "resource_id", " AND stream_id = $1"+pendingOrInflight, resources), restore.Values()...)
	})
	return changed, err
}

// ReplayStream implements store.EventStreamStore, one tenant at a time.
func (s *Store) ReplayStream(ctx context.Context, streamID string, since, now time.Time) (int64, error) {
	st, err := s.Stream(ctx, streamID)
	if err != nil {
		return 0, err
	}
	tenants := []string{st.TenantID}
	if st.TenantID == "" {
		all, err := s.Tenants(ctx)
		if err != nil {
			return 0, err
		}
		tenants = tenants[:0]
		for _, t := range all {
			tenants = append(tenants, t.ID)
		}
	}
	var n int64
	for _, tenant := range tenants {
		err := s.db.Tx(ctx, func(c Conn) error {
			rows, err := c.Query(ctx, `INSERT INTO event_deliveries (tenant_id, stream_id, event_id, resource_id, state, enqueued_at, next_at)
				SELECT a.tenant_id, $2, a.id, a.resource_id, 'pending', $4, $4 FROM audit_events a
				WHERE a.tenant_id = $1 AND a.at >= $3 AND a.outcome = 'success' AND a.resource_id IS NOT NULL AND a.resource_type IS NOT NULL
				AND $5 LIKE ('%,' || a.event || ',%')
				ON CONFLICT (tenant_id, stream_id, event_id) DO UPDATE SET state = 'pending', gen = event_deliveries.gen + 1, attempts = 0,
					enqueued_at = excluded.enqueued_at, next_at = excluded.next_at, claim = NULL, done_at = NULL, last_error = NULL
				RETURNING event_id`, tenant, streamID, s.timeArg(since), s.timeArg(now), joinList(st.Events))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				n++
			}
			return rows.Err()
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// StreamStats implements store.EventStreamStore. It spans tenants: a stream's backlog is
// one number for the operator.
func (s *Store) StreamStats(ctx context.Context) ([]store.StreamStats, error) {
	rows, err := s.db.Query(ctx, `SELECT stream_id, state, COUNT(*), MIN(enqueued_at) FROM event_deliveries
		WHERE state IN ('pending', 'inflight', 'parked') GROUP BY stream_id, state ORDER BY stream_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.StreamStats
	for rows.Next() {
		var id, state string
		var n int64
		var oldest time.Time
		if err := rows.Scan(&id, &state, &n, timeDest{&oldest}); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].StreamID != id {
			out = append(out, store.StreamStats{StreamID: id})
		}
		st := &out[len(out)-1]
		if state == store.DeliveryParked {
			st.Parked += n
			continue
		}
		st.Undelivered += n
		if state == store.DeliveryInflight {
			st.Inflight += n
		}
		if st.OldestPending.IsZero() || oldest.Before(st.OldestPending) {
			st.OldestPending = oldest
		}
	}
	return out, rows.Err()
}

// ParkedDeliveries implements store.EventStreamStore. It spans the stream's tenants.
func (s *Store) ParkedDeliveries(ctx context.Context, streamID string, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, `SELECT d.gen, d.attempts, d.enqueued_at, COALESCE(d.last_error, ''), `+deliveryEventCols+`
		FROM event_deliveries d JOIN audit_events a ON a.tenant_id = d.tenant_id AND a.id = d.event_id JOIN tenants n ON n.id = d.tenant_id
		WHERE d.stream_id = $1 AND d.state = 'parked' ORDER BY d.done_at DESC LIMIT $2`, streamID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d := store.Delivery{StreamID: streamID, State: store.DeliveryParked}
		var changed string
		e := &d.Event
		if err := rows.Scan(&d.Gen, &d.Attempts, timeDest{&d.EnqueuedAt}, &d.LastError, &e.TenantID, &e.ID, timeDest{&e.At}, &e.Name,
			&e.Outcome, &e.Actor, &e.ResourceType, &e.ResourceID, &e.ResourceName, &changed, &e.Method, &d.TenantSlug); err != nil {
			return nil, err
		}
		e.Changed = splitList(changed)
		out = append(out, d)
	}
	return out, rows.Err()
}

// TenantStreamStats implements store.EventStreamStore: two statements whose conditions
// match the partial indexes of undelivered and of parked rows, so the tenant's delivered
// rows are not read.
func (s *Store) TenantStreamStats(ctx context.Context, tenantID string) ([]store.StreamStats, error) {
	type group struct {
		stream, state string
		n             int64
		oldest        time.Time
	}
	groups, err := collect[group](s.db.Query(ctx, `SELECT stream_id, state, COUNT(*), MIN(enqueued_at) FROM event_deliveries
			WHERE tenant_id = $1 AND state IN ('pending', 'inflight') GROUP BY stream_id, state
		UNION ALL
		SELECT stream_id, state, COUNT(*), MIN(enqueued_at) FROM event_deliveries
			WHERE tenant_id = $1 AND state = 'parked' GROUP BY stream_id, state`, tenantID))(func(r Row) (group, error) {
		var g group
		return g, r.Scan(&g.stream, &g.state, &g.n, timeDest{&g.oldest})
	})
	if err != nil {
		return nil, err
	}
	at := map[string]int{}
	var out []store.StreamStats
	for _, g := range groups {
		i, ok := at[g.stream]
		if !ok {
			i = len(out)
			at[g.stream] = i
			out = append(out, store.StreamStats{StreamID: g.stream})
		}
		st := &out[i]
		switch g.state {
		case store.DeliveryParked:
			st.Parked += g.n
			continue
		case store.DeliveryInflight:
			st.Inflight += g.n
		}
		st.Undelivered += g.n
		if st.OldestPending.IsZero() || g.oldest.Before(st.OldestPending) {
			st.OldestPending = g.oldest
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StreamID < out[j].StreamID })
	return out, nil
}

// maxDeliveryPage bounds TenantDeliveries.
const maxDeliveryPage = 1000

// TenantDeliveries implements store.EventStreamStore, one index range of the primary key
// (or of the parked rows') read backwards from q.Before.
func (s *Store) TenantDeliveries(ctx context.Context, tenantID string, q store.DeliveryQuery) ([]store.Delivery, error) {
	limit := q.Limit
	if limit <= 0 || limit > maxDeliveryPage {
		limit = maxDeliveryPage
	}
	a := sqlfilter.NewArgs(s.d, tenantID, q.StreamID, limit)
	where := ""
	if len(q.States) > 0 {
		var in []string
		for _, st := range q.States {
			in = append(in, a.Add(st))
		}
		where += ` AND d.state IN (` + strings.Join(in, ", ") + `)`
	}
	if q.Before > 0 {
		where += ` AND d.event_id < ` + a.Add(q.Before)
	}
	return collect[store.Delivery](s.db.Query(ctx, `SELECT d.stream_id, d.state, d.gen, d.attempts, d.enqueued_at, d.next_at, d.done_at,
		COALESCE(d.last_error, ''), `+deliveryEventCols+`
		FROM event_deliveries d JOIN audit_events a ON a.tenant_id = d.tenant_id AND a.id = d.event_id JOIN tenants n ON n.id = d.tenant_id
		WHERE d.tenant_id = $1 AND d.stream_id = $2`+where+` ORDER BY d.event_id DESC LIMIT $3`, a.Values()...))(func(r Row) (store.Delivery, error) {
		var d store.Delivery
		var changed string
		e := &d.Event
		err := r.Scan(&d.StreamID, &d.State, &d.Gen, &d.Attempts, timeDest{&d.EnqueuedAt}, timeDest{&d.NextAt}, timeDest{&d.DoneAt}, &d.LastError,
			&e.TenantID, &e.ID, timeDest{&e.At}, &e.Name, &e.Outcome, &e.Actor, &e.ResourceType, &e.ResourceID, &e.ResourceName, &changed, &e.Method, &d.TenantSlug)
		e.Changed = splitList(changed)
		return d, err
	})
}
