package saml

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	csaml "github.com/crewjam/saml"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// requestIDHeader is where the server's middleware puts the request id, before any
// handler runs: reading it from the response header keeps this package free of the
// server's context keys.
const requestIDHeader = "X-Request-Id"

// sha1Algorithms are the XML Signature SignatureMethod and DigestMethod algorithms based on
// SHA-1, which the service provider refuses.
var sha1Algorithms = map[string]bool{
	"http://www.w3.org/2000/09/xmldsig#rsa-sha1":        true,
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": true,
	"http://www.w3.org/2000/09/xmldsig#dsa-sha1":        true,
	"http://www.w3.org/2000/09/xmldsig#hmac-sha1":       true,
	"http://www.w3.org/2000/09/xmldsig#sha1":            true,
}

const dsigNS = "http://www.w3.org/2000/09/xmldsig#"

// responseFacts are what a refused response says about itself, read only to explain the
// refusal: nothing here is trusted.
type responseFacts struct {
	sha1         string    // the first SHA-1 based algorithm of a signature, or ""
	signingCert  string    // base64 DER of the first certificate in a signature's KeyInfo
	issueInstant time.Time // of the Response (or, failing that, the Assertion)
}

// factsOf scans the decoded response (already known to be well-formed and free of
// directives).
func factsOf(raw []byte) responseFacts {
	var f responseFacts
	dec := xml.NewDecoder(bytes.NewReader(raw))
	inCert := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return f
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch {
			case tok.Name.Space == dsigNS && (tok.Name.Local == "SignatureMethod" || tok.Name.Local == "DigestMethod"):
				for _, a := range tok.Attr {
					if a.Name.Local == "Algorithm" && sha1Algorithms[a.Value] && f.sha1 == "" {
						f.sha1 = a.Value
					}
				}
			case tok.Name.Space == dsigNS && tok.Name.Local == "X509Certificate" && f.signingCert == "":
				inCert = true
			case tok.Name.Local == "Response" || tok.Name.Local == "Assertion":
				for _, a := range tok.Attr {
					if a.Name.Local == "IssueInstant" && f.issueInstant.IsZero() {
						f.issueInstant, _ = time.Parse(time.RFC3339Nano, a.Value)
					}
				}
			}
		case xml.CharData:
			if inCert {
				f.signingCert += strings.Join(strings.Fields(string(tok)), "")
			}
		case xml.EndElement:
			inCert = false
		}
	}
}

// fingerprint is the SHA-256 fingerprint of a DER certificate, as admins compare them
// (upper-case hex pairs joined by colons), shortened to its first 8 bytes.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, 8)
	for i := range parts {
		parts[i] = strings.ToUpper(hex.EncodeToString(sum[i : i+1]))
	}
	return strings.Join(parts, ":")
}

// explain fills in what the administrator is told about a refusal the library classified
// (the page the browser sees stays short), and turns a SHA-1 signature from "wrong
// certificate" into what it is.
func (s *Service) explain(lerr *loginError, raw []byte, cfg store.SAMLConfig) *loginError {
	f := factsOf(raw)
	private := lerr.cause
	var ire *csaml.InvalidResponseError
	if errors.As(lerr.cause, &ire) && ire.PrivateErr != nil {
		private = ire.PrivateErr
	}
	detail := ""
	if private != nil {
		detail = private.Error()
	}
	now := s.now()
	switch {
	case lerr.reason == ReasonBadSignature && f.sha1 != "":
		lerr.msg = "The identity provider signs with SHA-1; switch it to SHA-256. (Its administrator sets the signing algorithm of this application to RSA-SHA256.)"
		detail = fmt.Sprintf("the IdP signs with SHA-1 (%s); switch it to SHA-256", f.sha1)
	case lerr.reason == ReasonBadSignature:
		configured := []string{}
		if certs, err := parseStoredCerts(cfg.IdPCertPEM); err == nil {
			for _, c := range certs {
				configured = append(configured, fingerprint(c.Raw))
			}
		}
		signer := "no certificate in the signature"
		if der, err := base64.StdEncoding.DecodeString(f.signingCert); err == nil && len(der) > 0 {
			signer = "signing certificate " + fingerprint(der)
			if c, err := x509.ParseCertificate(der); err == nil {
				signer += fmt.Sprintf(" (subject %q, valid %s to %s)", c.Subject.CommonName, c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly))
			}
		}
		detail = fmt.Sprintf("signature not verified: %s; %s; configured IdP certificates (SHA-256): %s",
			detail, signer, strings.Join(configured, ", "))
	case (lerr.reason == ReasonExpired || lerr.reason == ReasonNotYetValid) && !f.issueInstant.IsZero():
		off := now.Sub(f.issueInstant).Round(time.Second)
		when := fmt.Sprintf("issued %s ago", off)
		if off < 0 {
			when = fmt.Sprintf("issued %s in the future", -off)
		}
		detail = fmt.Sprintf("%s: the response was %s by this server's clock (%s); the allowed clock skew is %s (--saml-clock-skew)",
			detail, when, now.Format(time.RFC3339), ClockSkew())
	}
	lerr.admin = detail
	return lerr
}

