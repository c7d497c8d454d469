package saml

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/scimd/scimd/internal/defaults"
)

// Fetching an IdP's metadata from its URL, for Configure and the background refresh.
// Anyone who can configure a tenant names the URL, so the fetch is an SSRF surface: it
// goes only to public addresses (unless the operator allows private ones), checked on the
// IP actually dialled, in the dialer's Control function, so a name that resolves to a
// public address when checked and to 127.0.0.1 when connecting (DNS rebinding) is still
// refused; no proxy from the environment (a proxy would dial for us); redirects only to the
// same host and never from https to http; the body bounded in size and the whole exchange
// in time.

// Defaults of MetadataConfig.
const (
	DefaultMetadataMaxBytes = 1 << 20
	DefaultMetadataTimeout  = 10 * time.Second
	DefaultMetadataInterval = 12 * time.Hour
	// DefaultMetadataFloor is the shortest time between two refreshes of one tenant, whatever
	// the metadata's cacheDuration or validUntil ask for.
	DefaultMetadataFloor = 5 * time.Minute
)

// MetadataConfig bounds the fetching and refreshing of IdP metadata URLs.
type MetadataConfig struct {
	// MaxBytes bounds a metadata document (default 1 MiB).
	MaxBytes int64
	// Timeout bounds one fetch, connection to last byte (default 10 s).
	Timeout time.Duration
	// AllowPrivate lets metadata URLs reach loopback, private and link-local addresses
	// (an IdP inside the operator's network, or a test server); off by default.
	AllowPrivate bool
	// Interval is the longest time between two refreshes of a tenant's metadata (default
	// 12 h); a shorter cacheDuration or a closer validUntil in the metadata wins.
	Interval time.Duration
	// Floor is the shortest time between two refreshes (default 5 min).
	Floor time.Duration
}

func (c MetadataConfig) withDefaults() MetadataConfig {
	defaults.Positive(&c.MaxBytes, DefaultMetadataMaxBytes)
	defaults.Positive(&c.Timeout, DefaultMetadataTimeout)
	defaults.Positive(&c.Interval, DefaultMetadataInterval)
	defaults.Positive(&c.Floor, DefaultMetadataFloor)
	if c.Floor > c.Interval {
		c.Floor = c.Interval
	}
	return c
}

// Why a fetch failed; each is an outcome of scimd_saml_metadata_refresh_total.
var (
	errMetadataPrivate  = errors.New("the metadata URL resolves to a private, loopback or link-local address, which is refused (the operator can allow it with --saml-metadata-allow-private)")
	errMetadataRedirect = errors.New("the metadata URL redirects to another host (or from https to http), which is refused")
	errMetadataTooLarge = errors.New("the metadata document is too large")
	errMetadataTimeout  = errors.New("the metadata URL did not answer in time")
)

// checkMetadataURL accepts an absolute https URL, or http for a loopback host (tests).
func checkMetadataURL(raw string) (*url.URL, error) {
	if err := checkIdPURL("the IdP metadata URL", raw); err != nil {
		return nil, err
	}
	u, _ := url.Parse(strings.TrimSpace(raw))
	if u.User != nil {
		return nil, fmt.Errorf("the IdP metadata URL %q must not carry credentials", raw)
	}
	return u, nil
}

// blockedAddr reports whether ip is not a public unicast address.
func blockedAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		sharedAddressSpace.Contains(ip) || thisNetwork.Contains(ip)
}

var (
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598, carrier-grade NAT
	thisNetwork        = netip.MustParsePrefix("0.0.0.0/8")
)

// metadataClient returns the HTTP client of metadata fetches under c.
func metadataClient(c MetadataConfig) *http.Client {
	dialer := &net.Dialer{Timeout: c.Timeout}
	if !c.AllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || blockedAddr(ip) {
				return errMetadataPrivate
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    c.Timeout,
		ResponseHeaderTimeout:  c.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           4,
		IdleConnTimeout:        time.Minute,
	}
	return &http.Client{Transport: transport, Timeout: c.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			first := via[0].URL
			if len(via) >= 5 || !strings.EqualFold(req.URL.Host, first.Host) || (first.Scheme == "https" && req.URL.Scheme != "https") {
				return errMetadataRedirect
			}
			return nil
		}}
}

// FetchMetadata fetches the IdP metadata document at raw under c (its defaults filled in),
// for Configure. Errors are sentences for the admin.
func FetchMetadata(ctx context.Context, raw string, c MetadataConfig) ([]byte, error) {
	c = c.withDefaults()
	return fetchMetadata(ctx, metadataClient(c), raw, c.MaxBytes, c.Timeout)
}

func fetchMetadata(ctx context.Context, client *http.Client, raw string, maxBytes int64, timeout time.Duration) ([]byte, error) {
	u, err := checkMetadataURL(raw)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	res, err := client.Do(req)
	if err != nil {
		return nil, fetchError(u, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the IdP metadata URL %s answered %s", u.Redacted(), res.Status)
	}
	if res.ContentLength > maxBytes {
		return nil, fmt.Errorf("%w (%d bytes; at most %d)", errMetadataTooLarge, res.ContentLength, maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBytes+1))
	if err != nil {
		return nil, fetchError(u, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("%w (more than %d bytes)", errMetadataTooLarge, maxBytes)
	}
	return body, nil
}

// fetchError names why a fetch failed, keeping the kinds the metric counts.
func fetchError(u *url.URL, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, errMetadataPrivate):
		return errMetadataPrivate
	case errors.Is(err, errMetadataRedirect):
		return errMetadataRedirect
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w (%s)", errMetadataTimeout, u.Redacted())
	}
	return fmt.Errorf("the IdP metadata URL %s cannot be fetched: %v", u.Redacted(), err)
}
