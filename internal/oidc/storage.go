package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
)

// Handles. Every handle the provider gives out names its tenant first ("TENANT.ID…"), so
// that every lookup is by (tenant_id, id) and no query spans tenants.
//
//	authorization request id  TENANT.RANDOM
//	code                      the request id, AES-GCM encrypted by the library
//	access token id           TENANT.UUID (the token is the id and subject, AES-GCM encrypted)
//	refresh token             TENANT.UUID.SECRET (only its SHA-256 hash is stored)

// storage implements op.Storage on scimd's store.
type storage struct {
	p      *Provider
	crypto op.Crypto
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

func randomString() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// splitHandle returns the tenant id and the rest of a handle.
func splitHandle(h string) (tenantID, rest string, ok bool) {
	tenantID, rest, ok = strings.Cut(h, ".")
	return tenantID, rest, ok && len(tenantID) == 36 && rest != "" && len(h) <= 256
}

// ---- context the authorization endpoint carries into CreateAuthRequest ----

type requestKey struct{}

// browserRequest is what the authorization endpoint's wrapper learned of the request.
type browserRequest struct {
	organization string
	bindingHash  []byte
}

// params is what is kept of an authorization request.
type params struct {
	ClientID            string                    `json:"client_id"`
	RedirectURI         string                    `json:"redirect_uri"`
	Scopes              []string                  `json:"scopes"`
	State               string                    `json:"state,omitempty"`
	Nonce               string                    `json:"nonce,omitempty"`
	ResponseType        zoidc.ResponseType        `json:"response_type"`
	ResponseMode        zoidc.ResponseMode        `json:"response_mode,omitempty"`
	CodeChallenge       string                    `json:"code_challenge,omitempty"`
	CodeChallengeMethod zoidc.CodeChallengeMethod `json:"code_challenge_method,omitempty"`
	MaxAge              *uint                     `json:"max_age,omitempty"`
	Tenant              string                    `json:"tenant"` // the slug the application named
}

// authRequest is an authorization request as the library sees it.
type authRequest struct {
	rec store.OIDCAuthRequest
	params
}

func (a *authRequest) GetID() string          { return a.rec.ID }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return nil }
func (a *authRequest) GetAudience() []string  { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.rec.AuthTime }
func (a *authRequest) GetClientID() string    { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *zoidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &zoidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}
func (a *authRequest) GetNonce() string                    { return a.Nonce }
func (a *authRequest) GetRedirectURI() string              { return a.RedirectURI }
func (a *authRequest) GetResponseType() zoidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() zoidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                 { return a.Scopes }
func (a *authRequest) GetState() string                    { return a.State }
func (a *authRequest) GetSubject() string                  { return a.rec.UserID }
func (a *authRequest) Done() bool                          { return a.rec.UserID != "" }
func (a *authRequest) tenantID() string                    { return a.rec.TenantID }
func (a *authRequest) family() string                      { return a.rec.ID }
func (a *authRequest) authTime() time.Time                 { return a.rec.AuthTime }

func loadAuthRequest(rec store.OIDCAuthRequest) (*authRequest, error) {
	a := &authRequest{rec: rec}
	if err := json.Unmarshal(rec.Params, &a.params); err != nil {
		return nil, fmt.Errorf("oidc: stored request %s: %w", rec.ID, err)
	}
	return a, nil
}

// refreshRequest is a refresh token's grant as the library sees it.
type refreshRequest struct {
	tok    store.OIDCToken
	scopes []string
}

func (r *refreshRequest) GetAMR() []string                 { return nil }
func (r *refreshRequest) GetAudience() []string            { return []string{r.tok.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.tok.AuthTime }
func (r *refreshRequest) GetClientID() string              { return r.tok.ClientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.tok.UserID }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }
func (r *refreshRequest) tenantID() string                 { return r.tok.TenantID }
func (r *refreshRequest) family() string                   { return r.tok.Family }
func (r *refreshRequest) authTime() time.Time              { return r.tok.AuthTime }

