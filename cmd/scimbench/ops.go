package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The ops scenario: the five operations an IdP's connector sends most (userName lookup,
// create, PATCH deactivate, group member add, a cursor page), each measured as a fixed
// number of requests at --concurrency, in --rounds rounds. Every round runs each operation
// three times back to back: through scimd, as the same row work with the bare driver (the
// floor), and against a do-nothing HTTP server in this process that answers the same
// client with a body of the size scimd answered (the HTTP ceiling). Figures are ops/s and
// ratios of one run, so that they hold on a loaded machine better than absolute numbers.
//
// The data is seeded with set-based SQL, not through HTTP: --tenants tenants of --users
// users each, each tenant with its own token and 2×--groups groups (half grown by scimd's
// member adds, half by the floor's; several, so that concurrent adds in one tenant do not
// all wait on one group's row lock). Every request picks its tenant at random, as a SaaS with many
// customers syncing at once.

const scOps = "ops"

// opNames are the ops scenario's operations, in the order run and reported.
var opNames = []string{"lookup", "create", "patch-deactivate", "add-member", "cursor-page"}

// opsTenant is one seeded tenant.
type opsTenant struct {
	id, prefix, token string
	groups            []string // scimd's member adds go to these, round robin
	floorGroups       []string // the floor's
	deptGroups        []string // seeded with every user in one, as a company's departments
	users             []string // ids of the seeded users, in creation order
	nextAdd           atomic.Int64
	nextFloorAdd      atomic.Int64
}

// OpsFigure is one operation's figures over all rounds.
type OpsFigure struct {
	Op          string    `json:"op"`
	Count       int       `json:"count"`
	Errors      int       `json:"errors"`
	OpsPerSec   float64   `json:"ops_per_s"` // median of the rounds
	P50         float64   `json:"p50_ms"`
	P99         float64   `json:"p99_ms"`
	FloorPerSec float64   `json:"floor_ops_per_s,omitempty"`
	FloorP50    float64   `json:"floor_p50_ms,omitempty"`
	FloorP99    float64   `json:"floor_p99_ms,omitempty"`   // the floor's tail at the same concurrency on the same cores
	CeilP99     float64   `json:"ceiling_p99_ms,omitempty"` // the do-nothing server's
	CeilPerSec  float64   `json:"ceiling_ops_per_s,omitempty"`
	FloorRatio  float64   `json:"ratio_floor,omitempty"`     // scimd / floor, median of the rounds' ratios
	CeilRatio   float64   `json:"ratio_ceiling,omitempty"`   // scimd / ceiling
	LimitPerSec float64   `json:"limit_ops_per_s,omitempty"` // HTTP plus the floor's database work on these cores: 1/(1/floor + 1/ceiling)
	LimitRatio  float64   `json:"ratio_limit,omitempty"`     // scimd / limit
	RatioSpread float64   `json:"ratio_spread,omitempty"`    // (max-min)/median of the rounds' floor ratios
	RoundRatios []float64 `json:"round_ratios,omitempty"`
	CPUMicros   float64   `json:"scimd_cpu_us_per_op,omitempty"` // scimd's CPU time (user+system) per request, median of the rounds
	// FloorCPUMicros is scimbench's own CPU time per floor operation (the bare driver's
	// client side: the same pgx or database/sql work scimd's store does), and CPUPerFloorCPU
	// is CPUMicros over it, the median of the rounds' quotients. Both sides run on the same
	// cores beside the same database, so what inflates every instruction alike (another
	// process's memory traffic evicting the caches) inflates both: the quotient is scimd's
	// work in units of a driver call, the cost the flatness check compares.
	FloorCPUMicros float64 `json:"floor_client_cpu_us_per_op,omitempty"`
	CPUPerFloorCPU float64 `json:"scimd_cpu_per_floor_cpu,omitempty"`
	ResponseSize   int     `json:"response_bytes"`
}

// opsRun is the state of an ops run.
type opsRun struct {
	b       *bench
	d       *rawDB
	tenants []*opsTenant
	ceil    *client
	sizes   sync.Map // op → response size (bytes) scimd answered last
	seq     atomic.Int64
	patched atomic.Int64
}

