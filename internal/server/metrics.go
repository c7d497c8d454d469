package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scimd/scimd/internal/store"
)

// Metrics are scimd's Prometheus metrics, registered on an injected registry. Every label
// value is bounded: route templates (never raw paths), known methods, status classes, event
// names, and tenant slugs only when turned on (Config.MetricsTenantLabel).
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	reqSize      *prometheus.HistogramVec
	respSize     *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	events       *prometheus.CounterVec
	rateLimited  prometheus.Counter
	dbDuration   *prometheus.HistogramVec
	dbErrors     *prometheus.CounterVec
	bulkRequests *prometheus.CounterVec
	bulkOps      *prometheus.CounterVec
	tenantLabel  bool
	reg          prometheus.Registerer // where New adds the database collector
}

// latencyBuckets resolve 1 ms to 10 s.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics creates the metrics and registers them, with the Go runtime and process
// collectors, on reg. tenantLabel adds a tenant label (the slug) to
// scimd_provisioning_events_total: one series per tenant, event and outcome, so it is for
// installations with a bounded number of tenants.
func NewMetrics(reg prometheus.Registerer, tenantLabel bool) *Metrics {
	sizeBuckets := prometheus.ExponentialBuckets(64, 4, 9) // 64 B … 4 MiB
	eventLabels := []string{"event", "outcome"}
	if tenantLabel {
		eventLabels = []string{"tenant", "event", "outcome"}
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_http_requests_total",
			Help: "HTTP requests by route template, method and status class.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimd_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: latencyBuckets,
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
			Help: "Provisioning audit events by event name and outcome (and tenant, when turned on).",
		}, eventLabels),
		dbDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimd_db_query_duration_seconds",
			Help:    "Latency of store operations (each one query or one transaction) by operation name.",
			Buckets: latencyBuckets,
		}, []string{"operation"}),
		dbErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_db_errors_total",
			Help: "Store operations that failed in the database (not: not found, conflicts, refusals) by operation name.",
		}, []string{"operation"}),
		bulkRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_bulk_requests_total",
			Help: "Bulk requests by outcome: success (every operation succeeded), partial (some failed), stopped (failOnErrors, the rate limit or the timeout ended it early), refused (not run at all).",
		}, []string{"outcome"}),
		bulkOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_bulk_operations_total",
			Help: "Operations of bulk requests by method and outcome: success, client_error, server_error, or skipped (not run because the bulk stopped early).",
		}, []string{"method", "outcome"}),
		tenantLabel: tenantLabel,
		reg:         reg,
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.reqSize, m.respSize, m.authFailures, m.events, m.rateLimited,
		m.dbDuration, m.dbErrors, m.bulkRequests, m.bulkOps,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, reason := range []string{"missing", "malformed", "unknown", "revoked"} {
		m.authFailures.WithLabelValues(reason)
	}
	return m
}

// ObserveEvent counts an audit event; tenant (the slug) is used only when the tenant label
// is on.
func (m *Metrics) ObserveEvent(ev store.Event, tenant string) {
	if m.tenantLabel {
		m.events.WithLabelValues(tenant, ev.Name, ev.Outcome).Inc()
		return
	}
	m.events.WithLabelValues(ev.Name, ev.Outcome).Inc()
}

// ObserveOp is the store.OpObserver of the instrumented store.
func (m *Metrics) ObserveOp(op string, took time.Duration, failed bool) {
	m.dbDuration.WithLabelValues(op).Observe(took.Seconds())
	if failed {
		m.dbErrors.WithLabelValues(op).Inc()
	}
}

// EventObserver returns the directory.Observer that counts audit events, with the slug of
// their tenant (read from tenants once per tenant and process; slugs never change) when the
// tenant label is on.
func (m *Metrics) EventObserver(tenants store.TenantStore) func(ev store.Event) {
	var slugs sync.Map // tenant id → slug
	return func(ev store.Event) {
		slug := ""
		if m.tenantLabel {
			if v, ok := slugs.Load(ev.TenantID); ok {
				slug = v.(string)
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				t, err := tenants.Tenant(ctx, ev.TenantID)
				cancel()
				slug = "unknown"
				if err == nil {
					slug = t.Slug
					slugs.Store(ev.TenantID, slug)
				}
			}
		}
		m.ObserveEvent(ev, slug)
	}
}

func statusClass(code int) string {
	return strconv.Itoa(code/100) + "xx"
}

// methodLabel bounds the method label: a client may send any token as the method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions:
		return m
	}
	return "other"
}

// instrument records the HTTP metrics, labelled by chi's route template (never the raw
// path: ids and filters do not become label values).
func (s *edge) instrument(next http.Handler) http.Handler {
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
		method := methodLabel(r.Method)
		s.metrics.requests.WithLabelValues(route, method, statusClass(status)).Inc()
		s.metrics.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		if r.ContentLength > 0 {
			s.metrics.reqSize.WithLabelValues(route).Observe(float64(r.ContentLength))
		}
		s.metrics.respSize.WithLabelValues(route).Observe(float64(sw.bytes - before))
	})
}

// dbCollector reports the database at scrape time: the connection pool, whether the
// database answers, and the migration version applied and expected.
type dbCollector struct {
	pool     store.Health
	check    func(ctx context.Context) readiness
	timeout  time.Duration
	expected int

	acquired, idle, total, max, waits, waitTime, up, version, expectedVersion *prometheus.Desc
}

func newDBCollector(pool store.Health, check func(ctx context.Context) readiness, timeout time.Duration, expected int) *dbCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &dbCollector{pool: pool, check: check, timeout: timeout, expected: expected,
		acquired:        d("scimd_db_pool_acquired_connections", "Database connections in use."),
		idle:            d("scimd_db_pool_idle_connections", "Open database connections not in use."),
		total:           d("scimd_db_pool_total_connections", "Open database connections."),
		max:             d("scimd_db_pool_max_connections", "The most database connections the pool opens."),
		waits:           d("scimd_db_pool_acquire_waits_total", "Connection acquisitions that waited for a free connection."),
		waitTime:        d("scimd_db_pool_acquire_wait_seconds_total", "Time spent waiting for a free connection."),
		up:              d("scimd_db_up", "1 when the database answered a ping at scrape time, else 0."),
		version:         d("scimd_db_migration_version", "Highest migration applied to the database."),
		expectedVersion: d("scimd_db_migration_expected_version", "Highest migration this binary embeds."),
	}
}

// Describe implements prometheus.Collector.
func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.waits, c.waitTime, c.up, c.version, c.expectedVersion} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.PoolStats()
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(st.Acquired))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(st.Idle))
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(st.Total))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(st.Max))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(st.Waits))
	ch <- prometheus.MustNewConstMetric(c.waitTime, prometheus.CounterValue, st.WaitTime.Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	rd := c.check(ctx)
	up := 0.0
	if rd.reachable {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	if rd.version >= 0 {
		ch <- prometheus.MustNewConstMetric(c.version, prometheus.GaugeValue, float64(rd.version))
	}
	if c.expected > 0 {
		ch <- prometheus.MustNewConstMetric(c.expectedVersion, prometheus.GaugeValue, float64(c.expected))
	}
}
