package console

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// ---- /admin/saml ----

// samlForm is the SAML settings form: what was entered and the error of each field.
type samlForm struct {
	Source          string // "fields" or "metadata"
	SSOURL          string
	Issuer          string
	Cert            string
	Metadata        string
	JIT             bool
	TrustUserType   bool
	IdPInitiated    bool
	DefaultRedirect string
	DefaultUserType string
	// RequireEncrypted refuses assertions that are not encrypted to the SP certificate.
	RequireEncrypted bool
	Errors           map[string]string
}

type samlView struct {
	Form       samlForm
	Configured bool
	Updated    string
	SP         sso.SPValues
	UserTypes  []string
	TestURL    string
	Saved      bool
	Certs      []sso.Certificate // the stored IdP signing certificates
	// SPCerts is the current SP certificate, NextSPCerts the one a rotation published
	// (spcert.go); SPCertDone says which step was just taken.
	SPCerts, NextSPCerts []sso.Certificate
	SPCertDone           string
	SPCertError          string
}

func (s *Service) samlView(ctx context.Context, q *request) (*samlView, error) {
	t := q.tenant
	v := &samlView{UserTypes: t.UserTypes, TestURL: "/t/" + t.Slug + "/saml/login?return_to=/t/" + t.Slug + "/admin/saml",
		Form: samlForm{Source: "fields", DefaultUserType: t.DefaultUserType}}
	cfg, err := s.store.SAMLConfig(ctx, t.ID)
	switch {
	case err == nil:
		v.Configured = true
		v.Updated = when(cfg.UpdatedAt)
		v.SP = s.sso.Values(t.Slug, &cfg)
		v.Form.SSOURL, v.Form.Issuer, v.Form.Cert = cfg.IdPSSOURL, cfg.IdPEntityID, cfg.IdPCertPEM
		v.Form.JIT, v.Form.IdPInitiated, v.Form.DefaultRedirect = cfg.JIT, cfg.AllowIdPInitiated, cfg.DefaultRedirect
		v.Form.TrustUserType = cfg.JITTrustUserType
		v.Certs = sso.Certificates(cfg.IdPCertPEM)
		v.Form.RequireEncrypted = cfg.RequireEncryptedAssertions
		v.SPCerts, v.NextSPCerts = sso.Certificates(cfg.SPCertPEM), sso.Certificates(cfg.SPNextCertPEM)
	case errors.Is(err, store.ErrNotFound):
		v.SP = s.sso.Values(t.Slug, nil)
	default:
		return nil, err
	}
	return v, nil
}

func (s *Service) samlPage(w http.ResponseWriter, r *http.Request, q *request) error {
	v, err := s.samlView(r.Context(), q)
	if err != nil {
		return err
	}
	v.Saved = r.URL.Query().Get("saved") == "1"
	v.SPCertDone = spCertDone[r.URL.Query().Get("sp_cert")]
	s.render(w, http.StatusOK, "saml", &view{Title: "SAML single sign-on", Nav: "saml", Slug: q.tenant.Slug, Page: v, Script: true, req: q})
	return nil
}

// settingsFields maps the fields of sso.Settings to the form's.
var settingsFields = map[string]string{"SSOURL": "sso_url", "Issuer": "issuer", "CertPEM": "cert",
	"IdPMetadata": "metadata", "DefaultRedirect": "default_redirect"}

