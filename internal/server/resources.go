package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/store"
)

// resourceHandlers serve one resource type's endpoint; Users and Groups differ only in the
// directory calls they make.
type resourceHandlers struct {
	s        *Server
	rt       *scim.ResourceType
	create_  func(ctx context.Context, t store.Tenant, body map[string]any) (*scim.Resource, error)
	replace_ func(ctx context.Context, t store.Tenant, id string, body map[string]any, ifMatch string) (*scim.Resource, error)
	patch_   func(ctx context.Context, t store.Tenant, id string, ops []patch.Operation, ifMatch string) (*scim.Resource, error)
	delete_  func(ctx context.Context, t store.Tenant, id, ifMatch string) error
}

func (s *Server) users() *resourceHandlers {
	return &resourceHandlers{s: s, rt: scim.Users, create_: s.dir.CreateUser, replace_: s.dir.ReplaceUser,
		patch_: s.dir.PatchUser, delete_: s.dir.DeleteUser}
}

func (s *Server) groups() *resourceHandlers {
	return &resourceHandlers{s: s, rt: scim.Groups, create_: s.dir.CreateGroup, replace_: s.dir.ReplaceGroup,
		patch_: s.dir.PatchGroup, delete_: s.dir.DeleteGroup}
}

// render returns the wire form of r under the projection, with $ref on members and groups.
func (h *resourceHandlers) render(r *scim.Resource, p scim.Projection) map[string]any {
	for _, attr := range []string{"members", "groups"} {
		list, _ := r.Attrs[attr].([]any)
		for _, m := range list {
			m := m.(map[string]any)
			rt := scim.Groups
			if m["type"] == "User" {
				rt = scim.Users
			}
			m["$ref"] = h.s.location(rt, scim.String(m, "value"))
		}
	}
	return p.Apply(h.rt, h.rt.Render(r, h.s.location(h.rt, r.ID)))
}

// wantsMembers reports whether the response needs the memberships read: for groups only
// when members are returned (Entra excludes them on every lookup); for users the groups
// attribute is cheap (an index) and read unless excluded.
func (h *resourceHandlers) wantsMembers(p scim.Projection) bool {
	if h.rt == scim.Groups {
		return p.Wants(h.rt, "members")
	}
	return p.Wants(h.rt, "groups")
}

func (h *resourceHandlers) writeResource(w http.ResponseWriter, status int, r *scim.Resource, p scim.Projection) {
	w.Header().Set("ETag", r.Meta.ETag())
	if status == http.StatusCreated {
		w.Header().Set("Location", h.s.location(h.rt, r.ID))
	}
	m := h.render(r, p)
	if members, _ := m["members"].([]any); len(members) > streamMembersOver {
		writeStreamed(w, status, m, "members", members)
		return
	}
	writeJSON(w, status, m)
}

// streamMembersOver is the member count above which a group is written member by member:
// a group of 100,000 members is held once, as read, and never a second time as one JSON
// buffer.
const streamMembersOver = 1000

// writeStreamed writes the object m whose attribute key holds list, encoding the elements
// of list one at a time straight to the client (chunked, no Content-Length).
func writeStreamed(w http.ResponseWriter, status int, m map[string]any, key string, list []any) {
	rest := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			rest[k] = v
		}
	}
	head, err := appendJSON(nil, rest)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, scim.Errorf(http.StatusInternalServerError, "", "internal error").Body())
		return
	}
	w.Header().Set("Content-Type", ContentType+"; charset=utf-8")
	w.WriteHeader(status)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.Write(head[:len(head)-1]) // without the closing brace
	if len(rest) > 0 {
		bw.WriteByte(',')
	}
	bw.Write(appendJSONString(nil, key))
	bw.WriteString(":[")
	var elem []byte
	for i, e := range list {
		if i > 0 {
			bw.WriteByte(',')
		}
		if elem, err = appendJSON(elem[:0], e); err != nil {
			return // the status is sent; a broken body is all the client can be told
		}
		bw.Write(append(elem, '\n'))
	}
	bw.WriteString("]}\n")
	bw.Flush()
}

func projection(rt *scim.ResourceType, r *http.Request) scim.Projection {
	q := r.URL.Query()
	return rt.ParseProjection(q.Get("attributes"), q.Get("excludedAttributes"))
}

