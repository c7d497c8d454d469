package faults

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the checks
	"github.com/scimd/scimd/internal/testkit"
	"github.com/scimd/scimd/internal/testlog"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", for the checks

	"github.com/scimd/scimd/internal/store/postgres/pgtest"
)

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// ---- a SCIM client ----

// client talks to one scimd with one token.
type client struct{ testkit.Client }

func newClient(base, token string) *client {
	return &client{testkit.Client{Base: base, Token: token, HTTP: &http.Client{Timeout: 20 * time.Second}}}
}

// result is one response, or a transport error (Status 0).
type result struct {
	Status   int
	Header   http.Header
	Body     map[string]any
	Raw      []byte
	Err      error
	Start    time.Time
	Duration time.Duration
}

func (r result) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

func (r result) String() string {
	if r.Err != nil {
		return "transport error: " + r.Err.Error()
	}
	return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Raw))
}

func (c *client) do(method, path string, body any) result {
	start := time.Now()
	r, err := c.Client.Do(method, path, body)
	return result{Status: r.Status, Header: r.Header, Body: r.Body, Raw: r.Raw, Err: err, Start: start, Duration: time.Since(start)}
}

func (c *client) createUser(userName string) result {
	return c.do("POST", "/scim/v2/Users", map[string]any{"schemas": []string{userSchema}, "userName": userName})
}

func (c *client) createGroup(t *testing.T, name string) string {
	t.Helper()
	r := c.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": name})
	if r.Status != http.StatusCreated {
		t.Fatalf("create group %s: %s", name, r)
	}
	return r.str("id")
}

func patchOp(op, path string, value any) map[string]any {
	o := map[string]any{"op": op, "path": path}
	if value != nil {
		o["value"] = value
	}
	return map[string]any{"schemas": []string{patchSchema}, "Operations": []any{o}}
}

func memberValues(ids ...string) []any {
	var vs []any
	for _, id := range ids {
		vs = append(vs, map[string]any{"value": id})
	}
	return vs
}

// isSCIMError reports whether r carries a SCIM error body with the given status.
func isSCIMError(r result, status int) bool {
	schemas, _ := r.Body["schemas"].([]any)
	return r.Status == status && len(schemas) == 1 && schemas[0] == errorSchema &&
		r.str("status") == fmt.Sprint(status) && r.str("detail") != "" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/scim+json")
}

// ---- the write storm and its ledger ----

// ledger is what scimd acknowledged with a 2xx: users created and memberships added.
type ledger struct {
	mu      sync.Mutex
	users   map[string]string   // id → userName
	members map[[2]string]bool  // (group id, member id)
	results []result            // every response, in completion order
	byState map[string][]result // responses by the fault state they started and ended in
}

func newLedger() *ledger {
	return &ledger{users: map[string]string{}, members: map[[2]string]bool{}, byState: map[string][]result{}}
}

func (l *ledger) record(state string, r result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, r)
	if state != "" {
		l.byState[state] = append(l.byState[state], r)
	}
}

func (l *ledger) ackUser(id, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users[id] = name
}

func (l *ledger) ackMember(group, member string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.members[[2]string{group, member}] = true
}

// stormOptions shape a storm.
type stormOptions struct {
	workers int
	max     int                 // most iterations per worker
	state   func() string       // the fault state now ("" when not tracked)
	stopOn  func(r result) bool // a worker stops at the first result for which this is true
}

// storm runs workers that each create a user and then add it to one of groups, until ctx
// ends, max iterations, or stopOn. Every 2xx goes to the ledger.
func storm(ctx context.Context, c *client, prefix string, groups []string, l *ledger, o stormOptions) *sync.WaitGroup {
	var wg sync.WaitGroup
	state := o.state
	if state == nil {
		state = func() string { return "" }
	}
	classify := func(before string) string {
		if after := state(); after == before {
			return before
		}
		return "" // crossed a transition: ambiguous
	}
	for w := range o.workers {
		wg.Go(func() {
			for i := 0; i < o.max && ctx.Err() == nil; i++ {
				st := state()
				name := fmt.Sprintf("%s-w%d-%d@example.com", prefix, w, i)
				r := c.createUser(name)
				l.record(classify(st), r)
				if r.Status == http.StatusCreated {
					l.ackUser(r.str("id"), name)
				} else {
					if o.stopOn != nil && o.stopOn(r) {
						return
					}
					continue
				}
				id := r.str("id")
				g := groups[(w+i)%len(groups)]
				st = state()
				r = c.do("PATCH", "/scim/v2/Groups/"+g+"?excludedAttributes=members", patchOp("add", "members", memberValues(id)))
				l.record(classify(st), r)
				if r.Status == http.StatusOK || r.Status == http.StatusNoContent {
					l.ackMember(g, id)
				} else if o.stopOn != nil && o.stopOn(r) {
					return
				}
			}
		})
	}
	return &wg
}

// ---- checking the database ----

