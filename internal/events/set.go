package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
)

// MediaType is the content type of a SET on the wire (RFC 8417 §2.3); its JWS header
// carries "typ": TokenType.
const (
	MediaType = "application/secevent+jwt"
	TokenType = "secevent+jwt"
)

// Signer signs SETs with the deployment's key set, the one whose public keys the JWKS URL
// publishes (the same keys as the OpenID Connect tokens).
type Signer interface {
	// Sign returns the compact JWS of payload, with typ in its protected header, signed
	// with the current signing key (its kid in the header). *signing.KeySet is one.
	Sign(ctx context.Context, payload []byte, typ string) (string, error)
}

// Claims is a SET's claims (RFC 8417 §2.2, RFC 9967 §2).
type Claims struct {
	Iss    string  `json:"iss"`
	Aud    string  `json:"aud"`
	Jti    string  `json:"jti"`
	Iat    int64   `json:"iat"`
	Toe    int64   `json:"toe"` // when the change was made
	Txn    string  `json:"txn"` // the change: the same in every stream's SET of it
	SubID  SubID   `json:"sub_id"`
	Events Payload `json:"events"`
	Tenant Tenant  `json:"tenant"`
}

// SubID names the resource (RFC 9967 §2.1: format "scim", the resource's path below the
// SCIM base URL).
type SubID struct {
	Format string `json:"format"`
	URI    string `json:"uri"`
}

// Tenant is the tenant whose resource changed.
type Tenant struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
}

// JTI is a SET's identifier: the stream, the audit event (tenant and id) and the replay
// generation, so that a receiver deduplicates retries of one SET and a replay is new.
func JTI(streamID string, d store.Delivery) string {
	return fmt.Sprintf("%s.%s.%d.%d", streamPrefix(streamID), d.Event.TenantID, d.Event.ID, d.Gen)
}

func streamPrefix(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// ParseJTI reads a jti of the stream back into its audit event and generation; ok is
// false for anything scimd did not issue to this stream.
func ParseJTI(streamID, jti string) (tenantID string, eventID int64, gen int, ok bool) {
	parts := strings.Split(jti, ".")
	if len(parts) != 4 || parts[0] != streamPrefix(streamID) || parts[1] == "" || len(parts[1]) > 64 {
		return "", 0, 0, false
	}
	id, err1 := strconv.ParseInt(parts[2], 10, 64)
	g, err2 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || id <= 0 || g < 0 {
		return "", 0, 0, false
	}
	return parts[1], id, g, true
}

// Build returns the claims of a delivery's SET for the stream; ok is false when the
// stream keeps none of the audit event's RFC 9967 events.
func Build(issuer string, st store.Stream, d store.Delivery, now time.Time) (c Claims, ok bool) {
	p := For(d.Event, st.EventURIs)
	if len(p) == 0 {
		return Claims{}, false
	}
	path := "/Users/"
	if d.Event.ResourceType == "Group" {
		path = "/Groups/"
	}
	return Claims{
		Iss:    issuer,
		Aud:    st.Audience,
		Jti:    JTI(st.ID, d),
		Iat:    now.Unix(),
		Toe:    d.Event.At.Unix(),
		Txn:    fmt.Sprintf("%s.%d", d.Event.TenantID, d.Event.ID),
		SubID:  SubID{Format: "scim", URI: path + d.Event.ResourceID},
		Events: p,
		Tenant: Tenant{ID: d.Event.TenantID, Slug: d.TenantSlug},
	}, true
}

// Sign builds and signs a delivery's SET; ok is false when there is nothing to send.
func Sign(ctx context.Context, s Signer, issuer string, st store.Stream, d store.Delivery, now time.Time) (jti, set string, ok bool, err error) {
	c, ok := Build(issuer, st, d, now)
	if !ok {
		return "", "", false, nil
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", "", false, err
	}
	set, err = s.Sign(ctx, payload, TokenType)
	if err != nil {
		return "", "", false, fmt.Errorf("sign SET: %w", err)
	}
	return c.Jti, set, true, nil
}

var _ Signer = (*signing.KeySet)(nil)
