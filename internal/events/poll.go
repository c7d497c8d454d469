package events

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/store"
)

// PollPath is where poll streams' receivers fetch SETs (RFC 8936), on the public URL.
const PollPath = "/events/poll"

// PollConfig is the poll endpoint's settings; zero values take the defaults.
type PollConfig struct {
	Issuer string
	// MaxEvents bounds maxEvents (default 100); DefaultEvents is used when a request
	// names none (default 20).
	MaxEvents, DefaultEvents int
	// MaxWait bounds a long poll (default 30 s).
	MaxWait time.Duration
	// AckTimeout is how long a polled SET waits for its acknowledgement before it is
	// handed out again (default 2 min).
	AckTimeout time.Duration
	// MaxBodyBytes bounds a request (default 256 KiB); MaxAcks bounds the jtis one
	// request may acknowledge or report (default 1000).
	MaxBodyBytes int64
	MaxAcks      int
	// Interval is how often a long poll looks for new SETs (default 250 ms).
	Interval time.Duration
}

func (c *PollConfig) defaults() {
	defaults.Positive(&c.MaxEvents, 100)
	defaults.Positive(&c.DefaultEvents, min(20, c.MaxEvents))
	defaults.Positive(&c.MaxWait, 30*time.Second)
	defaults.Positive(&c.AckTimeout, 2*time.Minute)
	defaults.Positive(&c.MaxBodyBytes, 256<<10)
	defaults.Positive(&c.MaxAcks, 1000)
	defaults.Positive(&c.Interval, 250*time.Millisecond)
}

// Poller serves RFC 8936 poll requests for poll streams. A request is authenticated by
// the stream's credential (a bearer token shown once at creation, stored as a SHA-256
// hash), never by a tenant's SCIM token.
type Poller struct {
	store  store.EventStreamStore
	signer Signer
	cfg    PollConfig
	log    *slog.Logger
	m      *Metrics
	now    func() time.Time
}

