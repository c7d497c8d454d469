package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
)

// pageSize is the number of rows of the users, groups and events lists.
const pageSize = 25

// listForm is the search form of a list: free text (a "contains" search of the names),
// a SCIM filter, and the position.
type listForm struct {
	Q           string
	Filter      string
	FilterError string
	Start       int
}

func readListForm(r *http.Request) listForm {
	q := r.URL.Query()
	f := listForm{Q: strings.TrimSpace(q.Get("q")), Filter: strings.TrimSpace(q.Get("filter")), Start: 1}
	if n, err := strconv.Atoi(q.Get("start")); err == nil && n > 1 {
		f.Start = n
	}
	return f
}

// query returns the store query of the form: its text as a tree of `co` comparisons on the
// attributes named (the text is a value, never filter syntax), and'ed with the SCIM filter,
// parsed and checked as for /scim/v2. A bad filter is reported on f.
func (f *listForm) query(dir *directory.Directory, rt *scim.ResourceType, sortBy string, attrs ...string) (store.Query, bool) {
	q := store.Query{StartIndex: f.Start, Count: pageSize}
	if p, err := rt.ResolveString(sortBy); err == nil {
		q.SortBy = &p
	}
	if f.Q != "" {
		var any filter.Expr
		for _, a := range attrs {
			var e filter.Expr
			name, sub, _ := strings.Cut(a, ".")
			p, err := rt.Resolve("", name, "")
			if err != nil {
				continue
			}
			if sub != "" && p.Attr.MultiValued {
				sp, err := rt.Resolve("", name, sub)
				if err != nil {
					continue
				}
				e = &filter.ValuePath{Attr: p, Filter: &filter.Compare{Path: sp, Op: "co", Value: f.Q}}
			} else {
				if sub != "" {
					if p, err = rt.Resolve("", name, sub); err != nil {
						continue
					}
				}
				e = &filter.Compare{Path: p, Op: "co", Value: f.Q}
			}
			if any == nil {
				any = e
			} else {
				any = &filter.Logical{Op: "or", Left: any, Right: e}
			}
		}
		q.Filter = any
	}
	if f.Filter != "" {
		e, err := dir.ParseFilter(f.Filter, rt)
		if err != nil {
			f.FilterError = "not a valid SCIM filter: " + errorDetail(err)
			return q, false
		}
		if q.Filter == nil {
			q.Filter = e
		} else {
			q.Filter = &filter.Logical{Op: "and", Left: q.Filter, Right: e}
		}
	}
	return q, true
}

// errorDetail is the sentence of a SCIM error, or err's text.
func errorDetail(err error) string {
	if se := scim.AsError(err); se != nil {
		return se.Detail
	}
	return err.Error()
}

// pager is the position of a list page and the links to its neighbours.
type pager struct {
	From, To, Total int
	Prev, Next      string
}

func newPager(base string, v url.Values, start, shown, total int, more bool) pager {
	p := pager{From: start, To: start + shown - 1, Total: total}
	if shown == 0 {
		p.From = 0
	}
	link := func(n int) string {
		w := url.Values{}
		for k, vs := range v {
			if k != "start" && len(vs) > 0 && vs[0] != "" {
				w.Set(k, vs[0])
			}
		}
		if n > 1 {
			w.Set("start", strconv.Itoa(n))
		}
		if len(w) == 0 {
			return base
		}
		return base + "?" + w.Encode()
	}
	if start > 1 {
		p.Prev = link(max(1, start-pageSize))
	}
	if more {
		p.Next = link(start + pageSize)
	}
	return p
}

// ---- users ----

// userRow is a user as the console shows one.
type userRow struct {
	ID, UserName, Name, DisplayName, UserType, ExternalID, Title string
	Active                                                       bool
	Emails                                                       []string
	Groups                                                       []ref
	Created, Modified                                            string
}

// ref is a link to a user or group.
type ref struct{ ID, Name, Kind string }

func describeUser(u *scim.Resource) userRow {
	row := userRow{ID: u.ID, UserName: scim.String(u.Attrs, "userName"), DisplayName: scim.String(u.Attrs, "displayName"),
		UserType: scim.String(u.Attrs, "userType"), ExternalID: scim.String(u.Attrs, "externalId"), Title: scim.String(u.Attrs, "title"),
		Active: u.Attrs["active"] != false, Created: when(u.Meta.Created), Modified: when(u.Meta.LastModified)}
	row.Name = scim.PersonName(u.Attrs)
	row.Emails = scim.Values(u.Attrs, "emails")
	row.Groups = refs(u.Attrs["groups"])
	return row
}

