package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Resource is a User or a Group as scimd holds it: the server-assigned id and meta, and the
// client's attributes in schema case (extension attributes in a map under the extension's
// URN). Attrs never holds id, meta or schemas; values are string, bool, json.Number,
// map[string]any or []any, as Normalize returns them.
type Resource struct {
	ID    string
	Meta  Meta
	Attrs map[string]any
}

// Meta is the server-kept part of a resource's meta attribute.
type Meta struct {
	Created      time.Time
	LastModified time.Time
	Version      int64
}

// ETag returns the weak entity tag of this version, W/"n".
func (m Meta) ETag() string { return `W/"` + strconv.FormatInt(m.Version, 10) + `"` }

// TimeFormat is how scimd writes dateTime values: RFC 3339 in UTC with fixed fractional
// digits, so that text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime writes t in TimeFormat, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// String returns the string value of the attribute name in attrs, or "".
func String(attrs map[string]any, name string) string {
	s, _ := attrs[name].(string)
	return s
}

// CheckSchemas checks the "schemas" member of a request body: present, a list of strings,
// and naming want (case-insensitively).
func CheckSchemas(body map[string]any, want string) error {
	raw, ok := Lookup(body, "schemas")
	if !ok {
		return BadRequest(InvalidValue, "the request body has no \"schemas\"; it must list %s", want)
	}
	list, ok := raw.([]any)
	if !ok {
		return BadRequest(InvalidValue, "\"schemas\" must be a list of schema URNs")
	}
	for _, s := range list {
		if str, ok := s.(string); ok && strings.EqualFold(str, want) {
			return nil
		}
	}
	return BadRequest(InvalidValue, "\"schemas\" must list %s", want)
}

// Normalize checks the attributes of a request body (POST or PUT) against rt and returns
// them in schema case. Unknown attributes, read-only ones (id, meta, groups) and write-only
// ones (password) are dropped; null and empty values are dropped. A value of the wrong type
// is a 400 invalidValue error naming the attribute.
func (rt *ResourceType) Normalize(body map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range rt.unqualify(body) {
		if strings.EqualFold(k, "schemas") {
			continue
		}
		if urn, ok := rt.IsExtensionURN(k); ok {
			obj, isObj := v.(map[string]any)
			if v != nil && !isObj {
				return nil, BadRequest(InvalidValue, "%q must be an object", urn)
			}
			ext, err := normalizeAttrs(rt.Extension(urn).Attributes, obj, urn+":")
			if err != nil {
				return nil, err
			}
			if len(ext) > 0 {
				out[urn] = ext
			}
			continue
		}
		a := findAttr(commonAttrs, k)
		if a == nil {
			a = rt.core.Attr(k)
		}
		if a == nil || a.Mutability == ReadOnly || a.Mutability == WriteOnly {
			continue
		}
		nv, err := a.Normalize(v, a.Name)
		if err != nil {
			return nil, err
		}
		if nv != nil {
			out[a.Name] = nv
		}
	}
	return out, nil
}

// unqualify rewrites the core schema's URN-qualified keys of a body to plain names, as RFC
// 7644 §3.10 allows them: "urn:…:core:2.0:User:active" becomes "active", and
// "urn:…:core:2.0:User:name.givenName" sets givenName in "name"; a key that is the core URN
// itself, with an object, contributes its members. Without this, such a key would be dropped
// as unknown and slip past the PUT mutability rules.
func (rt *ResourceType) unqualify(body map[string]any) map[string]any {
	prefix := strings.ToLower(rt.Schema) + ":"
	qualified := false
	for k := range body {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, prefix) || lk == strings.ToLower(rt.Schema) {
			qualified = true
		}
	}
	if !qualified {
		return body
	}
	out := make(map[string]any, len(body))
	set := func(name string, v any) {
		attr, sub, dotted := strings.Cut(name, ".")
		if !dotted {
			out[attr] = v
			return
		}
		obj, _ := out[attr].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
			out[attr] = obj
		}
		obj[sub] = v
	}
	for k, v := range body {
		lk := strings.ToLower(k)
		switch {
		case lk == strings.ToLower(rt.Schema):
			if obj, ok := v.(map[string]any); ok {
				for name, nv := range obj {
					set(name, nv)
				}
			}
		case strings.HasPrefix(lk, prefix):
			set(k[len(prefix):], v)
		default:
			if _, taken := out[k]; !taken {
				out[k] = v
			}
		}
	}
	return out
}

