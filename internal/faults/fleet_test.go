//go:build fleet

package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestFleet runs the fleet (fleet_env_test.go) and proves, under an IdP's storm through
// HAProxy (scimbench idp-storm, which retries as IdPs do and writes a ledger of every
// acknowledged write):
//
//   - a planned failover (pg_autoctl perform failover), kill -9 of the primary's
//     postmaster, and the loss of the primary's whole node (kill -9 of pg_autoctl and
//     postgres, so the monitor fails over): requests during the switch are answered 503
//     with Retry-After, never 500; the IdP's retries succeed; /readyz and scimd_db_up say
//     so while no primary is reachable and recover without a restart;
//   - kill -9 of one scimd replica: HAProxy takes it out, the others carry on;
//   - a rolling restart with SIGTERM: not one request refused or failed;
//   - afterwards every acknowledged write is in the database with its audit event, none
//     applied twice, nothing torn (verify);
//   - the state replicas share (fleet_shared_test.go).
//
// It prints the results table RELIABILITY.md shows. Run it with `make fleet-test`.
func TestFleet(t *testing.T) {
	e := newFleetEnv(t)
	began := time.Now()
	pg := startPGHA(t, e)
	t.Cleanup(pg.stopAll)
	t.Logf("pg_auto_failover up in %v: monitor :%d, nodes :%d :%d (synchronous)", time.Since(began).Round(time.Millisecond), pg.monPort, pg.ports[0], pg.ports[1])

	f := &fleet{t: t, e: e, pg: pg}
	f.ports = []int{freePort(t), freePort(t), freePort(t)}
	f.lb = startHAProxy(t, e, f.ports)
	for i := range f.ports {
		f.startReplica(t, i)
		if i == 0 {
			f.token = f.replicas[0].bootstrapToken(t)
		}
	}
	f.lb.waitServers(20*time.Second, map[string]string{"scimd1": "UP", "scimd2": "UP", "scimd3": "UP"})
	t.Logf("fleet up in %v: HAProxy %s, replicas %v", time.Since(began).Round(time.Millisecond), f.lb.url(), f.ports)

	var results []phaseResult
	all := newLedger()
	phase := func(name string, duration, at time.Duration, fault func(t *testing.T) string, dbFault bool) {
		t.Run(name, func(t *testing.T) {
			e.cur = t
			defer func() { e.cur = nil }()
			r := f.stormPhase(t, name, duration, at, fault, dbFault, all)
			results = append(results, r)
		})
		if t.Failed() {
			t.FailNow()
		}
	}
	phase("planned failover", 14*time.Second, 3*time.Second, func(t *testing.T) string {
		if err := e.tryRun("pg-failover", true, 70*time.Second, e.autoctl, "perform", "failover", "--pgdata", pg.monData, "--wait", "60"); err != nil {
			t.Fatal(err)
		}
		return "pg_autoctl perform failover"
	}, true)
	pg.waitHealthy(60 * time.Second)

	phase("primary postmaster kill -9", 12*time.Second, 3*time.Second, func(t *testing.T) string {
		p := pg.primary()
		pid := pg.postmasterPID(p)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for !pg.writable(time.Second) {
			time.Sleep(50 * time.Millisecond)
		}
		return fmt.Sprintf("kill -9 of node%d's postmaster", p+1)
	}, true)
	pg.waitHealthy(60 * time.Second)

	phase("primary node lost (pg_autoctl and postgres kill -9)", 20*time.Second, 3*time.Second, func(t *testing.T) string {
		p := pg.primary()
		pid := pg.postmasterPID(p)
		syscall.Kill(-pg.nodes[p].cmd.Process.Pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
		<-pg.nodes[p].done
		for !pg.writable(time.Second) {
			time.Sleep(50 * time.Millisecond)
		}
		// The lost node comes back and rejoins as the standby (pg_rewind if needed).
		pg.nodes[p] = e.background(fmt.Sprintf("pg-node%d", p+1), true, e.autoctl, "run", "--pgdata", pg.data[p])
		return fmt.Sprintf("node%d killed, then restarted to rejoin once a primary answered", p+1)
	}, true)
	pg.waitHealthy(90 * time.Second)

	phase(replicaKill, 12*time.Second, 3*time.Second, func(t *testing.T) string {
		victim := f.replicas[1]
		victim.cmd.Process.Kill()
		<-victim.exited
		took := f.lb.waitServers(10*time.Second, map[string]string{"scimd2": "DOWN"})
		return fmt.Sprintf("kill -9 of replica 2; HAProxy marked it DOWN after %v", took.Round(10*time.Millisecond))
	}, false)
	select {
	case <-f.replicas[1].exited:
		f.startReplica(t, 1)
	default: // the phase did not run (-run)
	}
	f.lb.waitServers(20*time.Second, map[string]string{"scimd1": "UP", "scimd2": "UP", "scimd3": "UP"})

	phase("rolling restart (SIGTERM, one by one)", 22*time.Second, 2*time.Second, func(t *testing.T) string {
		var steps []string
		for i := range f.replicas {
			start := time.Now()
			p := f.replicas[i]
			p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.wait(t, 30*time.Second); code != 0 {
				t.Errorf("replica %d exited %d after SIGTERM:\n%s", i+1, code, p.stderr.String())
			}
			f.startReplica(t, i)
			f.lb.waitServers(20*time.Second, map[string]string{fmt.Sprintf("scimd%d", i+1): "UP"})
			steps = append(steps, time.Since(start).Round(100*time.Millisecond).String())
		}
		return "each replica SIGTERM (drain 1.5 s), restarted, UP again: " + strings.Join(steps, ", ")
	}, false)

	t.Run("every acknowledged write present once, with its audit events", func(t *testing.T) {
		db := openSQL(t, pg.dsn)
		n := verify(t, db, all)
		t.Logf("verified %d users, %d acknowledged users, %d acknowledged memberships", n, len(all.users), len(all.members))
	})
	t.Run("shared state", func(t *testing.T) { f.sharedState(t) })

	var table strings.Builder
	table.WriteString("| fault | requests during it | refused (503/502 + Retry-After, retried) | failed | acknowledged writes lost | writes refused for | recovery |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&table, "| %s | %d | %d | %d | %d | %s | %s |\n", r.name, r.during, r.refused, r.failed, r.lost, dur(r.refusedFor), dur(r.recovery))
	}
	t.Logf("fleet results (%v in all):\n%s", time.Since(began).Round(time.Second), table.String())
	for _, r := range results {
		t.Logf("%s: %s; %d requests in the storm, %d adopted after 409, refused by: %v; readyz/db_up: %s",
			r.name, r.what, r.total, r.adopted, r.refusedBy, r.truth)
	}
	t.Logf("rate limit: %s", f.rateLimit)
	if out := os.Getenv("SCIMD_FLEET_REPORT"); out != "" {
		os.WriteFile(out, []byte(table.String()), 0o644)
	}
}

func dur(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// replicaKill names the phase in which one replica is killed.
const replicaKill = "scimd replica kill -9"

// fleet is the running fleet.
type fleet struct {
	t        *testing.T // the whole test's: replicas live until it ends, whichever phase started them
	e        *fleetEnv
	pg       *pgHA
	lb       *lb
	ports    []int
	replicas [3]*proc
	token    string
	// rateLimit is what the rate limit check found, for the summary.
	rateLimit string
}

// startReplica starts replica i on its port, sharing the public URL (HAProxy's) with the
// others, and waits until it listens. The tenant rate limit is off: on a quiet machine the
// storm goes faster than the default limit, and the faults, not the limit, are under test
// here (the shared limit has its own subtest, on replicas of its own).
func (f *fleet) startReplica(t *testing.T, i int) {
	t.Helper()
	f.replicas[i] = startScimd(f.t, f.pg.dsn, "--addr", fmt.Sprintf("127.0.0.1:%d", f.ports[i]), "--public-url", f.lb.url(),
		"--drain-delay", "1500ms", "--shutdown-timeout", "15s", "--request-timeout", "10s", "--rate-limit", "0")
	f.e.notePID(f.replicas[i].cmd.Process.Pid)
}

// ledgerLine is scimbench's LedgerLine.
type ledgerLine struct {
	Kind       string `json:"kind"`
	Start      int64  `json:"start"`
	End        int64  `json:"end"`
	Op         string `json:"op"`
	Write      bool   `json:"write"`
	Attempt    int    `json:"attempt"`
	Status     int    `json:"status"`
	RetryAfter string `json:"retry_after"`
	Detail     string `json:"detail"`
	User       string `json:"user"`
	UserName   string `json:"user_name"`
	Group      string `json:"group"`
	Title      string `json:"title"`
	Adopted    bool   `json:"adopted"`
}

// phaseResult is one row of the results table.
type phaseResult struct {
	name, what string
	total      int // attempts in the whole storm
	during     int // attempts that overlapped the fault, from injection to recovery
	refused    int // 429/502/503/504 with Retry-After (retried by the IdP)
	failed     int // requests whose final answer was not the expected one
	lost       int // acknowledged writes not in the database
	adopted    int // creates retried into a 409 and found by userName
	refusedFor time.Duration
	recovery   time.Duration
	refusedBy  map[string]int
	truth      string
}

// stormPhase runs scimbench idp-storm through HAProxy for duration, calls fault after at,
// and checks the ledger and the database.
func (f *fleet) stormPhase(t *testing.T, name string, duration, at time.Duration, fault func(t *testing.T) string, dbFault bool, all *ledger) phaseResult {
	res := phaseResult{name: name, refusedBy: map[string]int{}}
	slug := strings.NewReplacer(" ", "-", "(", "", ")", "", ",", "").Replace(name)
	ledgerPath := filepath.Join(f.e.dir, "ledger-"+slug+".jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), duration+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.e.bench, "--url", f.lb.url()+"/scim/v2", "--token", f.token, "--scenario", "idp-storm",
		"--groups", "4", "--concurrency", "6", "--duration", duration.String(), "--retry-for", "60s", "--ledger", ledgerPath,
		"--json", "--progress", "0", "--timeout", (duration + 100*time.Second).String())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.e.notePID(cmd.Process.Pid)
	pids := f.pids()
	primaryBefore := -1
	if dbFault {
		primaryBefore = f.pg.primary()
	}
	truth := startTruthPoller(f, dbFault)
	defer truth.stop() // a fault that fails the test still stops the pollers
	time.Sleep(at)
	faultAt := time.Now()
	res.what = fault(t)
	faultDone := time.Now()
	err := cmd.Wait()
	samples := truth.stop()
	var rep struct {
		OK       bool     `json:"ok"`
		Failures []string `json:"failures"`
		Phases   []struct {
			Phase string `json:"phase"`
			Ops   []struct {
				Op     string         `json:"op"`
				Count  int            `json:"count"`
				Errors map[string]int `json:"errors"`
			} `json:"ops"`
		} `json:"phases"`
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("scimbench: %v, report unreadable (%v):\n%s\n%s", err, jerr, stdout.String(), stderr.String())
	}
	for _, ph := range rep.Phases {
		for _, o := range ph.Ops {
			for _, n := range o.Errors {
				res.failed += n
			}
		}
	}
	if err != nil || !rep.OK {
		t.Errorf("scimbench: %v, failures %v", err, rep.Failures)
	}

	lines := readLedgerFile(t, ledgerPath)
	var firstRefused, lastRefused time.Time
	var attempts []ledgerLine
	for _, l := range lines {
		switch l.Kind {
		case "attempt":
			attempts = append(attempts, l)
			res.total++
			switch {
			case retryableStatus(l.Status) && l.RetryAfter != "":
				res.refused++
				src := "scimd"
				if strings.Contains(l.Detail, "replica") {
					src = "HAProxy"
				}
				res.refusedBy[fmt.Sprintf("%s %d", src, l.Status)]++
				if l.Write {
					if s := time.Unix(0, l.Start); firstRefused.IsZero() || s.Before(firstRefused) {
						firstRefused = s
					}
					if e := time.Unix(0, l.End); e.After(lastRefused) {
						lastRefused = e
					}
				}
			case l.Status == 0 && strings.HasPrefix(name, replicaKill):
				// The requests in flight on the killed replica: HAProxy closes their
				// keep-alive client connections without an answer; the IdP retries them.
				res.refused++
				res.refusedBy["no answer (connection closed)"]++
			case l.Status >= 500 || l.Status == 0:
				t.Errorf("%s %s: %d (retry-after %q) %s", l.Op, time.Unix(0, l.Start).Format("15:04:05.000"), l.Status, l.RetryAfter, l.Detail)
			}
		case "user":
			all.ackUser(l.User, l.UserName)
			if l.Adopted {
				res.adopted++
			}
		case "member":
			all.ackMember(l.Group, l.User)
		}
	}
	recovered := faultDone
	if !firstRefused.IsZero() {
		res.refusedFor = lastRefused.Sub(firstRefused)
		// Recovered: the first write acknowledged after the last refusal.
		var first time.Time
		for _, l := range attempts {
			if l.Write && l.Status >= 200 && l.Status < 300 && time.Unix(0, l.Start).After(lastRefused) {
				if e := time.Unix(0, l.End); first.IsZero() || e.Before(first) {
					first = e
				}
			}
		}
		if first.IsZero() {
			t.Errorf("no write acknowledged after the last refusal")
		} else {
			recovered = first
			res.recovery = first.Sub(faultAt)
		}
	}
	if recovered.Before(faultDone) {
		recovered = faultDone
	}
	for _, l := range attempts {
		if time.Unix(0, l.End).After(faultAt) && time.Unix(0, l.Start).Before(recovered) {
			res.during++
		}
	}
	res.lost = f.lostWrites(t, lines)
	if !dbFault && res.refusedBy["scimd 503"] > 0 {
		t.Errorf("%d requests refused by scimd with 503 without a database fault", res.refusedBy["scimd 503"])
	}
	if n := res.refusedBy["no answer (connection closed)"]; n > 6 {
		t.Errorf("%d requests without an answer, more than were in flight (6) when the replica died", n)
	}
	if strings.HasPrefix(name, "rolling restart") && res.refused > 0 {
		t.Errorf("rolling restart: %d requests refused (%v), want none", res.refused, res.refusedBy)
	}
	res.truth = f.checkTruth(t, samples, dbFault, pids, faultAt)
	if dbFault {
		res.what += fmt.Sprintf(" (primary: node%d before, node%d after)", primaryBefore+1, f.pg.primary()+1)
		t.Logf("monitor events:%s", f.monitorEvents(faultAt))
	}
	t.Logf("%s: %s; %d requests, %d during the fault, %d refused %v, %d failed, %d adopted after 409, writes refused for %v, recovered %v after the fault",
		name, res.what, res.total, res.during, res.refused, res.refusedBy, res.failed, res.adopted, res.refusedFor.Round(time.Millisecond), res.recovery.Round(time.Millisecond))
	return res
}

// pids returns the replicas' process ids.
func (f *fleet) pids() []int {
	out := make([]int, len(f.replicas))
	for i, p := range f.replicas {
		out[i] = p.cmd.Process.Pid
	}
	return out
}

// retryableStatus is scimbench's: what an IdP retries after Retry-After.
func retryableStatus(s int) bool { return s == 429 || s == 502 || s == 503 || s == 504 }

func readLedgerFile(t *testing.T, path string) []ledgerLine {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []ledgerLine
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l ledgerLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, l)
	}
	return out
}

