package store

import (
	"context"
	"errors"
	"time"

	"github.com/scimd/scimd/internal/scim"
)

// PoolStats is the state of a backend's connection pool.
type PoolStats struct {
	Acquired int // connections in use
	Idle     int // open connections not in use
	Total    int // open connections
	Max      int // the most the pool opens
	// Waits counts acquisitions that had to wait for a connection; WaitTime is their total
	// wait. Both only grow.
	Waits    int64
	WaitTime time.Duration
}

// OpObserver is told how long each store operation took and how it ended. op is a fixed
// name ("create_resource", "list_resources", …), never SQL text or a value. failed is true
// only for errors of the database (unreachable, timed out, an unexpected driver error), not
// for the answers a Store gives by error: not found, conflict, an unknown member, or a
// refusal by the caller's update function.
type OpObserver func(op string, took time.Duration, failed bool)

// Instrument returns s with every operation of Store timed and reported to observe, SAML
// and console queries included. PoolStats, Version and Close pass through untimed (they are
// read at scrape time or once). A method added to Store by a new small interface passes
// through untimed until it is added here; a test (TestInstrumentTimesEveryMethod) fails
// until it is.
func Instrument(s Store, observe OpObserver) Store {
	return &instrumented{Store: s, observe: observe}
}

type instrumented struct {
	Store
	observe OpObserver
}

// done reports an operation that started at start and ended with err.
func (s *instrumented) done(op string, start time.Time, err error) {
	s.observe(op, time.Since(start), dbFailure(err))
}

// dbFailure reports whether err is a failure of the database rather than an answer.
func dbFailure(err error) bool {
	var unknown *UnknownMemberError
	switch {
	case err == nil, errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict), errors.As(err, &unknown),
		scim.AsError(err) != nil, errors.Is(err, context.Canceled):
		return false
	}
	return true
}

func (s *instrumented) CreateTenant(ctx context.Context, t Tenant) (err error) {
	defer func(start time.Time) { s.done("create_tenant", start, err) }(time.Now())
	return s.Store.CreateTenant(ctx, t)
}

func (s *instrumented) TenantBySlug(ctx context.Context, slug string) (t Tenant, err error) {
	defer func(start time.Time) { s.done("tenant_by_slug", start, err) }(time.Now())
	return s.Store.TenantBySlug(ctx, slug)
}

func (s *instrumented) Tenant(ctx context.Context, id string) (t Tenant, err error) {
	defer func(start time.Time) { s.done("tenant", start, err) }(time.Now())
	return s.Store.Tenant(ctx, id)
}

func (s *instrumented) Tenants(ctx context.Context) (ts []Tenant, err error) {
	defer func(start time.Time) { s.done("tenants", start, err) }(time.Now())
	return s.Store.Tenants(ctx)
}

func (s *instrumented) UpdateTenant(ctx context.Context, t Tenant, ev *Event) (err error) {
	defer func(start time.Time) { s.done("update_tenant", start, err) }(time.Now())
	return s.Store.UpdateTenant(ctx, t, ev)
}

func (s *instrumented) CreateToken(ctx context.Context, t Token, hash []byte, ev *Event) (err error) {
	defer func(start time.Time) { s.done("create_token", start, err) }(time.Now())
	return s.Store.CreateToken(ctx, t, hash, ev)
}

func (s *instrumented) TokenByHash(ctx context.Context, hash []byte) (t Token, tn Tenant, err error) {
	defer func(start time.Time) { s.done("token_by_hash", start, err) }(time.Now())
	return s.Store.TokenByHash(ctx, hash)
}

func (s *instrumented) Tokens(ctx context.Context, tenantID string) (ts []Token, err error) {
	defer func(start time.Time) { s.done("tokens", start, err) }(time.Now())
	return s.Store.Tokens(ctx, tenantID)
}

func (s *instrumented) RevokeToken(ctx context.Context, tenantID, id string, at time.Time, ev *Event) (err error) {
	defer func(start time.Time) { s.done("revoke_token", start, err) }(time.Now())
	return s.Store.RevokeToken(ctx, tenantID, id, at, ev)
}

