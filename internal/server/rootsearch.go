package server

import (
	"net/http"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
	"github.com/scimd/scimd/internal/store"
)

// rootSearch answers POST /scim/v2/.search (RFC 7644 §3.4.3): one list across Users and
// Groups, Users first, each in creation order, each resource in its own type's shape
// (meta.resourceType, its own attributes and projection). A filter is checked against
// each type; a type whose schema lacks an attribute of the filter contributes nothing
// (§3.4.2.1: an attribute a type does not define has no value, so it matches no
// comparison), and a filter that fits neither type is refused as at /Users. Paging is by
// startIndex and count over the combined list; sortBy and cursors are per endpoint and
// refused here with a detail that says where to send them.
func (s *Server) rootSearch(w http.ResponseWriter, r *http.Request) error {
	lp, err := searchParams(r)
	if err != nil {
		return err
	}
	if lp.sortBy != "" || lp.sortOrder != "" {
		return scim.BadRequest(scim.InvalidValue, "sortBy and sortOrder apply within one resource type: search /Users/.search or /Groups/.search")
	}
	if lp.cursor != nil {
		return scim.BadRequest(scim.InvalidValue, "cursor paging is per resource type: search /Users/.search or /Groups/.search")
	}
	start, count := 1, s.cfg.DefaultPageSize
	if lp.startIndex != nil && *lp.startIndex > 1 {
		start = *lp.startIndex
	}
	if lp.count != nil {
		count = min(max(*lp.count, 0), s.cfg.MaxPageSize)
	}
	type part struct {
		h *resourceHandlers
		f filter.Expr
	}
	var parts []part
	var firstErr error
	for _, h := range []*resourceHandlers{s.users(), s.groups()} {
		var f filter.Expr
		if lp.filter != "" {
			if f, err = filter.Parse(lp.filter, h.rt); err != nil {
				if se := scim.AsError(err); se == nil || se.Status >= 500 {
					return err
				}
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
		}
		parts = append(parts, part{h, f})
	}
	if len(parts) == 0 {
		return firstErr
	}
	t := tenantFrom(r.Context())
	total := 0
	resources := []any{}
	// skip is how many matching resources precede the page in the combined list and are
	// not yet accounted for by an earlier type.
	skip := start - 1
	for _, pt := range parts {
		p := pt.h.rt.ParseProjection(lp.attributes, lp.excluded)
		q := store.Query{Filter: pt.f, StartIndex: skip + 1, Count: count - len(resources), WithMembers: pt.h.wantsMembers(p)}
		page, err := s.dir.List(r.Context(), pt.h.rt, t, q)
		if err != nil {
			return err
		}
		total += page.Total
		for _, res := range page.Resources {
			resources = append(resources, pt.h.render(res, p))
		}
		skip = max(skip-page.Total, 0)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{scim.ListResponseSchema},
		"totalResults": total,
		"itemsPerPage": len(resources),
		"startIndex":   start,
		"Resources":    resources,
	})
	return nil
}