func (h *resourceHandlers) get(w http.ResponseWriter, r *http.Request) error {
	p := projection(h.rt, r)
	res, err := h.s.dir.Get(r.Context(), h.rt, tenantFrom(r.Context()), chi.URLParam(r, "id"), h.wantsMembers(p))
	if err != nil {
		return err
	}
	if ifNoneMatch(r, res.Meta.ETag()) {
		w.Header().Set("ETag", res.Meta.ETag())
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.writeResource(w, http.StatusOK, res, p)
	return nil
}

func (h *resourceHandlers) create(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	res, err := h.create_(r.Context(), tenantFrom(r.Context()), body)
	if err != nil {
		return err
	}
	return h.respondWritten(w, r, http.StatusCreated, res)
}

// respondWritten answers a write with the resource as stored, its memberships read again so
// that the response is what a GET would return.
func (h *resourceHandlers) respondWritten(w http.ResponseWriter, r *http.Request, status int, res *scim.Resource) error {
	p := projection(h.rt, r)
	if h.rt == scim.Groups && h.wantsMembers(p) {
		full, err := h.s.dir.Get(r.Context(), h.rt, tenantFrom(r.Context()), res.ID, true)
		if err != nil {
			return err
		}
		res = full
	}
	h.writeResource(w, status, res, p)
	return nil
}

func (h *resourceHandlers) replace(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	res, err := h.replace_(r.Context(), tenantFrom(r.Context()), chi.URLParam(r, "id"), body, r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	return h.respondWritten(w, r, http.StatusOK, res)
}

func (h *resourceHandlers) patch(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	ops, err := h.s.dir.ParsePatch(body, h.rt)
	if err != nil {
		return err
	}
	res, err := h.patch_(r.Context(), tenantFrom(r.Context()), chi.URLParam(r, "id"), ops, r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if h.rt == scim.Groups && !q.Has("attributes") && !q.Has("excludedAttributes") {
		// RFC 7644 §3.5.2 allows 204: a group of 100,000 members is not read back and
		// sent whole for every one-member change. Entra, Okta and JumpCloud take 204.
		w.Header().Set("ETag", res.Meta.ETag())
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return h.respondWritten(w, r, http.StatusOK, res)
}

func (h *resourceHandlers) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.delete_(r.Context(), tenantFrom(r.Context()), chi.URLParam(r, "id"), r.Header.Get("If-Match")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- lists ----

// listParams are the query parameters of a list or .search (RFC 7644 §3.4.2, RFC 9865).
type listParams struct {
	filter, sortBy, sortOrder, attributes, excluded string
	startIndex, count                               *int
	cursor                                          *string
}

func (h *resourceHandlers) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var lp listParams
	lp.filter, lp.sortBy, lp.sortOrder = q.Get("filter"), q.Get("sortBy"), q.Get("sortOrder")
	lp.attributes, lp.excluded = q.Get("attributes"), q.Get("excludedAttributes")
	for _, p := range []struct {
		name string
		dst  **int
	}{{"startIndex", &lp.startIndex}, {"count", &lp.count}} {
		if v, ok := q[p.name]; ok && len(v) > 0 && v[0] != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v[0]))
			if err != nil {
				return scim.BadRequest(scim.InvalidValue, "%s must be an integer", p.name)
			}
			*p.dst = &n
		}
	}
	if v, ok := q["cursor"]; ok {
		c := ""
		if len(v) > 0 {
			c = v[0]
		}
		lp.cursor = &c
	}
	return h.runList(w, r, lp)
}

func (h *resourceHandlers) search(w http.ResponseWriter, r *http.Request) error {
	lp, err := searchParams(r)
	if err != nil {
		return err
	}
	return h.runList(w, r, lp)
}

// searchParams reads the SearchRequest body of a POST …/.search (RFC 7644 §3.4.3).
func searchParams(r *http.Request) (listParams, error) {
	var lp listParams
	body, err := decodeBody(r)
	if err != nil {
		return lp, err
	}
	if err := scim.CheckSchemas(body, scim.SearchRequestSchema); err != nil {
		return lp, err
	}
	for k, v := range body {
		switch strings.ToLower(k) {
		case "filter":
			lp.filter, err = stringParam(k, v)
		case "sortby":
			lp.sortBy, err = stringParam(k, v)
		case "sortorder":
			lp.sortOrder, err = stringParam(k, v)
		case "attributes":
			lp.attributes, err = listParam(k, v)
		case "excludedattributes":
			lp.excluded, err = listParam(k, v)
		case "startindex":
			lp.startIndex, err = intParam(k, v)
		case "count":
			lp.count, err = intParam(k, v)
		case "cursor":
			var c string
			c, err = stringParam(k, v)
			lp.cursor = &c
		}
		if err != nil {
			return lp, err
		}
	}
	return lp, nil
}

func stringParam(name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok && v != nil {
		return "", scim.BadRequest(scim.InvalidValue, "%s must be a string", name)
	}
	return s, nil
}

func listParam(name string, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", scim.BadRequest(scim.InvalidValue, "%s must be a list of attribute names", name)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", scim.BadRequest(scim.InvalidValue, "%s must be a list of attribute names", name)
}

func intParam(name string, v any) (*int, error) {
	if v == nil {
		return nil, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return nil, scim.BadRequest(scim.InvalidValue, "%s must be an integer", name)
	}
	i, err := strconv.Atoi(n.String())
	if err != nil {
		return nil, scim.BadRequest(scim.InvalidValue, "%s must be an integer", name)
	}
	return &i, nil
}

// runList answers a list request: 1-based startIndex (below 1 means 1), count clamped to
// [0, max], or RFC 9865 cursor paging when a cursor parameter is present.
func (h *resourceHandlers) runList(w http.ResponseWriter, r *http.Request, lp listParams) error {
	t := tenantFrom(r.Context())
	q := store.Query{StartIndex: 1, Count: h.s.cfg.DefaultPageSize}
	if lp.startIndex != nil && *lp.startIndex > 1 {
		q.StartIndex = *lp.startIndex
	}
	if lp.count != nil {
		q.Count = min(max(*lp.count, 0), h.s.cfg.MaxPageSize)
	}
	expensive := false
	if lp.filter != "" {
		f, err := h.s.dir.ParseFilter(lp.filter, h.rt)
		if err != nil {
			return err
		}
		if expensive, err = h.s.checkFilterCost(f); err != nil {
			return err
		}
		if expensive {
			ctx, cancel := context.WithTimeout(r.Context(), h.s.cfg.ExpensiveQueryTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		q.Filter = f
	}
	switch strings.ToLower(lp.sortOrder) {
	case "", "ascending":
	case "descending":
		q.Descending = true
	default:
		return scim.BadRequest(scim.InvalidValue, "sortOrder must be ascending or descending")
	}
	if lp.sortBy != "" {
		p, err := h.rt.ResolveString(lp.sortBy)
		if err != nil {
			return scim.BadRequest(scim.InvalidValue, "sortBy: %s", scim.AsError(err).Detail)
		}
		q.SortBy = &p
	}
	if lp.cursor != nil {
		if q.SortBy != nil || q.Descending {
			return scim.BadRequest(scim.InvalidValue, "cursor paging follows creation order; leave out sortBy and sortOrder")
		}
		if lp.startIndex != nil {
			return scim.BadRequest(scim.InvalidValue, "use either cursor or startIndex, not both")
		}
		if *lp.cursor != "" {
			c, err := h.s.cursors.decode(t.ID, h.rt.Name, *lp.cursor)
			if err != nil {
				return err
			}
			q.After = &c
		}
	}
	p := h.rt.ParseProjection(lp.attributes, lp.excluded)
	q.WithMembers = h.wantsMembers(p)
	pageSize := q.Count
	if lp.cursor != nil && pageSize > 0 {
		// RFC 9865 §2: the last page carries no nextCursor. One row read ahead tells
		// whether another page follows, so a client never gets a cursor to an empty page.
		q.Count++
	}
	page, err := h.s.dir.List(r.Context(), h.rt, t, q)
	if err != nil {
		if expensive {
			return h.s.expensiveTimeout(r, err)
		}
		return err
	}
	more := false
	if lp.cursor != nil && len(page.Resources) > pageSize {
		more = true
		page.Resources = page.Resources[:pageSize]
	}
	resources := make([]any, 0, len(page.Resources))
	for _, res := range page.Resources {
		resources = append(resources, h.render(res, p))
	}
	resp := map[string]any{
		"schemas":      []string{scim.ListResponseSchema},
		"totalResults": page.Total,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	}
	if lp.cursor != nil {
		if more {
			last := page.Resources[pageSize-1]
			resp["nextCursor"] = h.s.cursors.encode(t.ID, h.rt.Name, store.Cursor{Created: last.Meta.Created, ID: last.ID})
		}
	} else {
		resp["startIndex"] = q.StartIndex
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
