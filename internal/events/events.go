// Package events turns provisioning changes into SCIM security events (RFC 9967) inside
// Security Event Tokens (RFC 8417), and delivers them to the application: pushed to a
// receiver (RFC 8935) by a Deliverer, or polled by it (RFC 8936) through PollHandler. The
// audit events the directory writes in each change's transaction are the outbox; the
// store keeps each SET's delivery state beside them, so any replica can deliver and a
// crash loses nothing.
package events

import (
	"net/http"
	"slices"
	"strings"

	"github.com/scimd/scimd/internal/store"
)

// RFC 9967 event URIs scimd issues.
const (
	URIPrefix    = "urn:ietf:params:scim:event:"
	CreateNotice = URIPrefix + "prov:create:notice"
	PutNotice    = URIPrefix + "prov:put:notice"
	PatchNotice  = URIPrefix + "prov:patch:notice"
	Delete       = URIPrefix + "prov:delete"
	Activate     = URIPrefix + "prov:activate"
	Deactivate   = URIPrefix + "prov:deactivate"
)

// AllURIs lists every event URI scimd can issue.
var AllURIs = []string{CreateNotice, PutNotice, PatchNotice, Delete, Activate, Deactivate}

// Mapping is one audit event and the RFC 9967 events its SET carries.
type Mapping struct {
	Audit string   // the audit event name
	URIs  []string // the RFC 9967 events it can become
	When  string   // how the events are chosen, for the docs
}

// Table maps every audit event of a provisioning change to its RFC 9967 events. Refused
// requests, authentication failures and administrative events (tokens, SAML settings)
// become no SET. docs/EVENTS.md prints this table (a test holds them together).
var Table = []Mapping{
	{"user_create_provision", []string{CreateNotice}, "`attributes`: the attributes the user was created with"},
	{"user_jit_provision", []string{CreateNotice}, "created at a SAML login (just in time); `attributes` as for a create"},
	{"user_update_provision", []string{PutNotice, PatchNotice, Activate},
		"PUT: `prov:put:notice`; PATCH: `prov:patch:notice`; `attributes`: the changed attribute names. A PATCH that sets `active` to true adds `prov:activate`"},
	{"user_deprovision", []string{PatchNotice, Deactivate}, "a PATCH that sets `active` to false: `prov:patch:notice` and `prov:deactivate`"},
	{"user_delete_provision", []string{Delete}, "no payload"},
	{"group_create_provision", []string{CreateNotice}, "`attributes`: the group's attributes, and `members` when it was created with members"},
	{"group_update_provision", []string{PutNotice, PatchNotice},
		"PUT: `prov:put:notice`; PATCH: `prov:patch:notice`; membership added or removed shows as `members` in `attributes`"},
	{"group_delete_provision", []string{Delete}, "no payload; the members stay"},
}

// AuditEvents returns the audit event names whose SETs carry at least one of uris (all
// of them when uris is empty).
func AuditEvents(uris []string) []string {
	var out []string
	for _, m := range Table {
		if len(uris) == 0 || slices.ContainsFunc(m.URIs, func(u string) bool { return slices.Contains(uris, u) }) {
			out = append(out, m.Audit)
		}
	}
	return out
}

// ParseURI accepts an event URI in full or without its prefix (prov:create:notice) and
// returns it in full; ok is false for an event scimd does not issue.
func ParseURI(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(strings.ToLower(s), URIPrefix) {
		s = URIPrefix + s
	}
	for _, u := range AllURIs {
		if strings.EqualFold(u, s) {
			return u, true
		}
	}
	return "", false
}

// Notice is the payload of a notice event: the names of the attributes concerned, never
// their values (RFC 9967 §2.4).
type Notice struct {
	Attributes []string `json:"attributes,omitempty"`
}

// Payload is the events claim: event URI → payload.
type Payload map[string]any

// For returns the events claim of an audit event, keeping only the URIs in keep (all when
// keep is empty). It is empty for an event that is no provisioning change.
func For(ev store.Event, keep []string) Payload {
	attrs := Notice{Attributes: ev.Changed}
	p := Payload{}
	switch ev.Name {
	case "user_create_provision", "user_jit_provision", "group_create_provision":
		p[CreateNotice] = attrs
	case "user_update_provision", "group_update_provision":
		if ev.Method == http.MethodPut {
			p[PutNotice] = attrs
		} else {
			p[PatchNotice] = attrs
			if ev.Name == "user_update_provision" && slices.Contains(ev.Changed, "active") {
				p[Activate] = struct{}{}
			}
		}
	case "user_deprovision":
		p[PatchNotice] = attrs
		p[Deactivate] = struct{}{}
	case "user_delete_provision", "group_delete_provision":
		p[Delete] = struct{}{}
	}
	if len(keep) > 0 {
		for u := range p {
			if !slices.Contains(keep, u) {
				delete(p, u)
			}
		}
	}
	return p
}
