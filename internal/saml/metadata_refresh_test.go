package saml

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml/samltest"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// metadataDoc is an IdP's metadata with idp's certificate; extra attributes go on the
// EntityDescriptor (validUntil, cacheDuration).
func metadataDoc(idp *testIdP, extra string) string {
	return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + idp.EntityID + `"` + extra + `>` +
		`<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` +
		base64.StdEncoding.EncodeToString(idp.Cert.Raw) + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/slo"/>` +
		`<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>` +
		`</IDPSSODescriptor></EntityDescriptor>`
}

// metadataServer serves what its handler says at /md, counting the fetches.
type metadataServer struct {
	*httptest.Server
	mu      sync.Mutex
	handler http.HandlerFunc
	fetches atomic.Int64
}

func newMetadataServer(t *testing.T, body string) *metadataServer {
	m := &metadataServer{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.fetches.Add(1)
		m.mu.Lock()
		h := m.handler
		m.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(m.Close)
	m.serve(body)
	return m
}

func (m *metadataServer) set(h http.HandlerFunc) {
	m.mu.Lock()
	m.handler = h
	m.mu.Unlock()
}

func (m *metadataServer) serve(body string) {
	m.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		fmt.Fprint(w, body)
	})
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// metaEnv is env with a settable clock and metadata bounds suited to a local test server.
func metaEnv(t *testing.T, s store.Store, mc MetadataConfig) (*env, *clock) {
	t.Helper()
	clk := &clock{now: time.Now().UTC()}
	e := newEnvTuned(t, s, cfgOpts{}, Config{PublicURL: publicURL, Now: clk.Now, Metadata: mc}, directory.Bounds{}, slog.New(slog.DiscardHandler))
	return e, clk
}

// configureURL configures acme from the metadata URL with the test binary's SP key pair.
func (e *env) configureURL(u string, mc MetadataConfig, now time.Time) (store.SAMLConfig, error) {
	fixed := directory.New(fixedKeyStore{e.store}, slog.New(slog.DiscardHandler), nil)
	return ConfigureMetadataURL(ctx, fixed, e.store, e.acme, Settings{MetadataURL: u, JIT: true}, now, mc)
}

func (e *env) metaCount(outcome string) float64 {
	return counterValue(e.svc.meta.total.WithLabelValues(outcome))
}

var testMetaConfig = MetadataConfig{AllowPrivate: true, Timeout: 500 * time.Millisecond, MaxBytes: 32 << 10, Floor: time.Minute}

// TestMetadataURLConfigure: the document is fetched at configure time and the tenant is
// configured from it, the URL kept and the refresh scheduled; a failed fetch saves nothing.
func TestMetadataURLConfigure(t *testing.T) {
	e, clk := metaEnv(t, teststores.SQLite(t), testMetaConfig)
	srv := newMetadataServer(t, metadataDoc(e.idp, ` cacheDuration="PT6H"`))
	before, _ := e.store.SAMLConfig(ctx, e.acme.ID)

	bad := []struct {
		name, url string
		mc        MetadataConfig
		handler   http.HandlerFunc
		want      string
	}{
		{"http to a public host", "http://idp.example.com/md", testMetaConfig, nil, "must use https"},
		{"not found", srv.URL + "/md", testMetaConfig, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "404"},
		{"not metadata", srv.URL + "/md", testMetaConfig, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>login</html>") }, "cannot be read"},
		{"private without the flag", srv.URL + "/md", MetadataConfig{}, nil, "private"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if tc.handler != nil {
				srv.set(tc.handler)
				defer srv.serve(metadataDoc(e.idp, ""))
			}
			_, err := e.configureURL(tc.url, tc.mc, clk.Now())
			var se *SettingsError
			if !errors.As(err, &se) || se.Field != "MetadataURL" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Configure = %v, want a MetadataURL error with %q", err, tc.want)
			}
			if after, _ := e.store.SAMLConfig(ctx, e.acme.ID); after.IdPMetadataURL != "" || after.UpdatedAt != before.UpdatedAt {
				t.Fatalf("a failed configure saved %+v", after)
			}
		})
	}

	srv.serve(metadataDoc(e.idp, ` cacheDuration="PT6H"`))
	cfg, err := e.configureURL(srv.URL+"/md", testMetaConfig, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IdPMetadataURL != srv.URL+"/md" || cfg.IdPEntityID != e.idp.EntityID || cfg.IdPSSOURL != "https://idp.example.com/sso" ||
		cfg.IdPSLOURL != "https://idp.example.com/slo" || cfg.IdPCertPEM != string(e.idp.CertPEM) {
		t.Fatalf("configured %+v", cfg)
	}
	st, err := e.store.SAMLMetadataRefresh(ctx, e.acme.ID)
	if err != nil || !st.DueAt.Equal(clk.Now().Add(6*time.Hour).Truncate(time.Microsecond)) && !st.DueAt.Equal(clk.Now().Add(6*time.Hour)) {
		t.Fatalf("refresh state = %+v, %v; want due in 6h (cacheDuration)", st, err)
	}
	// Through the service (the console's path), with its bounds.
	if _, err := e.svc.Configure(ctx, e.beta, Settings{MetadataURL: srv.URL + "/md"}); err != nil {
		t.Fatalf("Service.Configure: %v", err)
	}
}

