package store

import (
	"errors"
	"net/http"

	"github.com/scimd/scimd/internal/scim"
)

// SCIMError is the one mapping of store errors to the SCIM errors a client is answered, with
// err kept as the cause: a *scim.Error in err's chain as it is; ErrNotFound 404;
// ErrConflict 409 uniqueness ("WHAT is already taken"); *UnknownMemberError and
// ErrInvalidText 400 invalidValue; ErrUnavailable 503. Any other error is internal: nil.
func SCIMError(err error, what string) *scim.Error {
	var unknown *UnknownMemberError
	switch {
	case err == nil:
		return nil
	case scim.AsError(err) != nil:
		return scim.AsError(err)
	case errors.Is(err, ErrNotFound):
		return scim.Errorf(http.StatusNotFound, "", "resource not found").Wrap(err)
	case errors.Is(err, ErrConflict):
		return scim.Errorf(http.StatusConflict, scim.Uniqueness, "%s is already taken", what).Wrap(err)
	case errors.As(err, &unknown):
		return scim.BadRequest(scim.InvalidValue, "member %q is not a user or group of this tenant", unknown.ID).Wrap(err)
	case errors.Is(err, ErrInvalidText):
		return scim.BadRequest(scim.InvalidValue, "a value holds text that cannot be stored (a NUL character)").Wrap(err)
	case errors.Is(err, ErrUnavailable):
		return scim.Errorf(http.StatusServiceUnavailable, "", "the database is unavailable; retry later").Wrap(err)
	}
	return nil
}