// grant is what tokens are made from: an authorization request or a refresh.
type grant interface {
	GetClientID() string
	GetSubject() string
	GetScopes() []string
	tenantID() string
	family() string
	authTime() time.Time
}

// ---- authorization requests and codes ----

// CreateAuthRequest implements op.AuthStorage. The library has checked the client and the
// redirect URI, so every refusal here is redirected to the application: no organization,
// an unknown one or one without single sign-on, missing PKCE of a public client, a PKCE
// method other than S256.
func (s *storage) CreateAuthRequest(ctx context.Context, req *zoidc.AuthRequest, _ string) (op.AuthRequest, error) {
	br, _ := ctx.Value(requestKey{}).(*browserRequest)
	if br == nil {
		return nil, errors.New("oidc: authorization request without its browser binding")
	}
	client, err := s.p.st.OIDCClient(ctx, req.ClientID)
	if err != nil {
		return nil, err
	}
	refuse := func(reason, desc string) error {
		s.p.metrics.refused(reason)
		return zoidc.ErrInvalidRequest().WithDescription("%s", desc)
	}
	if req.CodeChallenge == "" && client.Public {
		return nil, refuse("pkce_required", "a public client must use PKCE (code_challenge with code_challenge_method=S256)")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != zoidc.CodeChallengeMethodS256 {
		return nil, refuse("pkce_method", "code_challenge_method must be S256")
	}
	if br.organization == "" {
		return nil, refuse("no_organization", "the organization parameter is missing: name the tenant with organization=SLUG")
	}
	t, err := s.p.st.TenantBySlug(ctx, br.organization)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse("unknown_organization", "there is no organization "+quote(br.organization))
	}
	if err != nil {
		return nil, err
	}
	if ok, err := s.p.hasSSO(ctx, t); err != nil {
		return nil, err
	} else if !ok {
		s.p.refusedEvent(ctx, t, client.ID, "", "no_sso")
		return nil, zoidc.ErrInvalidRequest().WithDescription("the organization %s has no single sign-on", quote(t.Slug))
	}
	now := s.p.now()
	a := &authRequest{params: params{ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: req.Scopes, State: req.State,
		Nonce: req.Nonce, ResponseType: req.ResponseType, ResponseMode: req.ResponseMode, CodeChallenge: req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod, MaxAge: req.MaxAge, Tenant: t.Slug}}
	raw, err := json.Marshal(a.params)
	if err != nil {
		return nil, err
	}
	a.rec = store.OIDCAuthRequest{TenantID: t.ID, ID: t.ID + "." + randomString(), ClientID: req.ClientID, BindingHash: br.bindingHash,
		Params: raw, CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.RequestTTL)}
	if err := s.p.st.CreateOIDCAuthRequest(ctx, a.rec); err != nil {
		return nil, err
	}
	return a, nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// AuthRequestByID implements op.AuthStorage.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.authRequest(ctx, id)
}

func (s *storage) authRequest(ctx context.Context, id string) (*authRequest, error) {
	tenantID, _, ok := splitHandle(id)
	if !ok {
		return nil, store.ErrNotFound
	}
	rec, err := s.p.st.OIDCAuthRequest(ctx, tenantID, id, s.p.now())
	if err != nil {
		return nil, err
	}
	return loadAuthRequest(rec)
}

// SaveAuthCode implements op.AuthStorage: one code per request, living CodeTTL.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	tenantID, _, ok := splitHandle(id)
	if !ok {
		return store.ErrNotFound
	}
	return s.p.st.SetOIDCCode(ctx, tenantID, id, hash(code), s.p.now().Add(s.p.cfg.CodeTTL))
}

// AuthRequestByCode implements op.AuthStorage. The code is taken here, once, atomically
// across replicas: a second use is a replay, and revokes every token the first produced.
// The user and the tenant's single sign-on are checked again in the directory.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if len(code) > 512 {
		return nil, store.ErrNotFound
	}
	id, err := s.crypto.Decrypt(code)
	if err != nil {
		return nil, store.ErrNotFound
	}
	tenantID, _, ok := splitHandle(id)
	if !ok {
		return nil, store.ErrNotFound
	}
	rec, err := s.p.st.TakeOIDCCode(ctx, tenantID, id, hash(code), s.p.now())
	if errors.Is(err, store.ErrConflict) {
		s.p.revokeFamily(ctx, tenantID, id, "code_reuse")
		return nil, errors.New("oidc: the code was used before")
	}
	if err != nil {
		return nil, err
	}
	a, err := loadAuthRequest(rec)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.p.activeUser(ctx, tenantID, a.rec.UserID, a.ClientID); err != nil {
		return nil, err
	}
	return a, nil
}