func (s *instrumented) TouchToken(ctx context.Context, tenantID, id string, at time.Time) (err error) {
	defer func(start time.Time) { s.done("touch_token", start, err) }(time.Now())
	return s.Store.TouchToken(ctx, tenantID, id, at)
}

// SubscribeTenantChanges only registers fn: nothing to time.
func (s *instrumented) SubscribeTenantChanges(fn func(TenantChange)) func() {
	return s.Store.SubscribeTenantChanges(fn)
}

func (s *instrumented) CreateResource(ctx context.Context, rt *scim.ResourceType, tenantID string, r *scim.Resource, members []string, ev *Event) (err error) {
	defer func(start time.Time) { s.done("create_resource", start, err) }(time.Now())
	return s.Store.CreateResource(ctx, rt, tenantID, r, members, ev)
}

func (s *instrumented) Resource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, withMembers bool) (r *scim.Resource, err error) {
	defer func(start time.Time) { s.done("get_resource", start, err) }(time.Now())
	return s.Store.Resource(ctx, rt, tenantID, id, withMembers)
}

func (s *instrumented) UpdateResource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, fn func(r *scim.Resource) (Change, error)) (r *scim.Resource, err error) {
	defer func(start time.Time) { s.done("update_resource", start, err) }(time.Now())
	return s.Store.UpdateResource(ctx, rt, tenantID, id, fn)
}

func (s *instrumented) DeleteResource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, check func(r *scim.Resource) (*Event, error)) (err error) {
	defer func(start time.Time) { s.done("delete_resource", start, err) }(time.Now())
	return s.Store.DeleteResource(ctx, rt, tenantID, id, check)
}

func (s *instrumented) ListResources(ctx context.Context, rt *scim.ResourceType, tenantID string, q Query) (p Page, err error) {
	defer func(start time.Time) { s.done("list_resources", start, err) }(time.Now())
	return s.Store.ListResources(ctx, rt, tenantID, q)
}

func (s *instrumented) AppendEvent(ctx context.Context, ev *Event) (err error) {
	defer func(start time.Time) { s.done("append_event", start, err) }(time.Now())
	return s.Store.AppendEvent(ctx, ev)
}

func (s *instrumented) Events(ctx context.Context, tenantID string, q EventQuery) (evs []Event, err error) {
	defer func(start time.Time) { s.done("events", start, err) }(time.Now())
	return s.Store.Events(ctx, tenantID, q)
}

func (s *instrumented) PruneEvents(ctx context.Context, before time.Time) (n int64, err error) {
	defer func(start time.Time) { s.done("prune_events", start, err) }(time.Now())
	return s.Store.PruneEvents(ctx, before)
}

func (s *instrumented) Secret(ctx context.Context, name string, newValue func() []byte) (v []byte, err error) {
	defer func(start time.Time) { s.done("secret", start, err) }(time.Now())
	return s.Store.Secret(ctx, name, newValue)
}

func (s *instrumented) Ping(ctx context.Context) (err error) {
	defer func(start time.Time) { s.done("ping", start, err) }(time.Now())
	return s.Store.Ping(ctx)
}

func (s *instrumented) TakeTokens(ctx context.Context, tenantID string, rate, burst float64, n int, now time.Time) (taken int, wait time.Duration, err error) {
	defer func(start time.Time) { s.done("take_token", start, err) }(time.Now())
	return s.Store.TakeTokens(ctx, tenantID, rate, burst, n, now)
}

// ---- SAML ----

func (s *instrumented) PutSAMLConfig(ctx context.Context, cfg SAMLConfig, ev *Event) (c SAMLConfig, err error) {
	defer func(start time.Time) { s.done("put_saml_config", start, err) }(time.Now())
	return s.Store.PutSAMLConfig(ctx, cfg, ev)
}

func (s *instrumented) SAMLConfig(ctx context.Context, tenantID string) (c SAMLConfig, err error) {
	defer func(start time.Time) { s.done("saml_config", start, err) }(time.Now())
	return s.Store.SAMLConfig(ctx, tenantID)
}

func (s *instrumented) SwapSAMLSPKeys(ctx context.Context, cfg SAMLConfig, fromCert, fromNextCert string, ev *Event) (c SAMLConfig, err error) {
	defer func(start time.Time) { s.done("swap_saml_sp_keys", start, err) }(time.Now())
	return s.Store.SwapSAMLSPKeys(ctx, cfg, fromCert, fromNextCert, ev)
}