// crossSiteHint is added to a refusal that an http public URL likely caused: over plain
// http the request-binding cookie cannot be SameSite=None (browsers require Secure), so a
// browser drops it on the IdP's cross-site POST and the response matches no sign-in.
const crossSiteHint = " This server's address is plain http, so your browser did not send its sign-in cookie with the identity provider's cross-site response; sign-in started here works only over https."

// hintHTTP names the likely cause of an SP-initiated login that arrived without its
// request-binding cookie when the public URL is http.
func (s *Service) hintHTTP(lerr *loginError, hadCookie bool) *loginError {
	if s.secure || hadCookie || lerr.reason != ReasonInResponseTo {
		return lerr
	}
	lerr.msg += crossSiteHint
	if lerr.admin == "" {
		lerr.admin = "no request-binding cookie arrived with the response"
	}
	lerr.admin += "; the public URL is http, so browsers drop the SameSite=Lax cookie on the IdP's cross-site POST: serve scimd over https"
	return lerr
}

// refusalAudit bounds the audit events of refused logins: anyone can post to an ACS, so
// at most refusalAuditPerMinute are written per tenant and minute by one replica (every
// refusal is still logged and counted).
type refusalAudit struct {
	mu     sync.Mutex
	minute int64
	counts map[string]int
}

const refusalAuditPerMinute = 20

func (a *refusalAudit) allow(tenant string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := now.Unix() / 60
	if m != a.minute || a.counts == nil {
		a.minute, a.counts = m, map[string]int{}
	}
	if a.counts[tenant] >= refusalAuditPerMinute {
		return false
	}
	a.counts[tenant]++
	return true
}

// maxAuditDetail bounds the detail of an audit event (a private error may quote the
// response).
const maxAuditDetail = 500

// refused logs a refused or failed login with the request id, tenant, reason and the
// library's private error, and records it in the tenant's audit log for its admins.
func (s *Service) refused(ctx context.Context, w http.ResponseWriter, t store.Tenant, lerr *loginError) {
	level := "refused"
	if reasonOutcome[lerr.reason] == OutcomeError {
		level = "failed"
	}
	cause := lerr.cause
	var ire *csaml.InvalidResponseError
	if errors.As(cause, &ire) && ire.PrivateErr != nil {
		cause = ire.PrivateErr
	}
	admin := lerr.admin
	if admin == "" && cause != nil {
		admin = cause.Error()
	}
	if admin == "" {
		admin = lerr.msg
	}
	if len(admin) > maxAuditDetail {
		admin = admin[:maxAuditDetail] + "…"
	}
	s.log.WarnContext(ctx, "saml login "+level, "request_id", w.Header().Get(requestIDHeader), "tenant", t.Slug,
		"reason", lerr.reason, "err", cause, "detail", admin)
	if !s.audit.allow(t.ID, s.now()) {
		return
	}
	outcome := directory.OutcomeClientErr
	if level == "failed" {
		outcome = directory.OutcomeServerErr
	}
	ev := &store.Event{TenantID: t.ID, At: s.now(), Name: directory.EventSAMLLoginRefused, Outcome: outcome, Actor: "saml",
		ResourceType: "SAML", ResourceName: lerr.reason, Detail: admin}
	if err := s.store.AppendEvent(context.WithoutCancel(ctx), ev); err != nil {
		s.log.WarnContext(ctx, "saml: audit event not written", "tenant", t.Slug, "err", err)
	}
}
