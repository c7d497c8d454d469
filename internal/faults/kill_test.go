package faults

import (
	"context"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestKill9 runs the real binary, storms it with creates and group PATCHes, kills it with
// SIGKILL mid-storm, restarts it on the same database and checks that every acknowledged
// write is there and that no resource is torn (resource, memberships and audit events
// agree). On SQLite and on PostgreSQL.
func TestKill9(t *testing.T) {
	for _, b := range binaryBackends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			// The storm sends one tenant's requests faster than the default per-tenant rate
			// limit allows (TestRateLimitPerTenant holds that); here every request must land.
			p := startScimd(t, dsn, "--rate-limit", "0")
			token := p.bootstrapToken(t)
			c := newClient("http://"+p.addr, token)
			var groups []string
			for _, name := range []string{"Sales", "Engineering", "Support"} {
				groups = append(groups, c.createGroup(t, name))
			}
			l := newLedger()
			ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
			defer stop()
			wg := storm(ctx, c, "kill", groups, l, stormOptions{workers: 6, max: 100000,
				stopOn: func(r result) bool { return r.Err != nil }})
			time.Sleep(1500 * time.Millisecond)
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.wait(t, 10*time.Second)
			wg.Wait()
			stop()
			for _, r := range l.results {
				if r.Err == nil && r.Status >= 300 {
					t.Errorf("before the kill: %s", r)
				}
			}
			if len(l.users) < 10 {
				t.Fatalf("only %d writes acknowledged before the kill", len(l.users))
			}

			p2 := startScimd(t, dsn, "--rate-limit", "0")
			c2 := newClient("http://"+p2.addr, token)
			if got := get(t, c2.Base+"/readyz"); got != http.StatusOK {
				t.Fatalf("/readyz after restart = %d", got)
			}
			if r := c2.createUser("after-restart@example.com"); r.Status != http.StatusCreated {
				t.Fatalf("create after restart: %s", r)
			} else {
				l.ackUser(r.str("id"), "after-restart@example.com")
			}
			if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p2.wait(t, 20*time.Second); code != 0 {
				t.Errorf("restarted scimd exited %d after SIGTERM:\n%s", code, p2.stderr.String())
			}
			n := verify(t, openSQL(t, dsn), l)
			t.Logf("%d users in the database, %d acknowledged", n, len(l.users))
		})
	}
}
