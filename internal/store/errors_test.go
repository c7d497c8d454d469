package store

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/scimd/scimd/internal/scim"
)

func TestSCIMError(t *testing.T) {
	refused := scim.BadRequest(scim.Mutability, "no")
	for _, tc := range []struct {
		name     string
		err      error
		status   int // 0: internal, nil
		scimType string
	}{
		{"nil", nil, 0, ""},
		{"not found", fmt.Errorf("reading: %w", ErrNotFound), http.StatusNotFound, ""},
		{"conflict", ErrConflict, http.StatusConflict, scim.Uniqueness},
		{"unknown member", &UnknownMemberError{ID: "x"}, http.StatusBadRequest, scim.InvalidValue},
		{"NUL text", ErrInvalidText, http.StatusBadRequest, scim.InvalidValue},
		{"unavailable", ErrUnavailable, http.StatusServiceUnavailable, ""},
		{"a SCIM error as it is", fmt.Errorf("patch: %w", refused), http.StatusBadRequest, scim.Mutability},
		{"anything else is internal", errors.New("boom"), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se := SCIMError(tc.err, "userName")
			if tc.status == 0 {
				if se != nil {
					t.Fatalf("SCIMError = %v, want nil", se)
				}
				return
			}
			if se == nil || se.Status != tc.status || se.ScimType != tc.scimType {
				t.Fatalf("SCIMError = %#v, want %d %q", se, tc.status, tc.scimType)
			}
			if !errors.Is(se, tc.err) && se != scim.AsError(tc.err) {
				t.Fatalf("the cause is lost: errors.Is(%v, %v) is false", se, tc.err)
			}
		})
	}
}
