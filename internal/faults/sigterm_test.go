package faults

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowRequest is a POST whose body the client sends in two halves, so that it is in flight
// for as long as the test wants: the server cannot answer before the second half.
type slowRequest struct {
	conn net.Conn
	rest string
}

func startSlowRequest(t *testing.T, addr, token, userName string) *slowRequest {
	t.Helper()
	body := fmt.Sprintf(`{"schemas":["%s"],"userName":"%s"}`, userSchema, userName)
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := "POST /scim/v2/Users HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: application/scim+json\r\nConnection: close\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n"
	half := len(body) / 2
	if _, err := conn.Write([]byte(head + body[:half])); err != nil {
		t.Fatal(err)
	}
	return &slowRequest{conn: conn, rest: body[half:]}
}

// finish sends the rest of the body and reads the response.
func (s *slowRequest) finish(t *testing.T) *http.Response {
	t.Helper()
	s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.conn.Write([]byte(s.rest)); err != nil {
		t.Fatalf("sending the rest of the in-flight request: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(s.conn), nil)
	if err != nil {
		t.Fatalf("reading the in-flight request's response: %v", err)
	}
	res.Body.Close()
	return res
}

// TestSIGTERMDrains sends SIGTERM to the real binary while a request is in flight (its body
// half sent) and others keep coming: the listener closes at once (new connections are
// refused), the in-flight request completes with 201, and the process exits 0 well within
// --shutdown-timeout. Every acknowledged write is in the database afterwards.
func TestSIGTERMDrains(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "scimd.db")
	const drain = 5 * time.Second
	// A storm outruns the default tenant rate limit on a quiet machine (429 is not what this
	// test is about), as in TestKill9.
	p := startScimd(t, dsn, "--shutdown-timeout", drain.String(), "--rate-limit", "0")
	token := p.bootstrapToken(t)
	c := newClient("http://"+p.addr, token)
	group := c.createGroup(t, "Everyone")
	l := newLedger()
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	wg := storm(ctx, c, "term", []string{group}, l, stormOptions{workers: 2, max: 100000,
		stopOn: func(r result) bool { return r.Err != nil }})
	slow := startSlowRequest(t, p.addr, token, "in-flight@example.com")
	time.Sleep(300 * time.Millisecond)

	termAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	refused := false
	for time.Since(termAt) < 3*time.Second {
		conn, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		conn.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if !refused {
		t.Error("new connections were still accepted 3 s after SIGTERM")
	}
	time.Sleep(500 * time.Millisecond) // the in-flight request outlives the listener
	select {
	case <-p.exited:
		t.Fatalf("scimd exited with a request in flight:\n%s", p.stderr.String())
	default:
	}
	if res := slow.finish(t); res.StatusCode != http.StatusCreated {
		t.Errorf("in-flight request = %d, want 201", res.StatusCode)
	}
	code := p.wait(t, drain+5*time.Second)
	took := time.Since(termAt)
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0:\n%s", code, p.stderr.String())
	}
	if took > drain {
		t.Errorf("exited %v after SIGTERM, beyond --shutdown-timeout %v", took, drain)
	}
	stop()
	wg.Wait()
	for _, r := range l.results {
		if r.Err == nil && r.Status >= 300 {
			t.Errorf("during shutdown: %s", r)
		}
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Errorf("no shutdown line in the log:\n%s", p.stderr.String())
	}
	verify(t, openSQL(t, dsn), l)
	db := openSQL(t, dsn)
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM users WHERE user_name = 'in-flight@example.com'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the in-flight create is not in the database: %d, %v", n, err)
	}
}

// TestSIGTERMStalledClient: a client that never finishes its request cannot hold the
// process past --shutdown-timeout.
func TestSIGTERMStalledClient(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "scimd.db")
	const drain = 2 * time.Second
	p := startScimd(t, dsn, "--shutdown-timeout", drain.String())
	startSlowRequest(t, p.addr, p.bootstrapToken(t), "stalled@example.com")
	time.Sleep(200 * time.Millisecond)
	termAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, drain+5*time.Second)
	took := time.Since(termAt)
	t.Logf("exited %d after %v", code, took.Round(time.Millisecond))
	if took < drain-100*time.Millisecond {
		t.Errorf("exited after %v, before --shutdown-timeout %v, with a request in flight", took, drain)
	}
	if took > drain+2*time.Second {
		t.Errorf("exited %v after SIGTERM, want within about --shutdown-timeout %v", took, drain)
	}
}

// TestSIGTERMDrainDelay: with --drain-delay, SIGTERM first turns /readyz to 503
// ("draining") while every other request, on new connections too, is still served, so that
// a load balancer's health checks take the replica out before its listener closes; then the
// process shuts down as without it and exits 0.
func TestSIGTERMDrainDelay(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "scimd.db")
	const delay = 1500 * time.Millisecond
	p := startScimd(t, dsn, "--drain-delay", delay.String(), "--rate-limit", "0") // the loop is a storm
	c := newClient("http://"+p.addr, p.bootstrapToken(t))
	if r := c.do("GET", "/readyz", nil); r.Status != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %s", r)
	}
	termAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	c.HTTP.Transport = &http.Transport{DisableKeepAlives: true} // every request a new connection
	for i := 0; time.Since(termAt) < delay-400*time.Millisecond; i++ {
		if r := c.do("GET", "/readyz", nil); r.Status != http.StatusServiceUnavailable || !strings.Contains(r.str("reason"), "draining") {
			t.Fatalf("/readyz while draining: %s, want 503 draining", r)
		}
		if r := c.createUser(fmt.Sprintf("draining-%d@example.com", i)); r.Status != http.StatusCreated {
			t.Fatalf("create while draining: %s, want 201", r)
		}
	}
	code := p.wait(t, delay+10*time.Second)
	if took := time.Since(termAt); code != 0 || took < delay {
		t.Fatalf("exit %d after %v, want 0 after at least --drain-delay %v:\n%s", code, took, delay, p.stderr.String())
	}
	if r := c.do("GET", "/healthz", nil); r.Err == nil {
		t.Fatalf("still answering after exit: %s", r)
	}
}
