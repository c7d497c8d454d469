package web

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWritePage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		render     func(io.Writer) error
		status     int
		wantStatus int
		wantBody   string
	}{
		{"rendered", func(w io.Writer) error { _, err := io.WriteString(w, "<p>hi</p>"); return err }, http.StatusOK, http.StatusOK, "<p>hi</p>"},
		{"status kept", func(w io.Writer) error { _, err := io.WriteString(w, "gone"); return err }, http.StatusNotFound, http.StatusNotFound, "gone"},
		{"a failed render shows nothing of the page", func(w io.Writer) error {
			io.WriteString(w, "<p>half")
			return errors.New("template: boom")
		}, http.StatusOK, http.StatusInternalServerError, "internal error\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := WritePage(rec, tc.status, "default-src 'none'", tc.render)
			if (err != nil) != (tc.wantStatus == http.StatusInternalServerError) {
				t.Fatalf("WritePage error = %v", err)
			}
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
			for h, want := range map[string]string{"Content-Security-Policy": "default-src 'none'", "X-Frame-Options": "DENY",
				"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
				"Content-Type": "text/html; charset=utf-8"} {
				if got := rec.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
		})
	}
}
