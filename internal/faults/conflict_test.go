package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/store/postgres/pgtest"
)

// TestConcurrentPatchesOppositeOrders: workers PATCH the same groups and users at once, half
// of them in one order and half in the reverse, adding and removing the same members. No
// client ever sees an error (a serialization failure or deadlock would be retried inside
// scimd), and every group ends with a membership consistent with its audit trail.
func TestConcurrentPatchesOppositeOrders(t *testing.T) {
	dsn := pgtest.NewDatabase(t, "")
	srv := newPGServer(t, dsn, server.Config{})
	c := srv.client
	var users, groups []string
	for i := range 4 {
		r := c.createUser(fmt.Sprintf("u%d@example.com", i))
		if r.Status != http.StatusCreated {
			t.Fatalf("create user: %s", r)
		}
		users = append(users, r.str("id"))
		groups = append(groups, c.createGroup(t, fmt.Sprintf("G%d", i)))
	}
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds*16)
	deadline := time.Now().Add(45 * time.Second)
	for w := range workers {
		wg.Go(func() {
			gs, us := slices.Clone(groups), slices.Clone(users)
			if w%2 == 1 {
				slices.Reverse(gs)
				slices.Reverse(us)
			}
			for i := 0; i < rounds && time.Now().Before(deadline); i++ {
				op := "add"
				if (w+i)%3 == 2 {
					op = "remove"
				}
				for _, g := range gs {
					r := c.do("PATCH", "/scim/v2/Groups/"+g+"?excludedAttributes=members", patchOp(op, "members", memberValues(us...)))
					if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
						errs <- "PATCH group: " + r.String()
					}
				}
				for j, u := range us {
					r := c.do("PATCH", "/scim/v2/Users/"+u, patchOp("replace", "title", fmt.Sprintf("w%d r%d #%d", w, i, j)))
					if r.Status != http.StatusOK {
						errs <- "PATCH user: " + r.String()
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	verify(t, openSQL(t, dsn), newLedger())
}

// TestDeadlockIsRetried forces a real deadlock between scimd and another transaction: the
// other transaction holds a membership row, scimd's DELETE of the user locks the user and
// waits for that row, then the other transaction asks for the user. PostgreSQL aborts
// scimd's transaction (it waited first, so its deadlock check runs first) with 40P01;
// scimd retries it, and the client sees 204, never the deadlock.
func TestDeadlockIsRetried(t *testing.T) {
	dsn := pgtest.NewDatabase(t, "")
	srv := newPGServer(t, dsn, server.Config{RequestTimeout: 20 * time.Second})
	c := srv.client
	r := c.createUser("locked@example.com")
	if r.Status != http.StatusCreated {
		t.Fatalf("create user: %s", r)
	}
	user := r.str("id")
	group := c.createGroup(t, "Locked")
	if r := c.do("PATCH", "/scim/v2/Groups/"+group, patchOp("add", "members", memberValues(user))); r.Status/100 != 2 {
		t.Fatalf("add member: %s", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	watch, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.Background())
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT 1 FROM group_members WHERE group_id = $1 AND member_id = $2 FOR UPDATE`, group, user); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() { done <- c.do("DELETE", "/scim/v2/Users/"+user, nil) }()
	// Wait until scimd's transaction is blocked on the membership row.
	waiting := false
	for i := 0; i < 100 && !waiting; i++ {
		var n int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM group_members%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		waiting = n > 0
		time.Sleep(50 * time.Millisecond)
	}
	if !waiting {
		t.Fatal("scimd's DELETE never waited for the membership row")
	}
	// Close the cycle. If this statement succeeds, PostgreSQL chose scimd's transaction as
	// the deadlock victim.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, user); err != nil {
		t.Fatalf("the other transaction was chosen as the victim (%v); scimd's retry was not exercised", err)
	}
	tx.Rollback(ctx)
	select {
	case r := <-done:
		if r.Status != http.StatusNoContent {
			t.Fatalf("DELETE through a deadlock = %s, want 204", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("DELETE did not finish")
	}
	var deleted int
	if err := watch.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE event = 'user_delete_provision' AND resource_id = $1`, user).Scan(&deleted); err != nil || deleted != 1 {
		t.Fatalf("delete events = %d (%v), want exactly 1", deleted, err)
	}
}
