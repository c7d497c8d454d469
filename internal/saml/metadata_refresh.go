package saml

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/crewjam/saml/samlsp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// IdP metadata from a URL, refreshed in the background.
//
// ConfigureMetadataURL fetches the document at configure time (a failure saves nothing),
// configures the tenant from it as a metadata file would, keeps the URL with the settings,
// and schedules the next refresh in saml_metadata_refresh. Every replica runs
// RefreshMetadataEvery; a due tenant is claimed in the database with a lease, so one
// replica at a time fetches it. A refresh that fails — unreachable, slow, too large,
// redirected to another host, a private address, not metadata, expired, without a valid
// certificate — keeps the settings of the last good document (users keep signing in with
// them), records the error and its time for the console and `scimd saml show`, is logged
// and counted, and is retried sooner (from the floor, doubling up to the interval). A good
// document that changes the IdP's entity id, SSO URL, SLO URL or certificates is saved
// through the directory like any settings change (audited); an unchanged one only moves the
// due time. The next refresh is the earliest of the interval, the document's cacheDuration
// and its validUntil, but never sooner than the floor.

// ActorMetadataRefresh is the actor of the settings changes the background refresh makes.
const ActorMetadataRefresh = "saml-metadata-refresh"

// Outcomes of scimd_saml_metadata_refresh_total.
const (
	MetadataUnchanged = "unchanged"
	MetadataUpdated   = "updated"
	MetadataFailed    = "fetch_failed"
	MetadataTimeout   = "timeout"
	MetadataTooLarge  = "too_large"
	MetadataRedirect  = "redirect_refused"
	MetadataPrivate   = "private_refused"
	MetadataInvalid   = "invalid"
	MetadataError     = "error" // scimd's own failure (the database)
)

var metadataOutcomes = []string{MetadataUnchanged, MetadataUpdated, MetadataFailed, MetadataTimeout, MetadataTooLarge,
	MetadataRedirect, MetadataPrivate, MetadataInvalid, MetadataError}

// metadataRefresh is the service's part of the refresh: its bounds, client and counter.
type metadataRefresh struct {
	cfg    MetadataConfig
	client *http.Client
	total  *prometheus.CounterVec
}

