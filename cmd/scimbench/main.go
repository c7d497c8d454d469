// Command scimbench plays an identity provider against a running scimd and measures it:
// an initial sync, the steady state of a connector, an import by paging, one group grown
// to many members, and a storm of new users whose requests are retried as an IdP retries
// them (for fault tests, with a ledger of every acknowledged write). It reports per operation the count, the unexpected statuses, the
// throughput and p50/p90/p99/max latency, checks what it wrote, and exits non-zero on any
// 5xx or unexpected status. With --floor it also does the same row work with the bare
// database driver on the same database, so that scimd's figures can be read as ratios.
//
// It talks only to loopback addresses. See BENCHMARKS.md for how its figures are made.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// config is scimbench's flags.
type config struct {
	url, token      string
	scimd, database string
	freshDB, floor  bool
	pid             int
	users, groups   int
	membersPerGroup int
	memberBatch     int
	concurrency     int
	pageSize        int
	repeat          int
	maxOps          int
	scenario        string
	duration        time.Duration
	timeout         time.Duration
	progress        time.Duration
	json            bool
	maxRSSMiB       int
	retryFor        time.Duration
	ledger          string
	tenants         int
	opsPerRound     int
	warmup          int
	rounds          int
	gate            bool
	gateBand        float64
	baseline        string
	within          float64
	jsonOut         string
	scimdArgs       string
	only            string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("scimbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "", "scimd's SCIM base URL on this machine, e.g. http://127.0.0.1:8080/scim/v2")
	fs.StringVar(&c.token, "token", os.Getenv("SCIMBENCH_TOKEN"), "SCIM bearer token (env SCIMBENCH_TOKEN)")
	fs.StringVar(&c.scimd, "scimd", "", "start this scimd binary (serve on 127.0.0.1) instead of using --url, and stop it at the end")
	fs.StringVar(&c.database, "database", "", "scimd's database (postgres://… on loopback or sqlite:PATH): for --scimd and --floor")
	fs.BoolVar(&c.freshDB, "fresh-db", false, "with --scimd: use a new database (a new PostgreSQL database beside --database, or a temporary SQLite file), dropped at the end")
	fs.BoolVar(&c.floor, "floor", false, "also do the scenario's row work with the bare driver on --database, and report the ratios")
	fs.IntVar(&c.pid, "pid", 0, "scimd's process id, to report its resident memory (automatic with --scimd)")
	fs.IntVar(&c.users, "users", 1000, "users to create (initial-sync, steady-state, import)")
	fs.IntVar(&c.groups, "groups", 10, "groups to create (initial-sync, steady-state)")
	fs.IntVar(&c.membersPerGroup, "members-per-group", 100, "members per group; big-group grows its group to this many")
	fs.IntVar(&c.memberBatch, "member-batch", 50, "members added per PATCH in initial-sync")
	fs.IntVar(&c.concurrency, "concurrency", 8, "requests in flight")
	fs.StringVar(&c.scenario, "scenario", scInitialSync, "one of "+strings.Join(scenarios, ", "))
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long steady-state runs")
	fs.IntVar(&c.maxOps, "max-ops", 1_000_000, "most requests steady-state sends")
	fs.IntVar(&c.pageSize, "page-size", 100, "count per page (import)")
	fs.IntVar(&c.repeat, "repeat", 20, "times import fetches the first and the last page again to compare them")
	fs.DurationVar(&c.timeout, "timeout", time.Hour, "stop everything after this long")
	fs.DurationVar(&c.progress, "progress", 2*time.Second, "progress line interval on stderr (0: none)")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON on stdout")
	fs.StringVar(&c.scimdArgs, "scimd-args", "", "with --scimd: more arguments for `scimd serve`, space-separated (e.g. \"--rate-limit 0\")")
	fs.StringVar(&c.only, "only", "", "ops: run only these operations, comma-separated (default: "+strings.Join(opNames, ",")+")")
	fs.StringVar(&c.jsonOut, "json-out", "", "also write the report as JSON to this file (e.g. a --baseline for a later run)")
	fs.DurationVar(&c.retryFor, "retry-for", 0, "idp-storm: retry a 429/502/503/504 with Retry-After (or no response) after the delay it asks for, as IdPs do, for up to this long per request (default 1m; 0: never)")
	fs.StringVar(&c.ledger, "ledger", "", "write every attempt and every acknowledged write to this file as JSON lines (idp-storm)")
	fs.IntVar(&c.maxRSSMiB, "max-rss-mib", 0, "fail when scimd's peak resident memory exceeds this (0: no limit)")
	fs.IntVar(&c.tenants, "tenants", 1, "ops: tenants to seed (each with --users users, a token and two groups); requests spread over them at random")
	fs.IntVar(&c.opsPerRound, "ops-per-round", 2000, "ops: requests of each operation per round (scimd, then floor, then ceiling)")
	fs.IntVar(&c.warmup, "warmup", 1000, "ops: lookups sent to scimd, the floor and the ceiling before the rounds and not counted (connections opened, statements prepared)")
	fs.IntVar(&c.rounds, "rounds", 3, "ops: rounds; figures are the median of the rounds")
	fs.BoolVar(&c.gate, "gate", false, "ops with --floor: fail when a ratio to the floor is below its target (BENCHMARKS.md) by more than --gate-band")
	fs.Float64Var(&c.gateBand, "gate-band", 0.4, "ops: the noise band of --gate, a fraction of the target")
	fs.StringVar(&c.baseline, "baseline", "", "ops: a --json report of an earlier run; fail when an operation costs more than --within more than there (the flatness check: scimd's CPU a request over the floor client's when both ran --floor)")
	fs.Float64Var(&c.within, "within", 0.15, "ops: with --baseline, the largest allowed slowdown, a fraction")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.scenario == scIdPStorm && !flagSet(fs, "retry-for") {
		c.retryFor = time.Minute
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case !contains(scenarios, c.scenario):
		return c, fmt.Errorf("--scenario %q: use one of %s", c.scenario, strings.Join(scenarios, ", "))
	case (c.url == "") == (c.scimd == ""):
		return c, errors.New("give either --url (a running scimd) or --scimd (a binary to start)")
	case c.scimd != "" && c.database == "":
		return c, errors.New("--scimd needs --database")
	case c.floor && c.database == "":
		return c, errors.New("--floor needs --database")
	case c.freshDB && c.scimd == "":
		return c, errors.New("--fresh-db works with --scimd only")
	case c.users < 1 || c.groups < 0 || c.membersPerGroup < 0 || c.memberBatch < 1 || c.concurrency < 1 || c.pageSize < 1 || c.repeat < 0:
		return c, errors.New("--users, --member-batch, --concurrency and --page-size must be positive; the others not negative")
	case c.scenario == scBigGroup && c.membersPerGroup < 2:
		return c, errors.New("big-group needs --members-per-group of 2 or more")
	case c.scenario == scIdPStorm && c.groups < 1:
		return c, errors.New("idp-storm needs --groups of 1 or more")
	case c.retryFor < 0:
		return c, errors.New("--retry-for must not be negative")
	case !validOps(c.only):
		return c, fmt.Errorf("--only %q: name operations among %s", c.only, strings.Join(opNames, ","))
	case c.scenario == scOps && c.database == "":
		return c, errors.New("ops needs --database (it seeds its tenants with SQL)")
	case c.tenants < 1 || c.opsPerRound < 1 || c.rounds < 1 || c.gateBand < 0 || c.within < 0 || c.warmup < 0:
		return c, errors.New("--tenants, --ops-per-round and --rounds must be positive; --gate-band, --within and --warmup not negative")
	case c.concurrency > 1024:
		return c, errors.New("--concurrency is at most 1024")
	}
	if c.database != "" {
		if _, err := parseDSN(c.database); err != nil {
			return c, err
		}
	}
	return c, nil
}

// flagSet reports whether the command line named flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Report is everything a run found, as --json prints it.
type Report struct {
	Scenario string         `json:"scenario"`
	Config   map[string]any `json:"config"`
	Phases   []PhaseReport  `json:"phases"`
	Floor    *PhaseReport   `json:"floor,omitempty"`
	Memory   *Memory        `json:"memory,omitempty"`
	Dialect  string         `json:"dialect,omitempty"`
	Ops      []OpsFigure    `json:"ops,omitempty"`
	LoadAvg  []string       `json:"load_average,omitempty"` // /proc/loadavg at the start and the end`
	Failures []string       `json:"failures,omitempty"`
	OK       bool           `json:"ok"`
}

// Memory is scimd's resident memory as /proc/PID/status reports it.
type Memory struct {
	PID        int     `json:"pid"`
	MaxRSSMiB  float64 `json:"max_rss_mib"`  // highest VmRSS sampled
	PeakHWMMiB float64 `json:"peak_hwm_mib"` // VmHWM at the end: the kernel's peak
}

// run is the whole command; it returns the exit status: 0 all well, 1 a failure (an
// unexpected status, a 5xx, a verification or memory failure), 2 bad usage or setup.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "scimbench:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	b := &bench{cfg: cfg, run: "sb" + randHex(4)}
	if cfg.scimd != "" {
		sp, err := spawn(ctx, cfg, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "scimbench:", err)
			return 2
		}
		defer sp.stop(stderr)
		cfg.url, cfg.pid, cfg.database = "http://"+sp.addr+"/scim/v2", sp.cmd.Process.Pid, sp.dsn
		if cfg.token == "" {
			cfg.token = sp.token
		}
		b.cfg = cfg
	}
	if cfg.token == "" {
		fmt.Fprintln(stderr, "scimbench: no token: give --token (or SCIMBENCH_TOKEN)")
		return 2
	}
	if b.c, err = newClient(cfg.url, cfg.token, cfg.concurrency); err != nil {
		fmt.Fprintln(stderr, "scimbench:", err)
		return 2
	}
	var raw *rawDB
	if cfg.floor || cfg.scenario == scOps {
		if raw, err = openRaw(ctx, cfg.database, cfg.concurrency); err != nil {
			fmt.Fprintln(stderr, "scimbench:", err)
			return 2
		}
		defer raw.close()
	}
	if b.ledger, err = openLedger(cfg.ledger); err != nil {
		fmt.Fprintln(stderr, "scimbench:", err)
		return 2
	}
	mem := &memSampler{pid: cfg.pid}
	stopProgress := b.progress(ctx, stderr, mem)
	loadStart := loadAvg()
	var phases []*recorder
	var figs []OpsFigure
	if cfg.scenario == scOps {
		figs, phases = b.opsScenario(ctx, raw, stderr)
	} else {
		phases = b.runScenario(ctx)
	}
	var floorPhase *PhaseReport
	if cfg.floor && cfg.scenario != scOps && ctx.Err() == nil {
		floorPhase = b.runFloor(ctx, raw)
	}
	stopProgress()
	if err := b.ledger.close(); err != nil {
		b.fail("ledger: %v", err)
	}
	if ctx.Err() != nil {
		b.fail("stopped before the end: %v", context.Cause(ctx))
	}
	rep := Report{Scenario: cfg.scenario, Failures: b.failures, Config: map[string]any{
		"users": cfg.users, "groups": cfg.groups, "members_per_group": cfg.membersPerGroup, "member_batch": cfg.memberBatch,
		"concurrency": cfg.concurrency, "page_size": cfg.pageSize, "duration": cfg.duration.String(), "run": b.run,
		"retry_for": cfg.retryFor.String(), "scimd_args": cfg.scimdArgs, "tenants": cfg.tenants, "ops_per_round": cfg.opsPerRound, "rounds": cfg.rounds},
		Ops: figs, LoadAvg: []string{loadStart, loadAvg()}}
	if cfg.database != "" {
		rep.Dialect, _ = parseDSN(cfg.database)
	}
	bad := 0
	for _, rec := range phases {
		if cfg.scenario != scOps {
			rep.Phases = append(rep.Phases, rec.report())
		}
		_, n := rec.counts()
		bad += n
		if n > 0 {
			if e := rec.firstErr.Load(); e != nil {
				rep.Failures = append(rep.Failures, fmt.Sprintf("%s: %d unexpected; the first: %v", rec.phase, n, *e))
			}
		}
	}
	if cfg.gate && len(figs) > 0 {
		rep.Failures = append(rep.Failures, gate(rep.Dialect, figs, cfg.gateBand, cfg.concurrency)...)
	}
	if cfg.baseline != "" && len(figs) > 0 {
		base, err := readReport(cfg.baseline)
		if err != nil {
			rep.Failures = append(rep.Failures, fmt.Sprintf("--baseline: %v", err))
		} else {
			rep.Failures = append(rep.Failures, compareBaseline(base.Ops, figs, cfg.within)...)
		}
	}
	if floorPhase != nil {
		rep.Floor = floorPhase
	}
	if cfg.pid > 0 {
		mem.sample()
		rep.Memory = mem.report()
		if cfg.maxRSSMiB > 0 && rep.Memory.PeakHWMMiB > float64(cfg.maxRSSMiB) {
			rep.Failures = append(rep.Failures, fmt.Sprintf("scimd's peak resident memory %.1f MiB exceeds %d MiB", rep.Memory.PeakHWMMiB, cfg.maxRSSMiB))
		}
	}
	if bad > 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d requests had an unexpected status", bad))
	}
	rep.OK = len(rep.Failures) == 0
	if cfg.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(cfg.jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "scimbench: --json-out:", err)
			return 2
		}
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		fmt.Fprintf(stdout, "scimbench %s against %s (run %s)\n", cfg.scenario, cfg.url, b.run)
		writeTable(stdout, rep.Phases, rep.Floor)
		if len(rep.Ops) > 0 {
			writeOpsTable(stdout, rep.Dialect, rep.Ops)
		}
		fmt.Fprintf(stdout, "\nload average (1, 5, 15 min): %s at the start, %s at the end\n", rep.LoadAvg[0], rep.LoadAvg[1])
		if rep.Memory != nil {
			fmt.Fprintf(stdout, "\nscimd (pid %d) resident memory: peak %.1f MiB (VmHWM), highest sampled %.1f MiB\n", rep.Memory.PID, rep.Memory.PeakHWMMiB, rep.Memory.MaxRSSMiB)
		}
		for _, f := range rep.Failures {
			fmt.Fprintln(stdout, "FAIL:", f)
		}
		if rep.OK {
			fmt.Fprintln(stdout, "\nOK: every status as expected; what was written read back the same")
		}
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// runScenario runs the scenario's phases and returns their recorders.
func (b *bench) runScenario(ctx context.Context) []*recorder {
	var out []*recorder
	switch b.cfg.scenario {
	case scInitialSync:
		rec := b.phase(scInitialSync)
		b.initialSync(ctx, rec)
		out = append(out, rec)
		if ctx.Err() == nil {
			b.verifySync(ctx)
		}
	case scSteadyState:
		setup := b.phase("setup (initial-sync)")
		b.initialSync(ctx, setup)
		rec := b.phase(scSteadyState)
		b.steadyState(ctx, rec)
		out = append(out, setup, rec)
	case scImport:
		setup := b.phase("setup (users)")
		b.ensureUsers(ctx, setup, b.cfg.users)
		rec := b.phase(scImport)
		b.importAll(ctx, rec)
		out = append(out, setup, rec)
	case scBigGroup:
		setup := b.phase("setup (users and the group)")
		group := b.bigGroupSetup(ctx, setup)
		rec := b.phase(scBigGroup)
		if group != "" {
			b.bigGroup(ctx, rec, group)
		}
		out = append(out, setup, rec)
	case scIdPStorm:
		setup := b.phase("setup (groups)")
		out = append(out, setup)
		if rec := b.idpStorm(ctx, setup); rec != nil {
			out = append(out, rec)
		}
	}
	return out
}

