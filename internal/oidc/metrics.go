package oidc

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of scimd_oidc_requests_total.
const (
	OutcomeSuccess     = "success"
	OutcomeClientError = "client_error"
	OutcomeServerError = "server_error"
)

// refusalReasons are the labels of scimd_oidc_refusals_total: a fixed set, never input.
var refusalReasons = []string{"pkce_required", "pkce_method", "no_organization", "unknown_organization", "no_sso",
	"user_deactivated", "user_deleted", "other_browser", "wrong_secret", "code_reuse", "refresh_token_reuse"}

type metrics struct {
	requests *prometheus.CounterVec
	refusals *prometheus.CounterVec
	signIn   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scimd_oidc_requests_total",
			Help: "OpenID Connect provider requests by endpoint and outcome (an error redirected to the application counts as client_error)."},
			[]string{"endpoint", "outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scimd_oidc_refusals_total",
			Help: "Sign-ins, codes and refreshes refused by the OpenID Connect provider, by reason."}, []string{"reason"}),
		signIn: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "scimd_oidc_sign_in_duration_seconds",
			Help:    "Time from an application's authorization request to its code, including the IdP login.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.refusals, m.signIn} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range refusalReasons {
		m.refusals.WithLabelValues(r)
	}
	for _, e := range []string{"discovery", "jwks", "authorize", "login", "resume", "token", "userinfo", "revoke", "introspect"} {
		for _, o := range []string{OutcomeSuccess, OutcomeClientError, OutcomeServerError} {
			m.requests.WithLabelValues(e, o)
		}
	}
	return m, nil
}

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

// statusRecorder keeps the status and Location of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Bounds of one request to the provider: its parameters are a few short values.
const (
	maxBodyBytes   = 64 << 10
	requestTimeout = 15 * time.Second
)

// count counts the requests of an endpoint by outcome, and bounds each request's body and
// time.
func (p *Provider) count(endpoint string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		if r.ContentLength > maxBodyBytes {
			http.Error(rec, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
			ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
			next(rec, r.WithContext(ctx))
			cancel()
		}
		p.metrics.requests.WithLabelValues(endpoint, outcome(rec.status, w.Header().Get("Location"))).Inc()
	}
}

// outcome classifies a response; a redirect that carries error= is the application being
// told of a refusal.
func outcome(status int, location string) string {
	switch {
	case status >= 500:
		return OutcomeServerError
	case status >= 400:
		return OutcomeClientError
	case status >= 300 && location != "":
		if u, err := url.Parse(location); err == nil {
			if u.Query().Get("error") != "" {
				return OutcomeClientError
			}
			if f, err := url.ParseQuery(u.Fragment); err == nil && f.Get("error") != "" {
				return OutcomeClientError
			}
		}
	}
	return OutcomeSuccess
}
