// Package store defines how scimd keeps its data: the Store interface that every backend
// implements, the records it reads and writes, and its errors. Backends (postgres, sqlite)
// share one implementation of the SQL in package sqlstore; storetest is the conformance
// suite they all pass.
package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

// Errors a Store returns, translated from the driver's where they happen.
var (
	// ErrNotFound: no such row for this tenant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key (userName, displayName, slug) is taken.
	ErrConflict = errors.New("store: unique key taken")
	// ErrUnavailable: the database cannot be reached; the request may be retried later.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrInvalidText: a value holds text the database cannot store (a NUL character).
	ErrInvalidText = errors.New("store: text the database cannot store")
)

// UnknownMemberError is returned when a group membership names an id that is no user or
// group of the tenant. Nothing was written.
type UnknownMemberError struct{ ID string }

func (e *UnknownMemberError) Error() string { return fmt.Sprintf("store: unknown member %q", e.ID) }

// Tenant is one customer account.
type Tenant struct {
	ID              string
	Slug            string
	Name            string
	DefaultUserType string
	UserTypes       []string
	// UserTypeSource is UserTypeFromIdP or UserTypeFromGroups (UserTypeStore keeps the rules).
	UserTypeSource string
	CreatedAt      time.Time
}

// Token is a SCIM bearer token's record; the token itself is never stored, only its hash.
type Token struct {
	ID         string
	TenantID   string
	Label      string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
	RevokedAt  time.Time // zero: live
}

// Revoked reports whether the token has been revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Event is one audit event: a provisioning change or a refused request.
type Event struct {
	ID           int64
	TenantID     string
	At           time.Time
	Name         string // user_create_provision, group_update_provision, …
	Outcome      string // success, client_error, server_error
	Actor        string // "token:<id> <label>", "saml", "cli"
	TokenID      string
	ResourceType string // User, Group
	ResourceID   string
	ResourceName string // userName or displayName
	Changed      []string
	Detail       string
	// Method is the SCIM operation of a provisioning change (POST, PUT, PATCH, DELETE):
	// a PUT and a PATCH are one event name but different SCIM security events.
	Method string
}

// EventQuery selects audit events, newest first.
type EventQuery struct {
	Since      time.Time
	ResourceID string
	Name       string
	Outcome    string
	Limit      int
	Offset     int
}

// Member is one member of a group, as read back (Display filled from the member).
type Member struct {
	ID      string
	Type    string // "User" or "Group"
	Display string
}

// Change is what an update writes: the new attributes (nil: unchanged), membership edits
// (groups), and the audit event, all in one transaction.
type Change struct {
	Attrs   map[string]any
	Members []scim.MemberEdit
	Event   *Event
	// Skip: nothing changes; the transaction commits nothing and the version stays.
	Skip bool
}

// Cursor is a keyset position in the default order (created, id).
type Cursor struct {
	Created time.Time
	ID      string
}

// Query selects a page of resources of one tenant.
type Query struct {
	Filter     filter.Expr    // nil: all
	SortBy     *scim.AttrPath // nil: (created, id)
	Descending bool
	StartIndex int     // 1-based; used when After is nil
	Count      int     // page size; 0 returns only the total
	After      *Cursor // cursor paging: rows after this position in (created, id) order
	// WithMembers reads group members (Groups) or group memberships (Users, the read-only
	// groups attribute). Groups' members are not read when false.
	WithMembers bool
	// CountMembers fills Page.MemberCounts (Groups): how many members each group has, from an
	// index, without reading them.
	CountMembers bool
}

// Page is one page of a list.
type Page struct {
	Total     int
	Resources []*scim.Resource
	// Last is the position of the last resource returned, for the next cursor.
	Last *Cursor
	// MemberCounts maps each group of the page to its number of members (Query.CountMembers).
	MemberCounts map[string]int
}

// Store is everything scimd keeps, as one value: the SQL store implements it whole, and
// cmd/scimd passes that one value (instrumented) to every service. It is made of small
// interfaces, one per concern, so that a service may ask for only the part it uses and a
// new feature adds its own small interface here (and its methods to sqlstore and to
// Instrument) instead of a second store value reached by a type assertion. Every method that
// reads or writes a tenant's data takes the tenant id and touches only that tenant's rows.
type Store interface {
	TenantStore
	TokenStore
	ResourceStore
	EventStore
	LimitStore
	SAMLStore
	ConsoleStore
	SigningKeyStore
	EventStreamStore
	UserTypeStore
	SigningKeyStore
	OIDCStore
	SAMLLogoutStore
	SAMLMetadataStore
	Health
}