// runFloor runs the scenario's row work with the bare driver.
func (b *bench) runFloor(ctx context.Context, d *rawDB) *PhaseReport {
	f := &floor{d: d, b: b}
	rec := b.phase("floor")
	var err error
	switch b.cfg.scenario {
	case scInitialSync:
		if f.tenant, err = d.newTenant(ctx, b.run); err == nil {
			f.initialSync(ctx, rec)
		}
	case scBigGroup:
		if f.tenant, err = d.newTenant(ctx, b.run); err == nil {
			f.bigGroup(ctx, newRecorder("floor setup"), rec)
		}
	case scImport:
		var tenant string
		if tenant, err = d.tenantOfToken(ctx, b.cfg.token); err == nil {
			f.importAll(ctx, rec, tenant)
		}
	case scSteadyState, scIdPStorm:
		fmt.Fprintf(os.Stderr, "scimbench: %s has no floor of its own; see the Go benchmarks (internal/bench) for each operation's\n", b.cfg.scenario)
		return nil
	}
	if err != nil {
		b.fail("floor: %v", err)
	}
	if _, bad := rec.counts(); bad > 0 {
		first := ""
		if e := rec.firstErr.Load(); e != nil {
			first = (*e).Error()
		}
		b.fail("floor: %d row operations failed, the first with: %s", bad, first)
	}
	r := rec.report()
	return &r
}

