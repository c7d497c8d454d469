package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// decodeAttrs decodes a stored resource's data column into the map encoding/json's Decoder
// with UseNumber makes of it. Stored data is JSON this package wrote (json.Marshal of the
// attributes), so the common shape, objects of plain strings, numbers, booleans and lists,
// is read here directly, without encoding/json's copy of the input and its reflection (a
// twentieth of a lookup's CPU). Anything else (an escape in a string, invalid UTF-8, a
// control character, a malformed document, anything after the object) goes to encoding/json,
// so the result and every error are exactly its own. FuzzDecodeAttrs holds the two equal.
func decodeAttrs(data []byte) (map[string]any, error) {
	p := fastDecoder{data: data}
	if m, ok := p.object(0); ok {
		p.space()
		if p.i == len(p.data) {
			return m, nil
		}
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	err := d.Decode(&m)
	return m, err
}

// decodeGroups decodes a user's groups column (the JSON list of {value, display} objects the
// select list builds) into the attribute's values, each marked type "direct". It takes
// decodeAttrs' fast path, and encoding/json for anything that path gives up on.
func decodeGroups(data []byte) ([]any, error) {
	p := fastDecoder{data: data}
	v, ok := p.value(0)
	list, isList := v.([]any)
	if p.space(); !ok || !isList || p.i != len(p.data) {
		var std []map[string]any
		if err := json.Unmarshal(data, &std); err != nil {
			return nil, err
		}
		list = make([]any, len(std))
		for i, g := range std {
			list[i] = g
		}
	}
	for _, g := range list {
		m, isObject := g.(map[string]any)
		if !isObject || m == nil {
			return nil, fmt.Errorf("a group is %v, not an object", g)
		}
		m["type"] = "direct"
	}
	return list, nil
}

// fastDecoder reads the plain JSON decodeAttrs handles itself; every method returns false
// where it gives up.
type fastDecoder struct {
	data []byte
	i    int
}

// maxFastDepth is the nesting the fast path follows; deeper documents go to encoding/json.
const maxFastDepth = 64

func (p *fastDecoder) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastDecoder) value(depth int) (any, bool) {
	p.space()
	if p.i >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	for _, lit := range literals {
		if len(p.data)-p.i >= len(lit.text) && string(p.data[p.i:p.i+len(lit.text)]) == lit.text {
			p.i += len(lit.text)
			return lit.value, true
		}
	}
	return nil, false
}

// literals are JSON's three words and their values.
var literals = [...]struct {
	text  string
	value any
}{{"true", true}, {"false", false}, {"null", nil}}

func (p *fastDecoder) object(depth int) (map[string]any, bool) {
	p.space()
	if depth > maxFastDepth || p.i >= len(p.data) || p.data[p.i] != '{' {
		return nil, false
	}
	p.i++
	m := map[string]any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return m, true
	}
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, false
		}
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, false
		}
		p.i++
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		if done, ok := p.next('}'); !ok {
			return nil, false
		} else if done {
			return m, true
		}
	}
}

func (p *fastDecoder) array(depth int) ([]any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	p.i++ // '['
	list := []any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return list, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		list = append(list, v)
		if done, ok := p.next(']'); !ok {
			return nil, false
		} else if done {
			return list, true
		}
	}
}

// next reads what follows a member of an object or list: a comma (another member comes),
// or closer (done).
func (p *fastDecoder) next(closer byte) (done, ok bool) {
	p.space()
	if p.i >= len(p.data) {
		return false, false
	}
	switch p.data[p.i] {
	case ',':
		p.i++
		return false, true
	case closer:
		p.i++
		return true, true
	}
	return false, false
}

// str reads a string with no escape and no control character, of valid UTF-8.
func (p *fastDecoder) str() (string, bool) {
	p.i++ // '"'
	start := p.i
	ascii := true
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			s := p.data[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", false
}

// number reads a number of JSON's grammar as json.Number.
func (p *fastDecoder) number() (any, bool) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.data) && '0' <= p.data[p.i] && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.data[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.data) && p.data[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, false
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return json.Number(p.data[start:p.i]), true
}
