package faults

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// setReceiver is an application's SET endpoint: it verifies every SET with go-jose
// against the JWKS of whichever scimd is running, and records each change (txn) it gets.
type setReceiver struct {
	mu    sync.Mutex
	jwks  string // URL of the running scimd's JWKS
	txns  map[string]int
	bad   []string
	delay time.Duration
}

func (r *setReceiver) setJWKS(url string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jwks = url
}

func (r *setReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	jwksURL := r.jwks
	r.mu.Unlock()
	txn, err := verifySET(jwksURL, string(body))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, err.Error())
		w.WriteHeader(http.StatusServiceUnavailable) // maybe a key we have not fetched: retry
		return
	}
	r.txns[txn]++
	time.Sleep(r.delay)
	w.WriteHeader(http.StatusAccepted)
}

func (r *setReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.txns)
}

// verifySET checks signature, typ, iss and aud with go-jose and returns the SET's txn.
func verifySET(jwksURL, raw string) (string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", err
	}
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); typ != "secevent+jwt" {
		return "", fmt.Errorf("typ %q", typ)
	}
	resp, err := http.Get(jwksURL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return "", err
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return "", fmt.Errorf("kid %q not published", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	var c struct {
		Txn    string         `json:"txn"`
		Events map[string]any `json:"events"`
	}
	if err := tok.Claims(keys[0].Key, &std, &c); err != nil {
		return "", err
	}
	if err := std.Validate(jwt.Expected{Issuer: "http://scimd.test", AnyAudience: jwt.Audience{"urn:test:app"}}); err != nil {
		return "", err
	}
	for uri := range c.Events {
		if !strings.HasPrefix(uri, "urn:ietf:params:scim:event:prov:") {
			return "", fmt.Errorf("event %q", uri)
		}
	}
	return c.Txn, nil
}

// committedChanges returns the txn of every provisioning change the database holds.
func committedChanges(t *testing.T, db *sql.DB, dsn string) map[string]bool {
	t.Helper()
	q := `SELECT tenant_id, id FROM audit_events WHERE outcome = 'success' AND resource_id IS NOT NULL AND event LIKE '%provision'`
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var tenant string
		var id int64
		if err := rows.Scan(&tenant, &id); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%s.%d", tenant, id)] = true
	}
	return out
}

// TestEventsKill9: scimd is killed with SIGKILL while it pushes SETs of a write storm,
// and restarted on the same database: every committed change reaches the receiver at
// least once, and nothing that was not committed does. On SQLite and on PostgreSQL.
func TestEventsKill9(t *testing.T) {
	for _, b := range binaryBackends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			rcv := &setReceiver{txns: map[string]int{}, delay: 5 * time.Millisecond}
			rs := httptest.NewServer(rcv)
			defer rs.Close()
			flags := []string{"--public-url", "http://scimd.test", "--events-timeout", "1s", "--events-in-flight", "4"}
			p := startScimd(t, dsn, flags...)
			rcv.setJWKS("http://" + p.addr + "/.well-known/jwks.json")
			token := p.bootstrapToken(t)
			out, err := exec.Command(scimdBinary(t), "events", "stream", "create", "--url", rs.URL, "--all-tenants",
				"--audience", "urn:test:app", "--database", dsn).CombinedOutput()
			if err != nil {
				t.Fatalf("stream create: %v\n%s", err, out)
			}
			c := newClient("http://"+p.addr, token)
			var groups []string
			// Eight groups: each group's SETs go one at a time, so few groups make long chains.
			for i := range 8 {
				name := fmt.Sprint("Team ", i)
				groups = append(groups, c.createGroup(t, name))
			}
			l := newLedger()
			ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
			defer stop()
			wg := storm(ctx, c, "events", groups, l, stormOptions{workers: 4, max: 60,
				stopOn: func(r result) bool { return r.Err != nil }})
			// Kill once SETs are flowing and a backlog remains.
			deadline := time.Now().Add(20 * time.Second)
			for rcv.count() < 20 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond)
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.wait(t, 10*time.Second)
			wg.Wait()
			stop()
			atKill := rcv.count()

			p2 := startScimd(t, dsn, flags...)
			rcv.setJWKS("http://" + p2.addr + "/.well-known/jwks.json")
			db := openSQL(t, dsn)
			want := committedChanges(t, db, dsn)
			if atKill >= len(want) {
				t.Fatalf("the receiver had every SET (%d) before the kill: no backlog to lose", atKill)
			}
			deadline = time.Now().Add(3 * time.Minute)
			for rcv.count() < len(want) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			missing := 0
			for txn := range want {
				if rcv.txns[txn] == 0 {
					missing++
				}
			}
			for txn := range rcv.txns {
				if !want[txn] {
					t.Errorf("received a SET of no committed change: %s", txn)
				}
			}
			if missing > 0 {
				t.Log(deliveryStates(t, db))
				t.Fatalf("%d of %d committed changes never reached the receiver (%d before the kill)\n%s", missing, len(want), atKill, p2.stderr.String())
			}
			again := 0
			for _, n := range rcv.txns {
				if n > 1 {
					again++
				}
			}
			t.Logf("%d changes committed; %d delivered before the kill; %d delivered more than once (at-least-once); refused: %d",
				len(want), atKill, again, len(rcv.bad))
		})
	}
}

// deliveryStates summarises the delivery rows, for a failure message.
func deliveryStates(t *testing.T, db *sql.DB) string {
	rows, err := db.Query(`SELECT state, attempts, COALESCE(last_error, ''), COUNT(*) FROM event_deliveries GROUP BY state, attempts, last_error ORDER BY 4 DESC LIMIT 20`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	if r2, err := db.Query(`SELECT a.event, a.outcome, COALESCE(a.method, ''), COUNT(*) FROM audit_events a
		WHERE NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.tenant_id = a.tenant_id AND d.event_id = a.id)
		GROUP BY a.event, a.outcome, a.method`); err == nil {
		for r2.Next() {
			var ev, outcome, method string
			var n int
			r2.Scan(&ev, &outcome, &method, &n)
			fmt.Fprintf(&b, "no delivery row: %s %s %s n=%d\n", ev, outcome, method, n)
		}
		r2.Close()
	}
	for rows.Next() {
		var state, last string
		var attempts, n int
		rows.Scan(&state, &attempts, &last, &n)
		fmt.Fprintf(&b, "%s attempts=%d n=%d %s\n", state, attempts, n, last)
	}
	return b.String()
}
