package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
)

// eventsConfig is serve's settings for SCIM event delivery.
type eventsConfig struct {
	EventsMaxAge     time.Duration
	EventsTimeout    time.Duration
	EventsInFlight   int
	EventsPollWait   time.Duration
	EventsAckTimeout time.Duration
}

func eventsFlags(fs *flag.FlagSet, c *eventsConfig) {
	fs.DurationVar(&c.EventsMaxAge, "events-max-age", 72*time.Hour,
		"retry a SET this long before parking it as failed")
	fs.DurationVar(&c.EventsTimeout, "events-timeout", 10*time.Second,
		"longest a push to an event receiver may take")
	fs.IntVar(&c.EventsInFlight, "events-in-flight", 16,
		"SETs in flight at once per push stream and replica")
	fs.DurationVar(&c.EventsPollWait, "events-poll-wait", 30*time.Second,
		"longest a long poll waits for SETs")
	fs.DurationVar(&c.EventsAckTimeout, "events-ack-timeout", 2*time.Minute,
		"a polled SET not acknowledged within this is handed out again")
}

// eventsService is SCIM event delivery in serve: the poll endpoint and the JWKS that
// verifies SETs (Mount), and the deliverer, which runs until the serve context ends.
type eventsService struct{ poller *events.Poller }

// newEventsService builds the poller and starts the deliverer; keys is the deployment's
// one key set, published at the OpenID Connect provider's JWKS URL (/.well-known/jwks.json).
func newEventsService(ctx context.Context, c eventsConfig, publicURL string, es store.EventStreamStore, keys *signing.KeySet,
	log *slog.Logger, reg prometheus.Registerer) (*eventsService, error) {
	m := events.NewMetrics(reg, es)
	d := events.NewDeliverer(es, keys, events.Config{Issuer: publicURL, Timeout: c.EventsTimeout, MaxAge: c.EventsMaxAge,
		MaxInFlight: c.EventsInFlight}, log, m)
	go d.Run(ctx)
	return &eventsService{
		poller: events.NewPoller(es, keys, events.PollConfig{Issuer: publicURL, MaxWait: c.EventsPollWait, AckTimeout: c.EventsAckTimeout}, log, m),
	}, nil
}

// Mount adds POST /events/poll. The key set that verifies SETs is published by the OpenID
// Connect provider at its JWKS URL (the same keys sign both), so it is not mounted twice.
func (s *eventsService) Mount(r chi.Router) {
	s.poller.Mount(r)
}

const streamUsage = `usage:
  scimd events stream create --url URL [--tenant SLUG | --all-tenants] [--events prov:create:notice,…] [--audience AUD]
  scimd events stream create --poll [--tenant SLUG | --all-tenants] [--events …] [--audience AUD]
  scimd events stream status [ID] [--parked N]
  scimd events stream pause ID | resume ID | delete ID
  scimd events stream replay ID --since 24h|RFC3339`

// streamCmd manages event streams: `scimd events stream …`.
func streamCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("%s", streamUsage)
	}
	fs := newFlagSet("events stream "+args[0], stderr)
	dsn := databaseFlag(fs)
	var tenants func() ([]store.Tenant, error)
	with := func(fn func(d *directory.Directory, es store.EventStreamStore) error) error {
		return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
			tenants = func() ([]store.Tenant, error) { return s.Tenants(ctx) }
			return fn(d, s)
		})
	}
	// oneID parses the flags and the one stream id the command names.
	oneID := func() (string, error) {
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return "", err
		}
		if len(pos) != 1 {
			return "", usageErr("%s", streamUsage)
		}
		return pos[0], nil
	}
	switch args[0] {
	case "create":
		u := fs.String("url", "", "push: the receiver's endpoint (https; http only for loopback)")
		poll := fs.Bool("poll", false, "a poll stream: the receiver fetches SETs from "+events.PollPath+" with the credential printed once")
		tenant := fs.String("tenant", "", "deliver this tenant's changes")
		all := fs.Bool("all-tenants", false, "deliver every tenant's changes")
		evs := fs.String("events", "", "comma-separated RFC 9967 events (prov:create:notice, prov:patch:notice, prov:put:notice, prov:delete, prov:activate, prov:deactivate); default all")
		aud := fs.String("audience", "", "the SETs' aud (default: the URL for push, the stream's URN for poll)")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		switch {
		case len(pos) > 0:
			return usageErr("%s", streamUsage)
		case (*tenant == "") == !*all:
			return usageErr("give --tenant SLUG or --all-tenants")
		case *poll == (*u != ""):
			return usageErr("give --url URL (push) or --poll")
		}
		var uris []string
		if *evs != "" {
			for _, e := range strings.Split(*evs, ",") {
				uri, ok := events.ParseURI(e)
				if !ok {
					return usageErr("--events: %q is not an event scimd sends; use %s", e, strings.Join(shortURIs(), ", "))
				}
				uris = append(uris, uri)
			}
		}
		st := store.Stream{ID: store.NewID(), Kind: store.StreamPush, URL: *u, Audience: *aud, Events: events.AuditEvents(uris),
			EventURIs: uris, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		var cred string
		var hash []byte
		if *poll {
			st.Kind, cred = store.StreamPoll, newStreamCredential()
			hash = events.HashCredential(cred)
			if st.Audience == "" {
				st.Audience = "urn:scimd:stream:" + st.ID
			}
		} else {
			if err := checkReceiverURL(*u); err != nil {
				return usageErr("--url %q: %v", *u, err)
			}
			if st.Audience == "" {
				st.Audience = *u
			}
		}
		return with(func(d *directory.Directory, es store.EventStreamStore) error {
			if *tenant != "" {
				t, err := d.Tenant(ctx, *tenant)
				if err != nil {
					return err
				}
				st.TenantID = t.ID
			}
			existing, err := es.Streams(ctx)
			if err != nil {
				return err
			}
			if len(existing) >= events.MaxStreams {
				return fmt.Errorf("there are already %d streams, the most a deployment may have; delete one first", len(existing))
			}
			if err := es.CreateStream(ctx, st, hash); err != nil {
				return err
			}
			scope := "every tenant"
			if *tenant != "" {
				scope = "tenant " + *tenant
			}
			if *poll {
				fmt.Fprintf(stdout, "Created poll stream %s (%s, aud %s).\nReceivers POST to <public URL>%s with this credential as a bearer token; it will not be shown again:\n%s\n",
					st.ID, scope, st.Audience, events.PollPath, cred)
				return nil
			}
			fmt.Fprintf(stdout, "Created push stream %s (%s) to %s\n", st.ID, scope, st.URL)
			return nil
		})
	case "status", "list":
		parked := fs.Int("parked", 20, "with an ID: list at most this many parked SETs")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 1 {
			return usageErr("%s", streamUsage)
		}
		return with(func(d *directory.Directory, es store.EventStreamStore) error {
			ts, err := tenants()
			if err != nil {
				return err
			}
			return printStreams(ctx, stdout, ts, es, pos, *parked)
		})
	case "pause", "resume", "delete":
		id, err := oneID()
		if err != nil {
			return err
		}
		return with(func(d *directory.Directory, es store.EventStreamStore) error {
			var err error
			switch args[0] {
			case "delete":
				err = es.DeleteStream(ctx, id)
			default:
				err = es.SetStreamPaused(ctx, id, args[0] == "pause")
			}
			if err == nil {
				fmt.Fprintf(stdout, "stream %s: %sd\n", id, strings.TrimSuffix(args[0], "e"))
			}
			return noStream(id, err)
		})
	case "replay":
		since := fs.String("since", "", "replay the SETs of changes since this: a duration back (24h, 7d) or an RFC 3339 time (required)")
		id, err := oneID()
		if err != nil {
			return err
		}
		if *since == "" {
			return usageErr("replay needs --since")
		}
		from, err := parseSince(*since, time.Now().UTC())
		if err != nil {
			return usageErr("--since %q: %v", *since, err)
		}
		return with(func(d *directory.Directory, es store.EventStreamStore) error {
			n, err := es.ReplayStream(ctx, id, from, time.Now().UTC().Truncate(time.Microsecond))
			if err == nil {
				fmt.Fprintf(stdout, "stream %s: %d SETs to deliver again (new jtis), from changes since %s\n", id, n, from.Format(time.RFC3339))
			}
			return noStream(id, err)
		})
	}
	return usageErr("%s", streamUsage)
}