// opsScenario seeds, then runs the rounds; it returns the figures (and the recorders of
// scimd's requests).
func (b *bench) opsScenario(ctx context.Context, d *rawDB, stderr io.Writer) ([]OpsFigure, []*recorder) {
	o := &opsRun{b: b, d: d}
	start := time.Now()
	if err := o.seed(ctx, stderr); err != nil {
		b.fail("seeding: %v", err)
		return nil, nil
	}
	fmt.Fprintf(stderr, "scimbench: seeded %d tenants of %d users in %s\n", b.cfg.tenants, b.cfg.users, time.Since(start).Round(time.Second))
	if b.cfg.floor {
		srv, addr, err := startCeiling(o)
		if err != nil {
			b.fail("ceiling: %v", err)
			return nil, nil
		}
		defer srv.Close()
		if o.ceil, err = newClient("http://"+addr+"/scim/v2", "ceiling", b.cfg.concurrency); err != nil {
			b.fail("ceiling: %v", err)
			return nil, nil
		}
	}
	type side struct {
		recs   []*recorder
		thr    []float64
		ratios []float64
		cpu    []float64
		rel    []float64 // scimd's CPU a request over the floor client's, per round
	}
	scim, floor, ceil := map[string]*side{}, map[string]*side{}, map[string]*side{}
	for _, op := range opNames {
		scim[op], floor[op], ceil[op] = &side{}, &side{}, &side{}
	}
	n := b.cfg.opsPerRound
	ops := selectedOps(b.cfg.only)
	if w := b.cfg.warmup; w > 0 {
		// Every side starts cold: client and database connections to open, statements to
		// prepare and plan. The first requests of a round would carry that into its p99.
		sides := []string{"scim"}
		if b.cfg.floor {
			sides = append(sides, "floor", "ceiling")
		}
		for _, sd := range sides {
			o.runOp(ctx, b.phase("warm-up "+sd), "lookup", 0, w, sd)
		}
	}
	for round := 1; round <= b.cfg.rounds && ctx.Err() == nil; round++ {
		for _, op := range ops {
			rec := b.phase(fmt.Sprintf("round %d %s", round, op))
			cpu0 := procCPU(b.cfg.pid)
			o.runOp(ctx, rec, op, round, n, "scim")
			if cpu1 := procCPU(b.cfg.pid); cpu1 > 0 {
				scim[op].cpu = append(scim[op].cpu, float64((cpu1-cpu0).Microseconds())/float64(n))
			}
			scim[op].recs = append(scim[op].recs, rec)
			scim[op].thr = append(scim[op].thr, throughput(rec, op))
			if !b.cfg.floor {
				continue
			}
			frec := b.phase(fmt.Sprintf("round %d %s floor", round, op))
			self0 := selfCPU()
			o.runOp(ctx, frec, op, round, n, "floor")
			if self1 := selfCPU(); self1 > self0 {
				fc := float64((self1 - self0).Microseconds()) / float64(n)
				floor[op].cpu = append(floor[op].cpu, fc)
				if len(scim[op].cpu) == round {
					scim[op].rel = append(scim[op].rel, scim[op].cpu[round-1]/fc)
				}
			}
			floor[op].recs = append(floor[op].recs, frec)
			floor[op].thr = append(floor[op].thr, throughput(frec, op))
			crec := b.phase(fmt.Sprintf("round %d %s ceiling", round, op))
			o.runOp(ctx, crec, op, round, n, "ceiling")
			ceil[op].thr = append(ceil[op].thr, throughput(crec, op))
			ceil[op].recs = append(ceil[op].recs, crec)
			if f := floor[op].thr[len(floor[op].thr)-1]; f > 0 {
				scim[op].ratios = append(scim[op].ratios, scim[op].thr[len(scim[op].thr)-1]/f)
			}
			if _, bad := frec.counts(); bad > 0 {
				first := ""
				if e := frec.firstErr.Load(); e != nil {
					first = (*e).Error()
				}
				b.fail("floor %s: %d row operations failed, the first with: %s", op, bad, first)
			}
			if _, bad := crec.counts(); bad > 0 {
				b.fail("ceiling %s: %d requests failed", op, bad)
			}
		}
	}
	var figs []OpsFigure
	var all []*recorder
	for _, op := range ops {
		s := scim[op]
		all = append(all, s.recs...)
		rep := mergeReport(op, s.recs)
		f := OpsFigure{Op: op, OpsPerSec: median(s.thr), CPUMicros: median(s.cpu)}
		if len(rep.Ops) > 0 {
			f.Count, f.P50, f.P99 = rep.Ops[0].Count, rep.Ops[0].P50, rep.Ops[0].P99
			for _, v := range rep.Ops[0].Errors {
				f.Errors += v
			}
		}
		if v, ok := o.sizes.Load(op); ok {
			f.ResponseSize = v.(int)
		}
		if b.cfg.floor {
			f.FloorPerSec, f.CeilPerSec = median(floor[op].thr), median(ceil[op].thr)
			if fr := mergeReport(op, floor[op].recs); len(fr.Ops) > 0 {
				f.FloorP50, f.FloorP99 = fr.Ops[0].P50, fr.Ops[0].P99
			}
			if cr := mergeReport(op, ceil[op].recs); len(cr.Ops) > 0 {
				f.CeilP99 = cr.Ops[0].P99
			}
			f.FloorRatio, f.RoundRatios = median(s.ratios), s.ratios
			f.FloorCPUMicros, f.CPUPerFloorCPU = median(floor[op].cpu), median(s.rel)
			if f.CeilPerSec > 0 {
				f.CeilRatio = f.OpsPerSec / f.CeilPerSec
			}
			if f.LimitPerSec = limitOf(f.FloorPerSec, f.CeilPerSec); f.LimitPerSec > 0 {
				f.LimitRatio = f.OpsPerSec / f.LimitPerSec
			}
			if len(s.ratios) > 1 && f.FloorRatio > 0 {
				f.RatioSpread = (slices.Max(s.ratios) - slices.Min(s.ratios)) / f.FloorRatio
			}
		}
		figs = append(figs, f)
	}
	return figs, all
}

