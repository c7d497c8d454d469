package oidc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/store"
)

// Limits of a client registration.
const (
	maxRedirectURIs   = 20
	maxRedirectURILen = 2000
	maxClientName     = 200
)

// NewClient registers an application: public clients (browser or native applications)
// have no secret and must use PKCE; confidential ones get a secret, returned once and
// stored only as its SHA-256 hash.
func NewClient(ctx context.Context, st store.OIDCStore, name string, redirectURIs []string, public bool, now time.Time) (store.OIDCClient, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxClientName {
		return store.OIDCClient{}, "", fmt.Errorf("the application needs a name of at most %d characters", maxClientName)
	}
	if len(redirectURIs) == 0 || len(redirectURIs) > maxRedirectURIs {
		return store.OIDCClient{}, "", fmt.Errorf("give between 1 and %d redirect URIs", maxRedirectURIs)
	}
	for _, u := range redirectURIs {
		if err := CheckRedirectURI(u, public); err != nil {
			return store.OIDCClient{}, "", err
		}
	}
	c := store.OIDCClient{ID: "app_" + store.NewID(), Name: name, RedirectURIs: redirectURIs, Public: public, CreatedAt: now.UTC()}
	secret := ""
	if !public {
		secret = "scimd_cs_" + randomString()
		c.SecretHash = hash(secret)
	}
	if err := st.CreateOIDCClient(ctx, c); err != nil {
		return store.OIDCClient{}, "", err
	}
	return c, secret, nil
}

// RotateSecret gives a confidential client a new secret, returned once; the old one keeps
// working for grace, so that the application can be redeployed without downtime.
func RotateSecret(ctx context.Context, st store.OIDCStore, id string, grace time.Duration, now time.Time) (string, error) {
	c, err := st.OIDCClient(ctx, id)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", errors.New("a public application has no secret")
	}
	secret := "scimd_cs_" + randomString()
	if err := st.RotateOIDCClientSecret(ctx, id, hash(secret), now.UTC().Add(grace)); err != nil {
		return "", err
	}
	return secret, nil
}

// CheckRedirectURI refuses what cannot be an exact, safe redirect URI: not absolute, a
// fragment, a wildcard, user info, or plain http to anything but a loopback host (and
// for a public client, plain http at all: the library treats a public client as a browser
// application, which must use https).
func CheckRedirectURI(raw string, public bool) error {
	if len(raw) > maxRedirectURILen {
		return fmt.Errorf("redirect URI longer than %d characters", maxRedirectURILen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("redirect URI %q must be an absolute URL", raw)
	}
	switch {
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("redirect URI %q must not have a fragment", raw)
	case strings.Contains(raw, "*"):
		return fmt.Errorf("redirect URI %q: wildcards are not allowed; URIs match exactly", raw)
	case u.User != nil:
		return fmt.Errorf("redirect URI %q must not carry user info", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && !public && loopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("redirect URI %q must use https (plain http only to a loopback host, for a confidential application)", raw)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