// noStream names the stream an ErrNotFound is about.
func noStream(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no stream %s (scimd events stream status lists them)", id)
	}
	return err
}

func shortURIs() []string {
	var out []string
	for _, u := range events.AllURIs {
		out = append(out, strings.TrimPrefix(u, events.URIPrefix))
	}
	return out
}

// newStreamCredential is a poll stream's bearer credential: 256 random bits.
func newStreamCredential() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "scimd_stream_" + base64.RawURLEncoding.EncodeToString(b)
}

// checkReceiverURL accepts an absolute https URL, or http for a loopback host (tests and
// sidecars), without credentials in it.
func checkReceiverURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	if u.User != nil {
		return errors.New("credentials do not belong in the URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if host := u.Hostname(); host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback() {
			return nil
		}
		return errors.New("use https (plain http only for a loopback host)")
	}
	return errors.New("use an https URL")
}

// printStreams prints every stream's state and backlog, or one stream's with its parked SETs.
func printStreams(ctx context.Context, w io.Writer, tenants []store.Tenant, es store.EventStreamStore, ids []string, parked int) error {
	streams, err := es.Streams(ctx)
	if err != nil {
		return err
	}
	if len(ids) == 1 {
		st, err := es.Stream(ctx, ids[0])
		if err != nil {
			return noStream(ids[0], err)
		}
		streams = []store.Stream{st}
	}
	if len(streams) == 0 {
		fmt.Fprintln(w, "no streams")
		return nil
	}
	stats, err := es.StreamStats(ctx)
	if err != nil {
		return err
	}
	by := map[string]store.StreamStats{}
	for _, s := range stats {
		by[s.StreamID] = s
	}
	slugs := map[string]string{}
	for _, t := range tenants {
		slugs[t.ID] = t.Slug
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTENANT\tTARGET\tSTATE\tUNDELIVERED\tPARKED\tLAG")
	now := time.Now()
	for _, st := range streams {
		s := by[st.ID]
		tenant, target, state, lag := "*", st.URL, "active", "-"
		if st.TenantID != "" {
			tenant = slugs[st.TenantID]
		}
		if st.Kind == store.StreamPoll {
			target = events.PollPath
		}
		if st.Paused {
			state = "paused"
		}
		if !s.OldestPending.IsZero() {
			lag = now.Sub(s.OldestPending).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", st.ID, st.Kind, tenant, target, state, s.Undelivered, s.Parked, lag)
	}
	if err := tw.Flush(); err != nil || len(ids) == 0 {
		return err
	}
	ps, err := es.ParkedDeliveries(ctx, streams[0].ID, parked)
	if err != nil || len(ps) == 0 {
		return err
	}
	fmt.Fprintln(w, "\nPARKED SETs (newest first):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JTI\tTENANT\tEVENT\tRESOURCE\tATTEMPTS\tERROR")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", events.JTI(p.StreamID, p), p.TenantSlug, p.Event.Name,
			p.Event.ResourceType+" "+p.Event.ResourceID, p.Attempts, cell(p.LastError))
	}
	return tw.Flush()
}
