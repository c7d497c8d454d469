package patch

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/filter"
)

const ent = scim.EnterpriseUserSchema

// sampleUser is the stored attributes of a user, in scim.Resource.Attrs form.
const sampleUser = `{
	"userName": "ann@example.com",
	"name": {"givenName": "Ann", "familyName": "Lee"},
	"displayName": "Ann Lee",
	"active": true,
	"userType": "member",
	"emails": [
		{"value": "ann@example.com", "type": "work", "primary": true},
		{"value": "ann@home.example", "type": "home"}
	],
	"phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
	"addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		"employeeNumber": "42", "department": "Sales", "manager": {"value": "m1"}
	}
}`

const sampleGroup = `{"displayName": "Sales", "externalId": "g-1"}`

// decode reads JSON as the server does, with json.Number for numbers.
func decode(tb testing.TB, s string) any {
	tb.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

// body wraps a JSON list of operations in a PatchOp body.
func body(tb testing.TB, ops string) map[string]any {
	tb.Helper()
	return decode(tb, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": `+ops+`}`).(map[string]any)
}

func wantError(tb testing.TB, err error, status int, scimType string) {
	tb.Helper()
	e := scim.AsError(err)
	if e == nil {
		tb.Fatalf("error = %v (%T), want *scim.Error %d %s", err, err, status, scimType)
	}
	if e.Status != status || e.ScimType != scimType {
		tb.Fatalf("error = %d %s (%s), want %d %s", e.Status, e.ScimType, e.Detail, status, scimType)
	}
	if e.Detail == "" {
		tb.Fatalf("error %d %s has no detail", e.Status, e.ScimType)
	}
}

func toJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		group bool   // a Group, sampleGroup; else a User, sampleUser
		attrs string // stored attributes; "" for the sample
		ops   string
		// want is a JSON object of the attributes that differ from the input ("null" for
		// one removed); ignored for errors.
		want     string
		changed  []string
		scimType string // an expected 400 error
	}{
		// add
		{name: "add simple", ops: `[{"op":"add","path":"title","value":"Engineer"}]`,
			want: `{"title":"Engineer"}`, changed: []string{"title"}},
		{name: "add complex merges sub-attributes", ops: `[{"op":"add","path":"name","value":{"middleName":"Q"}}]`,
			want: `{"name":{"givenName":"Ann","familyName":"Lee","middleName":"Q"}}`, changed: []string{"name"}},
		{name: "add sub-attribute", ops: `[{"op":"add","path":"name.honorificPrefix","value":"Dr"}]`,
			want: `{"name":{"givenName":"Ann","familyName":"Lee","honorificPrefix":"Dr"}}`, changed: []string{"name"}},
		{name: "add sub-attribute to absent complex", attrs: `{"userName":"x"}`,
			ops:  `[{"op":"add","path":"name.givenName","value":"X"}]`,
			want: `{"name":{"givenName":"X"}}`, changed: []string{"name"}},
		{name: "add appends to multi-valued", ops: `[{"op":"add","path":"phoneNumbers","value":[{"value":"+1 555 0199","type":"mobile"}]}]`,
			want:    `{"phoneNumbers":[{"value":"+1 555 0100","type":"work"},{"value":"+1 555 0199","type":"mobile"}]}`,
			changed: []string{"phoneNumbers"}},
		{name: "add single object to multi-valued", ops: `[{"op":"add","path":"phoneNumbers","value":{"value":"+1 555 0199","type":"mobile"}}]`,
			want:    `{"phoneNumbers":[{"value":"+1 555 0100","type":"work"},{"value":"+1 555 0199","type":"mobile"}]}`,
			changed: []string{"phoneNumbers"}},
		{name: "add value already present changes nothing", ops: `[{"op":"add","path":"phoneNumbers","value":[{"type":"work","value":"+1 555 0100"}]}]`,
			want: `{}`, changed: nil},
		{name: "add with filter sets matching", ops: `[{"op":"add","path":"emails[type eq \"home\"].display","value":"Home"}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work","primary":true},{"value":"ann@home.example","type":"home","display":"Home"}]}`,
			changed: []string{"emails"}},
		{name: "add with filter matching nothing adds a value", ops: `[{"op":"add","path":"emails[type eq \"other\"].value","value":"ann@other.example"}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work","primary":true},{"value":"ann@home.example","type":"home"},{"type":"other","value":"ann@other.example"}]}`,
			changed: []string{"emails"}},
		{name: "add primary value clears the old primary", ops: `[{"op":"add","path":"emails","value":[{"value":"new@example.com","type":"other","primary":true}]}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work"},{"value":"ann@home.example","type":"home"},{"value":"new@example.com","type":"other","primary":true}]}`,
			changed: []string{"emails"}},
		{name: "add extension attribute", ops: `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","value":"CC1"}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales","manager":{"value":"m1"},"costCenter":"CC1"}}`,
			changed: []string{ent + ":costCenter"}},
		{name: "add to absent extension", attrs: `{"userName":"x"}`,
			ops:  `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Ops"}]`,
			want: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops"}}`, changed: []string{ent + ":department"}},
		{name: "add bare extension URN merges the object", ops: `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"costCenter":"CC1","department":"Ops"}}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Ops","manager":{"value":"m1"},"costCenter":"CC1"}}`,
			changed: []string{ent + ":costCenter", ent + ":department"}},
		{name: "add extension attribute named without URN", ops: `[{"op":"add","path":"costCenter","value":"CC1"}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales","manager":{"value":"m1"},"costCenter":"CC1"}}`,
			changed: []string{ent + ":costCenter"}},
		{name: "add empty list changes nothing", ops: `[{"op":"add","path":"emails","value":[]}]`, want: `{}`},

		// replace
		{name: "replace simple", ops: `[{"op":"replace","path":"displayName","value":"Ann L."}]`,
			want: `{"displayName":"Ann L."}`, changed: []string{"displayName"}},
		{name: "replace with the same value changes nothing", ops: `[{"op":"replace","path":"name.givenName","value":"Ann"}]`,
			want: `{}`},
		{name: "replace complex keeps sub-attributes not given", ops: `[{"op":"replace","path":"name","value":{"givenName":"Anna"}}]`,
			want: `{"name":{"givenName":"Anna","familyName":"Lee"}}`, changed: []string{"name"}},
		{name: "replace multi-valued replaces all values", ops: `[{"op":"replace","path":"emails","value":[{"value":"a@b.example","type":"work"}]}]`,
			want: `{"emails":[{"value":"a@b.example","type":"work"}]}`, changed: []string{"emails"}},
		{name: "replace multi-valued with empty list removes it", ops: `[{"op":"replace","path":"emails","value":[]}]`,
			want: `{"emails":null}`, changed: []string{"emails"}},
		{name: "replace with null removes", ops: `[{"op":"replace","path":"displayName","value":null}]`,
			want: `{"displayName":null}`, changed: []string{"displayName"}},
		{name: "replace filtered element", ops: `[{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"h@home.example","type":"home"}}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work","primary":true},{"value":"h@home.example","type":"home"}]}`,
			changed: []string{"emails"}},
		{name: "replace filtered element given as one-element list", ops: `[{"op":"replace","path":"emails[type eq \"home\"]","value":[{"value":"h@home.example","type":"home"}]}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work","primary":true},{"value":"h@home.example","type":"home"}]}`,
			changed: []string{"emails"}},
		{name: "replace filtered element matching nothing adds it", ops: `[{"op":"replace","path":"emails[type eq \"other\"]","value":{"value":"o@x.example"}}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work","primary":true},{"value":"ann@home.example","type":"home"},{"type":"other","value":"o@x.example"}]}`,
			changed: []string{"emails"}},
		{name: "replace matching nothing adds a value from and-ed eq conditions", ops: `[{"op":"replace","path":"emails[type eq \"other\" and primary eq true].value","value":"o@x.example"}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work"},{"value":"ann@home.example","type":"home"},{"type":"other","primary":true,"value":"o@x.example"}]}`,
			changed: []string{"emails"}},
		{name: "replace matching nothing with an or filter", ops: `[{"op":"replace","path":"emails[type eq \"other\" or type eq \"x\"].value","value":"o@x.example"}]`,
			scimType: scim.NoTarget},
		{name: "replace matching nothing with a filter without eq", ops: `[{"op":"replace","path":"emails[value co \"zzz\"].type","value":"other"}]`,
			scimType: scim.NoTarget},
		{name: "replace sub-attribute of every value", ops: `[{"op":"replace","path":"emails.display","value":"E"}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work","primary":true,"display":"E"},{"value":"ann@home.example","type":"home","display":"E"}]}`,
			changed: []string{"emails"}},
		{name: "replace makes another value primary", ops: `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work"},{"value":"ann@home.example","type":"home","primary":true}]}`,
			changed: []string{"emails"}},
		{name: "replace all with two primaries keeps the last", ops: `[{"op":"replace","path":"emails","value":[{"value":"a@x.example","primary":true},{"value":"b@x.example","primary":true}]}]`,
			want:    `{"emails":[{"value":"a@x.example"},{"value":"b@x.example","primary":true}]}`,
			changed: []string{"emails"}},
		{name: "replace extension sub-attribute", ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"m2"}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales","manager":{"value":"m2"}}}`,
			changed: []string{ent + ":manager"}},
		{name: "replace manager given as its id", ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m3"}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales","manager":{"value":"m3"}}}`,
			changed: []string{ent + ":manager"}},
		{name: "replace manager drops its read-only displayName", ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m4","displayName":"Boss"}}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales","manager":{"value":"m4"}}}`,
			changed: []string{ent + ":manager"}},
		{name: "replace core-URN-qualified path", ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:displayName","value":"A"}]`,
			want: `{"displayName":"A"}`, changed: []string{"displayName"}},
		{name: "paths are case-insensitive", ops: `[{"op":"replace","path":"DisplayName","value":"A"},{"op":"replace","path":"EMAILS[TYPE eq \"work\"].VALUE","value":"w@x.example"}]`,
			want:    `{"displayName":"A","emails":[{"value":"w@x.example","type":"work","primary":true},{"value":"ann@home.example","type":"home"}]}`,
			changed: []string{"displayName", "emails"}},
		{name: "replace password is accepted and not stored", ops: `[{"op":"replace","path":"password","value":"s3cret"}]`,
			want: `{}`},
		{name: "a number for a string attribute is refused", ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":7}]`,
			scimType: scim.InvalidValue},

		// path-less add and replace
		{name: "path-less replace", ops: `[{"op":"replace","value":{"displayName":"A","title":"T"}}]`,
			want: `{"displayName":"A","title":"T"}`, changed: []string{"displayName", "title"}},
		{name: "path-less add appends to multi-valued", ops: `[{"op":"add","value":{"phoneNumbers":[{"value":"2","type":"home"}]}}]`,
			want:    `{"phoneNumbers":[{"value":"+1 555 0100","type":"work"},{"value":"2","type":"home"}]}`,
			changed: []string{"phoneNumbers"}},
		{name: "path-less replace replaces multi-valued", ops: `[{"op":"replace","value":{"phoneNumbers":[{"value":"2","type":"home"}]}}]`,
			want: `{"phoneNumbers":[{"value":"2","type":"home"}]}`, changed: []string{"phoneNumbers"}},
		{name: "path-less keys in any case", ops: `[{"op":"replace","value":{"DISPLAYNAME":"A","Name":{"GivenName":"Anna"}}}]`,
			want: `{"displayName":"A","name":{"givenName":"Anna","familyName":"Lee"}}`, changed: []string{"displayName", "name"}},
		{name: "path-less ignores unknown keys, schemas, id, meta, groups and password",
			ops:  `[{"op":"replace","value":{"schemas":["x"],"id":"u1","meta":{"version":"W/\"1\""},"groups":[{"value":"g"}],"password":"p","nickName":"Annie","notAnAttribute":1,"urn:example:other:1.0:Thing":{"x":1}}}]`,
			want: `{"nickName":"Annie"}`, changed: []string{"nickName"}},
		{name: "path-less extension URN key merges", ops: `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"division":"D","manager":{"value":"m9"}}}}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales","division":"D","manager":{"value":"m9"}}}`,
			changed: []string{ent + ":division", ent + ":manager"}},
		{name: "path-less extension URN key null removes the extension", ops: `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null}}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null}`,
			changed: []string{ent + ":department", ent + ":employeeNumber", ent + ":manager"}},
		{name: "path-less core URN key", ops: `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"title":"T"}}}]`,
			want: `{"title":"T"}`, changed: []string{"title"}},

		// remove
		{name: "remove attribute", ops: `[{"op":"remove","path":"displayName"}]`,
			want: `{"displayName":null}`, changed: []string{"displayName"}},
		{name: "remove absent attribute is a no-op", ops: `[{"op":"remove","path":"title"}]`, want: `{}`},
		{name: "remove absent extension attribute is a no-op", attrs: `{"userName":"x"}`,
			ops: `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]`, want: `{}`},
		{name: "remove sub-attribute", ops: `[{"op":"remove","path":"name.givenName"}]`,
			want: `{"name":{"familyName":"Lee"}}`, changed: []string{"name"}},
		{name: "remove last sub-attributes drops the complex", ops: `[{"op":"remove","path":"name.givenName"},{"op":"remove","path":"name.familyName"}]`,
			want: `{"name":null}`, changed: []string{"name"}},
		{name: "remove sub-attribute of every value", ops: `[{"op":"remove","path":"emails.type"}]`,
			want:    `{"emails":[{"value":"ann@example.com","primary":true},{"value":"ann@home.example"}]}`,
			changed: []string{"emails"}},
		{name: "remove filtered values", ops: `[{"op":"remove","path":"emails[type eq \"home\"]"}]`,
			want: `{"emails":[{"value":"ann@example.com","type":"work","primary":true}]}`, changed: []string{"emails"}},
		{name: "remove last filtered value drops the attribute", ops: `[{"op":"remove","path":"phoneNumbers[type eq \"work\"]"}]`,
			want: `{"phoneNumbers":null}`, changed: []string{"phoneNumbers"}},
		{name: "remove sub-attribute of filtered values", ops: `[{"op":"remove","path":"emails[type eq \"work\"].primary"}]`,
			want:    `{"emails":[{"value":"ann@example.com","type":"work"},{"value":"ann@home.example","type":"home"}]}`,
			changed: []string{"emails"}},
		{name: "remove filter matching nothing", ops: `[{"op":"remove","path":"emails[type eq \"other\"]"}]`,
			scimType: scim.NoTarget},
		{name: "remove filter on absent attribute", ops: `[{"op":"remove","path":"ims[type eq \"aim\"]"}]`,
			scimType: scim.NoTarget},
		{name: "remove with value list removes those values", ops: `[{"op":"remove","path":"emails","value":[{"value":"ANN@HOME.EXAMPLE"}]}]`,
			want: `{"emails":[{"value":"ann@example.com","type":"work","primary":true}]}`, changed: []string{"emails"}},
		{name: "remove with value list matching nothing is a no-op", ops: `[{"op":"remove","path":"emails","value":[{"value":"nobody@x.example"}]}]`,
			want: `{}`},
		{name: "remove bare extension URN", ops: `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null}`,
			changed: []string{ent + ":department", ent + ":employeeNumber", ent + ":manager"}},
		{name: "remove extension sub-attribute", ops: `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales"}}`,
			changed: []string{ent + ":manager"}},

		// changed
		{name: "set then restore changes nothing", ops: `[{"op":"replace","path":"displayName","value":"X"},{"op":"replace","path":"displayName","value":"Ann Lee"}]`,
			want: `{}`},
		{name: "ops apply in order", ops: `[{"op":"add","path":"title","value":"A"},{"op":"remove","path":"title"},{"op":"add","path":"nickName","value":"N"}]`,
			want: `{"nickName":"N"}`, changed: []string{"nickName"}},

		// Entra ID
		{name: "entra capitalised Replace", ops: `[{"op":"Replace","path":"displayName","value":"A"}]`,
			want: `{"displayName":"A"}`, changed: []string{"displayName"}},
		{name: "entra capitalised Add", ops: `[{"op":"Add","path":"title","value":"T"}]`,
			want: `{"title":"T"}`, changed: []string{"title"}},
		{name: "entra capitalised Remove", ops: `[{"op":"Remove","path":"displayName"}]`,
			want: `{"displayName":null}`, changed: []string{"displayName"}},
		{name: "entra boolean as string False", ops: `[{"op":"Replace","path":"active","value":"False"}]`,
			want: `{"active":false}`, changed: []string{"active"}},
		{name: "entra boolean as string true", attrs: `{"userName":"x","active":false}`, ops: `[{"op":"Replace","path":"active","value":"true"}]`,
			want: `{"active":true}`, changed: []string{"active"}},
		{name: "entra emails work value", ops: `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"ann@new.example"}]`,
			want:    `{"emails":[{"value":"ann@new.example","type":"work","primary":true},{"value":"ann@home.example","type":"home"}]}`,
			changed: []string{"emails"}},
		{name: "entra emails work value on a user without emails", attrs: `{"userName":"x"}`,
			ops:  `[{"op":"Add","path":"emails[type eq \"work\"].value","value":"x@work.example"}]`,
			want: `{"emails":[{"type":"work","value":"x@work.example"}]}`, changed: []string{"emails"}},
		{name: "entra addresses work formatted", ops: `[{"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"1 Main St, Springfield"}]`,
			want:    `{"addresses":[{"type":"work","streetAddress":"1 Main St","locality":"Springfield","formatted":"1 Main St, Springfield"}]}`,
			changed: []string{"addresses"}},
		{name: "entra addresses on a user without one", attrs: `{"userName":"x"}`,
			ops:  `[{"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"2 Side St"},{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Shelbyville"}]`,
			want: `{"addresses":[{"type":"work","streetAddress":"2 Side St","locality":"Shelbyville"}]}`, changed: []string{"addresses"}},
		{name: "entra phoneNumbers mobile value added", ops: `[{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0111"}]`,
			want:    `{"phoneNumbers":[{"value":"+1 555 0100","type":"work"},{"type":"mobile","value":"+1 555 0111"}]}`,
			changed: []string{"phoneNumbers"}},
		{name: "entra aadOptscim062020 dotted and URN keys",
			ops:     `[{"op":"replace","value":{"name.givenName":"Anna","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}]`,
			want:    `{"name":{"givenName":"Anna","familyName":"Lee"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","department":"Sales","manager":{"value":"m1"}}}`,
			changed: []string{"name", ent + ":employeeNumber"}},
		{name: "entra aadOptscim062020 URN sub-attribute key",
			ops:     `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value":"m5","active":"False"}}]`,
			want:    `{"active":false,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales","manager":{"value":"m5"}}}`,
			changed: []string{"active", ent + ":manager"}},

		{name: "entra aadOptscim062020 value-path keys",
			ops:     `[{"op":"replace","value":{"emails[type eq \"work\"].value":"ann@new.example","phoneNumbers[type eq \"mobile\"].value":"+1 555 0111","displayName":"A"}}]`,
			want:    `{"displayName":"A","emails":[{"value":"ann@new.example","type":"work","primary":true},{"value":"ann@home.example","type":"home"}],"phoneNumbers":[{"value":"+1 555 0100","type":"work"},{"type":"mobile","value":"+1 555 0111"}]}`,
			changed: []string{"displayName", "emails", "phoneNumbers"}},
		{name: "path-less value-path key that is unknown or read-only is ignored",
			ops:  `[{"op":"replace","value":{"nope[type eq \"x\"].value":"1","groups[value eq \"g\"].display":"x","title":"T"}}]`,
			want: `{"title":"T"}`, changed: []string{"title"}},
		{name: "path-less value-path key with a bad filter", ops: `[{"op":"replace","value":{"emails[type eq].value":"x"}}]`,
			scimType: scim.InvalidFilter},
		{name: "entra remove manager with a value", ops: `[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"value":"m1"}]}]`,
			want:    `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales"}}`,
			changed: []string{ent + ":manager"}},

		// Okta
		{name: "okta path-less deactivate", ops: `[{"op":"replace","value":{"active":false}}]`,
			want: `{"active":false}`, changed: []string{"active"}},
		{name: "okta group rename carrying its own id", group: true,
			ops:  `[{"op":"replace","value":{"id":"4c3b1c2e-7a1f-4f0e-9d1a-000000000001","displayName":"New name"}}]`,
			want: `{"displayName":"New name"}`, changed: []string{"displayName"}},
		{name: "group rename by path", group: true, ops: `[{"op":"replace","path":"displayName","value":"Ops"}]`,
			want: `{"displayName":"Ops"}`, changed: []string{"displayName"}},

		// JumpCloud
		{name: "jumpcloud userType by PATCH", ops: `[{"op":"replace","path":"userType","value":"admin"}]`,
			want: `{"userType":"admin"}`, changed: []string{"userType"}},

		// errors from the values
		{name: "boolean not a boolean", ops: `[{"op":"replace","path":"active","value":"yes"}]`, scimType: scim.InvalidValue},
		{name: "string given an object", ops: `[{"op":"replace","path":"displayName","value":{"a":1}}]`, scimType: scim.InvalidValue},
		{name: "single-valued given a list", ops: `[{"op":"replace","path":"displayName","value":["a"]}]`, scimType: scim.InvalidValue},
		{name: "filtered sub-attribute of the wrong type", ops: `[{"op":"replace","path":"emails[type eq \"work\"].primary","value":"maybe"}]`, scimType: scim.InvalidValue},
		{name: "path-less value of the wrong type", ops: `[{"op":"replace","value":{"active":"maybe"}}]`, scimType: scim.InvalidValue},
		{name: "path-less extension that is no object", ops: `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}}]`, scimType: scim.InvalidValue},
		{name: "multi-valued element of the wrong type", ops: `[{"op":"add","path":"emails","value":["a@b.example"]}]`, scimType: scim.InvalidValue},

		// atomicity: the helper also checks that the input is untouched
		{name: "failing second op changes nothing",
			ops:      `[{"op":"replace","path":"displayName","value":"X"},{"op":"remove","path":"emails[type eq \"work\"]"},{"op":"replace","path":"active","value":"nope"}]`,
			scimType: scim.InvalidValue},
		{name: "failing remove after changes changes nothing",
			ops:      `[{"op":"add","path":"emails","value":[{"value":"n@x.example"}]},{"op":"remove","path":"emails[type eq \"pager\"]"}]`,
			scimType: scim.NoTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, stored := scim.Users, sampleUser
			if tt.group {
				rt, stored = scim.Groups, sampleGroup
			}
			if tt.attrs != "" {
				stored = tt.attrs
			}
			attrs := decode(t, stored).(map[string]any)
			ops, err := Parse(body(t, tt.ops), rt)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, changed, err := Apply(rt, attrs, ops)
			if !reflect.DeepEqual(attrs, decode(t, stored)) {
				t.Errorf("Apply modified its input:\n%s", toJSON(attrs))
			}
			if tt.scimType != "" {
				wantError(t, err, http.StatusBadRequest, tt.scimType)
				if got != nil || changed != nil {
					t.Errorf("Apply returned %v, %v with an error", got, changed)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			want := decode(t, stored).(map[string]any)
			for k, v := range decode(t, tt.want).(map[string]any) {
				if v == nil {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("attrs =\n%s\nwant\n%s", toJSON(got), toJSON(want))
			}
			if !slices.Equal(changed, tt.changed) {
				t.Errorf("changed = %q, want %q", changed, tt.changed)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	ok := `"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	tests := []struct {
		name     string
		group    bool
		body     string // a whole body
		scimType string
	}{
		{"no schemas", false, `{"Operations":[{"op":"remove","path":"title"}]}`, scim.InvalidSyntax},
		{"wrong schema", false, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"remove","path":"title"}]}`, scim.InvalidSyntax},
		{"schemas not a list", false, `{"schemas":"urn:ietf:params:scim:api:messages:2.0:PatchOp","Operations":[{"op":"remove","path":"title"}]}`, scim.InvalidSyntax},
		{"no Operations", false, `{` + ok + `}`, scim.InvalidSyntax},
		{"Operations not a list", false, `{` + ok + `,"Operations":{"op":"add"}}`, scim.InvalidSyntax},
		{"operation not an object", false, `{` + ok + `,"Operations":["add"]}`, scim.InvalidSyntax},
		{"no op", false, `{` + ok + `,"Operations":[{"path":"title","value":"x"}]}`, scim.InvalidSyntax},
		{"op not a string", false, `{` + ok + `,"Operations":[{"op":1,"path":"title","value":"x"}]}`, scim.InvalidSyntax},
		{"unknown op", false, `{` + ok + `,"Operations":[{"op":"move","path":"title","value":"x"}]}`, scim.InvalidSyntax},
		{"add without value", false, `{` + ok + `,"Operations":[{"op":"add","path":"title"}]}`, scim.InvalidValue},
		{"replace without value", false, `{` + ok + `,"Operations":[{"op":"replace","path":"title"}]}`, scim.InvalidValue},
		{"add with null value", false, `{` + ok + `,"Operations":[{"op":"add","path":"title","value":null}]}`, scim.InvalidValue},
		{"path-less replace of a string", false, `{` + ok + `,"Operations":[{"op":"replace","value":"x"}]}`, scim.InvalidValue},
		{"bare extension path given a string", false, `{` + ok + `,"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":"x"}]}`, scim.InvalidValue},
		{"remove without path", false, `{` + ok + `,"Operations":[{"op":"remove"}]}`, scim.NoTarget},
		{"remove with empty path", false, `{` + ok + `,"Operations":[{"op":"Remove","path":" "}]}`, scim.NoTarget},
		{"path not a string", false, `{` + ok + `,"Operations":[{"op":"add","path":1,"value":"x"}]}`, scim.InvalidPath},
	}
	for _, p := range []struct {
		name, path, scimType string
		group                bool
	}{
		{"read-only id", "id", scim.Mutability, false},
		{"read-only meta", "meta", scim.Mutability, false},
		{"read-only meta sub-attribute", "meta.lastModified", scim.Mutability, false},
		{"read-only groups", "groups", scim.Mutability, false},
		{"read-only groups by filter", `groups[value eq "g"].display`, scim.Mutability, false},
		{"read-only manager displayName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", scim.Mutability, false},
		{"read-only members display", `members[value eq "u1"].display`, scim.Mutability, true},
		{"read-only group id", "id", scim.Mutability, true},
		{"unknown attribute", "nope", scim.InvalidPath, false},
		{"unknown sub-attribute", "name.nope", scim.InvalidPath, false},
		{"sub-attribute of a simple attribute", "displayName.x", scim.InvalidPath, false},
		{"too many dots", "name.givenName.x", scim.InvalidPath, false},
		{"unknown schema", "urn:example:nope:1.0:Thing:x", scim.InvalidPath, false},
		{"unknown extension attribute", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope", scim.InvalidPath, false},
		{"user attribute on a group", "emails", scim.InvalidPath, true},
		{"unclosed filter", `emails[type eq "work"`, scim.InvalidPath, false},
		{"text after filter", `emails[type eq "work"]value`, scim.InvalidPath, false},
		{"unknown sub-attribute after filter", `emails[type eq "work"].nope`, scim.InvalidPath, false},
		{"filter on a simple attribute", `displayName[value eq "x"]`, scim.InvalidPath, false},
		{"filter on a singular complex attribute", ent + `:manager[value eq "x"]`, scim.InvalidPath, false},
		{"filter on a sub-attribute", `name.givenName[value eq "x"]`, scim.InvalidPath, false},
		{"filter on nothing", `[type eq "work"]`, scim.InvalidPath, false},
		{"unknown attribute in filter", `emails[nope eq "work"]`, scim.InvalidFilter, false},
		{"malformed filter", `emails[type eq]`, scim.InvalidFilter, false},
		{"empty filter", `emails[]`, scim.InvalidFilter, false},
	} {
		b := `{` + ok + `,"Operations":[{"op":"replace","path":` + toJSON(p.path) + `,"value":"x"}]}`
		tests = append(tests, struct {
			name     string
			group    bool
			body     string
			scimType string
		}{"path " + p.name, p.group, b, p.scimType})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := scim.Users
			if tt.group {
				rt = scim.Groups
			}
			ops, err := Parse(decode(t, tt.body).(map[string]any), rt)
			wantError(t, err, http.StatusBadRequest, tt.scimType)
			if ops != nil {
				t.Errorf("Parse returned %v with an error", ops)
			}
		})
	}
}

func TestParseTooMany(t *testing.T) {
	lim := Limits{MaxOperations: 3}
	one := `{"op":"add","path":"title","value":"x"}`
	if _, err := lim.Parse(body(t, `[`+strings.Repeat(one+`,`, 2)+one+`]`), scim.Users); err != nil {
		t.Fatalf("3 operations: %v", err)
	}
	_, err := lim.Parse(body(t, `[`+strings.Repeat(one+`,`, 3)+one+`]`), scim.Users)
	wantError(t, err, http.StatusBadRequest, scim.TooMany)
	// The default bound is MaxOperations.
	many := `[` + strings.Repeat(one+`,`, MaxOperations) + one + `]`
	_, err = Parse(body(t, many), scim.Users)
	wantError(t, err, http.StatusBadRequest, scim.TooMany)
}

func TestParseFilterLimits(t *testing.T) {
	lim := Limits{Filter: filter.Limits{MaxLength: 30}}
	op := func(path string) string { return `[{"op":"replace","path":` + strconv.Quote(path) + `,"value":"x"}]` }
	if _, err := lim.Parse(body(t, op(`emails[type eq "work"].value`)), scim.Users); err != nil {
		t.Fatalf("a short path filter: %v", err)
	}
	_, err := lim.Parse(body(t, op(`emails[type eq "`+strings.Repeat("w", 30)+`"].value`)), scim.Users)
	wantError(t, err, http.StatusBadRequest, scim.InvalidFilter)
}

// TestApplyValueKeyFilterLimits: a filter inside a path-less operation's value key (Entra's
// "emails[type eq \"work\"].value") is held to the same configured bounds as a path.
func TestApplyValueKeyFilterLimits(t *testing.T) {
	lim := Limits{Filter: filter.Limits{MaxLength: 30}}
	apply := func(key string) error {
		ops := []Operation{{Op: OpReplace, Value: map[string]any{key: "w@x.example"}}}
		_, _, err := ApplyContext(context.Background(), scim.Users, map[string]any{"userName": "u"}, ops, lim)
		return err
	}
	if err := apply(`emails[type eq "work"].value`); err != nil {
		t.Fatalf("a short value-key filter: %v", err)
	}
	err := apply(`emails[type eq "` + strings.Repeat("w", 30) + `"].value`)
	wantError(t, err, http.StatusBadRequest, scim.InvalidFilter)
}

func TestParse(t *testing.T) {
	ops, err := Parse(decode(t, `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"operations": [
			{"OP": "Replace", "Path": "emails[type eq \"work\"].value", "Value": "a@b.example"},
			{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:Manager.Value", "value": "m"},
			{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
			{"op": "ADD", "value": {"active": false}},
			{"op": "replace", "path": "", "value": {"title": "x"}}
		]}`).(map[string]any), scim.Users)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range ops {
		s := op.Op
		if op.Path != nil {
			s += " " + op.Path.String()
		}
		got = append(got, s)
	}
	want := []string{
		`replace emails[type eq "work"].value`,
		"add " + ent + ":manager.value",
		"remove " + ent,
		"add",
		"replace",
	}
	if !slices.Equal(got, want) {
		t.Errorf("ops = %q\nwant %q", got, want)
	}
	if ops[0].Path.Filter == nil || ops[0].Path.Sub == nil || ops[0].Path.Sub.Name != "value" {
		t.Errorf("first path = %+v", ops[0].Path)
	}
}

func TestSplitMembers(t *testing.T) {
	type edit = scim.MemberEdit
	tests := []struct {
		name     string
		ops      string
		want     []edit
		rest     string // JSON list of the remaining operations' (op, path, value)
		scimType string
	}{
		{name: "okta add value list", ops: `[{"op":"add","path":"members","value":[{"value":"u1","display":"Ann"},{"value":"u2"}]}]`,
			want: []edit{{Kind: "add", IDs: []string{"u1", "u2"}}}, rest: `[]`},
		{name: "jumpcloud member objects with only value", ops: `[{"op":"add","path":"members","value":[{"value":"u1"}]}]`,
			want: []edit{{Kind: "add", IDs: []string{"u1"}}}, rest: `[]`},
		{name: "add a single member object", ops: `[{"op":"Add","path":"members","value":{"value":"u1"}}]`,
			want: []edit{{Kind: "add", IDs: []string{"u1"}}}, rest: `[]`},
		{name: "okta remove by filter", ops: `[{"op":"remove","path":"members[value eq \"u1\"]"}]`,
			want: []edit{{Kind: "remove", IDs: []string{"u1"}}}, rest: `[]`},
		{name: "remove by filter joined with or", ops: `[{"op":"remove","path":"members[value eq \"u1\" or Value eq \"u2\"]"}]`,
			want: []edit{{Kind: "remove", IDs: []string{"u1", "u2"}}}, rest: `[]`},
		{name: "entra remove with value list", ops: `[{"op":"Remove","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`,
			want: []edit{{Kind: "remove", IDs: []string{"u1", "u2"}}}, rest: `[]`},
		{name: "remove all members", ops: `[{"op":"remove","path":"members"}]`,
			want: []edit{{Kind: "removeAll", IDs: nil}}, rest: `[]`},
		{name: "okta replace all members", ops: `[{"op":"replace","path":"members","value":[{"value":"u1"}]}]`,
			want: []edit{{Kind: "replace", IDs: []string{"u1"}}}, rest: `[]`},
		{name: "replace with no members", ops: `[{"op":"replace","path":"members","value":[]}]`,
			want: []edit{{Kind: "replace", IDs: []string{}}}, rest: `[]`},
		{name: "replace with null members", ops: `[{"op":"replace","path":"members","value":null}]`,
			want: []edit{{Kind: "replace", IDs: []string{}}}, rest: `[]`},
		{name: "replace by filter swaps members", ops: `[{"op":"replace","path":"members[value eq \"u1\"]","value":{"value":"u2"}}]`,
			want: []edit{{Kind: "remove", IDs: []string{"u1"}}, {Kind: "add", IDs: []string{"u2"}}}, rest: `[]`},
		{name: "add by filter adds the filtered member", ops: `[{"op":"add","path":"members[value eq \"u1\"]","value":{"display":"Ann"}}]`,
			want: []edit{{Kind: "add", IDs: []string{"u1"}}}, rest: `[]`},
		{name: "path-less add with members only", ops: `[{"op":"add","value":{"Members":[{"value":"u1"}]}}]`,
			want: []edit{{Kind: "add", IDs: []string{"u1"}}}, rest: `[]`},
		{name: "path-less replace keeps the other keys", ops: `[{"op":"replace","value":{"id":"g1","displayName":"New","members":[{"value":"u1"}]}}]`,
			want: []edit{{Kind: "replace", IDs: []string{"u1"}}}, rest: `[["replace",null,{"id":"g1","displayName":"New"}]]`},
		{name: "other operations stay, in order", ops: `[{"op":"replace","path":"displayName","value":"A"},{"op":"add","path":"members","value":[{"value":"u1"}]},{"op":"remove","path":"members[value eq \"u2\"]"},{"op":"add","path":"externalId","value":"e"}]`,
			want: []edit{{Kind: "add", IDs: []string{"u1"}}, {Kind: "remove", IDs: []string{"u2"}}},
			rest: `[["replace","displayName","A"],["add","externalId","e"]]`},
		{name: "path-less op without members stays", ops: `[{"op":"replace","value":{"displayName":"A"}}]`,
			rest: `[["replace",null,{"displayName":"A"}]]`},
		{name: "member value empty", ops: `[{"op":"add","path":"members","value":[{"value":""}]}]`, scimType: scim.InvalidValue},
		{name: "member value not a string", ops: `[{"op":"add","path":"members","value":[{"value":12}]}]`, scimType: scim.InvalidValue},
		{name: "member without value", ops: `[{"op":"add","path":"members","value":[{"display":"Ann"}]}]`, scimType: scim.InvalidValue},
		{name: "member given as a bare string", ops: `[{"op":"add","path":"members","value":["u1"]}]`, scimType: scim.InvalidValue},
		{name: "path-less members of the wrong shape", ops: `[{"op":"replace","value":{"members":"u1"}}]`, scimType: scim.InvalidValue},
		{name: "filter on another sub-attribute", ops: `[{"op":"remove","path":"members[type eq \"User\"]"}]`, scimType: scim.InvalidFilter},
		{name: "filter with another operator", ops: `[{"op":"remove","path":"members[value ne \"u1\"]"}]`, scimType: scim.InvalidFilter},
		{name: "filter joined with and", ops: `[{"op":"remove","path":"members[value eq \"u1\" and type eq \"User\"]"}]`, scimType: scim.InvalidFilter},
		{name: "path into a sub-attribute", ops: `[{"op":"remove","path":"members.value"}]`, scimType: scim.InvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := Parse(body(t, tt.ops), scim.Groups)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			before := toJSON(ops)
			edits, rest, err := SplitMembers(ops, "members")
			if toJSON(ops) != before {
				t.Errorf("SplitMembers modified its input")
			}
			if tt.scimType != "" {
				wantError(t, err, http.StatusBadRequest, tt.scimType)
				return
			}
			if err != nil {
				t.Fatalf("SplitMembers: %v", err)
			}
			if !reflect.DeepEqual(edits, tt.want) {
				t.Errorf("edits = %#v\nwant %#v", edits, tt.want)
			}
			var got []any
			for _, op := range rest {
				var path any
				if op.Path != nil {
					path = op.Path.String()
				}
				got = append(got, []any{op.Op, path, op.Value})
			}
			if g, w := toJSON(got), toJSON(decode(t, tt.rest)); g != w && !(len(got) == 0 && w == "[]") {
				t.Errorf("rest = %s\nwant %s", g, w)
			}
		})
	}
}

