package scim

import (
	"strings"
)

// AttrPath is an attribute reference resolved against a resource type: the attribute's
// definition, the sub-attribute's when the path names one, and the extension schema that
// holds it ("" for the core schema and the common attributes).
type AttrPath struct {
	Extension string
	Attr      *Attribute
	Sub       *Attribute
}

// String returns the path in schema case: "name.givenName", or with the extension URN
// prefix, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"; a
// path naming a whole extension (Attr nil) is its URN.
func (p AttrPath) String() string {
	if p.Attr == nil {
		return p.Extension
	}
	var b strings.Builder
	if p.Extension != "" {
		b.WriteString(p.Extension)
		b.WriteByte(':')
	}
	b.WriteString(p.Attr.Name)
	if p.Sub != nil {
		b.WriteByte('.')
		b.WriteString(p.Sub.Name)
	}
	return b.String()
}

// Leaf returns the attribute the path finally names: the sub-attribute if any.
func (p AttrPath) Leaf() *Attribute {
	if p.Sub != nil {
		return p.Sub
	}
	return p.Attr
}

// IsCommon reports whether the path names id, externalId or meta.
func (p AttrPath) IsCommon() bool {
	return p.Attr == idAttr || p.Attr == externalIDAttr || p.Attr == metaAttr
}

// Resolve finds the attribute named by an optional schema URN, an attribute name and an
// optional sub-attribute name, all case-insensitively. It fails with 400 invalidPath (or the
// scimType given by the caller's context) when nothing matches.
func (rt *ResourceType) Resolve(uri, name, sub string) (AttrPath, error) {
	var p AttrPath
	switch {
	case uri == "" || strings.EqualFold(uri, rt.Schema):
		if p.Attr = findAttr(commonAttrs, name); p.Attr == nil {
			p.Attr = rt.core.Attr(name)
		}
		if p.Attr == nil && uri == "" {
			// An extension attribute named without its URN is unambiguous when only one
			// extension defines it.
			for _, ext := range rt.extensions {
				if a := ext.Attr(name); a != nil {
					p.Attr, p.Extension = a, ext.ID
					break
				}
			}
		}
	default:
		ext := rt.Extension(uri)
		if ext == nil {
			return p, BadRequest(InvalidPath, "unknown schema %q", uri)
		}
		p.Extension = ext.ID
		p.Attr = ext.Attr(name)
	}
	if p.Attr == nil {
		if uri != "" {
			return p, BadRequest(InvalidPath, "unknown attribute %q in %s", name, uri)
		}
		return p, BadRequest(InvalidPath, "unknown attribute %q", name)
	}
	if sub != "" {
		if p.Attr.Type != TypeComplex {
			return p, BadRequest(InvalidPath, "attribute %q has no sub-attribute %q", p.Attr.Name, sub)
		}
		if p.Sub = p.Attr.Sub(sub); p.Sub == nil {
			return p, BadRequest(InvalidPath, "unknown sub-attribute %q of %q", sub, p.Attr.Name)
		}
	}
	return p, nil
}

// ResolveString resolves a path written as text, such as "name.givenName", "emails.value"
// or "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value". A bare
// extension URN is not an attribute path; callers that accept one check Extension first.
func (rt *ResourceType) ResolveString(s string) (AttrPath, error) {
	uri, rest := "", s
	if strings.HasPrefix(strings.ToLower(s), "urn:") {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return AttrPath{}, BadRequest(InvalidPath, "malformed attribute path %q", s)
		}
		uri, rest = s[:i], s[i+1:]
	}
	name, sub, _ := strings.Cut(rest, ".")
	if name == "" || strings.Contains(sub, ".") {
		return AttrPath{}, BadRequest(InvalidPath, "malformed attribute path %q", s)
	}
	return rt.Resolve(uri, name, sub)
}

// IsExtensionURN reports whether s names one of rt's extension schemas, returning its URN
// in schema case.
func (rt *ResourceType) IsExtensionURN(s string) (string, bool) {
	if ext := rt.Extension(s); ext != nil {
		return ext.ID, true
	}
	return "", false
}
