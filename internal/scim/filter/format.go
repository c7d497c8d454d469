package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format prints a checked filter as canonical SCIM filter text: attribute names in schema
// case (extension attributes with their URN), operators in lower case, strings quoted with
// JSON escapes, date-times in scim.TimeFormat, and only the parentheses the tree needs.
// Parse(Format(e)) returns a tree equal to e.
func Format(e Expr) string {
	var b strings.Builder
	format(&b, e, false)
	return b.String()
}

// String returns Format(e).
func (e *Compare) String() string { return Format(e) }

// String returns Format(e).
func (e *Logical) String() string { return Format(e) }

// String returns Format(e).
func (e *Not) String() string { return Format(e) }

// String returns Format(e).
func (e *ValuePath) String() string { return Format(e) }

func precedence(e Expr) int {
	if l, ok := e.(*Logical); ok {
		if l.Op == "or" {
			return 1
		}
		return 2
	}
	return 3
}

// format writes e; inValuePath says that paths are printed as the bare sub-attribute name.
func format(b *strings.Builder, e Expr, inValuePath bool) {
	switch e := e.(type) {
	case *Compare:
		if inValuePath && e.Path.Sub != nil {
			b.WriteString(e.Path.Sub.Name)
		} else {
			b.WriteString(e.Path.String())
		}
		b.WriteByte(' ')
		b.WriteString(e.Op)
		if e.Op != "pr" {
			b.WriteByte(' ')
			b.WriteString(formatValue(e.Value))
		}
	case *Logical:
		p := precedence(e)
		// and/or are left-associative: a right operand of the same precedence needs
		// parentheses to keep its place in the tree.
		group(b, e.Left, precedence(e.Left) < p, inValuePath)
		b.WriteByte(' ')
		b.WriteString(e.Op)
		b.WriteByte(' ')
		group(b, e.Right, precedence(e.Right) <= p, inValuePath)
	case *Not:
		b.WriteString("not (")
		format(b, e.X, inValuePath)
		b.WriteByte(')')
	case *ValuePath:
		b.WriteString(e.Attr.String())
		b.WriteByte('[')
		format(b, e.Filter, true)
		b.WriteByte(']')
	default:
		fmt.Fprintf(b, "<%T>", e)
	}
}

func group(b *strings.Builder, e Expr, paren, inValuePath bool) {
	if paren {
		b.WriteByte('(')
	}
	format(b, e, inValuePath)
	if paren {
		b.WriteByte(')')
	}
}

// formatValue writes a comparison value as the filter grammar's compValue.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case fmt.Stringer:
		return x.String()
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// quote writes s as a JSON string in the form the filter parser reads: control characters
// escaped, \u escapes with upper-case digits.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == utf8.RuneError:
			// U+FFFD is escaped too: the parser mistakes it for a decoding error.
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
