package scim

import (
	"errors"
	"fmt"
	"net/http"
)

// scimType values from RFC 7644 §3.12, plus invalidCursor from RFC 9865.
const (
	InvalidFilter = "invalidFilter"
	TooMany       = "tooMany"
	Uniqueness    = "uniqueness"
	Mutability    = "mutability"
	InvalidSyntax = "invalidSyntax"
	InvalidPath   = "invalidPath"
	NoTarget      = "noTarget"
	InvalidValue  = "invalidValue"
	InvalidVers   = "invalidVers"
	Sensitive     = "sensitive"
	InvalidCursor = "invalidCursor"
	ExpiredCursor = "expiredCursor"
)

// ErrorSchema is the schema URN of a SCIM error body.
const ErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// Error is the one error type that reaches a SCIM client. It carries the HTTP status by
// design: the status, scimType and detail are what RFC 7644 §3.12 puts on the wire, and
// every caller of the protocol answers with them. Err is the cause (a store error, say),
// kept for logs and errors.Is, never sent. Any error that is not an *Error is internal and
// is answered with 500 "internal error", its cause only logged.
type Error struct {
	Status   int
	ScimType string
	Detail   string
	Err      error
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Wrap sets cause as e's underlying error and returns e.
func (e *Error) Wrap(cause error) *Error {
	e.Err = cause
	return e
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

// Body is the JSON body of a SCIM error response (RFC 7644 §3.12): status is a string.
type Body struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// Body returns the wire form of e.
func (e *Error) Body() Body {
	return Body{Schemas: []string{ErrorSchema}, Status: fmt.Sprint(e.Status), ScimType: e.ScimType, Detail: e.Detail}
}

// Errorf returns a SCIM error with the given status and scimType ("" for none).
func Errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 error with the given scimType.
func BadRequest(scimType, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, scimType, format, args...)
}

// NotFound returns the 404 error for a resource id that does not exist (or is malformed).
func NotFound(resourceType, id string) *Error {
	return Errorf(http.StatusNotFound, "", "%s %q not found", resourceType, id)
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
