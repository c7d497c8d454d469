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
	// Encrypted assertions: a plain one where the tenant requires encryption, one that no
	// SP key decrypts, and AES-CBC in a Response whose own signature is missing.
	ReasonNotEncrypted = "not_encrypted"
	ReasonDecryption   = "decryption_failed"
	ReasonCBCUnsigned  = "cbc_response_unsigned"
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
	ReasonNotEncrypted:  OutcomeRefused,
	ReasonDecryption:    OutcomeRefused,
	ReasonCBCUnsigned:   OutcomeRefused,
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

// certCollector reports how long until the tenants' certificates expire: the IdP signing
// certificates and the SP's own (current) certificate, each kind as its own metrics. It
// reads the store at scrape time, so every replica reports the same numbers and a rotation
// shows at the next scrape.
type certCollector struct {
	st          store.Store
	tenantLabel bool
	now         func() time.Time
	kinds       []certKind
}

// certKind is one kind of certificate the collector reports: where a tenant's settings
// hold it, and its metrics (expiring is nil with the tenant label).
type certKind struct {
	pem              func(store.SAMLConfig) string
	expiry, expiring *prometheus.Desc
}

func newCertCollector(st store.Store, tenantLabel bool, now func() time.Time) *certCollector {
	c := &certCollector{st: st, tenantLabel: tenantLabel, now: now}
	for _, k := range []struct {
		name, what string
		pem        func(store.SAMLConfig) string
	}{
		{"idp", "IdP signing certificates", func(cfg store.SAMLConfig) string { return cfg.IdPCertPEM }},
		{"sp", "SP certificates (scimd's own, signing AuthnRequests and decrypting assertions)", func(cfg store.SAMLConfig) string { return cfg.SPCertPEM }},
	} {
		kind := certKind{pem: k.pem}
		if tenantLabel {
			kind.expiry = prometheus.NewDesc("scimd_saml_"+k.name+"_certificate_expiry_seconds",
				"Seconds until the soonest expiry among the tenant's "+k.what+" (negative: expired).", []string{"tenant"}, nil)
		} else {
			kind.expiry = prometheus.NewDesc("scimd_saml_"+k.name+"_certificate_expiry_seconds",
				"Seconds until the soonest expiry among all tenants' "+k.what+" (negative: expired); absent when no tenant has SAML.", nil, nil)
			kind.expiring = prometheus.NewDesc("scimd_saml_"+k.name+"_certificates_expiring",
				"Tenants with one of their "+k.what+" expiring within 30 days (or expired).", nil, nil)
		}
		c.kinds = append(c.kinds, kind)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *certCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, k := range c.kinds {
		ch <- k.expiry
		if k.expiring != nil {
			ch <- k.expiring
		}
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
	soonest := make([]time.Duration, len(c.kinds))
	found, expiring := make([]bool, len(c.kinds)), make([]int, len(c.kinds))
	var metrics []prometheus.Metric // sent once every tenant is read
	for _, t := range tenants {
		cfg, err := c.st.SAMLConfig(ctx, t.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return
		}
		for i, k := range c.kinds {
			at, ok := sso.SoonestExpiry(sso.Certificates(k.pem(cfg)))
			if !ok {
				continue
			}
			left := at.Sub(now)
			if c.tenantLabel {
				metrics = append(metrics, prometheus.MustNewConstMetric(k.expiry, prometheus.GaugeValue, left.Seconds(), t.Slug))
				continue
			}
			if left < sso.ExpiryWarning {
				expiring[i]++
			}
			if !found[i] || left < soonest[i] {
				soonest[i], found[i] = left, true
			}
		}
	}
	for _, m := range metrics {
		ch <- m
	}
	if c.tenantLabel {
		return
	}
	for i, k := range c.kinds {
		if found[i] {
			ch <- prometheus.MustNewConstMetric(k.expiry, prometheus.GaugeValue, soonest[i].Seconds())
		}
		ch <- prometheus.MustNewConstMetric(k.expiring, prometheus.GaugeValue, float64(expiring[i]))
	}
}
