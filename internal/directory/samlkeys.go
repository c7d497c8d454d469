package directory

import (
	"context"

	"github.com/scimd/scimd/internal/store"
)

// Audit events of the SP certificate's rotation: the next key pair published, and made
// current (the old one retired).
const (
	EventSAMLSPCertRotate   = "saml_sp_cert_rotate"
	EventSAMLSPCertActivate = "saml_sp_cert_activate"
)

// SwapSAMLSPKeys writes the SP key pairs of cfg (made by package saml) to tenant t's SAML
// settings, audited as event (EventSAMLSPCertRotate or EventSAMLSPCertActivate) with
// detail, in the same transaction, provided the stored key pairs are still those of
// fromCert and fromNextCert. Errors are the store's: store.ErrNotFound (no settings),
// store.ErrConflict (another rotation came first).
func (d *Directory) SwapSAMLSPKeys(ctx context.Context, t store.Tenant, cfg store.SAMLConfig, fromCert, fromNextCert, event, detail string) (store.SAMLConfig, error) {
	cfg.TenantID = t.ID
	ev := d.adminEvent(ctx, t, event, "SAML", "", "SP certificate")
	ev.Detail = detail
	out, err := d.store.SwapSAMLSPKeys(ctx, cfg, fromCert, fromNextCert, ev)
	if err != nil {
		return out, err
	}
	d.observe(*ev)
	return out, nil
}