func (s *instrumented) CreateSAMLRequest(ctx context.Context, r SAMLRequest) (err error) {
	defer func(start time.Time) { s.done("create_saml_request", start, err) }(time.Now())
	return s.Store.CreateSAMLRequest(ctx, r)
}

func (s *instrumented) PendingSAMLRequests(ctx context.Context, tenantID string, now time.Time, limit int) (n int, err error) {
	defer func(start time.Time) { s.done("pending_saml_requests", start, err) }(time.Now())
	return s.Store.PendingSAMLRequests(ctx, tenantID, now, limit)
}

func (s *instrumented) SAMLRequests(ctx context.Context, tenantID string, bindingHash []byte, now time.Time) (rs []SAMLRequest, err error) {
	defer func(start time.Time) { s.done("saml_requests", start, err) }(time.Now())
	return s.Store.SAMLRequests(ctx, tenantID, bindingHash, now)
}

func (s *instrumented) TakeSAMLRequest(ctx context.Context, tenantID, id string) (r SAMLRequest, err error) {
	defer func(start time.Time) { s.done("take_saml_request", start, err) }(time.Now())
	return s.Store.TakeSAMLRequest(ctx, tenantID, id)
}

func (s *instrumented) ConsumeAssertion(ctx context.Context, tenantID, assertionID string, expiresAt, now time.Time) (err error) {
	defer func(start time.Time) { s.done("consume_assertion", start, err) }(time.Now())
	return s.Store.ConsumeAssertion(ctx, tenantID, assertionID, expiresAt, now)
}

func (s *instrumented) CreateSession(ctx context.Context, sess Session) (err error) {
	defer func(start time.Time) { s.done("create_session", start, err) }(time.Now())
	return s.Store.CreateSession(ctx, sess)
}

func (s *instrumented) SessionByHash(ctx context.Context, tenantID, kind string, hash []byte, now time.Time) (sess Session, err error) {
	defer func(start time.Time) { s.done("session_by_hash", start, err) }(time.Now())
	return s.Store.SessionByHash(ctx, tenantID, kind, hash, now)
}

func (s *instrumented) DeleteSession(ctx context.Context, tenantID string, hash []byte) (err error) {
	defer func(start time.Time) { s.done("delete_session", start, err) }(time.Now())
	return s.Store.DeleteSession(ctx, tenantID, hash)
}

func (s *instrumented) SAMLIdentity(ctx context.Context, tenantID, issuer, nameID string) (id string, err error) {
	defer func(start time.Time) { s.done("saml_identity", start, err) }(time.Now())
	return s.Store.SAMLIdentity(ctx, tenantID, issuer, nameID)
}

func (s *instrumented) PutSAMLIdentity(ctx context.Context, tenantID, issuer, nameID, userID string, now time.Time) (err error) {
	defer func(start time.Time) { s.done("put_saml_identity", start, err) }(time.Now())
	return s.Store.PutSAMLIdentity(ctx, tenantID, issuer, nameID, userID, now)
}

func (s *instrumented) PruneSAML(ctx context.Context, now time.Time) (n int64, err error) {
	defer func(start time.Time) { s.done("prune_saml", start, err) }(time.Now())
	return s.Store.PruneSAML(ctx, now)
}

// ---- console ----

func (s *instrumented) CreateAdminLink(ctx context.Context, l AdminLink) (err error) {
	defer func(start time.Time) { s.done("create_admin_link", start, err) }(time.Now())
	return s.Store.CreateAdminLink(ctx, l)
}

func (s *instrumented) TakeAdminLink(ctx context.Context, tenantID string, hash []byte, now time.Time) (l AdminLink, err error) {
	defer func(start time.Time) { s.done("take_admin_link", start, err) }(time.Now())
	return s.Store.TakeAdminLink(ctx, tenantID, hash, now)
}

// ---- signing keys ----

func (s *instrumented) CreateFirstSigningKey(ctx context.Context, k SigningKey) (out SigningKey, err error) {
	defer func(start time.Time) { s.done("create_first_signing_key", start, err) }(time.Now())
	return s.Store.CreateFirstSigningKey(ctx, k)
}

