package saml

import (
	"github.com/prometheus/client_golang/prometheus"
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

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
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
	return m, nil
}

func (m *metrics) login(reason string) {
	outcome, ok := reasonOutcome[reason]
	if !ok {
		outcome, reason = OutcomeError, ReasonInternal
	}
	m.logins.WithLabelValues(outcome, reason).Inc()
}