// refs reads the members or groups attribute.
func refs(v any) []ref {
	var out []ref
	list, _ := v.([]any)
	for _, g := range list {
		m, ok := g.(map[string]any)
		if !ok {
			continue
		}
		r := ref{ID: scim.String(m, "value"), Name: scim.String(m, "display"), Kind: scim.String(m, "type")}
		if r.Name == "" {
			r.Name = r.ID
		}
		out = append(out, r)
	}
	return out
}

type usersView struct {
	Form  listForm
	Users []userRow
	Pager pager
}

func (s *Service) usersPage(w http.ResponseWriter, r *http.Request, q *request) error {
	form := readListForm(r)
	v := &usersView{Form: form}
	query, ok := v.Form.query(s.dir, scim.Users, "userName", "userName", "displayName", "name.formatted", "name.givenName", "name.familyName", "emails.value")
	status := http.StatusOK
	if ok {
		page, err := s.dir.List(r.Context(), scim.Users, q.tenant, query)
		if err != nil {
			return err
		}
		for _, u := range page.Resources {
			v.Users = append(v.Users, describeUser(u))
		}
		v.Pager = newPager(r.URL.Path, r.URL.Query(), form.Start, len(page.Resources), page.Total, form.Start+len(page.Resources) <= page.Total)
	} else {
		status = http.StatusBadRequest
	}
	s.render(w, status, "users", &view{Title: "Users", Nav: "users", Slug: q.tenant.Slug, Page: v, req: q})
	return nil
}

type userView struct {
	User    userRow
	Events  []store.Event
	Confirm bool
	Flash   string
}

func (s *Service) userPage(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx, id := r.Context(), chi.URLParam(r, "id")
	u, err := s.dir.Get(ctx, scim.Users, q.tenant, id, true)
	if err != nil {
		return notFound(err)
	}
	evs, err := s.store.Events(ctx, q.tenant.ID, store.EventQuery{ResourceID: id, Limit: 10})
	if err != nil {
		return err
	}
	v := &userView{User: describeUser(u), Events: evs, Confirm: r.URL.Query().Get("confirm") == "1"}
	switch r.URL.Query().Get("done") {
	case "deactivated":
		v.Flash = "The user is deactivated: they cannot sign in, and open sessions end."
	case "reactivated":
		v.Flash = "The user is active again and can sign in."
	}
	s.render(w, http.StatusOK, "user", &view{Title: v.User.UserName, Nav: "users", Slug: q.tenant.Slug, Page: v, req: q})
	return nil
}

// notFound turns the directory's 404 into the console's.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	return err
}

// userActive deactivates or reactivates a user, through the directory (so the change is a
// provisioning event with the admin as its actor).
func (s *Service) userActive(w http.ResponseWriter, r *http.Request, q *request) error {
	id := chi.URLParam(r, "id")
	var active bool
	switch r.PostForm.Get("active") {
	case "true":
		active = true
	case "false":
	default:
		return &pageErr{status: http.StatusBadRequest, title: "Request refused", msg: "The form names no status."}
	}
	ctx := directory.WithActor(r.Context(), q.actor())
	if _, err := s.dir.SetUserActive(ctx, q.tenant, id, active); err != nil {
		return notFound(err)
	}
	done := "deactivated"
	if active {
		done = "reactivated"
	}
	redirect(w, r, "/t/"+q.tenant.Slug+"/admin/users/"+id+"?done="+done)
	return nil
}

// ---- groups ----

type groupRow struct {
	ID, DisplayName, ExternalID string
	Members                     []ref // on the group's page
	MemberCount                 int
	Created, Modified           string
}

func describeGroup(g *scim.Resource) groupRow {
	members := refs(g.Attrs["members"])
	return groupRow{ID: g.ID, DisplayName: scim.String(g.Attrs, "displayName"), ExternalID: scim.String(g.Attrs, "externalId"),
		Members: members, MemberCount: len(members), Created: when(g.Meta.Created), Modified: when(g.Meta.LastModified)}
}

type groupsView struct {
	Form   listForm
	Groups []groupRow
	Pager  pager
}

func (s *Service) groupsPage(w http.ResponseWriter, r *http.Request, q *request) error {
	form := readListForm(r)
	v := &groupsView{Form: form}
	query, ok := v.Form.query(s.dir, scim.Groups, "displayName", "displayName", "externalId")
	status := http.StatusOK
	if ok {
		query.CountMembers = true // a count from the index; a list page never reads 100,000 members
		page, err := s.dir.List(r.Context(), scim.Groups, q.tenant, query)
		if err != nil {
			return err
		}
		for _, g := range page.Resources {
			row := describeGroup(g)
			row.MemberCount = page.MemberCounts[g.ID]
			v.Groups = append(v.Groups, row)
		}
		v.Pager = newPager(r.URL.Path, r.URL.Query(), form.Start, len(page.Resources), page.Total, form.Start+len(page.Resources) <= page.Total)
	} else {
		status = http.StatusBadRequest
	}
	s.render(w, status, "groups", &view{Title: "Groups", Nav: "groups", Slug: q.tenant.Slug, Page: v, req: q})
	return nil
}

