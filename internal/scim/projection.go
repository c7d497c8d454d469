package scim

import (
	"strings"
)

// Projection is the attributes / excludedAttributes choice of a request (RFC 7644 §3.4.2.5).
type Projection struct {
	include []AttrPath
	exclude []AttrPath
	// whole extensions named by their URN alone.
	includeExt, excludeExt []string
}

// ParseProjection reads the comma-separated attributes and excludedAttributes parameters.
// Names are case-insensitive; a name that is no attribute of rt is ignored, as IdPs ask for
// attributes of other resource types in the same breath.
func (rt *ResourceType) ParseProjection(attributes, excluded string) Projection {
	var p Projection
	parse := func(list string, paths *[]AttrPath, exts *[]string) {
		for _, s := range strings.Split(list, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if urn, ok := rt.IsExtensionURN(s); ok {
				*exts = append(*exts, urn)
				continue
			}
			if ap, err := rt.ResolveString(s); err == nil {
				*paths = append(*paths, ap)
			}
		}
	}
	parse(attributes, &p.include, &p.includeExt)
	parse(excluded, &p.exclude, &p.excludeExt)
	return p
}

// Wants reports whether the response will carry attribute name of the core schema: a caller
// skips reading what is not wanted (Groups' members under excludedAttributes=members).
func (p Projection) Wants(rt *ResourceType, name string) bool {
	a := rt.core.Attr(name)
	if a == nil {
		return false
	}
	return p.keep(AttrPath{Attr: a}) != dropAll
}

type verdict int

const (
	keepAll verdict = iota
	keepSome
	dropAll
)

// keep decides for a top-level attribute (path with no Sub).
func (p Projection) keep(top AttrPath) verdict {
	a := top.Attr
	switch a.Returned {
	case ReturnedNever:
		return dropAll
	case ReturnedAlways:
		return keepAll
	}
	if len(p.include) > 0 || len(p.includeExt) > 0 {
		if top.Extension != "" && contains(p.includeExt, top.Extension) {
			return keepAll
		}
		v := dropAll
		for _, in := range p.include {
			if in.Extension == top.Extension && in.Attr == a {
				if in.Sub == nil {
					return keepAll
				}
				v = keepSome
			}
		}
		return v
	}
	if a.Returned == ReturnedRequest {
		return dropAll
	}
	if top.Extension != "" && contains(p.excludeExt, top.Extension) {
		return dropAll
	}
	v := keepAll
	for _, ex := range p.exclude {
		if ex.Extension == top.Extension && ex.Attr == a {
			if ex.Sub == nil {
				return dropAll
			}
			v = keepSome
		}
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Apply returns the rendered resource m (from Render) cut down to the projection.
func (p Projection) Apply(rt *ResourceType, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k == "schemas" {
			out[k] = v
			continue
		}
		if ext := rt.Extension(k); ext != nil {
			obj, _ := v.(map[string]any)
			sub := map[string]any{}
			for name, ev := range obj {
				if a := ext.Attr(name); a != nil {
					if kept, ok := p.cut(AttrPath{Extension: ext.ID, Attr: a}, ev); ok {
						sub[name] = kept
					}
				}
			}
			if len(sub) > 0 {
				out[k] = sub
			}
			continue
		}
		a := findAttr(commonAttrs, k)
		if a == nil {
			a = rt.core.Attr(k)
		}
		if a == nil {
			continue
		}
		if kept, ok := p.cut(AttrPath{Attr: a}, v); ok {
			out[k] = kept
		}
	}
	return out
}

// cut applies the projection to the value v of the top-level attribute top.
func (p Projection) cut(top AttrPath, v any) (any, bool) {
	switch p.keep(top) {
	case dropAll:
		return nil, false
	case keepAll:
		return v, true
	}
	keepSub := func(sub *Attribute) bool {
		if sub.Returned == ReturnedNever {
			return false
		}
		if sub.Returned == ReturnedAlways {
			return true
		}
		if len(p.include) > 0 {
			for _, in := range p.include {
				if in.Extension == top.Extension && in.Attr == top.Attr && in.Sub == sub {
					return true
				}
			}
			return false
		}
		for _, ex := range p.exclude {
			if ex.Extension == top.Extension && ex.Attr == top.Attr && ex.Sub == sub {
				return false
			}
		}
		return true
	}
	filter := func(obj map[string]any) map[string]any {
		out := map[string]any{}
		for name, sv := range obj {
			if sub := top.Attr.Sub(name); sub != nil && keepSub(sub) {
				out[name] = sv
			}
		}
		return out
	}
	switch x := v.(type) {
	case map[string]any:
		out := filter(x)
		return out, len(out) > 0
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if obj, ok := e.(map[string]any); ok {
				if f := filter(obj); len(f) > 0 {
					out = append(out, f)
				}
			}
		}
		return out, len(out) > 0
	}
	return v, true
}
