package saml

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// maxReturnTo bounds a return_to value (it is stored with every login start); a longer one
// is ignored.
const maxReturnTo = 512

// SafeReturnTo reports whether raw is a local path of tenant slug (/t/SLUG/…, with an
// optional query) that a browser may be sent to after a login, and returns it. Refused:
// anything with a scheme or host (https://x, //host, javascript:), a backslash anywhere
// (browsers read /\host as //host), control characters, dot segments that leave the
// tenant (in the path or the fragment, plain or percent-encoded), paths of other tenants,
// and any value that http.Redirect would change on its way to the browser.
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
	// Dot segments could climb out of the tenant once a browser resolves them, and
	// http.Redirect cleans the fragment as if it were path: none anywhere, encoded or not.
	if hasDotSegment(p) || hasDotSegment(u.Fragment) || strings.Contains(strings.ToLower(raw), "%2e") {
		return "", false
	}
	out := escapeNonASCII(u.RequestURI() + fragment(u))
	// The location the browser gets is the one checked: http.Redirect must leave it as it is.
	if redirectCleaned(out) != out {
		return "", false
	}
	return out, true
}

// escapeNonASCII percent-encodes bytes above 0x7f, as http.Redirect does to a location, so
// that the value returned is the one the browser receives.
func escapeNonASCII(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 {
			fmt.Fprintf(&b, "%%%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func hasDotSegment(s string) bool {
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// redirectCleaned is what http.Redirect makes of a local location: everything before the
// first "?" (a fragment included) cleaned as a path, a trailing slash kept.
func redirectCleaned(loc string) string {
	before, query := loc, ""
	if i := strings.Index(loc, "?"); i >= 0 {
		before, query = loc[:i], loc[i:]
	}
	cleaned := path.Clean(before)
	if strings.HasSuffix(before, "/") && cleaned != "/" {
		cleaned += "/"
	}
	return cleaned + query
}

func fragment(u *url.URL) string {
	if u.Fragment == "" {
		return ""
	}
	return "#" + u.EscapedFragment()
}
