package scim

import (
	"unicode"
	"unicode/utf8"
)

// FoldKey returns s case-folded by Unicode simple folding, the folding of strings.EqualFold:
// two strings have the same FoldKey exactly when strings.EqualFold holds for them. Each rune
// becomes the smallest rune of its folding orbit (so "K", "k" and the Kelvin sign are one).
// It is the key of case-insensitive uniqueness and of case-insensitive sets.
func FoldKey(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		out = utf8.AppendRune(out, low)
	}
	return string(out)
}

// CheckKeyCase refuses a decoded JSON value in which one object has two member names that
// differ only in case ("userType" and "usertype"): attribute names are case-insensitive
// (RFC 7643 §2.1), so which one counts would be decided by map order. 400 invalidSyntax.
func CheckKeyCase(v any) error {
	switch x := v.(type) {
	case map[string]any:
		seen := make(map[string]string, len(x))
		for k, e := range x {
			f := FoldKey(k)
			if other, dup := seen[f]; dup {
				a, b := min(k, other), max(k, other)
				return BadRequest(InvalidSyntax, "the body names %q and %q in one object; attribute names are case-insensitive, so send one", a, b)
			}
			seen[f] = k
			if err := CheckKeyCase(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := CheckKeyCase(e); err != nil {
				return err
			}
		}
	}
	return nil
}
