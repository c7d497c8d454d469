package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// eventsPage is how many events one store query reads.
const eventsPage = 500

// eventsCmd prints a tenant's audit events, newest first: a table, or JSON lines with
// --json.
func eventsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "stream" {
		return streamCmd(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("events", stderr)
	dsn := databaseFlag(fs)
	tenant := fs.String("tenant", "", "tenant slug (required)")
	since := fs.String("since", "24h", "how far back: a duration (90m, 24h, 7d) or an RFC 3339 time; 0 for all")
	user := fs.String("user", "", "only the events of the user with this id")
	group := fs.String("group", "", "only the events of the group with this id")
	event := fs.String("event", "", "only events of this name (user_create_provision, group_update_provision, auth_failure, …)")
	outcome := fs.String("outcome", "", "only events of this outcome: success, client_error or server_error")
	limit := fs.Int("limit", 100, "print at most this many events; 0 for all")
	asJSON := fs.Bool("json", false, "print one JSON object per line instead of a table")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	const use = "usage: scimd events --tenant SLUG [--since 24h] [--user ID|--group ID] [--event NAME] [--json]"
	switch {
	case *tenant == "" || len(pos) > 0:
		return usageErr("%s", use)
	case *user != "" && *group != "":
		return usageErr("--user and --group exclude each other; %s", use)
	case *limit < 0:
		return usageErr("--limit %d: use 0 (all) or more", *limit)
	}
	from, err := parseSince(*since, time.Now().UTC())
	if err != nil {
		return usageErr("--since %q: %v", *since, err)
	}
	q := store.EventQuery{Since: from, ResourceID: *user + *group, Name: *event, Outcome: *outcome}
	rtype := ""
	switch {
	case *user != "":
		rtype = "User"
	case *group != "":
		rtype = "Group"
	}
	return withDirectory(ctx, *dsn, func(ctx context.Context, d *directory.Directory, s store.Store) error {
		t, err := d.Tenant(ctx, *tenant)
		if err != nil {
			return err
		}
		p := newEventPrinter(stdout, t.Slug, *asJSON)
		printed := 0
		for q.Offset = 0; ; q.Offset += eventsPage {
			q.Limit = eventsPage
			evs, err := s.Events(ctx, t.ID, q)
			if err != nil {
				return err
			}
			for _, ev := range evs {
				if rtype != "" && ev.ResourceType != rtype {
					continue
				}
				if *limit > 0 && printed == *limit {
					return p.flush()
				}
				if err := p.print(ev); err != nil {
					return err
				}
				printed++
			}
			if len(evs) < eventsPage {
				return p.flush()
			}
		}
	})
}

// parseSince reads --since: a duration back from now (Go's units plus d for days), an
// RFC 3339 time, or 0 for no bound (the zero time).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "0" || s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := parseDays(s)
	if err != nil {
		return time.Time{}, err
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("a duration back from now must not be negative")
	}
	return now.Add(-d), nil
}

// parseDays parses a duration in Go's syntax (90m, 24h) or in whole or fractional days
// (7d, 90d, 1.5d), which Go's syntax lacks.
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days > 1e5 {
			return 0, fmt.Errorf("use a duration such as 90d, 24h or 30m")
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("use a duration such as 90d, 24h or 30m")
	}
	return d, nil
}

// eventJSON is one line of `scimd events --json`.
type eventJSON struct {
	ID           int64     `json:"id"`
	Time         time.Time `json:"time"`
	Tenant       string    `json:"tenant"`
	Event        string    `json:"event"`
	Outcome      string    `json:"outcome"`
	Actor        string    `json:"actor"`
	TokenID      string    `json:"token_id,omitempty"`
	ResourceType string    `json:"resource_type,omitempty"`
	ResourceID   string    `json:"resource_id,omitempty"`
	ResourceName string    `json:"resource_name,omitempty"`
	Changed      []string  `json:"changed,omitempty"`
	Detail       string    `json:"detail,omitempty"`
}

// eventPrinter writes events as a table or as JSON lines.
type eventPrinter struct {
	slug string
	enc  *json.Encoder     // JSON lines
	tw   *tabwriter.Writer // table
	head bool              // the table's header is written
	w    io.Writer
}

func newEventPrinter(w io.Writer, slug string, asJSON bool) *eventPrinter {
	p := &eventPrinter{slug: slug, w: w}
	if asJSON {
		p.enc = json.NewEncoder(w)
		p.enc.SetEscapeHTML(false)
	} else {
		p.tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	}
	return p
}

func (p *eventPrinter) print(ev store.Event) error {
	if p.enc != nil {
		return p.enc.Encode(eventJSON{ID: ev.ID, Time: ev.At.UTC(), Tenant: p.slug, Event: ev.Name, Outcome: ev.Outcome,
			Actor: ev.Actor, TokenID: ev.TokenID, ResourceType: ev.ResourceType, ResourceID: ev.ResourceID,
			ResourceName: ev.ResourceName, Changed: ev.Changed, Detail: ev.Detail})
	}
	if !p.head {
		fmt.Fprintln(p.tw, "TIME\tEVENT\tOUTCOME\tACTOR\tRESOURCE\tNAME\tCHANGED\tDETAIL")
		p.head = true
	}
	resource := strings.TrimSpace(ev.ResourceType + " " + ev.ResourceID)
	_, err := fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.At.UTC().Format(time.RFC3339), ev.Name, ev.Outcome,
		cell(ev.Actor), cell(resource), cell(ev.ResourceName), cell(strings.Join(ev.Changed, ",")), cell(ev.Detail))
	return err
}

// cell keeps a table cell on one line and shows an empty one as "-".
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

func (p *eventPrinter) flush() error {
	if p.tw == nil {
		return nil
	}
	if !p.head {
		fmt.Fprintln(p.w, "no events")
		return nil
	}
	return p.tw.Flush()
}
