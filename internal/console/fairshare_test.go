package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// TestConsoleUnreadableText: a NUL character or invalid UTF-8 in a query parameter or the
// path is 400 with the console's error page on both backends (PostgreSQL answered 500).
func TestConsoleUnreadableText(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s)
		admin := e.user(e.acme, "ann@acme.test", "admin")
		cookies := []*http.Cookie{e.session(e.acme, admin)}
		for _, path := range []string{
			"/t/acme/admin/users?q=%00",
			"/t/acme/admin/users?q=%ff%fe",
			"/t/acme/admin/users?filter=userName+eq+%22%00%22",
			"/t/acme/admin/groups?q=a%00b",
			"/t/acme/admin/events?name=%c3",
			"/t/acme/admin/users/%00",
			"/t/ac%00me/admin/users",
			"/t/acme/admin/signin?token=%00",
		} {
			r := e.do("GET", path, nil, cookies)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, "cannot be read") {
				t.Errorf("GET %s = %d, want 400 with the error page:\n%.300s", path, r.status, r.body)
			}
		}
		if r := e.do("GET", "/t/acme/admin/users?q=%C3%A9mile", nil, cookies); r.status != http.StatusOK {
			t.Errorf("a UTF-8 search = %d", r.status)
		}
	})
}
