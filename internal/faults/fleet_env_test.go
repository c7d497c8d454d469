//go:build fleet

package faults

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The fleet: PostgreSQL with pg_auto_failover (a monitor and two nodes, synchronous
// replication), three `scimd serve` replicas on a multi-host URL that follows the primary,
// and HAProxy in front of them checking /readyz. Everything listens on 127.0.0.1 on ports
// picked free at run time, lives under one directory, and is stopped at the end: each
// process is started in a process group of its own whose id is written to DIR/pids, so
// that `make fleet-test` can kill whatever a crashed test left behind.

// fleetEnv is the fleet's directory and the tools it runs.
type fleetEnv struct {
	t       *testing.T // owns the processes: they are stopped when it ends
	cur     testing.TB // the phase running now, which failures are reported to
	dir     string
	pgBin   string              // the PostgreSQL bin directory (pg_ctl)
	autoctl string              // pg_autoctl
	haproxy string              // haproxy
	cred    *syscall.Credential // the postgres user's, when running as root
	env     []string            // environment of the PostgreSQL processes
	pidsMu  sync.Mutex
	scimd   string // the scimd binary
	bench   string // the scimbench binary
}

// tb is what failures are reported to: the running phase (a subtest), else the test.
func (e *fleetEnv) tb() testing.TB {
	if e.cur != nil {
		return e.cur
	}
	return e.t
}

// bgProc is a long-running process of the fleet in a process group of its own.
type bgProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// freePort returns a port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newFleetEnv finds the tools (failing, never skipping, when one is missing: this test is
// run on purpose) and makes the directory, readable by the postgres user when running as
// root, since PostgreSQL refuses to run as root.
func newFleetEnv(t *testing.T) *fleetEnv {
	t.Helper()
	e := &fleetEnv{t: t}
	var err error
	for _, tool := range []struct {
		dst  *string
		name string
		pkg  string
	}{{&e.autoctl, "pg_autoctl", "postgresql-15-auto-failover"}, {&e.haproxy, "haproxy", "haproxy"}} {
		if *tool.dst, err = exec.LookPath(tool.name); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + tool.name); err2 == nil {
				*tool.dst = "/usr/sbin/" + tool.name
				continue
			}
			t.Fatalf("%s not found (Debian package %s; .ci/run installs it): %v", tool.name, tool.pkg, err)
		}
	}
	e.pgBin = os.Getenv("SCIMD_FLEET_PGBIN")
	if e.pgBin == "" {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
		slices.Sort(matches)
		if len(matches) == 0 {
			t.Fatal("no /usr/lib/postgresql/*/bin/pg_ctl: install postgresql (or set SCIMD_FLEET_PGBIN)")
		}
		e.pgBin = filepath.Dir(matches[len(matches)-1])
	}
	if e.dir = os.Getenv("SCIMD_FLEET_DIR"); e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "scimd-fleet-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(e.dir) })
	}
	os.Chmod(e.dir, 0o755)
	home := filepath.Join(e.dir, "home")
	os.MkdirAll(filepath.Join(home, "run"), 0o700)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		e.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		filepath.Walk(home, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, uid, gid) })
	}
	e.env = []string{"PATH=" + e.pgBin + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "XDG_DATA_HOME=" + filepath.Join(home, "data"),
		"XDG_RUNTIME_DIR=" + filepath.Join(home, "run"), "PGCONNECT_TIMEOUT=5"}
	e.scimd = scimdBinary(t)
	e.bench = filepath.Join(filepath.Dir(e.scimd), "scimbench")
	if out, err := exec.Command("go", "build", "-o", e.bench, "github.com/scimd/scimd/cmd/scimbench").CombinedOutput(); err != nil {
		t.Fatalf("go build scimbench: %v\n%s", err, out)
	}
	return e
}

// pgDir makes a directory under the fleet's owned by the postgres user.
func (e *fleetEnv) pgDir(name string) string {
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(p, 0o700); err != nil {
		e.tb().Fatal(err)
	}
	if e.cred != nil {
		os.Chown(p, int(e.cred.Uid), int(e.cred.Gid))
	}
	return p
}

