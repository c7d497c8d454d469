package sqlstore

import (
	"context"
	"sync"
)

// TenantChangesChannel is the PostgreSQL notification channel on which a transaction that
// revokes a token or changes a tenant's settings announces the tenant's id, so that every
// process on the database forgets what it cached of that tenant (see
// store.TokenStore.SubscribeTenantChanges).
const TenantChangesChannel = "scimd_tenant_changes"

// Listener is a DB that can deliver the notifications of a channel from every process on
// the database (PostgreSQL LISTEN). Listen calls fn with each payload until ctx ends, and
// fn("") whenever notifications may have been missed (when it (re)connects).
type Listener interface {
	Listen(ctx context.Context, channel string, fn func(payload string))
}

// changes is the store's subscribers to tenant changes.
type changes struct {
	mu     sync.Mutex
	subs   map[int]func(string)
	next   int
	cancel context.CancelFunc // stops the listener; nil before the first subscriber
	done   chan struct{}
}

// SubscribeTenantChanges implements store.Store. Changes made through this store are
// announced to fn after their commit; on a DB that is a Listener, changes made by every
// other process on the database too, through one listening connection started with the
// first subscriber and stopped by Close.
func (s *Store) SubscribeTenantChanges(fn func(tenantID string)) (unsubscribe func()) {
	c := &s.changes
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs == nil {
		c.subs = map[int]func(string){}
	}
	id := c.next
	c.next++
	c.subs[id] = fn
	if l, ok := s.db.(Listener); ok && c.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel, c.done = cancel, make(chan struct{})
		go func() {
			defer close(c.done)
			l.Listen(ctx, TenantChangesChannel, s.announce)
		}()
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs, id)
	}
}

// announce tells every subscriber that the tenant changed ("": anything may have).
func (s *Store) announce(tenantID string) {
	c := &s.changes
	c.mu.Lock()
	subs := make([]func(string), 0, len(c.subs))
	for _, fn := range c.subs {
		subs = append(subs, fn)
	}
	c.mu.Unlock()
	for _, fn := range subs {
		fn(tenantID)
	}
}

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
