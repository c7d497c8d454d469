package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/store/teststores"
)

// TestPanicRecovery: a handler that panics answers a SCIM 500 body without the panic's
// text, the panic is logged, and the server keeps serving.
func TestPanicRecovery(t *testing.T) {
	e := newEnvRoutes(t, teststores.SQLite(t), func(r chi.Router) {
		r.Get("/t/{slug}/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	})
	r := e.do("GET", "/t/acme/boom", nil)
	e.want(r, http.StatusInternalServerError, "")
	if r.str("detail") != "internal error" || strings.Contains(string(r.Raw), "boom") {
		t.Fatalf("panic body = %s", r.Raw)
	}
	e.want(e.do("GET", "/scim/v2/Users", nil), http.StatusOK, "")
	if !strings.Contains(e.logs.String(), `"panic":"boom"`) {
		t.Fatalf("panic not logged:\n%s", e.logs.String())
	}
}