// TestMetadataRefresh: a due refresh picks up a changed certificate; an invalid, oversized,
// slow, redirected, missing or expired document keeps the last good settings (logins go on
// working), records the error, raises the metric and is retried sooner.
func TestMetadataRefresh(t *testing.T) {
	e, clk := metaEnv(t, teststores.SQLite(t), testMetaConfig)
	idpA := e.idp
	idpB := samltest.NewIdP(t, idpA.EntityID, 1)
	srv := newMetadataServer(t, metadataDoc(idpA, ""))
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, metadataDoc(idpB, "")) }))
	defer other.Close()
	if _, err := e.configureURL(srv.URL+"/md", testMetaConfig, clk.Now()); err != nil {
		t.Fatal(err)
	}
	login := func(idp *testIdP) int {
		b := e.browser()
		id := b.startLogin("acme", "")
		return b.postResponse("acme", idp.Response(t, acsURL("acme"), entityID("acme"), assertionSpec{InResponseTo: id, NameID: "ann@example.com"}), "").Code
	}
	// The other server is reached as localhost: another host than 127.0.0.1.
	otherHost := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		outcome  string
		certIs   *testIdP // the IdP whose certificate is configured after the refresh
		errorHas string
	}{
		{"unchanged", nil, MetadataUnchanged, idpA, ""},
		{"invalid XML", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<EntityDescriptor") }, MetadataInvalid, idpA, "cannot be read"},
		{"not an IdP", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"></EntityDescriptor>`)
		}, MetadataInvalid, idpA, "no IDPSSODescriptor"},
		{"expired", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, metadataDoc(idpB, ` validUntil="2001-01-01T00:00:00Z"`))
		}, MetadataInvalid, idpA, "expired"},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, metadataDoc(idpB, ` ID="`+strings.Repeat("x", 40<<10)+`"`))
		}, MetadataTooLarge, idpA, "too large"},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, MetadataTimeout, idpA, "in time"},
		{"redirected to another host", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, otherHost+"/md", http.StatusFound)
		}, MetadataRedirect, idpA, "another host"},
		{"missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, MetadataFailed, idpA, "404"},
		{"changed certificate", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, metadataDoc(idpB, "")) }, MetadataUpdated, idpB, ""},
		{"redirected on the same host", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/md" {
				http.Redirect(w, r, "/md2", http.StatusFound)
				return
			}
			fmt.Fprint(w, metadataDoc(idpB, ""))
		}, MetadataUnchanged, idpB, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.handler != nil {
				srv.set(tc.handler)
			} else {
				srv.serve(metadataDoc(idpA, ""))
			}
			st, err := e.store.SAMLMetadataRefresh(ctx, e.acme.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Not due yet: nothing is claimed.
			clk.set(st.DueAt.Add(-time.Second))
			if n, _ := e.svc.RefreshMetadata(ctx); n != 0 {
				t.Fatalf("refreshed %d before due", n)
			}
			clk.set(st.DueAt)
			before := e.metaCount(tc.outcome)
			if n, err := e.svc.RefreshMetadata(ctx); n != 1 || err != nil {
				t.Fatalf("refreshed %d when due, want 1", n)
			}
			if got := e.metaCount(tc.outcome); got != before+1 {
				t.Fatalf("%s count = %v, want %v", tc.outcome, got, before+1)
			}
			cfg, _ := e.store.SAMLConfig(ctx, e.acme.ID)
			if cfg.IdPCertPEM != string(tc.certIs.CertPEM) {
				t.Fatal("the configured certificate is not the expected one")
			}
			if code := login(tc.certIs); code != http.StatusSeeOther {
				t.Fatalf("login signed by the configured certificate = %d", code)
			}
			after, _ := e.store.SAMLMetadataRefresh(ctx, e.acme.ID)
			if !strings.Contains(after.LastError, tc.errorHas) || (tc.errorHas == "") != (after.LastError == "") {
				t.Fatalf("last error = %q, want one with %q", after.LastError, tc.errorHas)
			}
			wantFailing := 0.0
			if tc.errorHas != "" {
				wantFailing = 1
			}
			if got := gaugeValue(t, newFailingCollector(e.store, false)); got != wantFailing {
				t.Fatalf("scimd_saml_metadata_refresh_failing = %v, want %v", got, wantFailing)
			}
			wantDue := clk.Now().Add(12 * time.Hour)
			if tc.errorHas != "" {
				wantDue = clk.Now().Add(time.Minute << (after.Failures - 1))
			}
			if !after.DueAt.Equal(wantDue) {
				t.Fatalf("next due %v, want %v (failures %d)", after.DueAt, wantDue, after.Failures)
			}
		})
	}
	evs, err := e.store.Events(ctx, e.acme.ID, store.EventQuery{Name: directory.EventSAMLConfigure})
	if err != nil || len(evs) < 2 || evs[len(evs)-1].Actor != ActorMetadataRefresh && evs[0].Actor != ActorMetadataRefresh {
		t.Fatalf("the refresh's change is not audited: %+v, %v", evs, err)
	}
}