func normalizeAttrs(defs []*Attribute, in map[string]any, prefix string) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range in {
		a := findAttr(defs, k)
		if a == nil || a.Mutability == ReadOnly || a.Mutability == WriteOnly {
			continue
		}
		nv, err := a.Normalize(v, prefix+a.Name)
		if err != nil {
			return nil, err
		}
		if nv != nil {
			out[a.Name] = nv
		}
	}
	return out, nil
}

// Normalize checks a value of attribute a (named name in errors) and returns it in its
// stored form: nil for null or empty; a single value of a multi-valued attribute becomes a
// one-element list.
func (a *Attribute) Normalize(v any, name string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if !a.MultiValued {
		if _, isList := v.([]any); isList {
			return nil, BadRequest(InvalidValue, "attribute %q is single-valued; got a list", name)
		}
		return a.NormalizeSingle(v, name)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]any, 0, len(list))
	for _, e := range list {
		ne, err := a.NormalizeSingle(e, name)
		if err != nil {
			return nil, err
		}
		if ne != nil {
			out = append(out, ne)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// NormalizeSingle checks one value (one element, for a multi-valued attribute) of a.
// Booleans sent as strings ("True", "false") are accepted, as Entra ID sends them.
func (a *Attribute) NormalizeSingle(v any, name string) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func(want string) error {
		return BadRequest(InvalidValue, "attribute %q must be %s", name, want)
	}
	switch a.Type {
	case TypeString, TypeReference, TypeBinary:
		s, ok := v.(string)
		if !ok {
			return nil, bad("a string")
		}
		if strings.ContainsRune(s, 0) {
			return nil, bad("text without NUL characters")
		}
		return s, nil
	case TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(strings.ToLower(x)); err == nil && (strings.EqualFold(x, "true") || strings.EqualFold(x, "false")) {
				return b, nil
			}
		}
		return nil, bad("a boolean")
	case TypeInteger:
		if n, ok := v.(json.Number); ok {
			if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, bad("an integer")
	case TypeDecimal:
		if n, ok := v.(json.Number); ok {
			if _, err := n.Float64(); err == nil {
				return n, nil
			}
		}
		return nil, bad("a number")
	case TypeDateTime:
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return FormatTime(t), nil
			}
		}
		return nil, bad("an RFC 3339 date-time")
	case TypeComplex:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, bad("an object")
		}
		out, err := normalizeAttrs(a.SubAttributes, obj, name+".")
		if err != nil {
			return nil, err
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return nil, fmt.Errorf("scim: attribute %q has unknown type %q", name, a.Type)
}

// Render returns the wire form of r: schemas, id, meta (with location) and the attributes.
func (rt *ResourceType) Render(r *Resource, location string) map[string]any {
	m := make(map[string]any, len(r.Attrs)+3)
	schemas := []string{rt.Schema}
	for k, v := range r.Attrs {
		m[k] = v
		if ext := rt.Extension(k); ext != nil {
			schemas = append(schemas, ext.ID)
		}
	}
	m["schemas"] = schemas
	m["id"] = r.ID
	m["meta"] = map[string]any{
		"resourceType": rt.Name,
		"created":      FormatTime(r.Meta.Created),
		"lastModified": FormatTime(r.Meta.LastModified),
		"location":     location,
		"version":      r.Meta.ETag(),
	}
	return m
}

// Lookup returns m's member named name: in exact case first, else in any case (attribute
// names are case-insensitive, RFC 7643 §2.1).
func Lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// PersonName is a user's name for people to read: name.formatted, else the given and family
// names, else displayName; "" when none is set.
func PersonName(attrs map[string]any) string {
	if n, ok := attrs["name"].(map[string]any); ok {
		if f := String(n, "formatted"); f != "" {
			return f
		}
		if gf := strings.TrimSpace(String(n, "givenName") + " " + String(n, "familyName")); gf != "" {
			return gf
		}
	}
	return String(attrs, "displayName")
}

// Values returns the non-empty value sub-attributes of the multi-valued attribute name
// (the addresses of emails, say), in order.
func Values(attrs map[string]any, name string) []string {
	var out []string
	list, _ := attrs[name].([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && String(m, "value") != "" {
			out = append(out, String(m, "value"))
		}
	}
	return out
}