// limitOf is the rate of requests that each do the floor's database work and the ceiling's
// HTTP work on the same cores: each of the two had the machine to itself, so one request
// costs the sum of their times. 0 when either is unknown.
func limitOf(floor, ceil float64) float64 {
	if floor <= 0 || ceil <= 0 {
		return 0
	}
	return 1 / (1/floor + 1/ceil)
}

// procCPU returns the CPU time (user and system) process pid has used, 0 when unknown.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces, in parentheses): utime and stime
	// are the 12th and 13th, in clock ticks (100 a second on Linux).
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+st) * 10 * time.Millisecond
}

// selfCPU returns the CPU time (user and system) this process has used, to the
// microsecond (/proc's clock ticks are 10 ms: too coarse for a phase of a second).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selectedOps returns the operations of --only (all when empty), in opNames' order.
func selectedOps(only string) []string {
	if only == "" {
		return opNames
	}
	var out []string
	for _, op := range opNames {
		if slices.Contains(strings.Split(only, ","), op) {
			out = append(out, op)
		}
	}
	return out
}

// validOps reports whether --only names known operations only.
func validOps(only string) bool {
	if only == "" {
		return true
	}
	for _, op := range strings.Split(only, ",") {
		if !slices.Contains(opNames, op) {
			return false
		}
	}
	return true
}