// TestMetadataPrivateTargets: without the operator's flag, loopback, private and link-local
// addresses are refused at dial time, whatever name leads there.
func TestMetadataPrivateTargets(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1", "fd00::1",
		"100.64.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1", "224.0.0.1"} {
		if !blockedAddr(netip.MustParseAddr(a)) {
			t.Errorf("%s is not blocked", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "2606:4700::1111", "93.184.216.34"} {
		if blockedAddr(netip.MustParseAddr(a)) {
			t.Errorf("%s is blocked", a)
		}
	}
	e, clk := metaEnv(t, teststores.SQLite(t), testMetaConfig)
	srv := newMetadataServer(t, metadataDoc(e.idp, ""))
	// By name: localhost passes the URL check (a loopback http URL) and is refused when dialled.
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/md"
	for _, u := range []string{srv.URL + "/md", byName} {
		if _, err := FetchMetadata(ctx, u, MetadataConfig{}); !errors.Is(err, errMetadataPrivate) {
			t.Fatalf("FetchMetadata(%s) = %v, want the private-address refusal", u, err)
		}
	}
	if srv.fetches.Load() != 0 {
		t.Fatalf("the server was reached %d times", srv.fetches.Load())
	}
	// A tenant configured while private targets were allowed; a refresher without the flag
	// refuses the target and keeps the settings.
	if _, err := e.configureURL(srv.URL+"/md", testMetaConfig, clk.Now()); err != nil {
		t.Fatal(err)
	}
	strict, err := New(Config{PublicURL: publicURL, Now: clk.Now}, e.store, e.dir, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	clk.set(clk.Now().Add(13 * time.Hour))
	if n, _ := strict.RefreshMetadata(ctx); n != 1 || counterValue(strict.meta.total.WithLabelValues(MetadataPrivate)) != 1 {
		t.Fatalf("refreshed %d, private_refused %v", n, counterValue(strict.meta.total.WithLabelValues(MetadataPrivate)))
	}
	if cfg, _ := e.store.SAMLConfig(ctx, e.acme.ID); cfg.IdPCertPEM != string(e.idp.CertPEM) {
		t.Fatal("the settings changed")
	}
}

// TestMetadataSchedule: the next refresh is the earliest of the interval, cacheDuration and
// validUntil, never sooner than the floor; failures back off from the floor to the interval.
func TestMetadataSchedule(t *testing.T) {
	c := MetadataConfig{}.withDefaults()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		validUntil time.Time
		cache      time.Duration
		want       time.Duration
	}{
		{"interval", time.Time{}, 0, 12 * time.Hour},
		{"shorter cacheDuration", time.Time{}, time.Hour, time.Hour},
		{"longer cacheDuration", time.Time{}, 48 * time.Hour, 12 * time.Hour},
		{"validUntil sooner", now.Add(2 * time.Hour), time.Hour * 3, 2 * time.Hour},
		{"validUntil later", now.Add(72 * time.Hour), 0, 12 * time.Hour},
		{"floor", now.Add(time.Second), time.Second, DefaultMetadataFloor},
	}
	for _, tc := range tests {
		if got := c.next(now, tc.validUntil, tc.cache).Sub(now); got != tc.want {
			t.Errorf("%s: next in %v, want %v", tc.name, got, tc.want)
		}
	}
	for failures, want := range map[int]time.Duration{1: 5 * time.Minute, 2: 10 * time.Minute, 4: 40 * time.Minute, 20: 12 * time.Hour} {
		if got := c.retry(now, failures).Sub(now); got != want {
			t.Errorf("retry after %d failures in %v, want %v", failures, got, want)
		}
	}
}

// TestMetadataRefreshOneReplica: two replicas on one PostgreSQL refreshing at once fetch a
// due tenant's metadata once, and not again within the lease or before it is due.
func TestMetadataRefreshOneReplica(t *testing.T) {
	s := teststores.Postgres(t)
	e, clk := metaEnv(t, s, testMetaConfig)
	srv := newMetadataServer(t, metadataDoc(e.idp, ""))
	if _, err := e.configureURL(srv.URL+"/md", testMetaConfig, clk.Now()); err != nil {
		t.Fatal(err)
	}
	srv.fetches.Store(0) // the fetch at configure time
	slow := make(chan struct{})
	srv.set(func(w http.ResponseWriter, r *http.Request) {
		<-slow // both replicas are refreshing while the first fetch is in flight
		fmt.Fprint(w, metadataDoc(e.idp, ""))
	})
	replicas := []*Service{e.svc}
	for i := 0; i < 3; i++ {
		r, err := New(Config{PublicURL: publicURL, Now: clk.Now, Metadata: testMetaConfig}, s, e.dir, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		r.Mount(chi.NewRouter())
		replicas = append(replicas, r)
	}
	st, _ := s.SAMLMetadataRefresh(ctx, e.acme.ID)
	clk.set(st.DueAt)
	var wg sync.WaitGroup
	var claimed atomic.Int64
	for _, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, _ := r.RefreshMetadata(ctx)
			claimed.Add(n)
		}()
	}
	time.Sleep(200 * time.Millisecond)
	// Within the lease, while the fetch is in flight: nobody else claims it.
	for _, r := range replicas {
		n, _ := r.RefreshMetadata(ctx)
		claimed.Add(n)
	}
	close(slow)
	wg.Wait()
	if claimed.Load() != 1 || srv.fetches.Load() != 1 {
		t.Fatalf("%d claims and %d fetches of one due tenant by %d replicas; want 1 and 1", claimed.Load(), srv.fetches.Load(), len(replicas))
	}
	for _, r := range replicas {
		if n, _ := r.RefreshMetadata(ctx); n != 0 {
			t.Fatalf("refreshed again before due: %d", n)
		}
	}
}

// gaugeValue gathers a collector of one unlabelled gauge.
func gaugeValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gather = %v, %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}
