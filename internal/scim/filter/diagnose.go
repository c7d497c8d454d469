package filter

import (
	"fmt"
	"regexp"
	"strings"
)

// attrPathSyntax is ATTRNAME with its optional schema URI and sub-attribute, as the parser
// reads them.
var attrPathSyntax = regexp.MustCompile(`^(?:[A-Za-z0-9.-]+:)*\$?[A-Za-z][A-Za-z0-9_-]*(?:\.\$?[A-Za-z][A-Za-z0-9_-]*)?$`)

// diagnosis walks the tokens along the filter grammar of RFC 7644 §3.4.2.2 (as
// github.com/scim2/filter-parser implements it) to say what is wrong with a filter the parser
// refused, and where: the parser itself only reports where the alternative it gave up on began.
type diagnosis struct {
	l *lexed
	i int
}

// diagnose returns an invalidFilter error describing the first syntax error of l, or nil
// when it finds none.
func diagnose(l *lexed) error {
	d := &diagnosis{l: l}
	if err := d.or(); err != nil {
		return err
	}
	if t, ok := d.peek(); ok {
		return d.fail(t, "expected \"and\", \"or\" or the end of the filter")
	}
	return nil
}

func (d *diagnosis) peek() (token, bool) {
	if d.i < len(d.l.toks) {
		return d.l.toks[d.i], true
	}
	return token{}, false
}

// fail returns an error saying what was expected at token t.
func (d *diagnosis) fail(t token, expected string, args ...any) error {
	return invalid("%s at position %d, got %s", fmt.Sprintf(expected, args...), position(d.l.src, t.pos), describe(t))
}

// failEnd returns an error for a filter that ends too early.
func (d *diagnosis) failEnd(expected string, args ...any) error {
	return invalid("%s, but the filter ends", fmt.Sprintf(expected, args...))
}

func describe(t token) string {
	if t.kind == tokString {
		return "a string"
	}
	return fmt.Sprintf("%q", clip(t.text))
}

// clip shortens s for a message.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func (d *diagnosis) expect(k tokKind, text, after string) error {
	t, ok := d.peek()
	if !ok {
		return d.failEnd("expected %q after %s", text, after)
	}
	if t.kind != k {
		return d.fail(t, "expected %q after %s", text, after)
	}
	d.i++
	return nil
}

func (d *diagnosis) or() error {
	if err := d.and(); err != nil {
		return err
	}
	for {
		t, ok := d.peek()
		if !ok || !t.is("or") {
			return nil
		}
		d.i++
		if err := d.and(); err != nil {
			return err
		}
	}
}

func (d *diagnosis) and() error {
	if err := d.value(); err != nil {
		return err
	}
	for {
		t, ok := d.peek()
		if !ok || !t.is("and") {
			return nil
		}
		d.i++
		if err := d.value(); err != nil {
			return err
		}
	}
}

func (d *diagnosis) value() error {
	t, ok := d.peek()
	if !ok {
		return d.failEnd("expected an attribute name, \"(\" or \"not\"")
	}
	switch {
	case t.is("not"):
		d.i++
		if err := d.expect(tokOpen, "(", `"not"`); err != nil {
			return err
		}
		if err := d.or(); err != nil {
			return err
		}
		return d.expect(tokClose, ")", "the filter in not (…)")
	case t.kind == tokOpen:
		d.i++
		if err := d.or(); err != nil {
			return err
		}
		return d.expect(tokClose, ")", "the filter in (…)")
	case t.kind == tokWord && !isKeyword(t):
		return d.attrExp(false)
	}
	return d.fail(t, "expected an attribute name, \"(\" or \"not\"")
}

// attrExp reads `attrPath pr`, `attrPath op value` or, outside brackets, a value path.
func (d *diagnosis) attrExp(inBrackets bool) error {
	t, ok := d.peek()
	if !ok {
		return d.failEnd("expected an attribute name")
	}
	if t.kind != tokWord || isKeyword(t) || isCompareOp(t) || t.is("pr") {
		return d.fail(t, "expected an attribute name")
	}
	if !attrPathSyntax.MatchString(t.text) {
		return invalid("%q at position %d is not an attribute name", clip(t.text), position(d.l.src, t.pos))
	}
	path := t
	d.i++
	t, ok = d.peek()
	if !ok {
		return d.failEnd("expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le) or \"pr\" after %q", clip(path.text))
	}
	if t.kind == tokLBrack {
		if inBrackets {
			return invalid("value paths cannot be nested: %q at position %d is inside another value path", path.text, position(d.l.src, path.pos))
		}
		d.i++
		if err := d.valFilter(); err != nil {
			return err
		}
		if err := d.expect(tokRBrack, "]", "the value filter"); err != nil {
			return err
		}
		if t, ok := d.peek(); ok && t.kind == tokWord && !t.spaced && strings.HasPrefix(t.text, ".") {
			return invalid("%s[…]%s at position %d: a filter cannot name a sub-attribute after a value filter; "+
				"put the comparison inside the brackets, as in %s[… and %s …]",
				path.text, t.text, position(d.l.src, path.pos), path.text, strings.TrimPrefix(t.text, "."))
		}
		return nil
	}
	if t.is("pr") {
		d.i++
		return nil
	}
	if !isCompareOp(t) {
		return d.fail(t, "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le) or \"pr\" after %q", clip(path.text))
	}
	op := t
	d.i++
	v, ok := d.peek()
	if !ok {
		return d.failEnd("expected a value after %q", op.text)
	}
	switch {
	case v.kind == tokString, v.kind == tokWord && isLiteral(v.text):
		d.i++
		return nil
	case v.kind == tokWord:
		return invalid("the value %q at position %d must be quoted", clip(v.text), position(d.l.src, v.pos))
	}
	return d.fail(v, "expected a value (a quoted string, a number, true, false or null) after %q", op.text)
}

// valFilter reads the filter inside a value path's brackets, which the parser limits to one
// or two comparisons, optionally in not (…).
func (d *diagnosis) valFilter() error {
	t, ok := d.peek()
	if !ok {
		return d.failEnd("expected a value filter after \"[\"")
	}
	if t.is("not") {
		d.i++
		if err := d.expect(tokOpen, "(", `"not"`); err != nil {
			return err
		}
		if err := d.valComparisons(); err != nil {
			return err
		}
		return d.expect(tokClose, ")", "the filter in not (…)")
	}
	return d.valComparisons()
}

func (d *diagnosis) valComparisons() error {
	if t, ok := d.peek(); ok && t.kind == tokOpen {
		return invalid("parentheses inside a value path's brackets are supported only after \"not\" (position %d)", position(d.l.src, t.pos))
	}
	if err := d.attrExp(true); err != nil {
		return err
	}
	t, ok := d.peek()
	if !ok || !(t.is("and") || t.is("or")) {
		return nil
	}
	d.i++
	if err := d.attrExp(true); err != nil {
		return err
	}
	if t, ok := d.peek(); ok && (t.is("and") || t.is("or")) {
		return invalid("a value path's brackets hold at most two comparisons joined by \"and\" or \"or\"; "+
			"a third begins at position %d", position(d.l.src, t.pos))
	}
	return nil
}