// NewPoller returns a Poller; m may be nil.
func NewPoller(s store.EventStreamStore, signer Signer, cfg PollConfig, log *slog.Logger, m *Metrics) *Poller {
	cfg.defaults()
	return &Poller{store: s, signer: signer, cfg: cfg, log: log, m: m,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// PollRequest is an RFC 8936 §2.4 poll request.
type PollRequest struct {
	MaxEvents         *int                `json:"maxEvents"`
	ReturnImmediately bool                `json:"returnImmediately"`
	Ack               []string            `json:"ack"`
	SetErrs           map[string]SetError `json:"setErrs"`
}

// SetError is a receiver's report that it could not process a SET.
type SetError struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

// PollResponse is an RFC 8936 §2.5 poll response.
type PollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable,omitempty"`
}

// HashCredential is how a stream credential is stored.
func HashCredential(cred string) []byte {
	h := sha256.Sum256([]byte(cred))
	return h[:]
}

type pollError struct {
	status int
	err    string
	desc   string
}

func (e *pollError) Error() string { return e.desc }

func badRequest(format string, args ...any) error {
	return &pollError{status: http.StatusBadRequest, err: "invalid_request", desc: fmt.Sprintf(format, args...)}
}

// Mount adds POST PollPath, the events service's one route.
func (p *Poller) Mount(r chi.Router) { r.Method(http.MethodPost, PollPath, p) }

// ServeHTTP implements http.Handler for POST /events/poll.
func (p *Poller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := p.poll(r)
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		var pe *pollError
		if !errors.As(err, &pe) {
			p.log.ErrorContext(r.Context(), "poll failed", "err", err)
			pe = &pollError{status: http.StatusServiceUnavailable, err: "temporarily_unavailable", desc: "the events store is unavailable; retry later"}
			w.Header().Set("Retry-After", "5")
		}
		if pe.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(pe.status)
		json.NewEncoder(w).Encode(map[string]string{"err": pe.err, "description": pe.desc})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (p *Poller) poll(r *http.Request) (*PollResponse, error) {
	ctx := r.Context()
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(cred) == "" {
		return nil, &pollError{status: http.StatusUnauthorized, err: "authentication_failed", desc: "send the stream credential as a bearer token"}
	}
	st, err := p.store.StreamByCredential(ctx, HashCredential(strings.TrimSpace(cred)))
	if errors.Is(err, store.ErrNotFound) || err == nil && st.Kind != store.StreamPoll {
		return nil, &pollError{status: http.StatusUnauthorized, err: "authentication_failed", desc: "unknown stream credential"}
	}
	if err != nil {
		return nil, err
	}
	req, err := p.parse(r)
	if err != nil {
		return nil, err
	}
	if err := p.acknowledge(ctx, st, req); err != nil {
		return nil, err
	}
	maxEvents := p.cfg.DefaultEvents
	if req.MaxEvents != nil {
		maxEvents = *req.MaxEvents
	}
	resp := &PollResponse{Sets: map[string]string{}}
	if maxEvents == 0 || st.Paused {
		return resp, nil
	}
	deadline := time.NewTimer(p.cfg.MaxWait)
	defer deadline.Stop()
	for {
		claimed, err := p.store.ClaimDeliveries(ctx, st.ID, p.now(), p.cfg.AckTimeout, maxEvents, 1)
		if err != nil {
			return nil, err
		}
		if err := p.fill(ctx, st, claimed, resp); err != nil {
			return nil, err
		}
		if len(resp.Sets) > 0 || req.ReturnImmediately {
			resp.MoreAvailable = len(claimed) == maxEvents
			return resp, nil
		}
		tick := time.NewTimer(p.cfg.Interval)
		select {
		case <-ctx.Done():
			tick.Stop()
			return resp, nil
		case <-deadline.C:
			tick.Stop()
			return resp, nil
		case <-tick.C:
		}
	}
}

func (p *Poller) parse(r *http.Request) (PollRequest, error) {
	var req PollRequest
	if r.ContentLength > p.cfg.MaxBodyBytes {
		return req, &pollError{status: http.StatusRequestEntityTooLarge, err: "invalid_request", desc: fmt.Sprintf("the request is over %d bytes", p.cfg.MaxBodyBytes)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, p.cfg.MaxBodyBytes+1))
	if err != nil {
		return req, badRequest("the request body could not be read")
	}
	if int64(len(body)) > p.cfg.MaxBodyBytes {
		return req, &pollError{status: http.StatusRequestEntityTooLarge, err: "invalid_request", desc: fmt.Sprintf("the request is over %d bytes", p.cfg.MaxBodyBytes)}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return req, nil // an empty body: the defaults
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, badRequest("the request is not a poll request (JSON with maxEvents, returnImmediately, ack, setErrs)")
	}
	switch {
	case req.MaxEvents != nil && (*req.MaxEvents < 0 || *req.MaxEvents > p.cfg.MaxEvents):
		return req, badRequest("maxEvents must be between 0 and %d", p.cfg.MaxEvents)
	case len(req.Ack)+len(req.SetErrs) > p.cfg.MaxAcks:
		return req, badRequest("at most %d jtis in ack and setErrs together", p.cfg.MaxAcks)
	}
	return req, nil
}

// acknowledge records the request's acks (delivered) and setErrs (parked, with the
// receiver's reason). jtis that are unknown or already acknowledged are ignored:
// acknowledging twice is harmless.
func (p *Poller) acknowledge(ctx context.Context, st store.Stream, req PollRequest) error {
	var outs []store.DeliveryOutcome
	for _, jti := range req.Ack {
		if tenant, id, gen, ok := ParseJTI(st.ID, jti); ok {
			outs = append(outs, store.DeliveryOutcome{TenantID: tenant, EventID: id, Gen: gen, State: store.DeliveryDelivered})
		}
	}
	acks := len(outs)
	for jti, e := range req.SetErrs {
		if tenant, id, gen, ok := ParseJTI(st.ID, jti); ok {
			msg := "receiver: " + e.Err
			if e.Description != "" {
				msg += ": " + e.Description
			}
			if len(msg) > 500 {
				msg = msg[:500]
			}
			outs = append(outs, store.DeliveryOutcome{TenantID: tenant, EventID: id, Gen: gen, State: store.DeliveryParked, Error: msg})
		}
	}
	if len(outs) == 0 {
		return nil
	}
	if _, err := p.store.FinishDeliveries(ctx, st.ID, p.now(), outs); err != nil {
		return err
	}
	p.m.count(st.ID, OutcomeDelivered, acks)
	p.m.count(st.ID, OutcomeParked, len(outs)-acks)
	return nil
}

// fill signs the claimed SETs into resp; one with nothing to send is acknowledged at once.
func (p *Poller) fill(ctx context.Context, st store.Stream, claimed []store.Delivery, resp *PollResponse) error {
	var skipped []store.DeliveryOutcome
	for _, d := range claimed {
		if d.Event.Name == "" {
			skipped = append(skipped, store.DeliveryOutcome{TenantID: d.Event.TenantID, EventID: d.Event.ID, Gen: d.Gen,
				State: store.DeliveryParked, Error: "the change's audit event was deleted (retention)"})
			continue
		}
		jti, set, ok, err := Sign(ctx, p.signer, p.cfg.Issuer, st, d, p.now())
		if err != nil {
			return err
		}
		if !ok {
			skipped = append(skipped, store.DeliveryOutcome{TenantID: d.Event.TenantID, EventID: d.Event.ID, Gen: d.Gen, State: store.DeliveryDelivered})
			continue
		}
		resp.Sets[jti] = set
	}
	p.m.count(st.ID, OutcomePolled, len(resp.Sets))
	if len(skipped) > 0 {
		if _, err := p.store.FinishDeliveries(ctx, st.ID, p.now(), skipped); err != nil {
			return err
		}
	}
	return nil
}
