package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scimd/scimd/internal/store"
)

// Metrics are scimd's Prometheus metrics, registered on an injected registry.
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	reqSize      *prometheus.HistogramVec
	respSize     *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	events       *prometheus.CounterVec
	rateLimited  prometheus.Counter
}

// NewMetrics creates the metrics and registers them, with the Go runtime and process
// collectors, on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	sizeBuckets := prometheus.ExponentialBuckets(64, 4, 9) // 64 B … 4 MiB
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_http_requests_total",
			Help: "HTTP requests by route template, method and status class.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimd_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scimd_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		reqSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scimd_http_request_size_bytes", Help: "HTTP request body sizes by route template.", Buckets: sizeBuckets,
		}, []string{"route"}),
		respSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scimd_http_response_size_bytes", Help: "HTTP response body sizes by route template.", Buckets: sizeBuckets,
		}, []string{"route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_auth_failures_total",
			Help: "Refused SCIM bearer tokens by reason (missing, malformed, unknown, revoked).",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_rate_limited_total",
			Help: "SCIM requests refused with 429 by the per-tenant rate limit.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_provisioning_events_total",
			Help: "Provisioning audit events by event name and outcome.",
		}, []string{"event", "outcome"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.reqSize, m.respSize, m.authFailures, m.events, m.rateLimited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, reason := range []string{"missing", "malformed", "unknown", "revoked"} {
		m.authFailures.WithLabelValues(reason)
	}
	return m
}

// ObserveEvent counts an audit event.
func (m *Metrics) ObserveEvent(ev store.Event) {
	m.events.WithLabelValues(ev.Name, ev.Outcome).Inc()
}

func statusClass(code int) string {
	return strconv.Itoa(code/100) + "xx"
}

// instrument records the HTTP metrics, labelled by chi's route template (never the raw
// path: ids and filters do not become label values).
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		before := sw.bytes
		next.ServeHTTP(sw, r)
		route := routePattern(r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, r.Method, statusClass(status)).Inc()
		s.metrics.duration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
		if r.ContentLength > 0 {
			s.metrics.reqSize.WithLabelValues(route).Observe(float64(r.ContentLength))
		}
		s.metrics.respSize.WithLabelValues(route).Observe(float64(sw.bytes - before))
	})
}