// TenantStore keeps tenants.
type TenantStore interface {
	// CreateTenant stores t; ErrConflict if the slug is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	// TenantBySlug returns the tenant with the slug; ErrNotFound.
	TenantBySlug(ctx context.Context, slug string) (Tenant, error)
	// Tenant returns the tenant with the id; ErrNotFound.
	Tenant(ctx context.Context, id string) (Tenant, error)
	// Tenants lists every tenant by slug.
	Tenants(ctx context.Context) ([]Tenant, error)
	// UpdateTenant writes t's name and user type settings and ev, in one transaction;
	// ErrNotFound.
	UpdateTenant(ctx context.Context, t Tenant, ev *Event) error
}

// TokenStore keeps SCIM bearer tokens (their hashes).
type TokenStore interface {
	// CreateToken stores a token record, the SHA-256 hash of the token, and ev, in one
	// transaction.
	CreateToken(ctx context.Context, t Token, hash []byte, ev *Event) error
	// TokenByHash finds the token whose hash is hash, revoked or not, with its tenant, in one
	// query; ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (Token, Tenant, error)
	// Tokens lists a tenant's tokens, oldest first.
	Tokens(ctx context.Context, tenantID string) ([]Token, error)
	// RevokeToken revokes the tenant's token with the id (a revoked one keeps its first
	// revocation time) and writes ev, in one transaction; ErrNotFound.
	RevokeToken(ctx context.Context, tenantID, id string, at time.Time, ev *Event) error
	// TouchToken records that the token was used at at.
	TouchToken(ctx context.Context, tenantID, id string, at time.Time) error
	// SubscribeTenantChanges calls fn after a transaction that revokes one of a tenant's
	// tokens or changes its settings (UpdateTenant, SetUserTypeRules) commits: in this
	// process at once, and on PostgreSQL in every process on the database (LISTEN/NOTIFY),
	// with heartbeats. fn must not block. Used by the token cache.
	SubscribeTenantChanges(fn func(TenantChange)) (unsubscribe func())
}

// TenantChange is one announcement of SubscribeTenantChanges.
type TenantChange struct {
	// TenantID is the tenant whose tokens or settings changed.
	TenantID string
	// Reset: changes may have been missed (the listening connection was (re)opened), so
	// forget every tenant.
	Reset bool
	// Through, when set, is a heartbeat: every change committed before it has been
	// announced (the database delivers notifications in commit order).
	Through time.Time
}

// ResourceStore keeps Users and Groups and their memberships.
type ResourceStore interface {
	// CreateResource stores a new User or Group (r.ID and r.Meta set by the caller), its
	// members (Groups), and ev, in one transaction. ErrConflict when userName/displayName is
	// taken; *UnknownMemberError for a member that does not exist.
	CreateResource(ctx context.Context, rt *scim.ResourceType, tenantID string, r *scim.Resource, members []string, ev *Event) error
	// Resource reads one resource; withMembers as in Query. ErrNotFound, also for an id that
	// is not well formed.
	Resource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, withMembers bool) (*scim.Resource, error)
	// UpdateResource reads the resource (without Groups' members), calls fn, and writes the
	// change with a new version and lastModified, in one transaction. fn has no side effects:
	// it may be called again when the transaction is retried. Returns the resource as written
	// (without members). ErrNotFound; ErrConflict; *UnknownMemberError; fn's error.
	UpdateResource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, fn func(r *scim.Resource) (Change, error)) (*scim.Resource, error)
	// DeleteResource deletes the resource, its memberships (both directions), and writes ev
	// (which may check the resource's version in ev's closure), in one transaction.
	// ErrNotFound.
	DeleteResource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, check func(r *scim.Resource) (*Event, error)) error
	// ListResources returns one page of a tenant's resources.
	ListResources(ctx context.Context, rt *scim.ResourceType, tenantID string, q Query) (Page, error)
}

// EventStore keeps the audit log.
type EventStore interface {
	// AppendEvent writes an event in its own transaction (refused requests).
	AppendEvent(ctx context.Context, ev *Event) error
	// Events lists a tenant's events, newest first.
	Events(ctx context.Context, tenantID string, q EventQuery) ([]Event, error)
	// PruneEvents deletes events older than before, of every tenant; returns how many.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
}

// LimitStore keeps what every replica shares to bound work: rate-limit buckets and
// installation secrets.
type LimitStore interface {
	// TakeTokens takes up to n whole tokens (at least one when there is one) from the
	// tenant's bucket, which holds at most burst tokens and refills at rate per second;
	// shared by every replica. It returns how many it took and, when none, how long until
	// one will be there.
	TakeTokens(ctx context.Context, tenantID string, rate, burst float64, n int, now time.Time) (int, time.Duration, error)
	// Secret returns the installation secret with the name, creating it with newValue() the
	// first time; every replica gets the same value.
	Secret(ctx context.Context, name string, newValue func() []byte) ([]byte, error)
}

// Health is the database itself: whether it answers, its schema version, its pool.
type Health interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Version returns the highest migration applied.
	Version(ctx context.Context) (int, error)
	// PoolStats returns the state of the connection pool.
	PoolStats() PoolStats
	// Close releases the database.
	Close() error
}

// NewID returns a random (version 4) UUID.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
