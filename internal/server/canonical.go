package server

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// scimEndpoints maps the lower-case names of the endpoints under /scim/v2 to the case they
// are registered in. Microsoft's test collection calls /scim/v2/users; RFC 7644 names the
// endpoints in one case but nothing in HTTP makes the path case-sensitive for a client.
var scimEndpoints = map[string]string{
	"users":                 "Users",
	"groups":                "Groups",
	"serviceproviderconfig": "ServiceProviderConfig",
	"resourcetypes":         "ResourceTypes",
	"schemas":               "Schemas",
	"bulk":                  "Bulk",
	".search":               ".search",
}

const scimPrefix = "/scim/v2"

// canonicalRoute routes /scim/v2/users, /SCIM/V2/groups/{id}, /scim/v2/schemas/… and
// /scim/v2/Users/.SEARCH as their registered forms. Only the path chi routes by changes
// (the route context's RoutePath, already cleaned by CleanPath); the request URL stays as
// sent, and metrics and logs see the canonical route template. Resource ids and schema
// URNs are left alone: ids are matched exactly, schema ids case-insensitively by their
// handler.
func canonicalRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			p := rctx.RoutePath
			if p == "" {
				p = r.URL.RawPath
				if p == "" {
					p = r.URL.Path
				}
			}
			if c, ok := canonicalSCIMPath(p); ok {
				rctx.RoutePath = c
			}
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalSCIMPath returns p with the /scim/v2 prefix, its endpoint segment and a
// following .search in registered case; ok is false when p is not under /scim/v2 or
// already canonical.
func canonicalSCIMPath(p string) (string, bool) {
	if len(p) < len(scimPrefix) || !strings.EqualFold(p[:len(scimPrefix)], scimPrefix) {
		return "", false
	}
	rest := p[len(scimPrefix):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	segs := strings.Split(rest, "/") // segs[0] is "" (before the leading slash)
	if len(segs) > 1 {
		if c, ok := scimEndpoints[strings.ToLower(segs[1])]; ok {
			segs[1] = c
			if len(segs) > 2 && (c == "Users" || c == "Groups") && strings.EqualFold(segs[2], ".search") {
				segs[2] = ".search"
			}
		}
	}
	c := scimPrefix + strings.Join(segs, "/")
	return c, c != p
}
