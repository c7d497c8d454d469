package scim

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"

	"github.com/scimd/scimd/api"
)

// Schema URNs and resource type names that the code refers to by name.
const (
	UserSchema           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	ListResponseSchema   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpSchema        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SearchRequestSchema  = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// Attribute types (RFC 7643 §2.3).
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeDecimal   = "decimal"
	TypeInteger   = "integer"
	TypeDateTime  = "dateTime"
	TypeReference = "reference"
	TypeComplex   = "complex"
	TypeBinary    = "binary"
)

// Mutability and returned characteristics (RFC 7643 §7).
const (
	ReadOnly  = "readOnly"
	ReadWrite = "readWrite"
	Immutable = "immutable"
	WriteOnly = "writeOnly"

	ReturnedAlways  = "always"
	ReturnedNever   = "never"
	ReturnedDefault = "default"
	ReturnedRequest = "request"
)

// Attribute is one attribute definition of a schema, in its RFC 7643 §7 form.
type Attribute struct {
	Name            string       `json:"name"`
	Type            string       `json:"type"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description,omitempty"`
	Required        bool         `json:"required"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      string       `json:"mutability"`
	Returned        string       `json:"returned"`
	Uniqueness      string       `json:"uniqueness"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
}

// Sub returns the sub-attribute named name (case-insensitively), or nil.
func (a *Attribute) Sub(name string) *Attribute {
	return findAttr(a.SubAttributes, name)
}

func findAttr(attrs []*Attribute, name string) *Attribute {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// Schema is a SCIM schema document (RFC 7643 §7).
type Schema struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Attributes  []*Attribute `json:"attributes"`
}

// Attr returns the attribute named name (case-insensitively), or nil.
func (s *Schema) Attr(name string) *Attribute { return findAttr(s.Attributes, name) }

// SchemaExtension names an extension schema of a resource type.
type SchemaExtension struct {
	Schema   string `json:"schema"`
	Required bool   `json:"required"`
}

// ResourceType is a SCIM resource type (RFC 7643 §6) with its schemas resolved.
type ResourceType struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Endpoint         string            `json:"endpoint"`
	Description      string            `json:"description"`
	Schema           string            `json:"schema"`
	SchemaExtensions []SchemaExtension `json:"schemaExtensions,omitempty"`

	core       *Schema
	extensions []*Schema
}

// Core returns the core schema of the resource type.
func (rt *ResourceType) Core() *Schema { return rt.core }

// Extensions returns the extension schemas of the resource type.
func (rt *ResourceType) Extensions() []*Schema { return rt.extensions }

// Extension returns the extension schema whose URN is urn (case-insensitively), or nil.
func (rt *ResourceType) Extension(urn string) *Schema {
	for _, s := range rt.extensions {
		if strings.EqualFold(s.ID, urn) {
			return s
		}
	}
	return nil
}

// The common attributes of every resource (RFC 7643 §3.1); they belong to no schema document.
var (
	idAttr = &Attribute{Name: "id", Type: TypeString, CaseExact: true, Mutability: ReadOnly,
		Returned: ReturnedAlways, Uniqueness: "server"}
	externalIDAttr = &Attribute{Name: "externalId", Type: TypeString, CaseExact: true,
		Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none"}
	metaAttr = &Attribute{Name: "meta", Type: TypeComplex, Mutability: ReadOnly, Returned: ReturnedDefault,
		Uniqueness: "none", SubAttributes: []*Attribute{
			{Name: "resourceType", Type: TypeString, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none"},
			{Name: "created", Type: TypeDateTime, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none"},
			{Name: "lastModified", Type: TypeDateTime, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none"},
			{Name: "location", Type: TypeReference, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none"},
			{Name: "version", Type: TypeString, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none"},
		}}
	commonAttrs = []*Attribute{idAttr, externalIDAttr, metaAttr}
)

// Registry holds the schemas and resource types served by discovery, loaded from package api.
type Registry struct {
	Schemas       []*Schema
	ResourceTypes []*ResourceType
	// Raw documents, served as they are by discovery.
	RawSchemas       map[string]json.RawMessage
	RawResourceTypes []json.RawMessage
	RawSPConfig      json.RawMessage
}

// Users and Groups are the resource types scimd serves.
var (
	registry = mustLoad(api.Files)
	Users    = registry.ResourceType("User")
	Groups   = registry.ResourceType("Group")
)

// Discovery returns the registry loaded from the api package.
func Discovery() *Registry { return registry }

// ResourceType returns the resource type with the given name, or nil.
func (r *Registry) ResourceType(name string) *ResourceType {
	for _, rt := range r.ResourceTypes {
		if rt.Name == name {
			return rt
		}
	}
	return nil
}

func mustLoad(files fs.FS) *Registry {
	r, err := Load(files)
	if err != nil {
		panic(err)
	}
	return r
}

// Load reads schemas/*.json, resource_types.json and service_provider_config.json from files.
func Load(files fs.FS) (*Registry, error) {
	r := &Registry{RawSchemas: map[string]json.RawMessage{}}
	names, err := fs.Glob(files, "schemas/*.json")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		raw, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		var s Schema
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r.Schemas = append(r.Schemas, &s)
		r.RawSchemas[s.ID] = raw
	}
	raw, err := fs.ReadFile(files, "resource_types.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &r.RawResourceTypes); err != nil {
		return nil, fmt.Errorf("resource_types.json: %w", err)
	}
	if err := json.Unmarshal(raw, &r.ResourceTypes); err != nil {
		return nil, fmt.Errorf("resource_types.json: %w", err)
	}
	for _, rt := range r.ResourceTypes {
		if rt.core = r.schema(rt.Schema); rt.core == nil {
			return nil, fmt.Errorf("resource type %s: no schema %s", rt.Name, rt.Schema)
		}
		for _, ext := range rt.SchemaExtensions {
			s := r.schema(ext.Schema)
			if s == nil {
				return nil, fmt.Errorf("resource type %s: no schema %s", rt.Name, ext.Schema)
			}
			rt.extensions = append(rt.extensions, s)
		}
	}
	if r.RawSPConfig, err = fs.ReadFile(files, "service_provider_config.json"); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Registry) schema(id string) *Schema {
	for _, s := range r.Schemas {
		if s.ID == id {
			return s
		}
	}
	return nil
}