// throughput is the requests of op in rec per second of the phase's wall time.
func throughput(rec *recorder, op string) float64 {
	rep := rec.report()
	for _, o := range rep.Ops {
		if o.Op == op {
			return o.Throughput
		}
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// mergeReport is the report of recs' requests together.
func mergeReport(op string, recs []*recorder) PhaseReport {
	m := newRecorder(op)
	for _, r := range recs {
		m.merge(r)
	}
	return m.report()
}

// merge adds every request of r to m.
func (m *recorder) merge(r *recorder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range r.order {
		s := r.ops[name]
		t := m.ops[name]
		if t == nil {
			t = &opStats{errs: map[int]int{}, first: s.first}
			m.ops[name] = t
			m.order = append(m.order, name)
		}
		t.lat = append(t.lat, s.lat...)
		for k, v := range s.errs {
			t.errs[k] += v
		}
		if s.first.Before(t.first) {
			t.first = s.first
		}
		if s.last.After(t.last) {
			t.last = s.last
		}
		m.total += len(s.lat)
		for _, v := range s.errs {
			m.bad += v
		}
	}
}

// runOp sends n requests of op through side ("scim", "floor" or "ceiling").
func (o *opsRun) runOp(ctx context.Context, rec *recorder, op string, round, n int, side string) {
	cfg := o.b.cfg
	forEach(ctx, n, cfg.concurrency, func(i int) {
		t := o.tenants[rand.IntN(len(o.tenants))]
		switch side {
		case "scim":
			o.scimOp(ctx, rec, op, round, t)
		case "floor":
			o.floorOp(ctx, rec, op, round, t)
		case "ceiling":
			o.ceilOp(ctx, rec, op, t)
		}
	})
}

// opRequest is the HTTP request of op on tenant t: method, path, body and the status scimd
// answers.
func (o *opsRun) opRequest(op string, round int, t *opsTenant) (method, path string, body any, want int) {
	switch op {
	case "lookup":
		i := rand.IntN(len(t.users))
		return "GET", "/Users" + filterQuery(`userName eq "`+fmt.Sprintf("%s-u%d@example.com", t.prefix, i)+`"`), nil, http.StatusOK
	case "create":
		k := o.seq.Add(1)
		name := fmt.Sprintf("%s-c%d@example.com", t.prefix, k)
		return "POST", "/Users", userBody(name, fmt.Sprintf("%s-c%d", t.prefix, k)), http.StatusCreated
	case "patch-deactivate":
		// The first half of the tenant's users is scimd's, the second the floor's; a round
		// deactivates (odd) or reactivates (even), so that no PATCH is a no-op.
		id := t.users[rand.IntN(max(1, len(t.users)/2))]
		return "PATCH", "/Users/" + id, patchOps(map[string]any{"op": "replace", "value": map[string]any{"active": round%2 == 0}}), http.StatusOK
	case "add-member":
		k := int(t.nextAdd.Add(1) - 1)
		return "PATCH", "/Groups/" + t.groups[k%len(t.groups)] + "?excludedAttributes=members",
			patchOps(map[string]any{"op": "add", "path": "members", "value": memberValues([]string{t.users[k%len(t.users)]})}), http.StatusOK
	case "cursor-page":
		return "GET", "/Users?count=100&cursor=", nil, http.StatusOK
	}
	panic("unknown op " + op)
}

func (o *opsRun) scimOp(ctx context.Context, rec *recorder, op string, round int, t *opsTenant) {
	method, path, body, want := o.opRequest(op, round, t)
	start := time.Now()
	r := o.b.c.doAs(ctx, t.token, method, path, body)
	if r.status == 0 && ctx.Err() != nil {
		return
	}
	ok := r.status == want || op == "add-member" && r.status == http.StatusNoContent
	rec.record(op, start, time.Since(start), r.status, ok)
	if ok {
		o.sizes.Store(op, len(r.body))
	} else {
		rec.unexpected(method, path, r)
	}
}

func (o *opsRun) ceilOp(ctx context.Context, rec *recorder, op string, t *opsTenant) {
	method, path, body, want := o.opRequest(op, 1, t)
	if op == "create" {
		o.seq.Add(-1) // the ceiling creates nothing
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	start := time.Now()
	r := o.ceil.doAs(ctx, t.token, method, path+sep+"scimbench-op="+op, body)
	if r.status == 0 && ctx.Err() != nil {
		return
	}
	rec.record(op, start, time.Since(start), r.status, r.status == want)
}

// startCeiling serves the do-nothing SCIM server on 127.0.0.1: it reads the request, and
// answers with the status scimd answers and a body of the size scimd answered for the op.
func startCeiling(o *opsRun) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	bodies := sync.Map{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		op := r.URL.Query().Get("scimbench-op")
		size := 200
		if v, ok := o.sizes.Load(op); ok {
			size = v.(int)
		}
		key := op + "/" + strconv.Itoa(size)
		b, ok := bodies.Load(key)
		if !ok {
			body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"pad":"`)
			body = append(body, strings.Repeat("x", max(0, size-len(body)-2))...)
			body = append(body, `"}`...)
			b, _ = bodies.LoadOrStore(key, body)
		}
		w.Header().Set("Content-Type", "application/scim+json")
		status := http.StatusOK
		if r.Method == "POST" {
			status = http.StatusCreated
		}
		w.WriteHeader(status)
		w.Write(b.([]byte))
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, ln.Addr().String(), nil
}

// ---- the floor of each operation ----

func (o *opsRun) floorOp(ctx context.Context, rec *recorder, op string, round int, t *opsTenant) {
	d := o.d
	f := &floor{d: d, b: o.b, tenant: t.id}
	switch op {
	case "lookup":
		i := rand.IntN(len(t.users))
		name := fmt.Sprintf("%s-u%d@example.com", t.prefix, i)
		timed(rec, op, func() error {
			n, err := d.rows(ctx, d.sqlText(`SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1 AND user_name_key = $2`), t.id, strings.ToUpper(name))
			if err == nil && n != 1 {
				err = fmt.Errorf("lookup of %s found %d rows", name, n)
			}
			return err
		})
	case "create":
		k := o.seq.Add(1)
		name, ext := fmt.Sprintf("%s-f%d@example.com", t.prefix, k), fmt.Sprintf("%s-f%d", t.prefix, k)
		data, _ := json.Marshal(storedUser(name, ext, true))
		id := newUUID()
		timed(rec, op, func() error {
			return d.tx(ctx, func(c rawConn) error {
				now := d.timeArg(time.Now())
				if err := c.exec(ctx, `INSERT INTO users (tenant_id, id, created_at, last_modified, version, data, user_name, user_name_key, external_id, active, user_type, display_name)
					VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, true, 'member', $9)`, t.id, id, now, now, d.jsonArg(data), name, strings.ToUpper(name), ext, "Bench "+ext); err != nil {
					return err
				}
				return f.event(ctx, c, "user_create_provision", "User", id, name)
			})
		})
	case "patch-deactivate":
		half := max(1, len(t.users)/2)
		i := half + rand.IntN(max(1, len(t.users)-half))
		id := t.users[min(i, len(t.users)-1)]
		active := round%2 == 0
		lock := ""
		if d.pg != nil {
			lock = " FOR UPDATE"
		}
		timed(rec, op, func() error {
			return d.tx(ctx, func(c rawConn) error {
				data, err := c.value(ctx, `SELECT data FROM users WHERE tenant_id = $1 AND id = $2`+lock, t.id, id)
				if err != nil {
					return err
				}
				if err := c.exec(ctx, `UPDATE users SET active = $3, data = $4, version = version + 1, last_modified = $5 WHERE tenant_id = $1 AND id = $2`,
					t.id, id, active, d.jsonArg(data), d.timeArg(time.Now())); err != nil {
					return err
				}
				return f.event(ctx, c, "user_update_provision", "User", id, "")
			})
		})
	case "add-member":
		k := int(t.nextFloorAdd.Add(1) - 1)
		f.addMembers(ctx, rec, op, t.floorGroups[k%len(t.floorGroups)], []string{t.users[k%len(t.users)]})
	case "cursor-page":
		timed(rec, op, func() error {
			n, err := d.rows(ctx, d.sqlText(`SELECT id, created_at, last_modified, version, data FROM users WHERE tenant_id = $1 ORDER BY created_at, id LIMIT 101`), t.id)
			if err == nil && n == 0 {
				err = fmt.Errorf("empty page")
			}
			return err
		})
	}
}

// storedUser is the attributes scimd stores for userBody(name, ext) (no schemas, the
// enterprise extension kept under its URN).
func storedUser(name, ext string, active bool) map[string]any {
	u := userBody(name, ext)
	delete(u, "schemas")
	u["active"] = active
	u["userType"] = "member"
	return u
}

// ---- seeding: set-based SQL ----

// seed creates the tenants, their tokens, users and groups with a few set-based statements.
func (o *opsRun) seed(ctx context.Context, stderr io.Writer) error {
	cfg := o.b.cfg
	d := o.d
	now := time.Now().UTC().Add(-time.Hour)
	o.tenants = make([]*opsTenant, cfg.tenants)
	for k := range o.tenants {
		tok := "sbt_" + randHex(20)
		t := &opsTenant{id: newUUID(), prefix: fmt.Sprintf("%s-t%d", o.b.run, k), token: tok}
		for range max(1, cfg.groups) {
			t.groups, t.floorGroups = append(t.groups, newUUID()), append(t.floorGroups, newUUID())
		}
		for range departmentsPerTenant {
			t.deptGroups = append(t.deptGroups, newUUID())
		}
		o.tenants[k] = t
	}
	// Tenants, tokens and groups: one transaction, row by row (a thousand is quick).
	err := d.tx(ctx, func(c rawConn) error {
		for k, t := range o.tenants {
			if err := c.exec(ctx, `INSERT INTO tenants (id, slug, name, default_user_type, user_types, created_at) VALUES ($1, $2, $3, 'member', 'admin,member,viewer,guest', $4)`,
				t.id, fmt.Sprintf("%s-t%d", o.b.run, k), t.prefix, d.timeArg(now)); err != nil {
				return err
			}
			h := sha256.Sum256([]byte(t.token))
			if err := c.exec(ctx, `INSERT INTO scim_tokens (tenant_id, id, label, hash, created_at) VALUES ($1, $2, 'scimbench', $3, $4)`,
				t.id, "tok_"+randHex(8), h[:], d.timeArg(now)); err != nil {
				return err
			}
			type group struct{ id, name string }
			var groups []group
			for j := range t.groups {
				groups = append(groups, group{t.groups[j], fmt.Sprintf("%s-scim%d", t.prefix, j)}, group{t.floorGroups[j], fmt.Sprintf("%s-floor%d", t.prefix, j)})
			}
			for j, id := range t.deptGroups {
				groups = append(groups, group{id, fmt.Sprintf("%s-dept%d", t.prefix, j)})
			}
			for _, g := range groups {
				data, _ := json.Marshal(map[string]any{"displayName": g.name})
				if err := c.exec(ctx, `INSERT INTO groups (tenant_id, id, created_at, last_modified, version, data, display_name, display_name_key) VALUES ($1, $2, $3, $3, 1, $4, $5, $6)`,
					t.id, g.id, d.timeArg(now), d.jsonArg(data), g.name, strings.ToUpper(g.name)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Users: one INSERT … SELECT per batch of tenants, generated in the database.
	const batch = 50
	for from := 0; from < len(o.tenants); from += batch {
		to := min(from+batch, len(o.tenants))
		var ids, prefixes []string
		for _, t := range o.tenants[from:to] {
			ids, prefixes = append(ids, t.id), append(prefixes, t.prefix)
		}
		if err := o.seedUsers(ctx, ids, prefixes, cfg.users, now); err != nil {
			return err
		}
		if cfg.progress > 0 && to%(batch*4) == 0 {
			fmt.Fprintf(stderr, "scimbench: seeded %d of %d tenants\n", to, len(o.tenants))
		}
	}
	// The seeded users' ids, in creation order, per tenant.
	for _, t := range o.tenants {
		var err error
		if t.users, err = d.strings(ctx, d.sqlText(`SELECT CAST(id AS TEXT) FROM users WHERE tenant_id = $1 ORDER BY created_at, id`), t.id); err != nil {
			return err
		}
		if len(t.users) != cfg.users {
			return fmt.Errorf("tenant %s has %d users, want %d", t.prefix, len(t.users), cfg.users)
		}
	}
	if err := o.seedDepartments(ctx); err != nil {
		return err
	}
	if d.pg != nil {
		// VACUUM too, as autovacuum would have long since done to a tenant's rows: otherwise
		// it starts on the freshly inserted million during the rounds and takes their CPU.
		_, err = d.pg.Exec(ctx, `VACUUM ANALYZE`)
	}
	return err
}

// departmentsPerTenant is how many department groups each tenant has; every seeded user is a
// member of one, so that a lookup reads and renders a user's groups, as in a real tenant
// (and PostgreSQL's statistics, taken after the seed, know memberships exist).
const departmentsPerTenant = 4

// seedDepartments puts user i of every tenant into department group i mod departmentsPerTenant.
func (o *opsRun) seedDepartments(ctx context.Context) error {
	d := o.d
	for _, t := range o.tenants {
		groups := make([]string, len(t.users))
		for i := range t.users {
			groups[i] = t.deptGroups[i%len(t.deptGroups)]
		}
		if d.pg != nil {
			if _, err := d.pg.Exec(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
				SELECT $1, g, m, 'User' FROM unnest($2::uuid[], $3::uuid[]) AS x(g, m)`, t.id, groups, t.users); err != nil {
				return err
			}
			continue
		}
		err := d.tx(ctx, func(c rawConn) error {
			const chunk = 200
			for from := 0; from < len(t.users); from += chunk {
				to := min(from+chunk, len(t.users))
				var values []string
				args := []any{t.id}
				for i := from; i < to; i++ {
					values = append(values, fmt.Sprintf("($1, $%d, $%d, 'User')", len(args)+1, len(args)+2))
					args = append(args, groups[i], t.users[i])
				}
				if err := c.exec(ctx, d.sqlText(`INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES `+strings.Join(values, ", ")), args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// seedUsers inserts n users into each of the tenants, as scimd would store userBody.
func (o *opsRun) seedUsers(ctx context.Context, ids, prefixes []string, n int, at time.Time) error {
	d := o.d
	if d.pg != nil {
		_, err := d.pg.Exec(ctx, `INSERT INTO users (tenant_id, id, created_at, last_modified, version, data, user_name, user_name_key, external_id, active, user_type, display_name)
			SELECT t.id, gen_random_uuid(), $3::timestamptz + g * interval '1 microsecond', $3::timestamptz + g * interval '1 microsecond', 1,
				jsonb_build_object('userName', u.name, 'externalId', u.ext, 'active', true, 'userType', 'member', 'displayName', 'Bench ' || u.ext,
					'title', 'Engineer', 'name', jsonb_build_object('givenName', 'Bench', 'familyName', u.ext),
					'emails', jsonb_build_array(jsonb_build_object('value', u.name, 'type', 'work', 'primary', true)),
					'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', jsonb_build_object('department', 'R&D', 'costCenter', '4130')),
				u.name, upper(u.name), u.ext, true, 'member', 'Bench ' || u.ext
			FROM unnest($1::text[], $2::text[]) AS t(id, prefix)
			CROSS JOIN generate_series(0, $4 - 1) AS g
			CROSS JOIN LATERAL (SELECT t.prefix || '-u' || g || '@example.com' AS name, t.prefix || '-u' || g AS ext) AS u`,
			ids, prefixes, at, n)
		return err
	}
	return d.tx(ctx, func(c rawConn) error {
		for k, id := range ids {
			err := c.exec(ctx, `WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < $3),
				u(i, name, ext) AS (SELECT i, $2 || '-u' || i || '@example.com', $2 || '-u' || i FROM g)
				INSERT INTO users (tenant_id, id, created_at, last_modified, version, data, user_name, user_name_key, external_id, active, user_type, display_name)
				SELECT $1, lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
					strftime('%Y-%m-%dT%H:%M:%S', $4) || '.' || printf('%06d', i) || '000Z', strftime('%Y-%m-%dT%H:%M:%S', $4) || '.' || printf('%06d', i) || '000Z', 1,
					json_object('userName', name, 'externalId', ext, 'active', json('true'), 'userType', 'member', 'displayName', 'Bench ' || ext,
						'title', 'Engineer', 'name', json_object('givenName', 'Bench', 'familyName', ext),
						'emails', json_array(json_object('value', name, 'type', 'work', 'primary', json('true'))),
						'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', json_object('department', 'R&D', 'costCenter', '4130')),
					name, upper(name), ext, 1, 'member', 'Bench ' || ext
				FROM u`, id, prefixes[k], n, at.Format("2006-01-02T15:04:05"))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- reporting and checks ----

// opsTargets are BENCHMARKS.md's targets: scimd's ops/s at least this fraction of the floor's.
var opsTargets = map[string]map[string]float64{
	"postgres": {"lookup": 0.4, "create": 0.7, "patch-deactivate": 0.6},
	"sqlite":   {"lookup": 0.2, "create": 0.4, "patch-deactivate": 0.6},
}

// lookupP99Target is the lookup's p99 target at concurrency 8.
const lookupP99Target = 5.0

// writeOpsTable prints the figures.
func writeOpsTable(w io.Writer, dialect string, figs []OpsFigure) {
	fmt.Fprintf(w, "\n== ops: median of the rounds; ratios are scimd's ops/s over the floor's, the ceiling's and their\n")
	fmt.Fprintf(w, "   limit together (1/(1/floor + 1/ceil): HTTP plus the database work on these cores), same run\n")
	fmt.Fprintf(w, "%-17s %7s %9s %8s %8s %9s %9s %7s %7s %7s %7s %7s %8s %7s %7s\n", "op", "count", "ops/s", "p50 ms", "p99 ms", "floor/s", "ceil/s", "/floor", "/ceil", "/limit", "target", "spread", "cpu µs", "fl.cpu", "cpu/fl")
	for _, f := range figs {
		target := "-"
		if t, ok := opsTargets[dialect][f.Op]; ok {
			target = fmt.Sprintf("%.1fx", t)
		}
		fmt.Fprintf(w, "%-17s %7d %9.0f %8.2f %8.2f %9.0f %9.0f %6.2fx %6.2fx %6.2fx %7s %6.0f%% %8.0f %7.0f %6.2fx\n", f.Op, f.Count, f.OpsPerSec, f.P50, f.P99,
			f.FloorPerSec, f.CeilPerSec, f.FloorRatio, f.CeilRatio, f.LimitRatio, target, 100*f.RatioSpread, f.CPUMicros, f.FloorCPUMicros, f.CPUPerFloorCPU)
	}
}

// gate returns a failure for every ratio below its target by more than band (a fraction),
// and for a lookup p99 over its target at concurrency 8.
func gate(dialect string, figs []OpsFigure, band float64, concurrency int) []string {
	var out []string
	for _, f := range figs {
		t, ok := opsTargets[dialect][f.Op]
		if !ok {
			continue
		}
		if f.FloorRatio < t*(1-band) {
			out = append(out, fmt.Sprintf("GATE %s %s: %.2fx the floor, below the target %.2fx by more than the noise band %.0f%%", dialect, f.Op, f.FloorRatio, t, 100*band))
		}
		if f.Op == "lookup" && concurrency == 8 && f.P99 > lookupP99Target*(1+band) {
			out = append(out, fmt.Sprintf("GATE %s lookup p99 %.2f ms over %.1f ms (+%.0f%% band)", dialect, f.P99, lookupP99Target, 100*band))
		}
	}
	return out
}

// compareBaseline returns a failure for every operation more than within (a fraction)
// costlier than the baseline report's same operation: the flatness check. The cost is, in
// order of preference when both runs measured it: scimd's CPU a request over the floor
// client's (CPUPerFloorCPU: what slows every instruction on these cores alike cancels
// out), scimd's CPU a request (independent of how busy the cores were, which moves ops/s
// several-fold here, but not of what else evicts their caches), or the inverse of ops/s.
func compareBaseline(base, cur []OpsFigure, within float64) []string {
	var out []string
	by := map[string]OpsFigure{}
	for _, f := range base {
		by[f.Op] = f
	}
	for _, f := range cur {
		b, ok := by[f.Op]
		if !ok || b.OpsPerSec == 0 || f.OpsPerSec == 0 {
			continue
		}
		switch {
		case f.CPUPerFloorCPU > 0 && b.CPUPerFloorCPU > 0:
			if f.CPUPerFloorCPU > b.CPUPerFloorCPU*(1+within) {
				out = append(out, fmt.Sprintf("FLAT %s: scimd's CPU a request %.2fx the floor client's, %.0f%% of the baseline's %.2fx (allowed: +%.0f%%; scimd %.0f µs against %.0f)",
					f.Op, f.CPUPerFloorCPU, 100*f.CPUPerFloorCPU/b.CPUPerFloorCPU, b.CPUPerFloorCPU, 100*within, f.CPUMicros, b.CPUMicros))
			}
		case f.CPUMicros > 0 && b.CPUMicros > 0:
			if f.CPUMicros > b.CPUMicros*(1+within) {
				out = append(out, fmt.Sprintf("FLAT %s: %.0f µs of scimd CPU a request, %.0f%% of the baseline's %.0f (allowed: +%.0f%%)", f.Op, f.CPUMicros, 100*f.CPUMicros/b.CPUMicros, b.CPUMicros, 100*within))
			}
		default:
			if f.OpsPerSec < b.OpsPerSec/(1+within) {
				out = append(out, fmt.Sprintf("FLAT %s: %.0f ops/s, %.0f%% of the baseline's %.0f (allowed: 1/%.2f)", f.Op, f.OpsPerSec, 100*f.OpsPerSec/b.OpsPerSec, b.OpsPerSec, 1+within))
			}
		}
	}
	return out
}