// TestSplitThenApply is a Group PATCH as the directory runs it: members out, the rest applied.
func TestSplitThenApply(t *testing.T) {
	ops, err := Parse(body(t, `[{"op":"replace","value":{"id":"g1","displayName":"Renamed","members":[{"value":"u1"}]}}]`), scim.Groups)
	if err != nil {
		t.Fatal(err)
	}
	edits, rest, err := SplitMembers(ops, "members")
	if err != nil {
		t.Fatal(err)
	}
	got, changed, err := Apply(scim.Groups, decode(t, sampleGroup).(map[string]any), rest)
	if err != nil {
		t.Fatal(err)
	}
	if want := (map[string]any{"displayName": "Renamed", "externalId": "g-1"}); !reflect.DeepEqual(got, want) {
		t.Errorf("attrs = %v, want %v", got, want)
	}
	if !slices.Equal(changed, []string{"displayName"}) || len(edits) != 1 {
		t.Errorf("changed = %q, edits = %v", changed, edits)
	}
}

func TestApplyNilAttrs(t *testing.T) {
	ops, err := Parse(body(t, `[{"op":"add","path":"userName","value":"x"}]`), scim.Users)
	if err != nil {
		t.Fatal(err)
	}
	got, changed, err := Apply(scim.Users, nil, ops)
	if err != nil || !reflect.DeepEqual(got, map[string]any{"userName": "x"}) || !slices.Equal(changed, []string{"userName"}) {
		t.Errorf("Apply(nil) = %v, %q, %v", got, changed, err)
	}
}