func newMetadataRefresh(c MetadataConfig, reg prometheus.Registerer, st store.Store, tenantLabel bool) (*metadataRefresh, error) {
	c = c.withDefaults()
	m := &metadataRefresh{cfg: c, client: metadataClient(c), total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimd_saml_metadata_refresh_total",
		Help: "Background refreshes of IdP metadata URLs by outcome (unchanged, updated; fetch_failed, timeout, too_large, redirect_refused, private_refused, invalid, error: the last good settings are kept).",
	}, []string{"outcome"})}
	if err := reg.Register(m.total); err != nil {
		return nil, err
	}
	for _, o := range metadataOutcomes {
		m.total.WithLabelValues(o)
	}
	if st != nil {
		if err := reg.Register(newFailingCollector(st, tenantLabel)); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// failingCollector reports the tenants whose last metadata refresh failed (they run on the
// settings of an older document). Like the certificate collector it reads the store at
// scrape time, one tenant-scoped query per tenant with a metadata URL, so every replica
// reports the same and a recovery shows at the next scrape.
type failingCollector struct {
	st          store.Store
	tenantLabel bool
	desc        *prometheus.Desc
}

func newFailingCollector(st store.Store, tenantLabel bool) *failingCollector {
	c := &failingCollector{st: st, tenantLabel: tenantLabel}
	if tenantLabel {
		c.desc = prometheus.NewDesc("scimd_saml_metadata_refresh_failing",
			"1 when the tenant's last IdP metadata refresh failed (its settings are those of the last good document), else 0.", []string{"tenant"}, nil)
	} else {
		c.desc = prometheus.NewDesc("scimd_saml_metadata_refresh_failing",
			"Tenants whose last IdP metadata refresh failed (their settings are those of the last good document).", nil, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector; a store error leaves the series out.
func (c *failingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tenants, err := c.st.Tenants(ctx)
	if err != nil {
		return
	}
	failing := 0
	for _, t := range tenants {
		cfg, err := c.st.SAMLConfig(ctx, t.ID)
		if errors.Is(err, store.ErrNotFound) || err == nil && cfg.IdPMetadataURL == "" {
			continue
		}
		if err != nil {
			return
		}
		st, err := c.st.SAMLMetadataRefresh(ctx, t.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return
		}
		v := 0.0
		if st.LastError != "" {
			v, failing = 1, failing+1
		}
		if c.tenantLabel {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, t.Slug)
		}
	}
	if !c.tenantLabel {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(failing))
	}
}

// next is when a document fetched at now, valid until validUntil (zero: no limit) and
// cacheable for cacheDuration (zero: no hint), is refreshed: the earliest of the three,
// never sooner than the floor.
func (c MetadataConfig) next(now, validUntil time.Time, cacheDuration time.Duration) time.Time {
	d := c.Interval
	if cacheDuration > 0 && cacheDuration < d {
		d = cacheDuration
	}
	if !validUntil.IsZero() && validUntil.Sub(now) < d {
		d = validUntil.Sub(now)
	}
	if d < c.Floor {
		d = c.Floor
	}
	return now.Add(d)
}

// retry is when a refresh that failed for the failures-th time in a row is tried again.
func (c MetadataConfig) retry(now time.Time, failures int) time.Time {
	d := c.Floor
	for i := 1; i < failures && d < c.Interval; i++ {
		d *= 2
	}
	if d > c.Interval {
		d = c.Interval
	}
	return now.Add(d)
}

// parseMetadataDoc reads a fetched document as Configure would and returns the settings it
// gives (certificates checked at now and re-encoded), its validUntil (the earliest of the
// entity's and its IdP descriptor's) and cacheDuration. Errors: not metadata, expired,
// without what is needed, no valid certificate.
func parseMetadataDoc(body []byte, now time.Time) (Settings, time.Time, time.Duration, error) {
	in, err := fromMetadata(Settings{IdPMetadata: body})
	if err != nil {
		return in, time.Time{}, 0, err
	}
	ed, err := samlsp.ParseMetadata(body)
	if err != nil {
		return in, time.Time{}, 0, err
	}
	validUntil, cache := ed.ValidUntil, ed.CacheDuration
	for _, d := range ed.IDPSSODescriptors {
		if d.ValidUntil != nil && (validUntil.IsZero() || d.ValidUntil.Before(validUntil)) {
			validUntil = *d.ValidUntil
		}
		if d.CacheDuration > 0 && (cache == 0 || d.CacheDuration < cache) {
			cache = d.CacheDuration
		}
	}
	if !validUntil.IsZero() && !now.Before(validUntil) {
		return in, validUntil, cache, fmt.Errorf("the IdP metadata expired on %s (validUntil)", validUntil.UTC().Format(time.RFC3339))
	}
	if err := checkSSOURL(in.SSOURL); err != nil {
		return in, validUntil, cache, err
	}
	if in.SLOURL != "" {
		if err := checkIdPURL("the IdP single logout URL", in.SLOURL); err != nil {
			return in, validUntil, cache, err
		}
	}
	certs, err := ParseCertificates(in.CertPEM, now)
	if err != nil {
		return in, validUntil, cache, err
	}
	in.CertPEM = []byte(encodeCerts(certs))
	return in, validUntil, cache, nil
}

// ConfigureMetadataURL fetches the IdP metadata at in.MetadataURL (bounded by mc) and
// configures tenant t from it through dir as Configure does, keeping the URL; then it
// schedules the background refresh in st. A fetch or metadata error is a *SettingsError on
// MetadataURL, and nothing is saved.
func ConfigureMetadataURL(ctx context.Context, dir *directory.Directory, st store.SAMLMetadataStore, t store.Tenant, in Settings, now time.Time, mc MetadataConfig) (store.SAMLConfig, error) {
	mc = mc.withDefaults()
	if in.SSOURL != "" || in.Issuer != "" || len(in.CertPEM) > 0 || len(in.IdPMetadata) > 0 {
		return store.SAMLConfig{}, &SettingsError{Field: "MetadataURL", Err: errors.New("give either the IdP metadata URL or the metadata file or the SSO URL, issuer and certificate, not several")}
	}
	body, err := FetchMetadata(ctx, in.MetadataURL, mc)
	if err != nil {
		return store.SAMLConfig{}, &SettingsError{Field: "MetadataURL", Err: err}
	}
	_, validUntil, cache, err := parseMetadataDoc(body, now)
	if err != nil {
		return store.SAMLConfig{}, &SettingsError{Field: "MetadataURL", Err: err}
	}
	in.IdPMetadata = body
	cfg, err := Configure(ctx, dir, t, in, now)
	var se *SettingsError
	if errors.As(err, &se) && se.Field == "IdPMetadata" {
		se.Field = "MetadataURL"
	}
	if err != nil {
		return cfg, err
	}
	return cfg, st.ScheduleSAMLMetadataRefresh(ctx, t.ID, now, mc.next(now, validUntil, cache))
}

// metadataClaimBatch bounds the tenants one replica refreshes per tick.
const metadataClaimBatch = 10

// RefreshMetadata is one pass of the background refresh, run by serve every minute on
// every replica: it claims the tenants whose metadata refresh is due (at most 10 per pass)
// and refreshes each, one at a time. A claim leases the tenant for twice the fetch timeout
// and a minute, so no other replica fetches it meanwhile. It returns how many it claimed;
// the error is the claim's (a refresh's failure is recorded, logged and counted, not
// returned).
func (s *Service) RefreshMetadata(ctx context.Context) (int64, error) {
	m := s.meta
	claims, err := s.store.ClaimSAMLMetadataRefreshes(ctx, s.now(), 2*m.cfg.Timeout+time.Minute, metadataClaimBatch)
	if err != nil {
		return 0, err
	}
	for _, c := range claims {
		s.refreshMetadataOf(ctx, c)
	}
	return int64(len(claims)), nil
}

// refreshMetadataOf refreshes one claimed tenant and records the outcome under the claim.
func (s *Service) refreshMetadataOf(ctx context.Context, c store.SAMLMetadataRefresh) {
	m := s.meta
	now := s.now()
	outcome, due, err := s.refreshTenant(ctx, c, now)
	m.total.WithLabelValues(outcome).Inc()
	errText := ""
	if err != nil {
		errText = err.Error()
		if len(errText) > 500 {
			errText = errText[:500] + "…"
		}
		due = m.cfg.retry(now, c.Failures+1)
		s.log.WarnContext(ctx, "saml: IdP metadata refresh failed; the last good settings are kept", "tenant_id", c.TenantID,
			"url", c.URL, "outcome", outcome, "err", err, "retry_at", due)
	}
	if err := s.store.FinishSAMLMetadataRefresh(ctx, c.TenantID, c.LeaseToken, now, due, errText); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "saml: metadata refresh outcome not recorded", "tenant_id", c.TenantID, "err", err)
	}
}