// DeleteAuthRequest implements op.AuthStorage. The request is kept until it expires, so
// that a replayed code is recognised; its code is already marked used.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// ---- tokens ----

func asGrant(req op.TokenRequest) (grant, error) {
	g, ok := req.(grant)
	if !ok {
		return nil, fmt.Errorf("oidc: unsupported token request %T", req)
	}
	return g, nil
}

func (s *storage) newAccessToken(ctx context.Context, g grant) (string, time.Time, error) {
	now := s.p.now()
	tok := store.OIDCToken{TenantID: g.tenantID(), ID: g.tenantID() + "." + store.NewID(), Kind: store.OIDCAccessToken, Family: g.family(),
		ClientID: g.GetClientID(), UserID: g.GetSubject(), Scopes: g.GetScopes(), AuthTime: g.authTime(),
		CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.AccessTokenTTL)}
	if err := s.p.st.CreateOIDCToken(ctx, tok); err != nil {
		return "", time.Time{}, err
	}
	return tok.ID, tok.ExpiresAt, nil
}

// CreateAccessToken implements op.AuthStorage.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, err := asGrant(req)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.newAccessToken(ctx, g)
}

// CreateAccessAndRefreshTokens implements op.AuthStorage. The new refresh token joins the
// family of the grant; the one it replaces was marked used by TokenRequestByRefreshToken.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, _ string) (string, string, time.Time, error) {
	g, err := asGrant(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	accessID, exp, err := s.newAccessToken(ctx, g)
	if err != nil {
		return "", "", time.Time{}, err
	}
	now := s.p.now()
	id := store.NewID()
	refresh := g.tenantID() + "." + id + "." + randomString()
	tok := store.OIDCToken{TenantID: g.tenantID(), ID: id, Kind: store.OIDCRefreshToken, Family: g.family(),
		ClientID: g.GetClientID(), UserID: g.GetSubject(), Scopes: g.GetScopes(), AuthTime: g.authTime(), Hash: hash(refresh),
		CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.RefreshTokenTTL)}
	if err := s.p.st.CreateOIDCToken(ctx, tok); err != nil {
		return "", "", time.Time{}, err
	}
	return accessID, refresh, exp, nil
}

// refreshToken finds the stored refresh token a presented one names, checking its secret.
func (s *storage) refreshToken(ctx context.Context, presented string) (store.OIDCToken, error) {
	parts := strings.Split(presented, ".")
	if len(parts) != 3 || len(presented) > 256 {
		return store.OIDCToken{}, op.ErrInvalidRefreshToken
	}
	tok, err := s.p.st.OIDCToken(ctx, parts[0], parts[1])
	if errors.Is(err, store.ErrNotFound) {
		return store.OIDCToken{}, op.ErrInvalidRefreshToken
	}
	if err != nil {
		return store.OIDCToken{}, err
	}
	if tok.Kind != store.OIDCRefreshToken || subtle.ConstantTimeCompare(tok.Hash, hash(presented)) != 1 {
		return store.OIDCToken{}, op.ErrInvalidRefreshToken
	}
	return tok, nil
}

// TokenRequestByRefreshToken implements op.AuthStorage: the user and the tenant's single
// sign-on are checked in the directory, then the token is used up (rotation). A token used
// before is a replay: its whole family is revoked.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, presented string) (op.RefreshTokenRequest, error) {
	tok, err := s.refreshToken(ctx, presented)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.p.activeUser(ctx, tok.TenantID, tok.UserID, tok.ClientID); err != nil {
		return nil, err
	}
	used, err := s.p.st.UseOIDCRefreshToken(ctx, tok.TenantID, tok.ID, s.p.now())
	if errors.Is(err, store.ErrConflict) {
		s.p.revokeFamily(ctx, tok.TenantID, tok.Family, "refresh_token_reuse")
		return nil, errors.New("oidc: the refresh token was used before")
	}
	if err != nil {
		return nil, err
	}
	return &refreshRequest{tok: used, scopes: used.Scopes}, nil
}

