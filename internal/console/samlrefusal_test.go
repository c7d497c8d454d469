package console_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/saml"
)

// TestConsoleAuditShowsSAMLRefusalReason: a refused sign-in through the real router is in
// the tenant's audit log with the reason for the administrator.
func TestConsoleAuditShowsSAMLRefusalReason(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme, "ann@acme.test", "admin")
	_, idpCert, err := saml.NewKeyPair("idp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := saml.Configure(ctx, e.dir, e.acme, saml.Settings{SSOURL: "https://idp.example.com/sso", Issuer: "https://idp.example.com/metadata",
		CertPEM: []byte(idpCert), JIT: true, AllowIdPInitiated: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A response with a signature no certificate verifies.
	now := time.Now().UTC().Format(time.RFC3339)
	acs := origin + "/t/acme/saml/acs"
	response := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="` + now +
		`" Destination="` + acs + `"><saml:Issuer>https://idp.example.com/metadata</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
		`<saml:Assertion ID="_a1" Version="2.0" IssueInstant="` + now + `"><saml:Issuer>https://idp.example.com/metadata</saml:Issuer>` +
		`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>` +
		`<ds:Reference URI="#_a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>` +
		`<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>` +
		`<saml:Subject><saml:NameID>bob@acme.test</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData Recipient="` + acs + `" NotOnOrAfter="2999-01-01T00:00:00Z"/></saml:SubjectConfirmation></saml:Subject>` +
		`<saml:Conditions NotBefore="2000-01-01T00:00:00Z" NotOnOrAfter="2999-01-01T00:00:00Z"><saml:AudienceRestriction><saml:Audience>` + origin + `/t/acme/saml/metadata</saml:Audience></saml:AudienceRestriction></saml:Conditions></saml:Assertion></samlp:Response>`
	r := e.do("POST", "/t/acme/saml/acs", url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(response))}}, nil)
	if r.status != 403 {
		t.Fatalf("ACS = %d:\n%s", r.status, r.body)
	}
	r = e.do("GET", "/t/acme/admin/events?event=saml_login_refused", nil, []*http.Cookie{e.session(e.acme, admin)})
	if r.status != 200 || !strings.Contains(r.body, "saml_login_refused") || !strings.Contains(r.body, "bad_signature") ||
		!strings.Contains(r.body, "signature not verified") || !strings.Contains(r.body, "configured IdP certificates") {
		t.Fatalf("audit log page = %d:\n%s", r.status, r.body)
	}
	if !strings.Contains(r.body, `<option value="saml_login_refused" selected>`) {
		t.Error("the event filter does not offer saml_login_refused")
	}
}