// samlSave validates the form with the SAML service's Configure, exactly as `scimd saml configure` does,
// and sets the tenant's default userType. Errors are shown next to their field.
func (s *Service) samlSave(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx, t := r.Context(), q.tenant
	f := r.PostForm
	form := samlForm{Source: f.Get("source"), SSOURL: strings.TrimSpace(f.Get("sso_url")), Issuer: strings.TrimSpace(f.Get("issuer")),
		Cert: f.Get("cert"), Metadata: f.Get("metadata"), JIT: f.Get("jit") == "on", TrustUserType: f.Get("jit_trust_user_type") == "on", IdPInitiated: f.Get("allow_idp_initiated") == "on",
		DefaultRedirect: strings.TrimSpace(f.Get("default_redirect")), DefaultUserType: f.Get("default_user_type"), Errors: map[string]string{},
		RequireEncrypted: f.Get("require_encrypted_assertions") == "on"}
	in := sso.Settings{JIT: form.JIT, JITTrustUserType: form.TrustUserType, AllowIdPInitiated: form.IdPInitiated, DefaultRedirect: form.DefaultRedirect,
		RequireEncryptedAssertions: form.RequireEncrypted}
	if form.Source == "metadata" {
		in.IdPMetadata = []byte(strings.TrimSpace(form.Metadata))
		if len(in.IdPMetadata) == 0 {
			form.Errors["metadata"] = "paste the IdP's metadata XML, or choose to enter the SSO URL, issuer and certificate"
		}
	} else {
		form.Source = "fields"
		in.SSOURL, in.Issuer, in.CertPEM = form.SSOURL, form.Issuer, []byte(form.Cert)
	}
	userType := ""
	for _, ut := range t.UserTypes {
		if strings.EqualFold(ut, form.DefaultUserType) {
			userType = ut
		}
	}
	if userType == "" {
		form.Errors["default_user_type"] = "choose one of " + strings.Join(t.UserTypes, ", ")
	}
	if len(form.Errors) == 0 {
		_, err := s.sso.Configure(directory.WithActor(ctx, q.actor()), t, in)
		var se *sso.SettingsError
		switch {
		case errors.As(err, &se):
			form.Errors[settingsFields[se.Field]] = se.Error()
		case err != nil:
			return err
		}
	}
	if len(form.Errors) > 0 {
		v, err := s.samlView(ctx, q)
		if err != nil {
			return err
		}
		v.Form = form
		s.render(w, http.StatusBadRequest, "saml", &view{Title: "SAML single sign-on", Nav: "saml", Slug: t.Slug, Page: v, Script: true, req: q})
		return nil
	}
	if userType != t.DefaultUserType {
		if _, err := s.dir.SetUserTypes(directory.WithActor(ctx, q.actor()), t, t.UserTypes, userType); err != nil {
			return err
		}
	}
	redirect(w, r, "/t/"+t.Slug+"/admin/saml?saved=1")
	return nil
}

// ---- /admin/scim ----

type tokenRow struct {
	store.Token
	Confirm bool // the revoke confirmation is open
}

type scimView struct {
	BaseURL    string
	Tokens     []tokenRow
	Live       int
	NewToken   string
	NewLabel   string
	Label      string
	LabelError string
	Revoked    string
}

func (s *Service) scimView(ctx context.Context, q *request, confirm string) (*scimView, error) {
	toks, err := s.store.Tokens(ctx, q.tenant.ID)
	if err != nil {
		return nil, err
	}
	v := &scimView{BaseURL: s.cfg.PublicURL + "/scim/v2/"}
	// Newest first: the one just made is at the top.
	for i := len(toks) - 1; i >= 0; i-- {
		v.Tokens = append(v.Tokens, tokenRow{Token: toks[i], Confirm: toks[i].ID == confirm && !toks[i].Revoked()})
		if !toks[i].Revoked() {
			v.Live++
		}
	}
	return v, nil
}

func (s *Service) scimPage(w http.ResponseWriter, r *http.Request, q *request) error {
	v, err := s.scimView(r.Context(), q, r.URL.Query().Get("revoke"))
	if err != nil {
		return err
	}
	if r.URL.Query().Get("revoked") == "1" {
		v.Revoked = "The token is revoked; requests that carry it are refused from now on."
	}
	s.render(w, http.StatusOK, "scim", &view{Title: "SCIM provisioning", Nav: "scim", Slug: q.tenant.Slug, Page: v, Script: true, req: q})
	return nil
}

// tokenCreate makes a token and shows it, this once, on the page it answers with.
func (s *Service) tokenCreate(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	label := strings.TrimSpace(r.PostForm.Get("label"))
	token, _, err := s.dir.IssueToken(directory.WithActor(ctx, q.actor()), q.tenant, label)
	var ie *directory.InputError
	if errors.As(err, &ie) {
		v, err := s.scimView(ctx, q, "")
		if err != nil {
			return err
		}
		v.Label, v.LabelError = label, ie.Msg
		s.render(w, http.StatusBadRequest, "scim", &view{Title: "SCIM provisioning", Nav: "scim", Slug: q.tenant.Slug, Page: v, Script: true, req: q})
		return nil
	}
	if err != nil {
		return err
	}
	v, err := s.scimView(ctx, q, "")
	if err != nil {
		return err
	}
	v.NewToken, v.NewLabel = token, label
	s.render(w, http.StatusOK, "scim", &view{Title: "SCIM provisioning", Nav: "scim", Slug: q.tenant.Slug, Page: v, Script: true, req: q})
	return nil
}

// tokenRevoke revokes one of the tenant's tokens; another tenant's id is not found.
func (s *Service) tokenRevoke(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx, id := r.Context(), chi.URLParam(r, "id")
	err := s.dir.RevokeToken(directory.WithActor(ctx, q.actor()), q.tenant, id)
	if errors.Is(err, directory.ErrNoToken) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/t/"+q.tenant.Slug+"/admin/scim?revoked=1")
	return nil
}