// progress prints a progress line every cfg.progress until the returned func is called.
func (b *bench) progress(ctx context.Context, w io.Writer, mem *memSampler) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.Millisecond * 500
		if b.cfg.progress > 0 {
			tick = b.cfg.progress
		}
		t := time.NewTicker(tick)
		defer t.Stop()
		start := time.Now()
		var lastN int
		last := start
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				mem.sample()
				rec := b.current.Load()
				if rec == nil || b.cfg.progress <= 0 {
					continue
				}
				n, bad := rec.counts()
				rate := float64(n-lastN) / now.Sub(last).Seconds()
				if n < lastN {
					rate = float64(n) / now.Sub(last).Seconds()
				}
				lastN, last = n, now
				line := fmt.Sprintf("scimbench %s: %s: %d requests, %d unexpected, %.0f req/s", elapsed(now.Sub(start)), rec.phase, n, bad, rate)
				if mem.pid > 0 {
					line += fmt.Sprintf(", scimd rss %.0f MiB", mem.rssMiB)
				}
				fmt.Fprintln(w, line)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// memSampler reads a process's resident memory from /proc.
type memSampler struct {
	pid            int
	mu             sync.Mutex
	rssMiB, maxMiB float64
	hwmMiB         float64
}

func (m *memSampler) sample() {
	if m.pid <= 0 {
		return
	}
	rss, hwm, err := procMemory(m.pid)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rssMiB, m.maxMiB, m.hwmMiB = rss, max(m.maxMiB, rss), max(m.hwmMiB, hwm)
}