// verify checks the database behind db after a storm: every acknowledged user and
// membership is there, and nothing is torn: each user and group has exactly one create
// event and one update event per version after the first, every create event names an
// existing resource (nothing is deleted in these tests), and every membership names an
// existing group and member. It returns the number of users.
func verify(t *testing.T, db *sql.DB, l *ledger) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	versions := map[string]int64{} // resource id → version
	kinds := map[string]string{}   // resource id → User/Group
	for _, tbl := range []struct{ name, kind string }{{"users", "User"}, {"groups", "Group"}} {
		rows, err := db.QueryContext(ctx, `SELECT CAST(id AS TEXT), version FROM `+tbl.name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			versions[id], kinds[id] = v, tbl.kind
		}
		rows.Close()
	}
	members := memberships(ctx, t, db)
	for gm := range members {
		if kinds[gm[0]] != "Group" {
			t.Errorf("membership (%s, %s) names no group", gm[0], gm[1])
		}
		if kinds[gm[1]] == "" {
			t.Errorf("membership (%s, %s) names no user or group", gm[0], gm[1])
		}
	}
	creates, updates := map[string]int{}, map[string]int{}
	rows, err := db.QueryContext(ctx, `SELECT event, resource_id FROM audit_events WHERE outcome = 'success' AND resource_id IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ev, id string
		if err := rows.Scan(&ev, &id); err != nil {
			t.Fatal(err)
		}
		switch ev {
		case "user_create_provision", "group_create_provision":
			creates[id]++
			if kinds[id] == "" {
				t.Errorf("%s event for %s, which is not in the database", ev, id)
			}
		case "user_update_provision", "group_update_provision", "user_deprovision":
			updates[id]++
		}
	}
	rows.Close()
	for id, kind := range kinds {
		if creates[id] != 1 {
			t.Errorf("%s %s has %d create events, want 1", kind, id, creates[id])
		}
		if want := int(versions[id] - 1); updates[id] != want {
			t.Errorf("%s %s is at version %d with %d update events, want %d", kind, id, versions[id], updates[id], want)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, name := range l.users {
		if kinds[id] != "User" {
			t.Errorf("acknowledged user %s (%s) is not in the database", id, name)
		}
	}
	for m := range l.members {
		if !members[m] {
			t.Errorf("acknowledged membership of %s in group %s is not in the database", m[1], m[0])
		}
	}
	n := 0
	for _, k := range kinds {
		if k == "User" {
			n++
		}
	}
	return n
}

// memberships reads every (group id, member id) of group_members.
func memberships(ctx context.Context, t *testing.T, db *sql.DB) map[[2]string]bool {
	t.Helper()
	out := map[[2]string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT CAST(group_id AS TEXT), CAST(member_id AS TEXT) FROM group_members`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var g, m string
		if err := rows.Scan(&g, &m); err != nil {
			t.Fatal(err)
		}
		out[[2]string{g, m}] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// openSQL opens a database/sql handle on a scimd database DSN (sqlite:PATH or postgres://).
func openSQL(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ---- the real binary ----

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

// TestMain removes the binary built by scimdBinary.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaryBackends name a fresh database of each backend for the binary (--database).
var binaryBackends = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "scimd.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t, "") }},
}

// scimdBinary builds cmd/scimd once per test process and returns its path.
func scimdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "scimd-faults-")
		if buildErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		buildPath = filepath.Join(buildDir, "scimd")
		out, err := exec.Command(goTool, "build", "-o", buildPath, "github.com/scimd/scimd/cmd/scimd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// proc is a running scimd binary.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *testlog.Buffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startScimd runs `scimd serve` on 127.0.0.1:0 with dsn and args and waits until it
// listens. The process is killed when the test ends if it is still running.
func startScimd(t *testing.T, dsn string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(scimdBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--database", dsn, "--log-format", "json"}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIMD_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	p := &proc{cmd: cmd, stderr: &testlog.Buffer{}, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "scimd listening" {
				select {
				case listening <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.addr = <-listening:
	case <-p.exited:
		t.Fatalf("scimd exited before listening: %v\n%s", p.err, p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("scimd did not listen within 60 s:\n%s", p.stderr.String())
	}
	return p
}

// bootstrapToken returns the token the first start printed.
func (p *proc) bootstrapToken(t *testing.T) string {
	t.Helper()
	lines := strings.Split(p.stderr.String(), "\n")
	for i, l := range lines {
		if strings.Contains(l, "will not be shown again") && i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
	}
	t.Fatalf("no bootstrap token in:\n%s", p.stderr.String())
	return ""
}

// wait waits up to d for the process to exit and returns its exit code (-1 when killed by
// a signal).
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("scimd did not exit within %v:\n%s", d, p.stderr.String())
		return 0
	}
}

// ---- a TCP proxy that can be cut ----

// proxy forwards loopback connections to target; cut closes its listener and every
// connection, restore listens again on the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by cut
			}
			go p.pipe(c)
		}
	}()
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) pipe(c net.Conn) {
	if !p.track(c) {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(up) {
		c.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
}

// cut closes the listener and every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore listens again on the proxy's address.
func (p *proxy) restore() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// runScimd runs the scimd binary to completion (at most 30 s) and returns its combined output.
func runScimd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, scimdBinary(t), args...).CombinedOutput()
	return string(out), err
}
