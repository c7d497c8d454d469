package events_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

func uris(p events.Payload) []string {
	var out []string
	for u := range p {
		out = append(out, strings.TrimPrefix(u, events.URIPrefix))
	}
	sort.Strings(out)
	return out
}

func TestFor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ev    store.Event
		keep  []string
		want  []string
		attrs []string
	}{
		{"create", store.Event{Name: "user_create_provision", Method: "POST", Changed: []string{"userName"}}, nil, []string{"prov:create:notice"}, []string{"userName"}},
		{"jit", store.Event{Name: "user_jit_provision", Method: "POST"}, nil, []string{"prov:create:notice"}, nil},
		{"put", store.Event{Name: "user_update_provision", Method: "PUT", Changed: []string{"title"}}, nil, []string{"prov:put:notice"}, []string{"title"}},
		{"patch", store.Event{Name: "user_update_provision", Method: "PATCH", Changed: []string{"title"}}, nil, []string{"prov:patch:notice"}, []string{"title"}},
		{"reactivate", store.Event{Name: "user_update_provision", Method: "PATCH", Changed: []string{"active"}}, nil, []string{"prov:activate", "prov:patch:notice"}, []string{"active"}},
		{"deactivate", store.Event{Name: "user_deprovision", Method: "PATCH", Changed: []string{"active"}}, nil, []string{"prov:deactivate", "prov:patch:notice"}, []string{"active"}},
		{"deactivate only", store.Event{Name: "user_deprovision", Method: "PATCH", Changed: []string{"active"}}, []string{events.Deactivate}, []string{"prov:deactivate"}, nil},
		{"delete", store.Event{Name: "user_delete_provision", Method: "DELETE"}, nil, []string{"prov:delete"}, nil},
		{"group members", store.Event{Name: "group_update_provision", Method: "PATCH", Changed: []string{"members"}}, nil, []string{"prov:patch:notice"}, []string{"members"}},
		{"group put", store.Event{Name: "group_update_provision", Method: "PUT", Changed: []string{"displayName", "members"}}, nil, []string{"prov:put:notice"}, []string{"displayName", "members"}},
		{"group activate is no event", store.Event{Name: "group_update_provision", Method: "PATCH", Changed: []string{"active"}}, nil, []string{"prov:patch:notice"}, []string{"active"}},
		{"group delete", store.Event{Name: "group_delete_provision", Method: "DELETE"}, nil, []string{"prov:delete"}, nil},
		{"filtered out", store.Event{Name: "user_create_provision"}, []string{events.Delete}, nil, nil},
		{"auth failure", store.Event{Name: "auth_failure"}, nil, nil, nil},
		{"token", store.Event{Name: "scim_token_create"}, nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := events.For(tc.ev, tc.keep)
			if got := uris(p); !slices.Equal(got, tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for _, u := range []string{events.CreateNotice, events.PutNotice, events.PatchNotice} {
				if n, ok := p[u].(events.Notice); ok && !slices.Equal(n.Attributes, tc.attrs) {
					t.Fatalf("attributes %v, want %v", n.Attributes, tc.attrs)
				}
			}
		})
	}
}

// TestTableCoversFor: the documented table names every event For can produce for each
// audit event, and AuditEvents selects by it.
func TestTableCoversFor(t *testing.T) {
	for _, m := range events.Table {
		for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			for _, changed := range [][]string{nil, {"active"}} {
				for u := range events.For(store.Event{Name: m.Audit, Method: method, Changed: changed}, nil) {
					if !slices.Contains(m.URIs, u) {
						t.Errorf("%s can become %s, which the table does not list", m.Audit, u)
					}
				}
			}
		}
	}
	if got := events.AuditEvents([]string{events.Deactivate}); !slices.Equal(got, []string{"user_deprovision"}) {
		t.Errorf("AuditEvents(deactivate) = %v", got)
	}
	if got := events.AuditEvents(nil); len(got) != len(events.Table) {
		t.Errorf("AuditEvents(nil) = %v", got)
	}
}

func TestParseURI(t *testing.T) {
	for in, want := range map[string]string{
		"prov:create:notice":                           events.CreateNotice,
		"urn:ietf:params:scim:event:prov:delete":       events.Delete,
		" URN:IETF:PARAMS:SCIM:EVENT:PROV:DEACTIVATE ": events.Deactivate,
		"prov:create:full":                             "",
		"feed:add":                                     "",
		"":                                             "",
	} {
		got, ok := events.ParseURI(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseURI(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestJTI(t *testing.T) {
	stream := store.NewID()
	d := store.Delivery{Event: store.Event{TenantID: store.NewID(), ID: 42}, Gen: 3}
	jti := events.JTI(stream, d)
	tenant, id, gen, ok := events.ParseJTI(stream, jti)
	if !ok || tenant != d.Event.TenantID || id != 42 || gen != 3 {
		t.Fatalf("ParseJTI(%q) = %q %d %d %v", jti, tenant, id, gen, ok)
	}
	if _, _, _, ok := events.ParseJTI(store.NewID(), jti); ok {
		t.Fatal("another stream's jti accepted")
	}
	for _, bad := range []string{"", "a.b.c", "x.y.0.0", jti + ".1", strings.Replace(jti, ".42.3", ".-1.3", 1), strings.TrimSuffix(jti, ".3") + ".x"} {
		if _, _, _, ok := events.ParseJTI(stream, bad); ok {
			t.Errorf("ParseJTI(%q) accepted", bad)
		}
	}
	d.Gen++
	if events.JTI(stream, d) == jti {
		t.Fatal("a replay keeps the jti: the receiver would drop it as a duplicate")
	}
}

// FuzzPoll: no poll request body makes the endpoint fail with a 5xx or panic.
func FuzzPoll(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"maxEvents":0}`, `{"ack":["x.y.1.0"],"setErrs":{"a.b.1.0":{"err":"x"}}}`,
		`{"returnImmediately":true,"maxEvents":3}`, `[]`, `null`, `{"maxEvents":1e400}`, `{"setErrs":[]}`} {
		f.Add(s)
	}
	e := newEnv(f, teststores.SQLite(f))
	srv := events.NewPoller(e.s, e.keys, events.PollConfig{Issuer: issuer, MaxWait: time.Millisecond}, e.log, nil)
	tn, err := e.dir.CreateTenant(ctx, "acme", "acme")
	if err != nil {
		f.Fatal(err)
	}
	st := store.Stream{ID: store.NewID(), Kind: store.StreamPoll, Audience: "a", TenantID: tn.ID, Events: events.AuditEvents(nil), CreatedAt: time.Now()}
	if err := e.s.CreateStream(ctx, st, events.HashCredential(cred)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/events/poll", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+cred)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%q: status %d: %s", body, w.Code, w.Body)
		}
	})
}