func (m *memSampler) report() *Memory {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &Memory{PID: m.pid, MaxRSSMiB: m.maxMiB, PeakHWMMiB: m.hwmMiB}
}

// procMemory reads VmRSS and VmHWM (MiB) from /proc/PID/status.
func procMemory(pid int) (rss, hwm float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStatus(string(b))
}

func parseStatus(status string) (rss, hwm float64, err error) {
	found := 0
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("unexpected %s line %q", k, line)
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("no VmRSS and VmHWM in status")
	}
	return rss, hwm, nil
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// readReport reads a --json report.
func readReport(path string) (Report, error) {
	var r Report
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ---- --scimd: start and stop a scimd ----

// spawned is a scimd started by scimbench.
type spawned struct {
	cmd   *exec.Cmd
	addr  string
	token string
	dsn   string
	drop  func() // removes the fresh database
	exit  chan error
}

// spawn starts `scimd serve` on 127.0.0.1 (port chosen by the kernel) and waits until it
// listens; on a fresh database it reads the bootstrap token scimd prints.
func spawn(ctx context.Context, cfg config, stderr io.Writer) (*spawned, error) {
	sp := &spawned{dsn: cfg.database, drop: func() {}, exit: make(chan error, 1)}
	if cfg.freshDB {
		if err := sp.freshDatabase(ctx); err != nil {
			return nil, err
		}
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database", sp.dsn, "--log-format", "json"}, strings.Fields(cfg.scimdArgs)...)
	cmd := exec.Command(cfg.scimd, args...)
	cmd.Env = append(os.Environ(), "SCIMD_PUBLIC_URL=")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		sp.drop()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		sp.drop()
		return nil, fmt.Errorf("starting %s: %w", cfg.scimd, err)
	}
	sp.cmd = cmd
	ready := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var tail []string
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		tokenNext := false
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			switch {
			case tokenNext:
				sp.token, tokenNext = strings.TrimSpace(line), false
			case strings.Contains(line, "will not be shown again"):
				tokenNext = true
			case strings.Contains(line, `"scimd listening"`):
				var v struct{ Addr string }
				if json.Unmarshal([]byte(line), &v) == nil && v.Addr != "" {
					sp.addr = v.Addr
					once.Do(func() { close(ready) })
				}
			case !strings.Contains(line, `"level":"INFO"`):
				tail = append(tail[max(0, len(tail)-20):], line)
			}
			mu.Unlock()
		}
		io.Copy(io.Discard, pipe)
	}()
	go func() { sp.exit <- cmd.Wait() }()
	select {
	case <-ready:
		mu.Lock()
		defer mu.Unlock()
		if checkLoopback(strings.Split(sp.addr, ":")[0]) != nil {
			sp.stop(stderr)
			return nil, fmt.Errorf("scimd listens on %s, not on loopback", sp.addr)
		}
		return sp, nil
	case err := <-sp.exit:
		sp.drop()
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("scimd exited before listening (%v):\n%s", err, strings.Join(tail, "\n"))
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	sp.stop(stderr)
	return nil, errors.New("scimd did not start listening within 60s")
}