type groupView struct {
	Group  groupRow
	Events []store.Event
}

func (s *Service) groupPage(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx, id := r.Context(), chi.URLParam(r, "id")
	g, err := s.dir.Get(ctx, scim.Groups, q.tenant, id, true)
	if err != nil {
		return notFound(err)
	}
	evs, err := s.store.Events(ctx, q.tenant.ID, store.EventQuery{ResourceID: id, Limit: 10})
	if err != nil {
		return err
	}
	v := &groupView{Group: describeGroup(g), Events: evs}
	s.render(w, http.StatusOK, "group", &view{Title: v.Group.DisplayName, Nav: "groups", Slug: q.tenant.Slug, Page: v, req: q})
	return nil
}

// ---- events ----

// eventNames are the events the audit log's filter offers.
var eventNames = []string{
	directory.EventUserCreate, directory.EventUserUpdate, directory.EventUserDeprov, directory.EventUserDelete,
	directory.EventUserJIT, directory.EventGroupCreate, directory.EventGroupUpdate, directory.EventGroupDelete,
	directory.EventAuthFailure, directory.EventTokenCreate, directory.EventTokenRevoke, directory.EventSAMLConfigure,
	directory.EventSAMLSPCertRotate, directory.EventSAMLSPCertActivate,
	directory.EventUserTypeRules,
	directory.EventAppSignIn, directory.EventAppFamilyRevoked,
	directory.EventSAMLLoginRefused,
}

var outcomes = []string{directory.OutcomeSuccess, directory.OutcomeClientErr, directory.OutcomeServerErr}

type eventsView struct {
	Event, Outcome, Resource string
	ResourceError            string
	ResourceName             string
	EventNames, Outcomes     []string
	Events                   []store.Event
	Pager                    pager
	Streams                  []streamRow // the event streams that deliver the tenant's changes
}

func (s *Service) eventsPage(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx, p := r.Context(), r.URL.Query()
	v := &eventsView{Event: p.Get("event"), Outcome: p.Get("outcome"), Resource: strings.TrimSpace(p.Get("resource")),
		EventNames: eventNames, Outcomes: outcomes}
	start := 1
	if n, err := strconv.Atoi(p.Get("start")); err == nil && n > 1 {
		start = n
	}
	eq := store.EventQuery{Name: v.Event, Outcome: v.Outcome, Limit: pageSize + 1, Offset: start - 1}
	status := http.StatusOK
	if v.Resource != "" {
		id, name, err := s.findResource(ctx, q.tenant, v.Resource)
		switch {
		case err != nil:
			return err
		case id == "":
			v.ResourceError = "no user or group has this id, userName or displayName"
			status = http.StatusBadRequest
		}
		eq.ResourceID, v.ResourceName = id, name
	}
	if v.ResourceError == "" {
		evs, err := s.store.Events(ctx, q.tenant.ID, eq)
		if err != nil {
			return err
		}
		more := len(evs) > pageSize
		if more {
			evs = evs[:pageSize]
		}
		v.Events = evs
		v.Pager = newPager(r.URL.Path, p, start, len(evs), -1, more)
	}
	var err error
	if v.Streams, err = s.streamRows(ctx, q.tenant); err != nil {
		return err
	}
	s.render(w, status, "events", &view{Title: "Audit log", Nav: "events", Slug: q.tenant.Slug, Page: v, req: q})
	return nil
}

// findResource finds the user or group that text names: an id, a userName or a group's
// displayName (compared as SCIM does, as values in a filter tree). It returns "" when none
// does.
func (s *Service) findResource(ctx context.Context, t store.Tenant, text string) (id, name string, err error) {
	for _, c := range []struct {
		rt   *scim.ResourceType
		attr string
	}{{scim.Users, "userName"}, {scim.Groups, "displayName"}} {
		if r, err := s.store.Resource(ctx, c.rt, t.ID, text, false); err == nil {
			return r.ID, scim.String(r.Attrs, c.attr), nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", "", err
		}
		p, err := c.rt.Resolve("", c.attr, "")
		if err != nil {
			return "", "", err
		}
		page, err := s.store.ListResources(ctx, c.rt, t.ID, store.Query{Filter: &filter.Compare{Path: p, Op: "eq", Value: text}, StartIndex: 1, Count: 1})
		if err != nil {
			return "", "", err
		}
		if len(page.Resources) == 1 {
			return page.Resources[0].ID, scim.String(page.Resources[0].Attrs, c.attr), nil
		}
	}
	return "", "", nil
}
