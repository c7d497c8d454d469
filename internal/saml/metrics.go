package saml

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// Outcomes and reasons of a login, the labels of scimd_saml_logins_total. Reasons are a
// fixed set: never user input.
const (
	OutcomeSuccess = "success"
	OutcomeRefused = "refused"
	OutcomeError   = "error"

	ReasonSuccess       = "success"
	ReasonUnsigned      = "unsigned"
	ReasonBadSignature  = "bad_signature"
	ReasonExpired       = "expired"
	ReasonNotYetValid   = "not_yet_valid"
	ReasonAudience      = "audience"
	ReasonDestination   = "destination"
	ReasonIssuer        = "issuer"
	ReasonInResponseTo  = "in_response_to"
	ReasonIdPInitiated  = "idp_initiated_not_allowed"
	ReasonReplay        = "replay"
	ReasonMalformed     = "malformed"
	ReasonDoctype       = "doctype"
	ReasonTooLarge      = "too_large"
	ReasonIdPStatus     = "idp_status"
	ReasonNoNameID      = "no_name_id"
	ReasonAmbiguousUser = "ambiguous_user"
	ReasonInactiveUser  = "inactive_user"
	ReasonJITDisabled   = "jit_disabled"
	ReasonJITFailed     = "jit_failed"
	ReasonNotConfigured = "not_configured"
	ReasonInternal      = "internal"
	ReasonUnavailable   = "unavailable"
	// ReasonThrottled: a login start refused by the per-address or per-tenant bound, or
	// because the tenant has too many pending requests.
	ReasonThrottled = "throttled"
)

// reasonOutcome is the outcome of each reason.
var reasonOutcome = map[string]string{
	ReasonSuccess:       OutcomeSuccess,
	ReasonUnsigned:      OutcomeRefused,
	ReasonBadSignature:  OutcomeRefused,
	ReasonExpired:       OutcomeRefused,
	ReasonNotYetValid:   OutcomeRefused,
	ReasonAudience:      OutcomeRefused,
	ReasonDestination:   OutcomeRefused,
	ReasonIssuer:        OutcomeRefused,
	ReasonInResponseTo:  OutcomeRefused,
	ReasonIdPInitiated:  OutcomeRefused,
	ReasonReplay:        OutcomeRefused,
	ReasonMalformed:     OutcomeRefused,
	ReasonDoctype:       OutcomeRefused,
	ReasonTooLarge:      OutcomeRefused,
	ReasonIdPStatus:     OutcomeRefused,
	ReasonNoNameID:      OutcomeRefused,
	ReasonAmbiguousUser: OutcomeRefused,
	ReasonInactiveUser:  OutcomeRefused,
	ReasonJITDisabled:   OutcomeRefused,
	ReasonJITFailed:     OutcomeError,
	ReasonNotConfigured: OutcomeRefused,
	ReasonInternal:      OutcomeError,
	ReasonUnavailable:   OutcomeError,
	ReasonThrottled:     OutcomeRefused,
}

type metrics struct {
	logins *prometheus.CounterVec
}

// newMetrics registers the login counter and, when st is not nil, the collector of the IdP
// certificates' expiry (per tenant when tenantLabel is set).
func newMetrics(reg prometheus.Registerer, st store.Store, tenantLabel bool, now func() time.Time) (*metrics, error) {
	m := &metrics{logins: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimd_saml_logins_total",
		Help: "SAML logins at the ACS (and login starts refused by a throttle, reason throttled) by outcome (success, refused, error) and reason (success, bad_signature, expired, replay, audience, destination, inactive_user, jit_disabled, …).",
	}, []string{"outcome", "reason"})}
	if err := reg.Register(m.logins); err != nil {
		return nil, err
	}
	for reason, outcome := range reasonOutcome {
		m.logins.WithLabelValues(outcome, reason)
	}
	if st != nil {
		if err := reg.Register(newCertCollector(st, tenantLabel, now)); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) login(reason string) {
	outcome, ok := reasonOutcome[reason]
	if !ok {
		outcome, reason = OutcomeError, ReasonInternal
	}
	m.logins.WithLabelValues(outcome, reason).Inc()
}

// certCollector reports how long until the tenants' IdP signing certificates expire. It
// reads the store at scrape time, so every replica reports the same numbers and a
// rotation shows at the next scrape.
type certCollector struct {
	st          store.Store
	tenantLabel bool
	now         func() time.Time
	expiry      *prometheus.Desc
	expiring    *prometheus.Desc
}

func newCertCollector(st store.Store, tenantLabel bool, now func() time.Time) *certCollector {
	c := &certCollector{st: st, tenantLabel: tenantLabel, now: now}
	if tenantLabel {
		c.expiry = prometheus.NewDesc("scimd_saml_idp_certificate_expiry_seconds",
			"Seconds until the soonest expiry among the tenant's IdP signing certificates (negative: expired).", []string{"tenant"}, nil)
		return c
	}
	c.expiry = prometheus.NewDesc("scimd_saml_idp_certificate_expiry_seconds",
		"Seconds until the soonest expiry among all tenants' IdP signing certificates (negative: expired); absent when no tenant has SAML.", nil, nil)
	c.expiring = prometheus.NewDesc("scimd_saml_idp_certificates_expiring",
		"Tenants with an IdP signing certificate expiring within 30 days (or expired).", nil, nil)
	return c
}

// Describe implements prometheus.Collector.
func (c *certCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.expiry
	if c.expiring != nil {
		ch <- c.expiring
	}
}

// Collect implements prometheus.Collector. A store error leaves the series out of the
// scrape (the alert then does not fire on stale data; scimd_store errors show the cause).
func (c *certCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tenants, err := c.st.Tenants(ctx)
	if err != nil {
		return
	}
	now := c.now()
	var soonest time.Duration
	found, expiring := false, 0
	for _, t := range tenants {
		cfg, err := c.st.SAMLConfig(ctx, t.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return
		}
		at, ok := sso.SoonestExpiry(sso.Certificates(cfg.IdPCertPEM))
		if !ok {
			continue
		}
		left := at.Sub(now)
		if c.tenantLabel {
			ch <- prometheus.MustNewConstMetric(c.expiry, prometheus.GaugeValue, left.Seconds(), t.Slug)
			continue
		}
		if left < sso.ExpiryWarning {
			expiring++
		}
		if !found || left < soonest {
			soonest, found = left, true
		}
	}
	if c.tenantLabel {
		return
	}
	if found {
		ch <- prometheus.MustNewConstMetric(c.expiry, prometheus.GaugeValue, soonest.Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.expiring, prometheus.GaugeValue, float64(expiring))
}
