package saml

import (
	"net/url"
	"strings"
)

// maxReturnTo bounds a return_to value; a longer one is ignored.
const maxReturnTo = 2048

// SafeReturnTo reports whether raw is a local path of tenant slug (/t/SLUG/…, with an
// optional query) that a browser may be sent to after a login, and returns it. Refused:
// anything with a scheme or host (https://x, //host, javascript:), a backslash anywhere
// (browsers read /\host as //host), control characters, dot segments that leave the
// tenant, and paths of other tenants.
func SafeReturnTo(slug, raw string) (string, bool) {
	if raw == "" || len(raw) > maxReturnTo || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
		return "", false
	}
	for _, c := range raw {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil {
		return "", false
	}
	// An encoded slash or backslash could be decoded by something downstream.
	if lower := strings.ToLower(u.EscapedPath()); strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return "", false
	}
	p := u.Path
	if p != "/t/"+slug && !strings.HasPrefix(p, "/t/"+slug+"/") {
		return "", false
	}
	// Dot segments could climb out of the tenant once a browser resolves them.
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return "", false
		}
	}
	return u.RequestURI() + fragment(u), true
}

func fragment(u *url.URL) string {
	if u.Fragment == "" {
		return ""
	}
	return "#" + u.EscapedFragment()
}
