package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimd/scimd/internal/store"
)

// TenantChangesChannel is the PostgreSQL notification channel on which a transaction that
// revokes a token or changes a tenant's settings announces the tenant's id, so that every
// process on the database forgets what it cached of that tenant (see
// store.TokenStore.SubscribeTenantChanges). Payloads starting with '*' are heartbeats.
const TenantChangesChannel = "scimd_tenant_changes"

// heartbeatEvery is how often a quiet listener sends itself a heartbeat.
const heartbeatEvery = time.Second

// Listener is a DB that can deliver the notifications of a channel from every process on
// the database (PostgreSQL LISTEN). Listen calls fn with each payload until ctx ends, and
// fn("") whenever notifications may have been missed (when it (re)connects). After every
// quiet period of every, it notifies the channel with beat() from its own connection: the
// database delivers notifications in commit order, so when that payload comes back every
// change committed before it has been delivered.
type Listener interface {
	Listen(ctx context.Context, channel string, every time.Duration, beat func() string, fn func(payload string))
}

// changes is the store's subscribers to tenant changes.
type changes struct {
	mu     sync.Mutex
	subs   map[int]func(store.TenantChange)
	next   int
	cancel context.CancelFunc // stops the listener; nil before the first subscriber
	done   chan struct{}
	nonce  string // marks this process's heartbeats
}

// SubscribeTenantChanges implements store.Store. Changes made through this store are
// announced to fn after their commit; on a DB that is a Listener, changes made by every
// other process on the database too, through one listening connection started with the
// first subscriber and stopped by Close, with a heartbeat (TenantChange.Through) every
// second.
func (s *Store) SubscribeTenantChanges(fn func(store.TenantChange)) (unsubscribe func()) {
	c := &s.changes
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs == nil {
		c.subs = map[int]func(store.TenantChange){}
	}
	id := c.next
	c.next++
	c.subs[id] = fn
	if l, ok := s.db.(Listener); ok && c.cancel == nil {
		b := make([]byte, 8)
		rand.Read(b)
		c.nonce = hex.EncodeToString(b)
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel, c.done = cancel, make(chan struct{})
		go func() {
			defer close(c.done)
			l.Listen(ctx, TenantChangesChannel, heartbeatEvery, s.heartbeat, s.received)
		}()
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs, id)
	}
}

// heartbeat is this process's heartbeat payload: '*', its nonce, the time it was sent.
func (s *Store) heartbeat() string {
	return "*" + s.changes.nonce + " " + strconv.FormatInt(time.Now().UnixNano(), 10)
}

// received turns a notification's payload into a change for the subscribers.
func (s *Store) received(payload string) {
	switch {
	case payload == "":
		s.announce(store.TenantChange{Reset: true})
	case strings.HasPrefix(payload, "*"):
		nonce, sent, _ := strings.Cut(payload[1:], " ")
		ns, err := strconv.ParseInt(sent, 10, 64)
		if nonce == s.changes.nonce && err == nil { // another process's clock is not ours
			s.announce(store.TenantChange{Through: time.Unix(0, ns)})
		}
	default:
		s.announce(store.TenantChange{TenantID: payload})
	}
}

// announce tells every subscriber of ch.
func (s *Store) announce(ch store.TenantChange) {
	c := &s.changes
	c.mu.Lock()
	subs := make([]func(store.TenantChange), 0, len(c.subs))
	for _, fn := range c.subs {
		subs = append(subs, fn)
	}
	c.mu.Unlock()
	for _, fn := range subs {
		fn(ch)
	}
}

// announceTenant tells every subscriber that the tenant changed (after a commit).
func (s *Store) announceTenant(tenantID string) { s.announce(store.TenantChange{TenantID: tenantID}) }

// notifyTenant, inside a write transaction, makes its commit announce the tenant to every
// other process (PostgreSQL: pg_notify, delivered at commit, dropped on rollback). The
// caller announces it in this process after the commit.
func (s *Store) notifyTenant(ctx context.Context, c Conn, tenantID string) error {
	if _, ok := s.db.(Listener); !ok {
		return nil
	}
	return c.Exec(ctx, `SELECT pg_notify('`+TenantChangesChannel+`', $1)`, tenantID)
}

// stopListening stops the listener, if one runs, and waits for it.
func (s *Store) stopListening() {
	c := &s.changes
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
