package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/store"
)

// MaxStreams bounds the number of streams a deployment may have.
const MaxStreams = 100

// Config is a Deliverer's settings; zero values take the defaults.
type Config struct {
	// Issuer is the SETs' iss: the public URL of scimd.
	Issuer string
	// Timeout bounds one POST to a receiver, connection included (default 10 s).
	Timeout time.Duration
	// MaxAge is how long a SET is retried before it is parked (default 72 h).
	MaxAge time.Duration
	// MaxInFlight bounds the SETs of one stream in flight at once (default 16): the
	// resources being delivered at once, since a resource's SETs go one at a time.
	MaxInFlight int
	// MaxRun bounds the SETs of one resource one claim takes, sent one after the other in
	// commit order (default 100): a long queue of one resource drains without a claim
	// per SET. A run also stops starting sends once Timeout has passed since its claim,
	// so that its last send ends inside the claim's lease.
	MaxRun int
	// Idle is how often a stream with nothing due looks again (default 500 ms).
	Idle time.Duration
	// Refresh is how often the list of streams is read again (default 5 s).
	Refresh time.Duration
	// BaseBackoff is the first retry's delay, doubled per attempt up to MaxBackoff
	// (defaults 1 s and 10 min); each delay is jittered to between half and all of it.
	BaseBackoff, MaxBackoff time.Duration
	// Now is the clock (default time.Now); tests move it to make a SET old.
	Now func() time.Time
}

func (c *Config) defaults() {
	defaults.Positive(&c.Timeout, 10*time.Second)
	defaults.Positive(&c.MaxAge, 72*time.Hour)
	defaults.Positive(&c.MaxInFlight, 16)
	defaults.Positive(&c.MaxRun, 100)
	defaults.Positive(&c.Idle, 500*time.Millisecond)
	defaults.Positive(&c.Refresh, 5*time.Second)
	defaults.Positive(&c.BaseBackoff, time.Second)
	defaults.Positive(&c.MaxBackoff, 10*time.Minute)
}

// maxResponseBytes bounds what is read of a receiver's answer (its error description).
const maxResponseBytes = 4 << 10

// Deliverer pushes the SETs of every active push stream to its receiver (RFC 8935). Work
// is claimed from the database, so any number of replicas may run one: each SET is sent
// by one of them at a time, and one that dies mid-delivery leaves its claims to expire
// and be taken again (at-least-once).
type Deliverer struct {
	store  store.EventStreamStore
	signer Signer
	cfg    Config
	client *http.Client
	log    *slog.Logger
	m      *Metrics
	now    func() time.Time
}

// NewDeliverer returns a Deliverer; m may be nil.
func NewDeliverer(s store.EventStreamStore, signer Signer, cfg Config, log *slog.Logger, m *Metrics) *Deliverer {
	cfg.defaults()
	client := &http.Client{
		Timeout: cfg.Timeout,
		// Receivers are reached only at the URL an operator registered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			MaxIdleConnsPerHost:   cfg.MaxInFlight,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout,
		},
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	return &Deliverer{store: s, signer: signer, cfg: cfg, client: client, log: log, m: m,
		now: func() time.Time { return clock().UTC().Truncate(time.Microsecond) }}
}

