package events

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/store"
)

// Delivery outcomes, the outcome label of scimd_events_delivered_total.
const (
	OutcomeDelivered = "delivered" // the receiver accepted the SET (push), or acknowledged it (poll)
	OutcomeRetry     = "retry"     // the attempt failed; the SET is tried again later
	OutcomeParked    = "parked"    // given up: refused by the receiver, or retried past the limit
	OutcomeSkipped   = "skipped"   // the stream keeps none of the change's events: nothing to send
	OutcomePolled    = "polled"    // handed to a poller, awaiting its acknowledgement
)

// Metrics are the event delivery metrics. Labels are stream ids, bounded by the number of
// streams (MaxStreams).
type Metrics struct {
	delivered *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// NewMetrics registers the delivery metrics on reg, with a collector that reads each
// stream's backlog (lag, undelivered and parked SETs) from s at scrape time.
func NewMetrics(reg prometheus.Registerer, s store.EventStreamStore) *Metrics {
	m := &Metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_events_delivered_total",
			Help: "SET delivery attempts and acknowledgements by stream and outcome (delivered, retry, parked, skipped, polled).",
		}, []string{"stream", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimd_events_delivery_latency_seconds",
			Help:    "Time from a provisioning change to its SET's acceptance by the receiver.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400},
		}, []string{"stream"}),
	}
	reg.MustRegister(m.delivered, m.latency)
	if s != nil {
		reg.MustRegister(&backlogCollector{s: s})
	}
	return m
}

func (m *Metrics) count(stream, outcome string, n int) {
	if m != nil && n > 0 {
		m.delivered.WithLabelValues(stream, outcome).Add(float64(n))
	}
}

func (m *Metrics) observe(stream string, since time.Time, now time.Time) {
	if m != nil && !since.IsZero() {
		m.latency.WithLabelValues(stream).Observe(now.Sub(since).Seconds())
	}
}

var (
	lagDesc = prometheus.NewDesc("scimd_events_lag_seconds",
		"Age of the oldest undelivered SET of the stream (0 when none).", []string{"stream"}, nil)
	undeliveredDesc = prometheus.NewDesc("scimd_events_undelivered",
		"SETs of the stream waiting for delivery or acknowledgement.", []string{"stream"}, nil)
	parkedDesc = prometheus.NewDesc("scimd_events_parked",
		"SETs of the stream given up on (parked), kept for inspection and replay.", []string{"stream"}, nil)
)

// backlogCollector reads the backlog of every stream at scrape time, so that every replica
// reports the same numbers from the database.
type backlogCollector struct{ s store.EventStreamStore }

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- undeliveredDesc
	ch <- parkedDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	streams, err := c.s.Streams(ctx)
	if err != nil {
		return
	}
	stats, err := c.s.StreamStats(ctx)
	if err != nil {
		return
	}
	by := map[string]store.StreamStats{}
	for _, st := range stats {
		by[st.StreamID] = st
	}
	now := time.Now()
	for _, st := range streams {
		s := by[st.ID]
		lag := 0.0
		if !s.OldestPending.IsZero() {
			lag = max(0, now.Sub(s.OldestPending).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag, st.ID)
		ch <- prometheus.MustNewConstMetric(undeliveredDesc, prometheus.GaugeValue, float64(s.Undelivered), st.ID)
		ch <- prometheus.MustNewConstMetric(parkedDesc, prometheus.GaugeValue, float64(s.Parked), st.ID)
	}
}