func (s *instrumented) AddSigningKey(ctx context.Context, k SigningKey, olderExpire time.Time) (out SigningKey, err error) {
	defer func(start time.Time) { s.done("add_signing_key", start, err) }(time.Now())
	return s.Store.AddSigningKey(ctx, k, olderExpire)
}

func (s *instrumented) SigningKeys(ctx context.Context, now time.Time) (ks []SigningKey, err error) {
	defer func(start time.Time) { s.done("signing_keys", start, err) }(time.Now())
	return s.Store.SigningKeys(ctx, now)
}

func (s *instrumented) PruneSigningKeys(ctx context.Context, now time.Time) (n int64, err error) {
	defer func(start time.Time) { s.done("prune_signing_keys", start, err) }(time.Now())
	return s.Store.PruneSigningKeys(ctx, now)
}

// ---- event streams ----

func (s *instrumented) CreateStream(ctx context.Context, st Stream, credentialHash []byte) (err error) {
	defer func(start time.Time) { s.done("create_stream", start, err) }(time.Now())
	return s.Store.CreateStream(ctx, st, credentialHash)
}

func (s *instrumented) Streams(ctx context.Context) (sts []Stream, err error) {
	defer func(start time.Time) { s.done("streams", start, err) }(time.Now())
	return s.Store.Streams(ctx)
}

func (s *instrumented) Stream(ctx context.Context, id string) (st Stream, err error) {
	defer func(start time.Time) { s.done("stream", start, err) }(time.Now())
	return s.Store.Stream(ctx, id)
}

func (s *instrumented) StreamByCredential(ctx context.Context, hash []byte) (st Stream, err error) {
	defer func(start time.Time) { s.done("stream_by_credential", start, err) }(time.Now())
	return s.Store.StreamByCredential(ctx, hash)
}

func (s *instrumented) SetStreamPaused(ctx context.Context, id string, paused bool) (err error) {
	defer func(start time.Time) { s.done("set_stream_paused", start, err) }(time.Now())
	return s.Store.SetStreamPaused(ctx, id, paused)
}

func (s *instrumented) DeleteStream(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { s.done("delete_stream", start, err) }(time.Now())
	return s.Store.DeleteStream(ctx, id)
}

func (s *instrumented) ClaimDeliveries(ctx context.Context, streamID string, now time.Time, lease time.Duration, max, run int) (ds []Delivery, err error) {
	defer func(start time.Time) { s.done("claim_deliveries", start, err) }(time.Now())
	return s.Store.ClaimDeliveries(ctx, streamID, now, lease, max, run)
}

func (s *instrumented) FinishDeliveries(ctx context.Context, streamID string, now time.Time, outcomes []DeliveryOutcome) (n int, err error) {
	defer func(start time.Time) { s.done("finish_deliveries", start, err) }(time.Now())
	return s.Store.FinishDeliveries(ctx, streamID, now, outcomes)
}

func (s *instrumented) ReplayStream(ctx context.Context, streamID string, since, now time.Time) (n int64, err error) {
	defer func(start time.Time) { s.done("replay_stream", start, err) }(time.Now())
	return s.Store.ReplayStream(ctx, streamID, since, now)
}

func (s *instrumented) StreamStats(ctx context.Context) (st []StreamStats, err error) {
	defer func(start time.Time) { s.done("stream_stats", start, err) }(time.Now())
	return s.Store.StreamStats(ctx)
}

func (s *instrumented) ParkedDeliveries(ctx context.Context, streamID string, limit int) (ds []Delivery, err error) {
	defer func(start time.Time) { s.done("parked_deliveries", start, err) }(time.Now())
	return s.Store.ParkedDeliveries(ctx, streamID, limit)
}

func (s *instrumented) TenantStreamStats(ctx context.Context, tenantID string) (st []StreamStats, err error) {
	defer func(start time.Time) { s.done("tenant_stream_stats", start, err) }(time.Now())
	return s.Store.TenantStreamStats(ctx, tenantID)
}

