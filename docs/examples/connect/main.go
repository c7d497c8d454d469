// Command connect is the example of docs/connect-your-application.md: an application that
// signs its users in through scimd with go-oidc and x/oauth2.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, os.Getenv("SCIMD_URL")) // the discovery document
	if err != nil {
		log.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: os.Getenv("CLIENT_ID"), ClientSecret: os.Getenv("CLIENT_SECRET"),
		Endpoint: provider.Endpoint(), RedirectURL: "http://127.0.0.1:3000/callback",
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups", oidc.ScopeOfflineAccess}}
	verifier := provider.Verifier(&oidc.Config{ClientID: conf.ClientID})

	http.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		state, nonce, pkce := random(), random(), oauth2.GenerateVerifier()
		for name, v := range map[string]string{"state": state, "nonce": nonce, "pkce": pkce} {
			http.SetCookie(w, &http.Cookie{Name: name, Value: v, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
		}
		// organization picks the customer (the tenant's slug in scimd).
		http.Redirect(w, r, conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce),
			oauth2.SetAuthURLParam("organization", r.URL.Query().Get("org"))), http.StatusFound)
	})
	http.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("state"); err != nil || r.URL.Query().Get("state") != c.Value {
			http.Error(w, "bad state; sign-in refused: "+r.URL.Query().Get("error"), http.StatusBadRequest)
			return
		}
		pkce, _ := r.Cookie("pkce")
		tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(pkce.Value))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		rawID, _ := tok.Extra("id_token").(string)
		idToken, err := verifier.Verify(r.Context(), rawID)
		nonce, _ := r.Cookie("nonce")
		if err != nil || nonce == nil || idToken.Nonce != nonce.Value {
			http.Error(w, "invalid ID token", http.StatusUnauthorized)
			return
		}
		var claims struct {
			Sub, Email, Name, Tenant string
			TenantID                 string   `json:"tenant_id"`
			Groups                   []string `json:"groups"`
		}
		idToken.Claims(&claims)
		// Key your account by (tenant_id, sub); keep tok.RefreshToken to refresh.
		fmt.Fprintf(w, "Hello %s of %s (%s), groups %v\n", claims.Name, claims.Tenant, claims.Sub, claims.Groups)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:3000", nil))
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
