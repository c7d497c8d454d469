package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// scIdPStorm is a connector provisioning new people while something breaks: each worker
// looks a userName up, creates the user, PATCHes its title, adds it to a group and now and
// then reads it back, and retries as IdPs do (see idpCall). With --ledger it writes every
// attempt and every acknowledged write, so that a test can check the database afterwards.
const scIdPStorm = "idp-storm"

// retryableStatus reports whether an IdP retries a status after waiting: the server (or
// the load balancer in front of it) said "not now", so the request was not applied, or its
// outcome is unknown (502, 504) and a retry settles it.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// retryDelay is how long to wait before retrying after a response with Retry-After h: the
// seconds it names, at most 5 s; 200 ms without one (a transport error).
func retryDelay(h string) time.Duration {
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 5*time.Second)
	}
	return 200 * time.Millisecond
}

// LedgerLine is one line of --ledger (JSON lines). Kind "attempt" is one HTTP exchange; the
// other kinds are writes the server acknowledged with a 2xx: "user" (a user created, or
// found by its userName after a retried create got 409: Adopted), "title" (a PATCH of the
// user's title), "member" (User added to Group).
type LedgerLine struct {
	Kind string `json:"kind"`
	// Attempts: start and end (Unix ns), the operation, whether it writes, which try it
	// was, the status (0: no response), Retry-After, and the error detail of a non-2xx.
	Start      int64  `json:"start,omitempty"`
	End        int64  `json:"end,omitempty"`
	Op         string `json:"op,omitempty"`
	Write      bool   `json:"write,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
	Status     int    `json:"status,omitempty"`
	RetryAfter string `json:"retry_after,omitempty"`
	Detail     string `json:"detail,omitempty"`
	// Acknowledged writes.
	User     string `json:"user,omitempty"`
	UserName string `json:"user_name,omitempty"`
	Group    string `json:"group,omitempty"`
	Title    string `json:"title,omitempty"`
	Adopted  bool   `json:"adopted,omitempty"`
}

// ledger writes LedgerLines to a file; a nil ledger writes nothing.
type ledger struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
}

func openLedger(path string) (*ledger, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--ledger: %w", err)
	}
	return &ledger{f: f, w: bufio.NewWriter(f)}, nil
}

func (l *ledger) add(line LedgerLine) {
	if l == nil {
		return
	}
	b, _ := json.Marshal(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		_, l.err = l.w.Write(append(b, '\n'))
	}
}

// close flushes the ledger and reports the first write error.
func (l *ledger) close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = l.w.Flush()
	}
	if err := l.f.Close(); l.err == nil {
		l.err = err
	}
	return l.err
}

// idpCall sends a request as an IdP's connector does: a 429, 502, 503 or 504 that carries
// Retry-After, or no response at all (the connection closed: a load balancer closes a
// keep-alive client connection without an answer when the replica it sent the request to
// dies), is retried after the delay the server asked for, until --retry-for has passed
// since the first try. Each retried attempt is recorded under "OP: STATUS, retried"
// (status 0: no response), as expected; the last under op, expected when its status is
// want, or 409 for a create whose earlier attempt may have been applied (conflictOK: the
// caller then looks it up). It returns the last response and the number of attempts.
func (b *bench) idpCall(ctx context.Context, rec *recorder, op string, want int, write, conflictOK bool, method, path string, body any) (response, int) {
	deadline := time.Now().Add(b.cfg.retryFor)
	for attempt := 1; ; attempt++ {
		start := time.Now()
		r := b.c.do(ctx, method, path, body)
		end := time.Now()
		if r.status == 0 && ctx.Err() != nil {
			return r, attempt // stopped: not the server's doing
		}
		line := LedgerLine{Kind: "attempt", Start: start.UnixNano(), End: end.UnixNano(), Op: op, Write: write,
			Attempt: attempt, Status: r.status, RetryAfter: r.retryAfter}
		if r.status < 200 || r.status > 299 {
			line.Detail = clip(r.body)
		}
		b.ledger.add(line)
		retry := r.status == 0 || retryableStatus(r.status) && r.retryAfter != ""
		if retry && end.Before(deadline) {
			rec.record(fmt.Sprintf("%s: %d, retried", op, r.status), start, end.Sub(start), r.status, true)
			select {
			case <-time.After(retryDelay(r.retryAfter)):
				continue
			case <-ctx.Done():
				return r, attempt
			}
		}
		ok := r.status == want || conflictOK && attempt > 1 && r.status == http.StatusConflict
		rec.record(op, start, end.Sub(start), r.status, ok)
		if !ok {
			rec.unexpected(method, path, r)
		}
		return r, attempt
	}
}

// idpStorm runs the scenario: --groups groups, then --concurrency workers, each
// provisioning one new user after another until --duration (or --max-ops users) is
// reached; a started user is always finished, so the ledger ends with no write in doubt
// except those whose retries ran out.
func (b *bench) idpStorm(ctx context.Context, setup *recorder) *recorder {
	b.groupIDs = make([]string, b.cfg.groups)
	forEach(ctx, b.cfg.groups, b.cfg.concurrency, func(j int) {
		name := b.groupName(j)
		r, _ := b.idpCall(ctx, setup, "create-group", http.StatusCreated, true, true, "POST", "/Groups",
			map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name})
		if r.status == http.StatusConflict {
			r, _ = b.idpCall(ctx, setup, "lookup-group", http.StatusOK, false, false, "GET", "/Groups"+filterQuery(`displayName eq "`+name+`"`, "excludedAttributes", "members"), nil)
			r.body = firstResource(r)
		}
		if id, err := idOf(r.body); err == nil {
			b.groupIDs[j] = id
			b.ledger.add(LedgerLine{Kind: "group", Group: id})
		}
	})
	for j, id := range b.groupIDs {
		if id == "" {
			b.fail("idp-storm: group %s was not created", b.groupName(j))
			return nil
		}
	}
	rec := b.phase(scIdPStorm)
	stop := time.Now().Add(b.cfg.duration)
	var users atomic.Int64
	forEach(ctx, b.cfg.concurrency, b.cfg.concurrency, func(w int) {
		for i := 0; ctx.Err() == nil && time.Now().Before(stop) && users.Add(1) <= int64(b.cfg.maxOps); i++ {
			b.provision(ctx, rec, w, i)
		}
	})
	return rec
}

// provision is one new user, as a connector pushes it.
func (b *bench) provision(ctx context.Context, rec *recorder, w, i int) {
	name := fmt.Sprintf("%s-w%d-%d@example.com", b.run, w, i)
	lookup := "/Users" + filterQuery(`userName eq "`+name+`"`)
	b.idpCall(ctx, rec, "lookup-user", http.StatusOK, false, false, "GET", lookup, nil)
	r, _ := b.idpCall(ctx, rec, "create-user", http.StatusCreated, true, true, "POST", "/Users", userBody(name, fmt.Sprintf("%s-w%d-%d", b.run, w, i)))
	adopted := false
	if r.status == http.StatusConflict {
		// An earlier attempt was applied but its answer lost: the IdP finds the user by
		// userName and links it, as Okta and Entra do.
		r, _ = b.idpCall(ctx, rec, "lookup-after-409", http.StatusOK, false, false, "GET", lookup, nil)
		r.body, adopted = firstResource(r), true
	}
	id, err := idOf(r.body)
	if r.status != http.StatusCreated && !adopted || err != nil {
		return
	}
	b.ledger.add(LedgerLine{Kind: "user", User: id, UserName: name, Adopted: adopted})
	title := "Storm " + name
	if r, _ := b.idpCall(ctx, rec, "patch-user", http.StatusOK, true, false, "PATCH", "/Users/"+id,
		patchOps(map[string]any{"op": "replace", "path": "title", "value": title})); r.status == http.StatusOK {
		b.ledger.add(LedgerLine{Kind: "title", User: id, Title: title})
	}
	g := b.groupIDs[(w+i)%len(b.groupIDs)]
	if r, _ := b.idpCall(ctx, rec, "add-member", http.StatusOK, true, false, "PATCH", "/Groups/"+g+"?excludedAttributes=members",
		patchOps(map[string]any{"op": "add", "path": "members", "value": memberValues([]string{id})})); r.status == http.StatusOK {
		b.ledger.add(LedgerLine{Kind: "member", User: id, Group: g})
	}
	if i%4 == 0 {
		b.idpCall(ctx, rec, "get-user", http.StatusOK, false, false, "GET", "/Users/"+id, nil)
	}
}

// firstResource returns the first resource of a list response with exactly one, else nil.
func firstResource(r response) []byte {
	lr, err := decodeList(r)
	if err != nil || len(lr.Resources) != 1 {
		return nil
	}
	return lr.Resources[0]
}
