package sqlstore

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// stdAttrs is what encoding/json's Decoder with UseNumber makes of data.
func stdAttrs(data []byte) (map[string]any, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	err := d.Decode(&m)
	return m, err
}

func TestDecodeAttrsMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{}`, ` { } `, `null`, `{"a":null}`, `[]`, `{"a":1}x`, `{"a":1} {"b":2}`, `{"a":1`, `{"a":}`, `{"a" 1}`, `{a:1}`,
		`{"userName":"a@b.c","active":true,"name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"a@b.c","primary":true,"type":"work"}]}`,
		`{"n":0,"m":-0.5e+10,"big":1e400,"e":1E-2,"bad":01}`, `{"n":-}`, `{"n":1.}`, `{"n":1e}`, `{"n":.5}`,
		`{"esc":"a\"b","u":"\u00e9\ud83c\udf89","lone":"\ud800","nl":"a\nb","slash":"a\/b"}`,
		"{\"ctl\":\"a\x01b\"}", "{\"bad\":\"\xff\"}", "{\"utf8\":\"日本語 🎉\"}", "{\"k\xff\":1}",
		`{"dup":1,"dup":{"x":[1,2]}}`, `{"list":[],"obj":{},"nested":[[[]],{"a":[{}]}]}`,
		`{"t":true,"f":false,"tr":tru}`, `{"a":[1,]}`, `{"a":1,}`,
		`{"deep":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`,
	} {
		got, err := decodeAttrs([]byte(doc))
		want, werr := stdAttrs([]byte(doc))
		if (err != nil) != (werr != nil) || err != nil && err.Error() != werr.Error() {
			t.Errorf("%q: error %v, encoding/json's %v", doc, err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %#v\nwant %#v", doc, got, want)
		}
	}
}

// TestDecodeAttrsFastPath keeps the common stored shape on the fast path: were it to fall
// back to encoding/json, every result would still match and the speed would be lost.
func TestDecodeAttrsFastPath(t *testing.T) {
	doc := `{"userName":"a@b.c","active":true,"n":1.5,"x":null,"name":{"givenName":"Ånn"},"emails":[{"value":"a@b.c","primary":true}]}`
	p := fastDecoder{data: []byte(doc)}
	if _, ok := p.object(0); !ok || p.i != len(doc) {
		t.Fatalf("the fast path gave up at byte %d of %s", p.i, doc)
	}
}

// FuzzDecodeAttrs holds decodeAttrs to encoding/json's result and error for any input.
func FuzzDecodeAttrs(f *testing.F) {
	for _, s := range []string{
		`{"userName":"a@b.c","name":{"givenName":"A"},"emails":[{"value":"a@b.c","primary":true}],"n":1.5e3}`,
		`{"a":["\u2028","\ud800",null,true,false,-0,1e400]}`,
		"{\"\xff\":\"<&>\\\"\"}",
		`{"a":{"b":{"c":[[[]]]}}} trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeAttrs(data)
		want, werr := stdAttrs(data)
		if (err != nil) != (werr != nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("%q: error %v, encoding/json's %v", data, err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %#v\nwant %#v", data, got, want)
		}
	})
}

func TestDecodeGroups(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want []any
		bad  bool
	}{
		{doc: `[]`, want: []any{}},
		{doc: `[{"value": "g1", "display": "Sales"}, {"value": "g2", "display": null}]`, want: []any{
			map[string]any{"value": "g1", "display": "Sales", "type": "direct"},
			map[string]any{"value": "g2", "display": nil, "type": "direct"}}},
		{doc: `[{"value":"g1","display":"Q\"A"}]`, want: []any{ // an escape: encoding/json's path
			map[string]any{"value": "g1", "display": `Q"A`, "type": "direct"}}},
		{doc: "[{\"value\":\"g1\",\"display\":\"日本\"}]", want: []any{
			map[string]any{"value": "g1", "display": "日本", "type": "direct"}}},
		{doc: `[null]`, bad: true},
		{doc: `["g1"]`, bad: true},
		{doc: `{"value":"g1"}`, bad: true},
		{doc: `[{"value":"g1"}] x`, bad: true},
		{doc: ``, bad: true},
	} {
		got, err := decodeGroups([]byte(tc.doc))
		if (err != nil) != tc.bad {
			t.Errorf("%q: error %v, want an error: %v", tc.doc, err, tc.bad)
		} else if !tc.bad && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tc.doc, got, tc.want)
		}
	}
}
