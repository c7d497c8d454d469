package directory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/scimd/scimd/internal/store"
)

// Administrative changes: tokens, SAML settings and user types. Whether they come from the
// CLI or the admin console, they go through these methods, which apply the same rules and
// write the change and its audit event in one transaction: there is never a change without
// its event, nor an event without its change.

// InputError is an administrative change refused for its input; Field names the input
// ("label", "user_types", "default_user_type") and the message is a sentence for a person.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Msg }

// MaxTokenLabel is the longest token label, in bytes.
const MaxTokenLabel = 100

// CheckTokenLabel returns the label trimmed, or an *InputError saying what is wrong with it.
func CheckTokenLabel(label string) (string, error) {
	label = strings.TrimSpace(label)
	switch {
	case label == "":
		return "", &InputError{"label", "give the token a label, such as the name of the identity provider that will use it"}
	case len(label) > MaxTokenLabel:
		return "", &InputError{"label", fmt.Sprintf("use at most %d characters", MaxTokenLabel)}
	}
	return label, nil
}

// adminEvent is the audit event of an administrative change by the actor of ctx.
func (d *Directory) adminEvent(ctx context.Context, t store.Tenant, name, rtype, id, resName string) *store.Event {
	a := ActorFrom(ctx)
	return &store.Event{TenantID: t.ID, At: d.now(), Name: name, Outcome: OutcomeSuccess, Actor: a.Name, TokenID: a.TokenID,
		ResourceType: rtype, ResourceID: id, ResourceName: resName}
}

// SetUserTypes sets a tenant's allowed user types and default (which must be one of them),
// audited as user_types_update. Errors: *InputError; store errors.
func (d *Directory) SetUserTypes(ctx context.Context, t store.Tenant, types []string, def string) (store.Tenant, error) {
	var clean []string
	for _, ut := range types {
		if ut = strings.TrimSpace(ut); ut != "" {
			clean = append(clean, ut)
		}
	}
	if len(clean) == 0 {
		return t, &InputError{"user_types", "at least one user type is needed"}
	}
	found := false
	for _, ut := range clean {
		if strings.EqualFold(ut, def) {
			def, found = ut, true
		}
	}
	if !found {
		return t, &InputError{"default_user_type", fmt.Sprintf("default user type %q is not one of %s", def, strings.Join(clean, ", "))}
	}
	t.UserTypes, t.DefaultUserType = clean, def
	ev := d.adminEvent(ctx, t, EventUserTypes, "Tenant", t.ID, t.Slug)
	ev.Detail = "user types " + strings.Join(clean, ",") + ", default " + def
	if err := d.store.UpdateTenant(ctx, t, ev); err != nil {
		return t, err
	}
	d.observe(*ev)
	return t, nil
}

// TokenPrefix starts every SCIM token, so that secret scanners can recognise one.
const TokenPrefix = "scimd_"

// IssueToken creates a new 256-bit random token for the tenant and returns it; only its
// hash is stored, so this is the one time it can be shown. The label follows
// CheckTokenLabel. Errors: *InputError; store errors.
func (d *Directory) IssueToken(ctx context.Context, t store.Tenant, label string) (string, store.Token, error) {
	label, err := CheckTokenLabel(label)
	if err != nil {
		return "", store.Token{}, err
	}
	var secret [32]byte
	rand.Read(secret[:])
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	var id [12]byte
	rand.Read(id[:])
	rec := store.Token{ID: "tok_" + base64.RawURLEncoding.EncodeToString(id[:]), TenantID: t.ID, Label: label, CreatedAt: d.now()}
	ev := d.adminEvent(ctx, t, EventTokenCreate, "Token", rec.ID, label)
	ev.TokenID = rec.ID
	if err := d.store.CreateToken(ctx, rec, HashToken(token), ev); err != nil {
		return "", rec, err
	}
	d.observe(*ev)
	return token, rec, nil
}

// ErrNoToken: the tenant has no token with the id.
var ErrNoToken = errors.New("no token")

// RevokeToken revokes the tenant's token with the id, audited as scim_token_revoke; a
// revoked one stays revoked and is not audited again. Errors: ErrNoToken (wrapped, naming
// the tenant and id); store errors.
func (d *Directory) RevokeToken(ctx context.Context, t store.Tenant, id string) error {
	toks, err := d.store.Tokens(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, tok := range toks {
		if tok.ID != id {
			continue
		}
		if tok.Revoked() {
			return nil
		}
		ev := d.adminEvent(ctx, t, EventTokenRevoke, "Token", id, tok.Label)
		ev.TokenID = id
		err := d.store.RevokeToken(ctx, t.ID, id, d.now(), ev)
		if errors.Is(err, store.ErrNotFound) {
			break // deleted since it was listed
		}
		if err != nil {
			return err
		}
		d.observe(*ev)
		return nil
	}
	return fmt.Errorf("tenant %q has %w %q", t.Slug, ErrNoToken, id)
}

// ConfigureSAML stores the tenant's SAML settings (checked by the caller, package saml),
// audited as saml_configure, and returns them as stored. Errors are the store's.
func (d *Directory) ConfigureSAML(ctx context.Context, t store.Tenant, cfg store.SAMLConfig) (store.SAMLConfig, error) {
	cfg.TenantID = t.ID
	ev := d.adminEvent(ctx, t, EventSAMLConfigure, "SAML", "", "single sign-on")
	out, err := d.store.PutSAMLConfig(ctx, cfg, ev)
	if err != nil {
		return out, err
	}
	d.observe(*ev)
	return out, nil
}