// lostWrites checks the phase's acknowledged writes against the database: each user by id
// with its userName (and no other user of that name), its last acknowledged title, each
// membership. It returns how many are missing or different.
func (f *fleet) lostWrites(t *testing.T, lines []ledgerLine) int {
	t.Helper()
	db := openSQL(t, f.pg.dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type user struct{ id, title string }
	byName := map[string][]user{}
	rows, err := db.QueryContext(ctx, `SELECT lower(user_name), CAST(id AS TEXT), COALESCE(data->>'title', '') FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]string{}
	for rows.Next() {
		var name string
		var u user
		if err := rows.Scan(&name, &u.id, &u.title); err != nil {
			t.Fatal(err)
		}
		byName[name] = append(byName[name], u)
		titles[u.id] = u.title
	}
	rows.Close()
	members := memberships(ctx, t, db)
	lost := 0
	for _, l := range lines {
		var ok bool
		switch l.Kind {
		case "user":
			us := byName[strings.ToLower(l.UserName)]
			ok = len(us) == 1 && us[0].id == l.User
		case "title":
			ok = titles[l.User] == l.Title
		case "member":
			ok = members[[2]string{l.Group, l.User}]
		default:
			continue
		}
		if !ok {
			lost++
			t.Errorf("acknowledged %s write not in the database: %+v", l.Kind, l)
		}
	}
	return lost
}

// monitorEvents returns what pg_auto_failover's monitor did since from, one line each.
func (f *fleet) monitorEvents(from time.Time) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db := openSQL(f.t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/pg_auto_failover?sslmode=disable", f.pg.monPort))
	rows, err := db.QueryContext(ctx, `SELECT eventtime, nodename, reportedstate::text, goalstate::text FROM pgautofailover.event
		WHERE eventtime >= $1 ORDER BY eventid`, from)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var at time.Time
		var node, reported, goal string
		if rows.Scan(&at, &node, &reported, &goal) == nil {
			fmt.Fprintf(&b, "\n  +%5.1fs %s %s → %s", at.Sub(from).Seconds(), node, reported, goal)
		}
	}
	return b.String()
}

// ---- /readyz and scimd_db_up against the truth ----

// sample is one observation: a replica's /readyz or scimd_db_up, or whether a read-write
// session could be opened (replica -1).
type sample struct {
	replica    int
	kind       string // "readyz", "db_up", "primary"
	start, end time.Time
	ok         bool
}

type truthPoller struct {
	once    sync.Once
	mu      sync.Mutex
	samples []sample
	stopc   chan struct{}
	wg      sync.WaitGroup
}

// startTruthPoller polls every replica's /readyz and /metrics directly, and (for database
// faults) whether a primary is reachable, every 100 ms.
func startTruthPoller(f *fleet, dbFault bool) *truthPoller {
	p := &truthPoller{stopc: make(chan struct{})}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	loop := func(fn func() sample) {
		p.wg.Go(func() {
			for {
				s := fn()
				p.mu.Lock()
				p.samples = append(p.samples, s)
				p.mu.Unlock()
				select {
				case <-p.stopc:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
	for i, port := range f.ports {
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		loop(func() sample {
			s := sample{replica: i, kind: "readyz", start: time.Now()}
			res, err := hc.Get(base + "/readyz")
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				s.ok = res.StatusCode == http.StatusOK
			}
			s.end = time.Now()
			if err != nil {
				s.kind = "readyz-down" // the replica itself is not there
			}
			return s
		})
		loop(func() sample {
			s := sample{replica: i, kind: "db_up", start: time.Now()}
			res, err := hc.Get(base + "/metrics")
			if err == nil {
				sc := bufio.NewScanner(res.Body)
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				found := false
				for sc.Scan() {
					if v, ok := strings.CutPrefix(sc.Text(), "scimd_db_up "); ok {
						s.ok, found = strings.TrimSpace(v) == "1", true
					}
				}
				res.Body.Close()
				if !found {
					s.kind = "db_up-missing"
				}
			} else {
				s.kind = "db_up-down"
			}
			s.end = time.Now()
			return s
		})
	}
	if dbFault {
		loop(func() sample {
			s := sample{replica: -1, kind: "primary", start: time.Now()}
			s.ok = f.pg.writable(time.Second)
			s.end = time.Now()
			return s
		})
	}
	return p
}

func (p *truthPoller) stop() []sample {
	p.once.Do(func() { close(p.stopc) })
	p.wg.Wait()
	sort.Slice(p.samples, func(i, j int) bool { return p.samples[i].start.Before(p.samples[j].start) })
	return p.samples
}

// checkTruth checks the samples of a phase. For a database fault: some replica said 503
// and scimd_db_up 0 while the database was away; no replica said ready while no primary
// could be reached (a /readyz 200 whose whole request lies between two failed probes with
// no success between them); afterwards every replica is ready and scimd_db_up is 1 again
// without a restart (same process ids). For every phase: a replica whose process runs
// never lacks scimd_db_up.
func (f *fleet) checkTruth(t *testing.T, samples []sample, dbFault bool, pidsBefore []int, faultAt time.Time) string {
	t.Helper()
	var notReady, dbDown, lies int
	var probes []sample
	for _, s := range samples {
		switch {
		case s.kind == "primary":
			probes = append(probes, s)
		case s.kind == "readyz" && !s.ok && s.start.After(faultAt):
			notReady++
		case s.kind == "db_up" && !s.ok && s.start.After(faultAt):
			dbDown++
		case s.kind == "db_up-missing":
			t.Errorf("replica %d's /metrics has no scimd_db_up", s.replica+1)
		}
	}
	// Spans in which no primary was reachable: between a failed probe and the next success.
	type span struct{ from, to time.Time }
	var outages []span
	for i := 0; i < len(probes); i++ {
		if probes[i].ok {
			continue
		}
		j := i
		for j+1 < len(probes) && !probes[j+1].ok {
			j++
		}
		if j > i { // at least two failed probes in a row
			outages = append(outages, span{probes[i].end, probes[j].start})
		}
		i = j
	}
	var outage time.Duration
	for _, o := range outages {
		outage += o.to.Sub(o.from)
		for _, s := range samples {
			if s.kind == "readyz" && s.ok && s.start.After(o.from) && s.end.Before(o.to) {
				lies++
				t.Errorf("replica %d: /readyz 200 at %s while no primary was reachable (%s–%s)", s.replica+1,
					s.start.Format("15:04:05.000"), o.from.Format("15:04:05.000"), o.to.Format("15:04:05.000"))
			}
		}
	}
	if !dbFault {
		return fmt.Sprintf("%d /readyz 503 samples after the fault", notReady)
	}
	if notReady == 0 || dbDown == 0 {
		t.Errorf("during the database fault no replica reported it: %d /readyz 503, %d scimd_db_up 0 samples", notReady, dbDown)
	}
	// Recovery without a restart.
	hc := &http.Client{Timeout: 3 * time.Second}
	end := time.Now().Add(15 * time.Second)
	for i, port := range f.ports {
		for {
			ready, up := false, false
			if res, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port)); err == nil {
				ready = res.StatusCode == http.StatusOK
				res.Body.Close()
			}
			if res, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err == nil {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				up = strings.Contains(string(b), "\nscimd_db_up 1\n")
			}
			if ready && up {
				break
			}
			if time.Now().After(end) {
				t.Errorf("replica %d: /readyz ready %v, scimd_db_up 1 %v, 15 s after the storm", i+1, ready, up)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if pid := f.replicas[i].cmd.Process.Pid; pid != pidsBefore[i] {
			t.Errorf("replica %d was restarted (pid %d → %d)", i+1, pidsBefore[i], pid)
		}
	}
	return fmt.Sprintf("no primary for %.1f s (probes); %d /readyz 503 and %d scimd_db_up 0 samples; %d ready-while-no-primary; all ready again, same processes",
		outage.Seconds(), notReady, dbDown, lies)
}