// refreshTenant fetches and applies a tenant's metadata; it returns the outcome, when the
// next refresh is due after a success, and the error of a failure.
func (s *Service) refreshTenant(ctx context.Context, c store.SAMLMetadataRefresh, now time.Time) (string, time.Time, error) {
	m := s.meta
	t, err := s.store.Tenant(ctx, c.TenantID)
	if err != nil {
		return MetadataError, time.Time{}, err
	}
	cfg, err := s.store.SAMLConfig(ctx, t.ID)
	if err != nil {
		return MetadataError, time.Time{}, err
	}
	if cfg.IdPMetadataURL == "" { // configured by hand since the claim
		return MetadataUnchanged, now.Add(m.cfg.Interval), nil
	}
	body, err := fetchMetadata(ctx, m.client, cfg.IdPMetadataURL, m.cfg.MaxBytes, m.cfg.Timeout)
	switch {
	case errors.Is(err, errMetadataPrivate):
		return MetadataPrivate, time.Time{}, err
	case errors.Is(err, errMetadataRedirect):
		return MetadataRedirect, time.Time{}, err
	case errors.Is(err, errMetadataTooLarge):
		return MetadataTooLarge, time.Time{}, err
	case errors.Is(err, errMetadataTimeout):
		return MetadataTimeout, time.Time{}, err
	case err != nil:
		return MetadataFailed, time.Time{}, err
	}
	in, validUntil, cache, err := parseMetadataDoc(body, now)
	if err != nil {
		return MetadataInvalid, time.Time{}, err
	}
	next := cfg
	next.IdPEntityID, next.IdPSSOURL, next.IdPCertPEM = in.Issuer, in.SSOURL, string(in.CertPEM)
	if in.SLOURL != "" {
		next.IdPSLOURL = in.SLOURL
	}
	due := m.cfg.next(now, validUntil, cache)
	if providerKey(next) == providerKey(cfg) {
		return MetadataUnchanged, due, nil
	}
	next.UpdatedAt = now
	if _, err := s.dir.ConfigureSAML(directory.WithActor(ctx, directory.Actor{Name: ActorMetadataRefresh}), t, next); err != nil {
		return MetadataError, time.Time{}, err
	}
	s.log.InfoContext(ctx, "saml: IdP metadata refreshed with changes", "tenant", t.Slug, "url", cfg.IdPMetadataURL)
	return MetadataUpdated, due, nil
}
