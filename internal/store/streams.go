package store

import (
	"context"
	"time"
)

// Stream kinds.
const (
	StreamPush = "push" // scimd POSTs each SET to URL (RFC 8935)
	StreamPoll = "poll" // the receiver polls for SETs (RFC 8936)
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryInflight  = "inflight"
	DeliveryDelivered = "delivered"
	DeliveryParked    = "parked"
)

// Stream is a receiver of SCIM security events, deployment-wide: one tenant's changes or
// every tenant's.
type Stream struct {
	ID       string
	Kind     string // StreamPush or StreamPoll
	URL      string // push: the receiver's endpoint
	Audience string // the SETs' aud
	TenantID string // "" for every tenant
	// Events are the audit event names (user_create_provision, …) the stream receives;
	// EventURIs the RFC 9967 event URIs kept in its SETs (nil: all).
	Events    []string
	EventURIs []string
	Paused    bool
	CreatedAt time.Time
}

// Delivery is one SET to deliver: the stream's delivery row and its audit event.
type Delivery struct {
	StreamID   string
	TenantSlug string
	Event      Event // the audit event; Event.TenantID and Event.ID key the row
	Gen        int   // replay generation, part of the jti
	Attempts   int   // attempts so far, this one included
	State      string
	EnqueuedAt time.Time
	LastError  string
	NextAt     time.Time // pending: when it is due; inflight: when its claim's lease ends
	DoneAt     time.Time // delivered or parked: when; zero otherwise
	// Claim names the claim that holds the row (ClaimDeliveries); FinishDeliveries writes
	// only rows still held by it.
	Claim string
}

// DeliveryOutcome is what became of a claimed delivery.
type DeliveryOutcome struct {
	TenantID string
	EventID  int64
	// ResourceID is the SET's resource when the caller knows it ("": the store looks it
	// up).
	ResourceID string
	// Claim is the claim the delivery was sent under (push): the outcome is recorded only
	// if the row is still held by it. "" records an acknowledgement (poll) of any claim,
	// of the generation Gen.
	Claim  string
	Gen    int
	State  string // DeliveryDelivered, DeliveryPending (retry at NextAt) or DeliveryParked
	NextAt time.Time
	Error  string
	// Unsent marks a claimed SET that was not sent (a run of its resource stopped before
	// it): it goes back to pending and its claim's attempt is not counted.
	Unsent bool
}

// StreamStats is a stream's backlog.
type StreamStats struct {
	StreamID      string
	Undelivered   int64     // pending or inflight
	Inflight      int64     // of Undelivered: being sent (push) or handed out and not acknowledged (poll)
	Parked        int64     // given up
	OldestPending time.Time // enqueue time of the oldest undelivered SET; zero when none
}

// DeliveryQuery selects a tenant's SETs of one stream (TenantDeliveries).
type DeliveryQuery struct {
	StreamID string
	// States keeps the SETs in these delivery states (nil: all).
	States []string
	// Before keeps the SETs whose audit event id is below it (0: from the newest): the
	// position of a page, the id of the previous page's last SET.
	Before int64
	Limit  int
}

// EventStreamStore keeps event streams and their SETs' delivery state. The rows are
// written with the audit event, in the change's transaction (see CreateResource), for
// every stream whose tenant and events match: the audit log is the outbox. It is a separate
// interface from Store; the SQL store implements both.
type EventStreamStore interface {
	// CreateStream stores s; credentialHash is the SHA-256 of a poll stream's credential
	// (nil for push). ErrConflict when the id or the hash is taken.
	CreateStream(ctx context.Context, s Stream, credentialHash []byte) error
	// Streams lists every stream, oldest first.
	Streams(ctx context.Context) ([]Stream, error)
	// Stream returns the stream with the id; ErrNotFound.
	Stream(ctx context.Context, id string) (Stream, error)
	// StreamByCredential returns the poll stream whose credential hashes to hash;
	// ErrNotFound.
	StreamByCredential(ctx context.Context, hash []byte) (Stream, error)
	// SetStreamPaused pauses or resumes a stream; a paused stream keeps collecting SETs.
	// ErrNotFound.
	SetStreamPaused(ctx context.Context, id string, paused bool) error
	// DeleteStream deletes the stream and its delivery rows; ErrNotFound.
	DeleteStream(ctx context.Context, id string) error

	// ClaimDeliveries takes the due deliveries of up to max resources of the stream: each
	// resource's oldest undelivered SET (per-resource commit order) followed by up to
	// run-1 of its next due ones, a run to be sent one after the other (run <= 1: the
	// oldest only). It marks them inflight until now+lease under a new claim and returns
	// them in commit order (ascending audit event id within a resource). Rows claimed by
	// another caller whose lease has not run out are never returned: of concurrent
	// claimers, each row goes to one.
	ClaimDeliveries(ctx context.Context, streamID string, now time.Time, lease time.Duration, max, run int) ([]Delivery, error)
	// FinishDeliveries records outcomes, in one transaction: each under its claim (a row
	// since claimed by another is left alone), or as an acknowledgement of its generation
	// (Claim ""). It returns how many rows changed.
	FinishDeliveries(ctx context.Context, streamID string, now time.Time, outcomes []DeliveryOutcome) (int, error)
	// ReplayStream makes every SET of the stream's tenants and events whose audit event is
	// at or after since due again, with a new generation (a new jti), including changes
	// made before the stream existed. It returns how many.
	ReplayStream(ctx context.Context, streamID string, since, now time.Time) (int64, error)
	// StreamStats returns the backlog of every stream that has one.
	StreamStats(ctx context.Context) ([]StreamStats, error)
	// ParkedDeliveries lists up to limit parked SETs of the stream, newest first.
	ParkedDeliveries(ctx context.Context, streamID string, limit int) ([]Delivery, error)

	// TenantStreamStats returns the backlog of the tenant's SETs in every stream that has
	// one: only its own SETs, in its own streams and in streams of every tenant.
	TenantStreamStats(ctx context.Context, tenantID string) ([]StreamStats, error)
	// TenantDeliveries lists up to q.Limit (at most 1,000) of the tenant's SETs of one
	// stream with their audit events, newest first (descending audit event id).
	TenantDeliveries(ctx context.Context, tenantID string, q DeliveryQuery) ([]Delivery, error)
}
