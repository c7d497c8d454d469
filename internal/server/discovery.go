package server

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/scim"
)

// Discovery documents (RFC 7644 §4) come from package api, one source; the server only
// makes their meta.location absolute and wraps lists in a ListResponse.

const (
	schemaSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	resourceTypeSchema = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	spConfigSchema     = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
)

// discoveryDoc decodes raw and points meta.location at this deployment.
func (s *Server) discoveryDoc(raw json.RawMessage, schema, path string) map[string]any {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic("api document does not parse: " + err.Error()) // checked by api's tests
	}
	if _, ok := doc["schemas"]; !ok {
		doc["schemas"] = []string{schema}
	}
	meta, _ := doc["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		doc["meta"] = meta
	}
	meta["location"] = s.cfg.PublicURL + "/scim/v2" + path
	return doc
}

func listResponse(docs []any) map[string]any {
	return map[string]any{
		"schemas":      []string{scim.ListResponseSchema},
		"totalResults": len(docs),
		"itemsPerPage": len(docs),
		"startIndex":   1,
		"Resources":    docs,
	}
}

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) error {
	doc := s.discoveryDoc(scim.Discovery().RawSPConfig, spConfigSchema, "/ServiceProviderConfig")
	if f, ok := doc["filter"].(map[string]any); ok {
		f["maxResults"] = s.cfg.MaxPageSize
	}
	if b, ok := doc["bulk"].(map[string]any); ok {
		b["maxOperations"], b["maxPayloadSize"] = s.cfg.BulkMaxOperations, s.cfg.BulkMaxPayloadBytes
	}
	if p, ok := doc["pagination"].(map[string]any); ok {
		p["defaultPageSize"], p["maxPageSize"] = s.cfg.DefaultPageSize, s.cfg.MaxPageSize
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

func (s *Server) resourceTypeDocs() map[string]map[string]any {
	out := map[string]map[string]any{}
	for i, raw := range scim.Discovery().RawResourceTypes {
		rt := scim.Discovery().ResourceTypes[i]
		out[rt.ID] = s.discoveryDoc(raw, resourceTypeSchema, "/ResourceTypes/"+rt.ID)
	}
	return out
}

// resourceTypes lists the resource types in the order of api/resource_types.json, User
// before Group: clients that read Resources[0] expect the /Users endpoint there.
func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request) error {
	docs := s.resourceTypeDocs()
	list := make([]any, 0, len(docs))
	for _, rt := range scim.Discovery().ResourceTypes {
		list = append(list, docs[rt.ID])
	}
	writeJSON(w, http.StatusOK, listResponse(list))
	return nil
}

func (s *Server) resourceType(w http.ResponseWriter, r *http.Request) error {
	return writeDoc(w, s.resourceTypeDocs(), "ResourceType", chi.URLParam(r, "id"))
}

// writeDoc writes the document of docs named id (case-insensitively), or 404.
func writeDoc(w http.ResponseWriter, docs map[string]map[string]any, kind, id string) error {
	for name, doc := range docs {
		if strings.EqualFold(name, id) {
			writeJSON(w, http.StatusOK, doc)
			return nil
		}
	}
	return scim.NotFound(kind, id)
}

func (s *Server) schemaDocs() map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, raw := range scim.Discovery().RawSchemas {
		out[id] = s.discoveryDoc(raw, schemaSchema, "/Schemas/"+id)
	}
	return out
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, listResponse(sortedDocs(s.schemaDocs())))
	return nil
}

func (s *Server) schema(w http.ResponseWriter, r *http.Request) error {
	return writeDoc(w, s.schemaDocs(), "Schema", chi.URLParam(r, "id"))
}

func sortedDocs(m map[string]map[string]any) []any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}