func TestPathString(t *testing.T) {
	for _, s := range []string{
		"displayName",
		"name.givenName",
		`emails[type eq "work"].value`,
		`emails[type eq "work" and value co "@"]`,
		ent + ":manager.value",
		ent,
		`addresses[type eq "work"].formatted`,
	} {
		p, err := parsePath(s, scim.Users, filter.Limits{})
		if err != nil {
			t.Fatalf("parsePath(%q): %v", s, err)
		}
		if got := p.String(); got != s {
			t.Errorf("String() = %q, want %q", got, s)
		}
	}
}

// TestApplyUnchecked covers operations built by hand rather than by Parse.
func TestApplyUnchecked(t *testing.T) {
	id, err := scim.Users.ResolveString("id")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		op       Operation
		scimType string
	}{
		{"unknown op", Operation{Op: "move"}, scim.InvalidSyntax},
		{"remove without path", Operation{Op: "Remove"}, scim.NoTarget},
		{"path-less value not an object", Operation{Op: "add", Value: "x"}, scim.InvalidValue},
		{"read-only path", Operation{Op: "replace", Path: &Path{Attr: id}, Value: "x"}, scim.Mutability},
		{"extension value not an object", Operation{Op: "add", Path: &Path{Attr: scim.AttrPath{Extension: ent}}, Value: "x"}, scim.InvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Apply(scim.Users, decode(t, sampleUser).(map[string]any), []Operation{tt.op})
			wantError(t, err, http.StatusBadRequest, tt.scimType)
		})
	}
}
