package saml_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/saml"
)

// FuzzSLO sends arbitrary logout messages to a configured tenant's SingleLogoutService by
// both bindings (POST form and Redirect query, with or without a query signature): it never
// panics, never answers 5xx, never shows database error text, and never accepts an unsigned
// message (nothing here is signed by the tenant's IdP, so nothing may succeed).
func FuzzSLO(f *testing.F) {
	r, _ := fuzzTenant(f, saml.Settings{SLOURL: "https://idp.example.com/slo"})
	now := time.Now().UTC().Format(time.RFC3339)
	request := `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l1" Version="2.0" IssueInstant="` + now +
		`" Destination="https://sp.example.com/t/acme/saml/slo"><saml:Issuer>https://idp.example.com/metadata</saml:Issuer><saml:NameID>ann@example.com</saml:NameID><samlp:SessionIndex>s1</samlp:SessionIndex></samlp:LogoutRequest>`
	response := `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" InResponseTo="id-1" Version="2.0" IssueInstant="` + now +
		`" Destination="https://sp.example.com/t/acme/saml/slo"><saml:Issuer>https://idp.example.com/metadata</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`
	sig := `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>` +
		`<ds:Reference URI="#_l1"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>` +
		`<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>`
	signed := strings.Replace(request, `<saml:NameID>`, sig+`<saml:NameID>`, 1)
	for _, seed := range []struct {
		msg      string
		response bool
		redirect bool
		querySig bool
	}{
		{signed, false, false, false},
		{request, false, true, true},
		{request, false, false, false},
		{response, true, false, false},
		{response, true, true, true},
		{`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "xx">]><r>&x;</r>`, false, false, false},
		{"", false, true, false},
	} {
		f.Add(seed.msg, seed.response, seed.redirect, seed.querySig, "rs")
	}
	f.Fuzz(func(t *testing.T, msg string, response, redirect, querySig bool, relay string) {
		param := "SAMLRequest"
		if response {
			param = "SAMLResponse"
		}
		var req *http.Request
		if redirect {
			var buf bytes.Buffer
			fw, _ := flate.NewWriter(&buf, 1)
			fw.Write([]byte(msg))
			fw.Close()
			q := url.Values{param: {base64.StdEncoding.EncodeToString(buf.Bytes())}, "RelayState": {relay}}
			if querySig {
				q.Set("SigAlg", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
				q.Set("Signature", "AAAA")
			}
			req = httptest.NewRequest(http.MethodGet, "/t/acme/saml/slo?"+q.Encode(), nil)
		} else {
			form := url.Values{param: {base64.StdEncoding.EncodeToString([]byte(msg))}, "RelayState": {relay}}
			req = httptest.NewRequest(http.MethodPost, "/t/acme/saml/slo", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("SLO = %d: %s", rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			t.Fatalf("SLO accepted a message nobody signed: %d %s", rec.Code, rec.Body)
		}
		low := strings.ToLower(rec.Body.String())
		for _, s := range []string{"sqlstate", "sqlite", "pgx", "syntax error at", "goroutine "} {
			if strings.Contains(low, s) && !strings.Contains(strings.ToLower(msg+relay), s) {
				t.Fatalf("SLO response shows %q: %s", s, rec.Body)
			}
		}
	})
}
