package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// stdJSON is what encoding/json's Encoder writes for v without HTML escaping, newline cut.
func stdJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	type named map[string]any
	cases := []struct {
		name string
		v    any
	}{
		{"null", nil},
		{"nil map", map[string]any(nil)},
		{"nil list", []any(nil)},
		{"nil strings", []string(nil)},
		{"empty", map[string]any{}},
		{"keys sorted by bytes", map[string]any{"b": 1, "a": 2, "B": 3, "é": 4, "aa": 5, "": 6}},
		{"many keys", func() map[string]any {
			m := map[string]any{}
			for _, k := range strings.Fields("z y x w v u t s r q p o n m l k j i h g f e d c b a") {
				m[k] = k
			}
			return m
		}()},
		{"escapes", "quote \" backslash \\ \b\f\n\r\t \x00 \x01 \x1f \x7f <html> & done"},
		{"line separators", "a\u2028b\u2029c"},
		{"invalid UTF-8", "bad \xff \xc3 end \xed\xa0\x80"},
		{"unicode", "日本語 🎉 Ünïcödé"},
		{"invalid UTF-8 key", map[string]any{"k\xff": "v"}},
		{"numbers", map[string]any{"int": 42, "neg": int64(-7), "number": json.Number("1.5e3"), "float": 2.5, "zero": json.Number("")}},
		{"bools", []any{true, false, nil}},
		{"strings", []string{"a", "b\"", ""}},
		{"nested", map[string]any{"meta": map[string]any{"version": `W/"3"`, "location": "http://x/Users/1"},
			"emails": []any{map[string]any{"value": "a@b.c", "primary": true}}, "schemas": []string{"urn:x"}}},
		{"other types through encoding/json", map[string]any{"time": time.Unix(0, 0).UTC(), "named": named{"b": 1, "a": []int{1}},
			"struct": struct {
				A string `json:"a"`
			}{"<x>"}}},
		{"deep", func() any {
			var v any = "leaf"
			for range maxDirectDepth + 5 {
				v = []any{map[string]any{"k": v}}
			}
			return v
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, werr := stdJSON(tc.v)
			got, err := appendJSON(nil, tc.v)
			if (err != nil) != (werr != nil) {
				t.Fatalf("error %v, encoding/json's %v", err, werr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("appendJSON\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestAppendJSONErrors(t *testing.T) {
	for _, v := range []any{math.NaN(), map[string]any{"x": math.Inf(1)}, []any{json.Number("1x")}, make(chan int)} {
		if _, err := appendJSON(nil, v); err == nil {
			t.Errorf("appendJSON(%v): no error; encoding/json refuses it", v)
		}
	}
}

// FuzzAppendJSON decodes the input as a SCIM body is decoded (numbers as json.Number), and
// as a string key and value, and holds appendJSON to encoding/json's bytes for each.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{
		`{"userName":"a@b.c","name":{"givenName":"A"},"emails":[{"value":"a@b.c","primary":true}],"n":1.5e3}`,
		`["\u2028","\ud800","\u0000",null,true,false,-0,1e400]`,
		"\xff\xfe<&>\"\\",
		`{"a":{"b":{"c":[[[]]]}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var values []any
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var decoded any
		if d.Decode(&decoded) == nil {
			values = append(values, decoded)
		}
		values = append(values, s, map[string]any{s: s}, []string{s, s})
		for _, v := range values {
			want, werr := stdJSON(v)
			got, err := appendJSON(nil, v)
			if (err != nil) != (werr != nil) {
				t.Fatalf("%q: error %v, encoding/json's %v", s, err, werr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
			}
		}
	})
}

// TestWriteStreamed: a streamed object is the bytes it always was (encoding/json's head, and
// each element as Encode wrote it, with its newline) and decodes to what writeJSON writes.
func TestWriteStreamed(t *testing.T) {
	list := []any{}
	for i := range 3 {
		list = append(list, map[string]any{"value": strings.Repeat("x", i), "display": "A <&> \u2028", "type": "User"})
	}
	m := map[string]any{"id": "g1", "displayName": "Big", "members": list, "meta": map[string]any{"version": `W/"1"`}}
	rest := map[string]any{"id": "g1", "displayName": "Big", "meta": map[string]any{"version": `W/"1"`}}

	head, _ := stdJSON(rest)
	want := append([]byte(nil), head[:len(head)-1]...)
	want = append(want, `,"members":[`...)
	for i, e := range list {
		if i > 0 {
			want = append(want, ',')
		}
		b, _ := stdJSON(e)
		want = append(append(want, b...), '\n')
	}
	want = append(want, "]}\n"...)

	rec := httptest.NewRecorder()
	writeStreamed(rec, http.StatusOK, m, "members", list)
	if got := rec.Body.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("streamed\n got %q\nwant %q", got, want)
	}
	whole := httptest.NewRecorder()
	writeJSON(whole, http.StatusOK, m)
	var a, b any
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(whole.Body.Bytes(), &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("streamed %v, written whole %v", a, b)
	}
}