// stop sends SIGTERM, waits (bounded) for scimd to finish, and drops a fresh database.
func (sp *spawned) stop(stderr io.Writer) {
	sp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sp.exit:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(stderr, "scimbench: scimd did not stop within 30s; killing it")
		sp.cmd.Process.Kill()
		<-sp.exit
	}
	sp.drop()
}

// freshDatabase makes a new database for this run: a new PostgreSQL database on the server
// of cfg.database, or a SQLite file in a new temporary directory.
func (sp *spawned) freshDatabase(ctx context.Context) error {
	if strings.HasPrefix(sp.dsn, "sqlite:") {
		dir, err := os.MkdirTemp("", "scimbench-")
		if err != nil {
			return err
		}
		sp.dsn, sp.drop = "sqlite:"+filepath.Join(dir, "scimd.db"), func() { os.RemoveAll(dir) }
		return nil
	}
	admin, err := pgx.Connect(ctx, sp.dsn)
	if err != nil {
		return fmt.Errorf("--fresh-db: %w", err)
	}
	defer admin.Close(ctx)
	name := "scimbench_" + randHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("--fresh-db: %w", err)
	}
	base := sp.dsn
	sp.dsn = replaceDatabase(sp.dsn, name)
	sp.drop = func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(dctx, base); err == nil {
			c.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			c.Close(dctx)
		}
	}
	return nil
}

// replaceDatabase returns a postgres:// URL naming database name instead.
func replaceDatabase(dsn, name string) string {
	rest, query, _ := strings.Cut(dsn, "?")
	scheme, hostPath, _ := strings.Cut(rest, "://")
	host, _, _ := strings.Cut(hostPath, "/")
	out := scheme + "://" + host + "/" + name
	if query != "" {
		out += "?" + query
	}
	return out
}