// TerminateSession implements op.AuthStorage; scimd offers no end-session endpoint.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

// RevokeToken implements op.AuthStorage (RFC 7009). Revoking either token of a grant
// revokes its whole family. An unknown token is not an error.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *zoidc.Error {
	var tok store.OIDCToken
	var err error
	if userID != "" && strings.Count(tokenOrID, ".") == 1 { // an access token's id (TENANT.UUID)
		tenantID, _, ok := splitHandle(tokenOrID)
		if !ok {
			return nil
		}
		tok, err = s.p.st.OIDCToken(ctx, tenantID, tokenOrID)
	} else {
		tok, err = s.refreshToken(ctx, tokenOrID)
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, op.ErrInvalidRefreshToken) {
		return nil
	}
	if err != nil {
		return zoidc.ErrServerError().WithParent(err)
	}
	if tok.ClientID != clientID {
		return zoidc.ErrInvalidClient().WithDescription("the token was issued to another client")
	}
	if _, err := s.p.st.RevokeOIDCFamily(ctx, tok.TenantID, tok.Family, s.p.now()); err != nil {
		return zoidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo implements op.AuthStorage.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, presented string) (string, string, error) {
	tok, err := s.refreshToken(ctx, presented)
	if err != nil {
		return "", "", err
	}
	if tok.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return tok.UserID, presented, nil
}

// ---- keys ----

type signingKey struct{ k signing.Key }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.k.Algorithm }
func (k signingKey) Key() any                                    { return k.k.Private }
func (k signingKey) ID() string                                  { return k.k.ID }

type publicKey struct{ k signing.Key }

func (k publicKey) ID() string                         { return k.k.ID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return k.k.Algorithm }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.k.Private.PublicKey }

// SigningKey implements op.AuthStorage: the key set's current key.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.p.keys.Current(ctx)
	if err != nil {
		return nil, err
	}
	return signingKey{k}, nil
}

// SignatureAlgorithms implements op.AuthStorage.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{signing.Algorithm}, nil
}

// KeySet implements op.AuthStorage: every published key.
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.p.keys.Published(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(keys))
	for i, k := range keys {
		out[i] = publicKey{k}
	}
	return out, nil
}

// ---- clients ----

// GetClientByClientID implements op.OPStorage.
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	if len(id) > 128 {
		return nil, store.ErrNotFound
	}
	c, err := s.p.st.OIDCClient(ctx, id)
	if err != nil {
		return nil, err
	}
	return &client{c: c, idTokenTTL: s.p.cfg.IDTokenTTL}, nil
}

// AuthorizeClientIDSecret implements op.OPStorage: the secret's hash is compared in
// constant time with the current one and, during a rotation's grace period, the previous.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	if len(id) > 128 || len(secret) > 256 {
		return errors.New("oidc: unknown client or wrong secret")
	}
	c, err := s.p.st.OIDCClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errors.New("oidc: unknown client or wrong secret")
	}
	if err != nil {
		return zoidc.ErrServerError().WithParent(err)
	}
	if !SecretMatches(c, secret, s.p.now()) {
		s.p.metrics.refused("wrong_secret")
		return errors.New("oidc: unknown client or wrong secret")
	}
	return nil
}

// SecretMatches reports whether secret is the client's secret, or its previous one before
// the grace period ends at now.
func SecretMatches(c store.OIDCClient, secret string, now time.Time) bool {
	if c.Public || secret == "" {
		return false
	}
	h := hash(secret)
	ok := subtle.ConstantTimeCompare(c.SecretHash, h) == 1
	prev := subtle.ConstantTimeCompare(c.PreviousSecretHash, h) == 1 && now.Before(c.PreviousSecretExpiresAt)
	return ok || prev
}