func (s *instrumented) TenantDeliveries(ctx context.Context, tenantID string, q DeliveryQuery) (ds []Delivery, err error) {
	defer func(start time.Time) { s.done("tenant_deliveries", start, err) }(time.Now())
	return s.Store.TenantDeliveries(ctx, tenantID, q)
}

// ---- userType rules ----

func (s *instrumented) UserTypeRules(ctx context.Context, tenantID string) (r UserTypeRules, err error) {
	defer func(start time.Time) { s.done("user_type_rules", start, err) }(time.Now())
	return s.Store.UserTypeRules(ctx, tenantID)
}

func (s *instrumented) SetUserTypeRules(ctx context.Context, tenantID string, rules UserTypeRules, ev *Event) (err error) {
	defer func(start time.Time) { s.done("set_user_type_rules", start, err) }(time.Now())
	return s.Store.SetUserTypeRules(ctx, tenantID, rules, ev)
}

func (s *instrumented) RecomputeUserTypes(ctx context.Context, tenantID string, n int, actor Event) (p UserTypeProgress, err error) {
	defer func(start time.Time) { s.done("recompute_user_types", start, err) }(time.Now())
	return s.Store.RecomputeUserTypes(ctx, tenantID, n, actor)
}

func (s *instrumented) UserTypeProgress(ctx context.Context, tenantID string) (p UserTypeProgress, err error) {
	defer func(start time.Time) { s.done("user_type_progress", start, err) }(time.Now())
	return s.Store.UserTypeProgress(ctx, tenantID)
}

// ---- the OpenID Connect provider ----

func (s *instrumented) CreateOIDCClient(ctx context.Context, c OIDCClient) (err error) {
	defer func(start time.Time) { s.done("create_oidc_client", start, err) }(time.Now())
	return s.Store.CreateOIDCClient(ctx, c)
}

func (s *instrumented) OIDCClient(ctx context.Context, id string) (out OIDCClient, err error) {
	defer func(start time.Time) { s.done("oidc_client", start, err) }(time.Now())
	return s.Store.OIDCClient(ctx, id)
}

func (s *instrumented) OIDCClients(ctx context.Context) (out []OIDCClient, err error) {
	defer func(start time.Time) { s.done("oidc_clients", start, err) }(time.Now())
	return s.Store.OIDCClients(ctx)
}

func (s *instrumented) DeleteOIDCClient(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { s.done("delete_oidc_client", start, err) }(time.Now())
	return s.Store.DeleteOIDCClient(ctx, id)
}

func (s *instrumented) RotateOIDCClientSecret(ctx context.Context, id string, hash []byte, previousExpires time.Time) (err error) {
	defer func(start time.Time) { s.done("rotate_oidc_client_secret", start, err) }(time.Now())
	return s.Store.RotateOIDCClientSecret(ctx, id, hash, previousExpires)
}

func (s *instrumented) CreateOIDCAuthRequest(ctx context.Context, a OIDCAuthRequest) (err error) {
	defer func(start time.Time) { s.done("create_oidc_auth_request", start, err) }(time.Now())
	return s.Store.CreateOIDCAuthRequest(ctx, a)
}

func (s *instrumented) OIDCAuthRequest(ctx context.Context, tenantID, id string, now time.Time) (out OIDCAuthRequest, err error) {
	defer func(start time.Time) { s.done("oidc_auth_request", start, err) }(time.Now())
	return s.Store.OIDCAuthRequest(ctx, tenantID, id, now)
}

func (s *instrumented) StartOIDCLogin(ctx context.Context, tenantID, id string, at time.Time) (err error) {
	defer func(start time.Time) { s.done("start_oidc_login", start, err) }(time.Now())
	return s.Store.StartOIDCLogin(ctx, tenantID, id, at)
}

func (s *instrumented) CompleteOIDCAuthRequest(ctx context.Context, tenantID, id, userID string, authTime time.Time) (err error) {
	defer func(start time.Time) { s.done("complete_oidc_auth_request", start, err) }(time.Now())
	return s.Store.CompleteOIDCAuthRequest(ctx, tenantID, id, userID, authTime)
}

