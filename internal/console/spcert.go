package console

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// ---- /admin/saml/sp-cert/{rotate,activate} ----

// spCertDone are the notices after a step of the SP certificate's rotation, by the
// sp_cert parameter of the redirect.
var spCertDone = map[string]string{
	"rotated":   "The new SP certificate is published in the SP metadata beside the current one, and assertions encrypted to either are accepted. Give it to your identity provider (or let it re-read the metadata URL), then activate it.",
	"activated": "The new SP certificate is active: it signs sign-in requests, and the old one is retired.",
}

// spCertStep takes one step of the SP certificate's rotation, as `scimd saml rotate-sp-cert`
// does (without, then with --activate): a step out of order is shown on the page.
func (s *Service) spCertStep(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx, t := directory.WithActor(r.Context(), q.actor()), q.tenant
	step, done := s.sso.RotateSPCert, "rotated"
	switch chi.URLParam(r, "step") {
	case "rotate":
	case "activate":
		step, done = s.sso.ActivateSPCert, "activated"
	default:
		return errNotFound
	}
	_, err := step(ctx, t)
	msg := ""
	switch {
	case errors.Is(err, sso.ErrRotationPending), errors.Is(err, sso.ErrNoRotation):
		msg = err.Error()
	case errors.Is(err, store.ErrNotFound):
		msg = "Single sign-on is not configured yet: save the settings below first."
	case errors.Is(err, store.ErrConflict):
		msg = "The SP certificate changed meanwhile (another admin?); check it below and try again."
	case err != nil:
		return err
	default:
		redirect(w, r, "/t/"+t.Slug+"/admin/saml?sp_cert="+done+"#sp-certs")
		return nil
	}
	v, err := s.samlView(r.Context(), q)
	if err != nil {
		return err
	}
	v.SPCertError = msg
	s.render(w, http.StatusConflict, "saml", &view{Title: "SAML single sign-on", Nav: "saml", Slug: t.Slug, Page: v, Script: true, req: q})
	return nil
}
