// Package patch applies SCIM PATCH requests (RFC 7644 §3.5.2), in every IdP's dialect, to a resource's attributes.
package patch

import (
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

// Operation names, as Parse returns them.
const (
	OpAdd     = "add"
	OpRemove  = "remove"
	OpReplace = "replace"
)

// MaxOperations is the most operations one PatchOp body may carry by default; more is 400
// tooMany.
const MaxOperations = 1000

// Limits bounds the PatchOp bodies Limits.Parse accepts (scimd serve's
// --max-patch-operations) and the filters of their paths. A zero field is its default.
type Limits struct {
	MaxOperations int
	Filter        filter.Limits
	// MaxValues is the most values a multi-valued attribute may hold after an operation of
	// ApplyContext (groups' members are rows, bounded by the directory); more is 400
	// invalidValue, reported as soon as the list grows past it. 0: no bound.
	MaxValues int
}

// Operation is one checked PATCH operation.
type Operation struct {
	Op    string // "add", "remove" or "replace" (Parse lower-cases "Replace", "Add")
	Path  *Path  // nil for a path-less operation
	Value any    // decoded JSON (json.Number for numbers), not yet normalized
}

// Path is a checked PATCH path: attr, attr.sub, attr[filter], attr[filter].sub, each with an
// optional schema URN prefix, or a bare extension URN naming the whole extension object (then
// Attr.Extension is set and Attr.Attr is nil).
type Path struct {
	Attr   scim.AttrPath   // the attribute (Attr.Sub set for "name.givenName")
	Filter filter.Expr     // value filter for attr[filter], or nil; its Compare nodes name sub-attributes of Attr.Attr
	Sub    *scim.Attribute // sub-attribute after a filter: emails[type eq "work"].value

	filterText string // the filter as sent, for String
}

// String returns the path in schema case, the filter as it was sent.
func (p *Path) String() string {
	if p.Attr.Attr == nil {
		return p.Attr.Extension
	}
	s := p.Attr.String()
	if p.Filter != nil {
		s += "[" + p.filterText + "]"
	}
	if p.Sub != nil {
		s += "." + p.Sub.Name
	}
	return s
}

// isExtension reports whether p names a whole extension object.
func (p *Path) isExtension() bool { return p.Attr.Attr == nil }

// Parse reads a PatchOp request body, decoded with json.Decoder.UseNumber, and checks each
// operation's path against rt. Member names are case-insensitive. Errors are *scim.Error, all
// 400: invalidSyntax for a malformed body or an unknown op, tooMany for more than
// MaxOperations operations, invalidPath for a malformed or unknown path, mutability for a
// path naming a read-only attribute, invalidFilter for a bad filter in a path, invalidValue
// for a missing value, and noTarget for a remove without a path. An empty Operations list
// (Microsoft's validator sends one) is no operation: the resource is left as it is.
func Parse(body map[string]any, rt *scim.ResourceType) ([]Operation, error) {
	return Limits{}.Parse(body, rt)
}

// Parse is patch.Parse within the bounds of l.
func (l Limits) Parse(body map[string]any, rt *scim.ResourceType) ([]Operation, error) {
	maxOps := l.MaxOperations
	defaults.Positive(&maxOps, MaxOperations)
	if body == nil {
		return nil, scim.BadRequest(scim.InvalidSyntax, "the request body must be a PatchOp object")
	}
	if err := scim.CheckSchemas(body, scim.PatchOpSchema); err != nil {
		return nil, scim.BadRequest(scim.InvalidSyntax, "%s", scim.AsError(err).Detail)
	}
	raw, ok := scim.Lookup(body, "Operations")
	if !ok {
		return nil, scim.BadRequest(scim.InvalidSyntax, "the PatchOp body has no \"Operations\"")
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, scim.BadRequest(scim.InvalidSyntax, "\"Operations\" must be a list of operations")
	}
	if len(list) > maxOps {
		return nil, scim.BadRequest(scim.TooMany, "a PatchOp body may hold at most %d operations; got %d", maxOps, len(list))
	}
	ops := make([]Operation, 0, len(list))
	for i, item := range list {
		op, err := parseOp(item, rt, l.Filter)
		if err != nil {
			return nil, inOp(i, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// inOp prefixes the detail of a *scim.Error with the (1-based) operation it comes from.
func inOp(i int, err error) error {
	e := scim.AsError(err)
	if e == nil {
		return err
	}
	return &scim.Error{Status: e.Status, ScimType: e.ScimType, Detail: "operation " + strconv.Itoa(i+1) + ": " + e.Detail}
}

func parseOp(item any, rt *scim.ResourceType, fl filter.Limits) (Operation, error) {
	var op Operation
	m, ok := item.(map[string]any)
	if !ok {
		return op, scim.BadRequest(scim.InvalidSyntax, "an operation must be an object with \"op\", \"path\" and \"value\"")
	}
	rawOp, _ := scim.Lookup(m, "op")
	name, ok := rawOp.(string)
	if !ok {
		return op, scim.BadRequest(scim.InvalidSyntax, "\"op\" must be one of \"add\", \"remove\" or \"replace\"")
	}
	op.Op = strings.ToLower(strings.TrimSpace(name))
	if op.Op != OpAdd && op.Op != OpRemove && op.Op != OpReplace {
		return op, scim.BadRequest(scim.InvalidSyntax, "unknown op %q; it must be \"add\", \"remove\" or \"replace\"", name)
	}
	if rawPath, ok := scim.Lookup(m, "path"); ok && rawPath != nil {
		s, ok := rawPath.(string)
		if !ok {
			return op, scim.BadRequest(scim.InvalidPath, "\"path\" must be a string")
		}
		p, err := parsePath(s, rt, fl)
		if err != nil {
			return op, err
		}
		op.Path = p
	}
	value, hasValue := scim.Lookup(m, "value")
	op.Value = value
	switch {
	case op.Op == OpRemove:
		if op.Path == nil {
			if obj, ok := value.(map[string]any); ok && len(obj) > 0 {
				// A path-less remove with the attributes as its value: what the sender
				// wants is a replace (setting active to false is a replace, not a remove).
				return op, scim.BadRequest(scim.NoTarget, "a remove operation needs a \"path\"; to change %s, use a replace operation", strings.Join(sortedKeys(obj), ", "))
			}
			return op, scim.BadRequest(scim.NoTarget, "a remove operation needs a \"path\"")
		}
	case !hasValue:
		return op, scim.BadRequest(scim.InvalidValue, "an %s operation needs a \"value\"", op.Op)
	case value == nil && op.Op == OpAdd:
		return op, scim.BadRequest(scim.InvalidValue, "an add operation needs a non-null \"value\"")
	case op.Path == nil || op.Path.isExtension():
		if _, ok := value.(map[string]any); !ok && value != nil {
			return op, scim.BadRequest(scim.InvalidValue, "the \"value\" of an %s operation without an attribute path must be an object", op.Op)
		}
	}
	return op, nil
}

// parsePath reads a PATCH path (RFC 7644 §3.5.2 PATH): the attribute part is resolved with
// rt.ResolveString, the bracket part is handed to filter.Parse as a value path. An empty path
// is no path (nil).
func parsePath(s string, rt *scim.ResourceType, fl filter.Limits) (*Path, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if urn, ok := rt.IsExtensionURN(s); ok {
			return &Path{Attr: scim.AttrPath{Extension: urn}}, nil
		}
		ap, err := rt.ResolveString(s)
		if err != nil {
			return nil, err
		}
		p := &Path{Attr: ap}
		return p, checkWritable(p)
	}
	end := closingBracket(s, open)
	if end < 0 {
		return nil, scim.BadRequest(scim.InvalidPath, "path %q has an unclosed \"[\"", s)
	}
	ap, err := rt.ResolveString(strings.TrimSpace(s[:open]))
	if err != nil {
		return nil, err
	}
	if ap.Sub != nil {
		return nil, scim.BadRequest(scim.InvalidPath, "path %q: a value filter applies to an attribute, not to the sub-attribute %q", s, ap.String())
	}
	if ap.Attr.Type != scim.TypeComplex || !ap.Attr.MultiValued {
		return nil, scim.BadRequest(scim.InvalidPath, "path %q: attribute %q is not multi-valued and complex, so it takes no value filter", s, ap.String())
	}
	p := &Path{Attr: ap, filterText: strings.TrimSpace(s[open+1 : end])}
	if p.filterText == "" {
		return nil, scim.BadRequest(scim.InvalidFilter, "path %q has an empty value filter", s)
	}
	if rest := s[end+1:]; rest != "" {
		name, ok := strings.CutPrefix(rest, ".")
		if !ok {
			return nil, scim.BadRequest(scim.InvalidPath, "path %q: only \".subAttribute\" may follow \"]\"", s)
		}
		if p.Sub = ap.Attr.Sub(name); p.Sub == nil {
			return nil, scim.BadRequest(scim.InvalidPath, "path %q: unknown sub-attribute %q of %q", s, name, ap.String())
		}
	}
	// The attribute goes to the filter parser in schema case, with an extension's URN, so
	// that the filter is checked against the same definition.
	text := ap.Attr.Name
	if ap.Extension != "" {
		text = ap.Extension + ":" + text
	}
	e, err := fl.Parse(text+"["+p.filterText+"]", rt)
	if err != nil {
		if se := scim.AsError(err); se != nil {
			return nil, se
		}
		return nil, scim.BadRequest(scim.InvalidFilter, "path %q: %v", s, err)
	}
	vp, ok := e.(*filter.ValuePath)
	if !ok || vp.Filter == nil {
		return nil, scim.BadRequest(scim.InvalidFilter, "path %q: the text in brackets must be one value filter", s)
	}
	p.Filter = vp.Filter
	return p, checkWritable(p)
}

// closingBracket returns the index of the "]" that closes the "[" at open, skipping quoted
// strings, or -1.
func closingBracket(s string, open int) int {
	quoted := false
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ']':
			return i
		}
	}
	return -1
}

// checkWritable refuses a path that names a read-only attribute: 400 mutability.
func checkWritable(p *Path) error {
	for _, a := range []*scim.Attribute{p.Attr.Attr, p.Attr.Sub, p.Sub} {
		if a != nil && a.Mutability == scim.ReadOnly {
			return scim.BadRequest(scim.Mutability, "attribute %q is read-only and cannot be changed", p.String())
		}
	}
	return nil
}