// Run delivers until ctx is done: one worker per active push stream, started and stopped
// as streams are created, paused, resumed and deleted.
func (d *Deliverer) Run(ctx context.Context) {
	type worker struct {
		cancel context.CancelFunc
		url    string
	}
	workers := map[string]worker{}
	var wg sync.WaitGroup
	defer func() {
		for _, w := range workers {
			w.cancel()
		}
		wg.Wait()
	}()
	t := time.NewTicker(d.cfg.Refresh)
	defer t.Stop()
	for {
		streams, err := d.store.Streams(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("event streams unreadable", "err", err)
		}
		if err == nil {
			live := map[string]bool{}
			for _, st := range streams {
				if st.Kind != store.StreamPush || st.Paused {
					continue
				}
				live[st.ID] = true
				if w, ok := workers[st.ID]; ok && w.url == st.URL {
					continue
				}
				wctx, cancel := context.WithCancel(ctx)
				workers[st.ID] = worker{cancel: cancel, url: st.URL}
				wg.Add(1)
				go func(st store.Stream) {
					defer wg.Done()
					d.work(wctx, st)
				}(st)
			}
			for id, w := range workers {
				if !live[id] {
					w.cancel()
					delete(workers, id)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// work delivers one stream: it keeps up to MaxInFlight resources' runs in flight,
// claiming more as earlier ones finish (which also frees the next SETs of their
// resources), and records the outcomes that finished since the last claim in one
// transaction. It claims in batches: when a quarter of the slots are free, when nothing
// is in flight, or after Idle; a claim for each freed slot would be a claim cycle (and an
// outcome transaction) per SET.
func (d *Deliverer) work(ctx context.Context, st store.Stream) {
	done := make(chan []result, d.cfg.MaxInFlight)
	batch := max(1, d.cfg.MaxInFlight/4)
	inflight := 0
	var finished []result
	collect := func() {
		for {
			select {
			case r := <-done:
				finished = append(finished, r...)
				inflight--
			default:
				return
			}
		}
	}
	idled := false
	wait := func() {
		idle := time.NewTimer(d.cfg.Idle)
		defer idle.Stop()
		select {
		case <-ctx.Done():
		case r := <-done:
			finished = append(finished, r...)
			inflight--
		case <-idle.C:
			idled = true
		}
	}
	defer func() { // let the sends end (ctx is done), and record what they did
		for inflight > 0 {
			finished = append(finished, <-done...)
			inflight--
		}
		d.record(ctx, st, finished)
	}()
	for ctx.Err() == nil {
		collect()
		free := d.cfg.MaxInFlight - inflight
		if inflight > 0 && free < batch && !idled {
			wait()
			continue
		}
		idled = false
		d.record(ctx, st, finished)
		finished = finished[:0]
		var runs [][]store.Delivery
		if free > 0 {
			at := d.now()
			claimed, err := d.store.ClaimDeliveries(ctx, st.ID, at, d.lease(), free, d.cfg.MaxRun)
			if err != nil && ctx.Err() == nil {
				d.log.Warn("SETs not claimed", "stream", st.ID, "err", err)
			}
			runs = byResource(claimed)
			for _, run := range runs {
				inflight++
				go func() { done <- d.sendRun(ctx, st, at, run) }()
			}
		}
		if len(runs) > 0 && inflight < d.cfg.MaxInFlight {
			continue // more may be due
		}
		wait()
	}
}

// byResource splits claimed SETs into runs, one per resource, each in commit order.
func byResource(claimed []store.Delivery) [][]store.Delivery {
	var runs [][]store.Delivery
	at := map[[2]string]int{}
	for _, dl := range claimed {
		k := [2]string{dl.Event.TenantID, dl.Event.ResourceID}
		i, ok := at[k]
		if !ok {
			i = len(runs)
			at[k] = i
			runs = append(runs, nil)
		}
		runs[i] = append(runs[i], dl)
	}
	return runs
}

// sendRun sends one resource's claimed SETs one after the other, in commit order. It
// stops at a SET that will be retried (the next ones must wait for it), when ctx ends, or
// when a further send could outlast the claim's lease; the SETs it did not send go back
// unsent. A parked SET does not stop it: the resource's next SET goes.
func (d *Deliverer) sendRun(ctx context.Context, st store.Stream, claimedAt time.Time, run []store.Delivery) []result {
	out := make([]result, 0, len(run))
	for i, dl := range run {
		if i > 0 && (ctx.Err() != nil || d.now().Sub(claimedAt) > d.cfg.Timeout) {
			for _, rest := range run[i:] {
				out = append(out, result{dl: rest, o: store.DeliveryOutcome{TenantID: rest.Event.TenantID, EventID: rest.Event.ID,
					Claim: rest.Claim, Unsent: true}})
			}
			break
		}
		r := d.send(ctx, st, dl)
		out = append(out, r)
		if r.o.State == store.DeliveryPending {
			for _, rest := range run[i+1:] {
				out = append(out, result{dl: rest, o: store.DeliveryOutcome{TenantID: rest.Event.TenantID, EventID: rest.Event.ID,
					Claim: rest.Claim, Unsent: true}})
			}
			break
		}
	}
	return out
}

// lease is how long a claim holds a SET: past it another deliverer may take the SET again.
// A run starts its sends within Timeout of its claim, each bounded by Timeout, so they
// end inside the lease with 5 s to record them.
func (d *Deliverer) lease() time.Duration { return 2*d.cfg.Timeout + 5*time.Second }

// DeliverOnce claims the stream's due SETs (up to MaxInFlight resources' runs), sends
// the runs concurrently, and records the outcomes; it returns how many SETs it claimed.
// Tests and benchmarks drive a stream with it; Run uses the same steps.
func (d *Deliverer) DeliverOnce(ctx context.Context, st store.Stream) (int, error) {
	at := d.now()
	claimed, err := d.store.ClaimDeliveries(ctx, st.ID, at, d.lease(), d.cfg.MaxInFlight, d.cfg.MaxRun)
	if err != nil {
		return 0, err
	}
	runs := byResource(claimed)
	results := make([][]result, len(runs))
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = d.sendRun(ctx, st, at, run)
		}()
	}
	wg.Wait()
	d.record(ctx, st, slices.Concat(results...))
	return len(claimed), nil
}

// result is what became of one sent SET.
type result struct {
	dl      store.Delivery
	o       store.DeliveryOutcome
	outcome string // the metric's outcome label
	at      time.Time
}

// send sends one claimed SET and decides what becomes of it.
func (d *Deliverer) send(ctx context.Context, st store.Stream, dl store.Delivery) result {
	o := d.attempt(ctx, st, dl)
	o.TenantID, o.EventID, o.Claim, o.ResourceID = dl.Event.TenantID, dl.Event.ID, dl.Claim, dl.Event.ResourceID
	now := d.now()
	outcome := OutcomeDelivered
	switch {
	case o.State == store.DeliveryPending && now.Sub(dl.EnqueuedAt) >= d.cfg.MaxAge:
		o.State, o.Error = store.DeliveryParked, fmt.Sprintf("gave up after %d attempts over %s: %s", dl.Attempts, d.cfg.MaxAge, o.Error)
		outcome = OutcomeParked
	case o.State == store.DeliveryPending:
		outcome = OutcomeRetry
	case o.State == store.DeliveryParked:
		outcome = OutcomeParked
	case o.Error == OutcomeSkipped:
		outcome, o.Error = OutcomeSkipped, ""
	}
	return result{dl: dl, o: o, outcome: outcome, at: now}
}

// record writes the outcomes of sent SETs in one transaction, and counts them. It runs even
// when ctx has ended (shutdown): the SETs were sent. A failure leaves them to be sent
// again when their claims expire.
func (d *Deliverer) record(ctx context.Context, st store.Stream, rs []result) {
	if len(rs) == 0 {
		return
	}
	outs := make([]store.DeliveryOutcome, len(rs))
	for i, r := range rs {
		outs[i] = r.o
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := d.store.FinishDeliveries(wctx, st.ID, d.now(), outs); err != nil {
		d.log.Warn("SET outcomes not recorded; the SETs will be sent again", "stream", st.ID, "n", len(rs), "err", err)
		return
	}
	for _, r := range rs {
		if r.o.Unsent {
			continue
		}
		d.m.count(st.ID, r.outcome, 1)
		switch r.outcome {
		case OutcomeDelivered:
			d.m.observe(st.ID, r.dl.Event.At, r.at)
		case OutcomeParked:
			d.log.Warn("SET parked", "stream", st.ID, "jti", JTI(st.ID, r.dl), "attempts", r.dl.Attempts, "error", r.o.Error)
		}
	}
}

// attempt sends the SET once and says what to do with it.
func (d *Deliverer) attempt(ctx context.Context, st store.Stream, dl store.Delivery) store.DeliveryOutcome {
	if dl.Event.Name == "" {
		return store.DeliveryOutcome{State: store.DeliveryParked, Error: "the change's audit event was deleted (retention)"}
	}
	_, set, ok, err := Sign(ctx, d.signer, d.cfg.Issuer, st, dl, d.now())
	if err != nil {
		return d.retry(dl, 0, err.Error())
	}
	if !ok {
		return store.DeliveryOutcome{State: store.DeliveryDelivered, Error: OutcomeSkipped}
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, st.URL, strings.NewReader(set))
	if err != nil {
		return store.DeliveryOutcome{State: store.DeliveryParked, Error: "bad receiver URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", MediaType)
	req.Header.Set("Accept", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return d.retry(dl, 0, "interrupted: scimd is shutting down")
		}
		return d.retry(dl, 0, err.Error())
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return store.DeliveryOutcome{State: store.DeliveryDelivered}
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return d.retry(dl, retryAfter(resp.Header.Get("Retry-After")), describe(code, body))
	case code >= 400 && code < 500:
		// The receiver refuses this SET (RFC 8935 §2.3: err and description); sending
		// it again would be refused again.
		return store.DeliveryOutcome{State: store.DeliveryParked, Error: describe(code, body)}
	default:
		return d.retry(dl, retryAfter(resp.Header.Get("Retry-After")), describe(code, body))
	}
}

// retry schedules the next attempt: exponential backoff with jitter, or the receiver's
// Retry-After when it gave one (bounded by MaxBackoff).
func (d *Deliverer) retry(dl store.Delivery, after time.Duration, why string) store.DeliveryOutcome {
	wait := d.cfg.BaseBackoff
	for i := 1; i < dl.Attempts && wait < d.cfg.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, d.cfg.MaxBackoff)
	wait = wait/2 + rand.N(wait/2+1)
	if after > 0 {
		wait = min(after, d.cfg.MaxBackoff)
	}
	return store.DeliveryOutcome{State: store.DeliveryPending, NextAt: d.now().Add(wait), Error: why}
}

func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}

// describe summarises a receiver's refusal: the status and, when the body is RFC 8935's
// error object, its err and description.
func describe(code int, body []byte) string {
	var e struct {
		Err         string `json:"err"`
		Description string `json:"description"`
	}
	msg := fmt.Sprintf("HTTP %d", code)
	if json.Unmarshal(bytes.TrimSpace(body), &e) == nil && e.Err != "" {
		msg += ": " + e.Err
		if e.Description != "" {
			msg += ": " + e.Description
		}
	}
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return msg
}