// command returns a command in a process group of its own, run as the postgres user when
// asPG, with its output appended to DIR/NAME.log.
func (e *fleetEnv) command(name string, asPG bool, args ...string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if asPG {
		cmd.Env = e.env
		cmd.SysProcAttr.Credential = e.cred
		cmd.Dir = filepath.Join(e.dir, "home")
	}
	f, err := os.OpenFile(filepath.Join(e.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		e.tb().Fatal(err)
	}
	fmt.Fprintf(f, "\n=== %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd.Stdout, cmd.Stderr = f, f
	return cmd
}

// run runs a command to completion within timeout and fails the test if it fails.
func (e *fleetEnv) run(name string, asPG bool, timeout time.Duration, args ...string) {
	e.tb().Helper()
	if err := e.tryRun(name, asPG, timeout, args...); err != nil {
		e.tb().Fatal(err)
	}
}

func (e *fleetEnv) tryRun(name string, asPG bool, timeout time.Duration, args ...string) error {
	cmd := e.command(name, asPG, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	e.notePID(cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %v (see %s.log):\n%s", strings.Join(args, " "), err, name, e.logTail(name))
		}
		return nil
	case <-time.After(timeout):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s: still running after %v:\n%s", strings.Join(args, " "), timeout, e.logTail(name))
	}
}

// logTail is the end of DIR/NAME.log.
func (e *fleetEnv) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(e.dir, name+".log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// notePID appends a process group id to DIR/pids for the Makefile's last-resort cleanup.
func (e *fleetEnv) notePID(pid int) {
	e.pidsMu.Lock()
	defer e.pidsMu.Unlock()
	f, err := os.OpenFile(filepath.Join(e.dir, "pids"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintln(f, pid)
		f.Close()
	}
}

// background starts a long-running process; it is stopped when the test ends (SIGINT to
// its group, SIGKILL after 15 s).
func (e *fleetEnv) background(name string, asPG bool, args ...string) *bgProc {
	e.tb().Helper()
	b := &bgProc{name: name, cmd: e.command(name, asPG, args...), done: make(chan struct{})}
	if err := b.cmd.Start(); err != nil {
		e.tb().Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	e.notePID(b.cmd.Process.Pid)
	go func() { b.cmd.Wait(); close(b.done) }()
	e.t.Cleanup(func() { b.stop(syscall.SIGINT, 15*time.Second) })
	return b
}

// stop signals the process group and waits up to timeout, then kills the group.
func (b *bgProc) stop(sig syscall.Signal, timeout time.Duration) {
	select {
	case <-b.done:
	default:
		syscall.Kill(-b.cmd.Process.Pid, sig)
		select {
		case <-b.done:
		case <-time.After(timeout):
		}
	}
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) // whatever is left in the group
}

func (b *bgProc) running() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// ---- PostgreSQL with pg_auto_failover ----

// pgHA is a pg_auto_failover formation: a monitor and two nodes.
type pgHA struct {
	e        *fleetEnv
	monPort  int
	monData  string
	monitor  *bgProc
	ports    [2]int
	data     [2]string
	nodes    [2]*bgProc
	dsn      string // scimd's: both nodes, read-write
	monitorU string // the monitor's URL
}

// startPGHA creates and runs the monitor and the two nodes, and waits until the second is
// a synchronous standby of the first.
func startPGHA(t *testing.T, e *fleetEnv) *pgHA {
	t.Helper()
	h := &pgHA{e: e, monPort: freePort(t), monData: filepath.Join(e.pgDir("pg"), "monitor")}
	pgctl := filepath.Join(e.pgBin, "pg_ctl")
	e.run("pg-monitor", true, 90*time.Second, e.autoctl, "create", "monitor", "--pgdata", h.monData, "--pgport", strconv.Itoa(h.monPort),
		"--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl", "--pgctl", pgctl)
	// The monitor listens on loopback only, and notices a dead node within a few seconds
	// (the defaults take about 30 s; this machine's test must stay short).
	e.tryRun("pg-monitor", true, 60*time.Second, pgctl, "-D", h.monData, "-m", "fast", "-w", "stop")
	settings := "listen_addresses = '127.0.0.1'\n" +
		"pgautofailover.health_check_period = 1000\npgautofailover.health_check_retry_delay = 500\n" +
		"pgautofailover.health_check_max_retries = 1\npgautofailover.health_check_timeout = 1000\n" +
		"pgautofailover.node_considered_unhealthy_timeout = 3000\npgautofailover.primary_demote_timeout = 5000\n"
	f, err := os.OpenFile(filepath.Join(h.monData, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(settings)
	f.Close()
	h.monitor = e.background("pg-monitor", true, e.autoctl, "run", "--pgdata", h.monData)
	h.monitorU = fmt.Sprintf("postgres://autoctl_node@127.0.0.1:%d/pg_auto_failover?sslmode=disable", h.monPort)
	h.waitSQL(fmt.Sprintf("postgres://postgres@127.0.0.1:%d/pg_auto_failover?sslmode=disable", h.monPort), 60*time.Second)
	for i := range 2 {
		h.ports[i] = freePort(t)
		h.data[i] = filepath.Join(e.dir, "pg", fmt.Sprintf("node%d", i+1))
		name := fmt.Sprintf("pg-node%d", i+1)
		e.run(name, true, 120*time.Second, e.autoctl, "create", "postgres", "--pgdata", h.data[i], "--pgport", strconv.Itoa(h.ports[i]),
			"--listen", "127.0.0.1", "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl", "--monitor", h.monitorU,
			"--name", fmt.Sprintf("node%d", i+1), "--dbname", "scimd", "--pgctl", pgctl)
		h.nodes[i] = e.background(name, true, e.autoctl, "run", "--pgdata", h.data[i])
		if i == 0 {
			h.waitStates(90*time.Second, map[string]string{"node1": "single"})
		}
	}
	h.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/scimd?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		h.ports[0], h.ports[1])
	h.waitHealthy(120 * time.Second)
	return h
}

// waitSQL waits until url answers a query.
func (h *pgHA) waitSQL(url string, d time.Duration) {
	h.e.tb().Helper()
	end := time.Now().Add(d)
	var err error
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var c *pgx.Conn
		if c, err = pgx.Connect(ctx, url); err == nil {
			_, err = c.Exec(ctx, "SELECT 1")
			c.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.e.tb().Fatalf("%s does not answer after %v: %v", url, d, err)
}

// states returns each node's reported and assigned state, as the monitor knows them.
func (h *pgHA) states() (map[string][2]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/pg_auto_failover?sslmode=disable", h.monPort))
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node`)
	if err != nil {
		return nil, err
	}
	out := map[string][2]string{}
	for rows.Next() {
		var n, r, g string
		if err := rows.Scan(&n, &r, &g); err != nil {
			return nil, err
		}
		out[n] = [2]string{r, g}
	}
	return out, rows.Err()
}

// waitStates waits until every named node reports and is assigned the given state.
func (h *pgHA) waitStates(d time.Duration, want map[string]string) {
	h.e.tb().Helper()
	end := time.Now().Add(d)
	var got map[string][2]string
	var err error
	for time.Now().Before(end) {
		if got, err = h.states(); err == nil {
			ok := true
			for n, st := range want {
				ok = ok && got[n] == [2]string{st, st}
			}
			if ok {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	h.e.tb().Fatalf("pg_auto_failover states %v (%v) after %v, want %v\nmonitor log:\n%s", got, err, d, want, h.e.logTail("pg-monitor"))
}

// waitHealthy waits until one node is primary and the other its synchronous standby
// (pg_stat_replication on the primary shows it sync or quorum, and synchronous_standby_names
// is set).
func (h *pgHA) waitHealthy(d time.Duration) {
	h.e.tb().Helper()
	end := time.Now().Add(d)
	var last string
	for time.Now().Before(end) {
		st, err := h.states()
		prim, sec := 0, 0
		for _, s := range st {
			if s == [2]string{"primary", "primary"} {
				prim++
			}
			if s == [2]string{"secondary", "secondary"} {
				sec++
			}
		}
		last = fmt.Sprint(st, err)
		if prim == 1 && sec == 1 {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			var names, syncState string
			c, err := pgx.Connect(ctx, h.dsn)
			if err == nil {
				err = c.QueryRow(ctx, `SELECT current_setting('synchronous_standby_names'),
					COALESCE((SELECT string_agg(sync_state, ',') FROM pg_stat_replication), '')`).Scan(&names, &syncState)
				c.Close(ctx)
			}
			cancel()
			last += fmt.Sprintf("; synchronous_standby_names %q, sync_state %q, %v", names, syncState, err)
			if err == nil && names != "" && (syncState == "sync" || syncState == "quorum") {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	h.e.tb().Fatalf("no primary with a synchronous standby after %v: %s\nmonitor log:\n%s", d, last, h.e.logTail("pg-monitor"))
}

// primary returns the index of the node that accepts writes now.
func (h *pgHA) primary() int {
	h.e.tb().Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		h.e.tb().Fatalf("no primary: %v", err)
	}
	defer c.Close(ctx)
	var port int
	if err := c.QueryRow(ctx, `SELECT inet_server_port()`).Scan(&port); err != nil {
		h.e.tb().Fatal(err)
	}
	return slices.Index(h.ports[:], port)
}

// writable reports whether a read-write session can be opened within timeout.
func (h *pgHA) writable(timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		return false
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "SELECT 1")
	return err == nil
}

// postmasterPID reads node i's postmaster.pid.
func (h *pgHA) postmasterPID(i int) int {
	h.e.tb().Helper()
	f, err := os.Open(filepath.Join(h.data[i], "postmaster.pid"))
	if err != nil {
		h.e.tb().Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil {
		h.e.tb().Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// stopAll stops the nodes and the monitor, and kills any postmaster left (a node's
// postmaster outlives a killed pg_autoctl).
func (h *pgHA) stopAll() {
	for _, n := range h.nodes {
		if n != nil {
			n.stop(syscall.SIGINT, 15*time.Second)
		}
	}
	if h.monitor != nil {
		h.monitor.stop(syscall.SIGINT, 15*time.Second)
	}
	for _, d := range append(h.data[:], h.monData) {
		if b, err := os.ReadFile(filepath.Join(d, "postmaster.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0]); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// ---- HAProxy ----

// lb is HAProxy in front of the replicas.
type lb struct {
	e      *fleetEnv
	port   int
	socket string
	proc   *bgProc
}

// startHAProxy runs HAProxy in the foreground with deploy/ha/haproxy.cfg, the documented
// configuration, with this run's addresses put in: its frontend on a free port of
// 127.0.0.1, the replicas at replicaPorts, the error files from deploy/ha/errors, and a
// runtime API socket for the test to read the servers' states.
func startHAProxy(t *testing.T, e *fleetEnv, replicaPorts []int) *lb {
	t.Helper()
	l := &lb{e: e, port: freePort(t), socket: filepath.Join(e.dir, "haproxy.sock")}
	raw, err := os.ReadFile("../../deploy/ha/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	errs, err := filepath.Abs("../../deploy/ha/errors")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(raw)
	subst := func(old, new string, n int) {
		if got := strings.Count(cfg, old); got != n {
			t.Fatalf("deploy/ha/haproxy.cfg has %q %d times, want %d", old, got, n)
		}
		cfg = strings.ReplaceAll(cfg, old, new)
	}
	subst("\nglobal\n", "\nglobal\n    stats socket "+l.socket+" mode 600 level admin\n", 1)
	subst("/usr/local/etc/haproxy/errors", errs, 3)
	subst("bind :8080", fmt.Sprintf("bind 127.0.0.1:%d", l.port), 1)
	for i, p := range replicaPorts {
		subst(fmt.Sprintf("server scimd%d scimd%d:8080", i+1, i+1), fmt.Sprintf("server scimd%d 127.0.0.1:%d", i+1, p), 1)
	}
	path := filepath.Join(e.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run("haproxy", false, 10*time.Second, e.haproxy, "-c", "-f", path)
	l.proc = e.background("haproxy", false, e.haproxy, "-db", "-f", path)
	return l
}

// serverStates returns HAProxy's view of each replica (UP, DOWN, …) from its runtime API.
func (l *lb) serverStates() (map[string]string, error) {
	c, err := net.DialTimeout("unix", l.socket, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) > 17 && f[0] == "scimd" && strings.HasPrefix(f[1], "scimd") {
			out[f[1]] = f[17]
		}
	}
	return out, sc.Err()
}

// waitServers waits until HAProxy sees each named replica in the given state.
func (l *lb) waitServers(d time.Duration, want map[string]string) time.Duration {
	l.e.tb().Helper()
	start := time.Now()
	var got map[string]string
	var err error
	for time.Since(start) < d {
		if got, err = l.serverStates(); err == nil {
			ok := true
			for n, s := range want {
				ok = ok && strings.HasPrefix(got[n], s)
			}
			if ok {
				return time.Since(start)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.e.tb().Fatalf("HAProxy servers %v (%v) after %v, want %v", got, err, d, want)
	return 0
}

// url is the address the IdP and the browser use.
func (l *lb) url() string { return fmt.Sprintf("http://127.0.0.1:%d", l.port) }

// get is a GET through HAProxy.
func (l *lb) get(path string) (int, error) {
	res, err := http.Get(l.url() + path)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