// ---- claims ----

// SetUserinfoFromScopes implements op.OPStorage; deprecated by the library in favour of
// SetUserinfoFromRequest.
func (s *storage) SetUserinfoFromScopes(context.Context, *zoidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the ID token's claims.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	g, ok := req.(grant)
	if !ok {
		return fmt.Errorf("oidc: unsupported ID token request %T", req)
	}
	t, user, err := s.p.activeUser(ctx, g.tenantID(), g.GetSubject(), g.GetClientID())
	if err != nil {
		return err
	}
	setClaims(info, t, user, scopes)
	return nil
}

// SetUserinfoFromToken implements op.OPStorage: userinfo checks the token, the user and
// the tenant's single sign-on in the database on every call.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, tokenID, subject, _ string) error {
	tok, err := s.liveAccessToken(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	t, user, err := s.p.activeUser(ctx, tok.TenantID, tok.UserID, tok.ClientID)
	if err != nil {
		return err
	}
	setClaims(info, t, user, tok.Scopes)
	return nil
}

func (s *storage) liveAccessToken(ctx context.Context, tokenID, subject string) (store.OIDCToken, error) {
	tenantID, _, ok := splitHandle(tokenID)
	if !ok {
		return store.OIDCToken{}, store.ErrNotFound
	}
	tok, err := s.p.st.OIDCToken(ctx, tenantID, tokenID)
	if err != nil {
		return store.OIDCToken{}, err
	}
	if tok.Kind != store.OIDCAccessToken || tok.UserID != subject || !tok.RevokedAt.IsZero() || !s.p.now().Before(tok.ExpiresAt) {
		return store.OIDCToken{}, errors.New("oidc: the access token is expired or revoked")
	}
	return tok, nil
}

// errInactive is the answer for a token introspection that must say active: false (the
// library reports any error so).
var errInactive = errors.New("oidc: inactive token")

// SetIntrospectionFromToken implements op.OPStorage (RFC 7662): active only for a live
// token of the asking client whose user is still active; any error makes the library
// answer active: false.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *zoidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	tok, err := s.liveAccessToken(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	if tok.ClientID != clientID {
		return errInactive
	}
	t, user, err := s.p.activeUser(ctx, tok.TenantID, tok.UserID, tok.ClientID)
	if err != nil {
		return err
	}
	info := new(zoidc.UserInfo)
	setClaims(info, t, user, tok.Scopes)
	resp.SetUserInfo(info)
	resp.Active = true
	resp.ClientID = tok.ClientID
	resp.Scope = tok.Scopes
	resp.Audience = []string{tok.ClientID}
	resp.Expiration = zoidc.FromTime(tok.ExpiresAt)
	resp.IssuedAt = zoidc.FromTime(tok.CreatedAt)
	return nil
}

// GetPrivateClaimsFromScopes implements op.OPStorage; access tokens are opaque.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID implements op.OPStorage; the JWT profile grant is not offered.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidc: JWT client authentication is not supported")
}

// ValidateJWTProfileScopes implements op.OPStorage; the JWT profile grant is not offered.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidc: the JWT profile grant is not supported")
}

// Health implements op.Storage.
func (s *storage) Health(ctx context.Context) error { return s.p.st.Ping(ctx) }

// ---- the client as the library sees it ----

type client struct {
	c          store.OIDCClient
	idTokenTTL time.Duration
}

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return nil }