func (s *instrumented) SetOIDCCode(ctx context.Context, tenantID, id string, codeHash []byte, expiresAt time.Time) (err error) {
	defer func(start time.Time) { s.done("set_oidc_code", start, err) }(time.Now())
	return s.Store.SetOIDCCode(ctx, tenantID, id, codeHash, expiresAt)
}

func (s *instrumented) TakeOIDCCode(ctx context.Context, tenantID, id string, codeHash []byte, now time.Time) (out OIDCAuthRequest, err error) {
	defer func(start time.Time) { s.done("take_oidc_code", start, err) }(time.Now())
	return s.Store.TakeOIDCCode(ctx, tenantID, id, codeHash, now)
}

func (s *instrumented) CreateOIDCToken(ctx context.Context, t OIDCToken) (err error) {
	defer func(start time.Time) { s.done("create_oidc_token", start, err) }(time.Now())
	return s.Store.CreateOIDCToken(ctx, t)
}

func (s *instrumented) OIDCToken(ctx context.Context, tenantID, id string) (out OIDCToken, err error) {
	defer func(start time.Time) { s.done("oidc_token", start, err) }(time.Now())
	return s.Store.OIDCToken(ctx, tenantID, id)
}

func (s *instrumented) UseOIDCRefreshToken(ctx context.Context, tenantID, id string, now time.Time) (out OIDCToken, err error) {
	defer func(start time.Time) { s.done("use_oidc_refresh_token", start, err) }(time.Now())
	return s.Store.UseOIDCRefreshToken(ctx, tenantID, id, now)
}

func (s *instrumented) RevokeOIDCFamily(ctx context.Context, tenantID, family string, at time.Time) (out int64, err error) {
	defer func(start time.Time) { s.done("revoke_oidc_family", start, err) }(time.Now())
	return s.Store.RevokeOIDCFamily(ctx, tenantID, family, at)
}

// ---- SAML single logout and metadata refresh ----

func (s *instrumented) DeleteSAMLSessions(ctx context.Context, tenantID, nameID string, sessionIndexes []string) (out []string, err error) {
	defer func(start time.Time) { s.done("delete_saml_sessions", start, err) }(time.Now())
	return s.Store.DeleteSAMLSessions(ctx, tenantID, nameID, sessionIndexes)
}

func (s *instrumented) RevokeOIDCUserTokens(ctx context.Context, tenantID, userID string, at time.Time) (out int64, err error) {
	defer func(start time.Time) { s.done("revoke_oidc_user_tokens", start, err) }(time.Now())
	return s.Store.RevokeOIDCUserTokens(ctx, tenantID, userID, at)
}

func (s *instrumented) ScheduleSAMLMetadataRefresh(ctx context.Context, tenantID string, at, due time.Time) (err error) {
	defer func(start time.Time) { s.done("schedule_saml_metadata_refresh", start, err) }(time.Now())
	return s.Store.ScheduleSAMLMetadataRefresh(ctx, tenantID, at, due)
}

func (s *instrumented) SAMLMetadataRefresh(ctx context.Context, tenantID string) (out SAMLMetadataRefresh, err error) {
	defer func(start time.Time) { s.done("saml_metadata_refresh", start, err) }(time.Now())
	return s.Store.SAMLMetadataRefresh(ctx, tenantID)
}

func (s *instrumented) ClaimSAMLMetadataRefreshes(ctx context.Context, now time.Time, lease time.Duration, limit int) (out []SAMLMetadataRefresh, err error) {
	defer func(start time.Time) { s.done("claim_saml_metadata_refreshes", start, err) }(time.Now())
	return s.Store.ClaimSAMLMetadataRefreshes(ctx, now, lease, limit)
}

func (s *instrumented) FinishSAMLMetadataRefresh(ctx context.Context, tenantID, leaseToken string, at, due time.Time, errText string) (err error) {
	defer func(start time.Time) { s.done("finish_saml_metadata_refresh", start, err) }(time.Now())
	return s.Store.FinishSAMLMetadataRefresh(ctx, tenantID, leaseToken, at, due, errText)
}

func (s *instrumented) PruneOIDC(ctx context.Context, now time.Time) (out int64, err error) {
	defer func(start time.Time) { s.done("prune_oidc", start, err) }(time.Now())
	return s.Store.PruneOIDC(ctx, now)
}