// ApplicationType: a confidential client is a web application; a public one runs in the
// browser. Native (loopback any-port) matching is never used: redirect URIs match exactly.
func (c *client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() zoidc.AuthMethod {
	if c.c.Public {
		return zoidc.AuthMethodNone
	}
	return zoidc.AuthMethodBasic // client_secret_post is accepted too (op.Config.AuthMethodPost)
}
func (c *client) ResponseTypes() []zoidc.ResponseType {
	return []zoidc.ResponseType{zoidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []zoidc.GrantType {
	return []zoidc.GrantType{zoidc.GrantTypeCode, zoidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string           { return loginPath + "?id=" + urlQueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return c.idTokenTTL }
func (c *client) DevMode() bool                       { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool     { return scope == ScopeGroups }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

// ---- the user behind a grant ----

// errNoAccess is what a grant of a user who is gone, deactivated, or whose tenant lost
// single sign-on gets: no code, no token, no userinfo.
var errNoAccess = zoidc.ErrInvalidGrant().WithDescription("the user no longer has access")

// activeUser reads the tenant and the user from the directory (never a cache) and
// refuses, with an audit event, a user who is gone or deactivated, or a tenant without
// single sign-on.
func (p *Provider) activeUser(ctx context.Context, tenantID, userID, clientID string) (store.Tenant, *scim.Resource, error) {
	t, err := p.st.Tenant(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, nil, errNoAccess
	}
	if err != nil {
		return store.Tenant{}, nil, err
	}
	if ok, err := p.hasSSO(ctx, t); err != nil {
		return store.Tenant{}, nil, err
	} else if !ok {
		p.refusedEvent(ctx, t, clientID, userID, "no_sso")
		return store.Tenant{}, nil, errNoAccess
	}
	user, err := p.dir.Get(ctx, scim.Users, t, userID, true)
	if errors.Is(err, store.ErrNotFound) {
		p.refusedEvent(ctx, t, clientID, userID, "user_deleted")
		return store.Tenant{}, nil, errNoAccess
	}
	if err != nil {
		return store.Tenant{}, nil, err
	}
	if !directory.CanSignIn(user) {
		p.refusedEvent(ctx, t, clientID, userID, "user_deactivated")
		return store.Tenant{}, nil, errNoAccess
	}
	return t, user, nil
}

// hasSSO reports whether the tenant has SAML single sign-on configured.
func (p *Provider) hasSSO(ctx context.Context, t store.Tenant) (bool, error) {
	_, err := p.st.SAMLConfig(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

var supportedClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash",
	"email", "email_verified", "name", "given_name", "family_name", "preferred_username",
	"tenant", "tenant_id", "user_type", "groups"}

// setClaims fills the claims of the user, by scope. email_verified is always false: scimd
// sends no verification mail; the address is what the tenant's directory holds.
func setClaims(info *zoidc.UserInfo, t store.Tenant, u *scim.Resource, scopes []string) {
	info.Subject = u.ID
	info.AppendClaims("tenant", t.Slug)
	info.AppendClaims("tenant_id", t.ID)
	info.AppendClaims("user_type", scim.String(u.Attrs, "userType"))
	if slices.Contains(scopes, zoidc.ScopeProfile) {
		info.PreferredUsername = scim.String(u.Attrs, "userName")
		if n, ok := u.Attrs["name"].(map[string]any); ok {
			info.GivenName = scim.String(n, "givenName")
			info.FamilyName = scim.String(n, "familyName")
			info.Name = scim.String(n, "formatted")
			if info.Name == "" {
				info.Name = strings.TrimSpace(info.GivenName + " " + info.FamilyName)
			}
		}
		if info.Name == "" {
			info.Name = scim.String(u.Attrs, "displayName")
		}
	}
	if slices.Contains(scopes, zoidc.ScopeEmail) {
		if email := primaryEmail(u); email != "" {
			info.Email = email
			info.AppendClaims("email_verified", false)
		}
	}
	if slices.Contains(scopes, ScopeGroups) {
		groups := []string{}
		if list, ok := u.Attrs["groups"].([]any); ok {
			for _, g := range list {
				if m, ok := g.(map[string]any); ok {
					if name := scim.String(m, "display"); name != "" {
						groups = append(groups, name)
					}
				}
			}
		}
		slices.Sort(groups)
		info.AppendClaims("groups", groups)
	}
}

// primaryEmail is the user's primary email, or the first.
func primaryEmail(u *scim.Resource) string {
	list, _ := u.Attrs["emails"].([]any)
	first := ""
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		v := scim.String(m, "value")
		if v == "" {
			continue
		}
		if m["primary"] == true {
			return v
		}
		if first == "" {
			first = v
		}
	}
	return first
}
