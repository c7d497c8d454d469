package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// ContentType is the media type of SCIM bodies (RFC 7644 §3.1).
const ContentType = "application/scim+json"

var (
	errNotFoundRoute = scim.Errorf(http.StatusNotFound, "", "no such endpoint")
	errMethod        = scim.Errorf(http.StatusMethodNotAllowed, "", "method not allowed on this endpoint")
)

// handlerFunc is a handler that returns its error; wrap writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *edge) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// writeError writes err as a SCIM error body, as scimError maps it. The cause of every 5xx
// goes on the access line.
func (s *edge) writeError(w http.ResponseWriter, r *http.Request, err error) {
	se := s.scimError(r, err)
	if se == nil {
		return // the client went away
	}
	if se.Status >= 500 {
		cause := error(se)
		if se.Err != nil {
			cause = se.Err
		}
		annotate(r.Context(), "err", cause.Error())
	}
	if se.Status == http.StatusServiceUnavailable || se.Status == http.StatusTooManyRequests {
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1")
		}
	}
	if se.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimd"`)
	}
	if se.Status >= 400 && se.Status < 500 {
		annotate(r.Context(), "scim_error", se.ScimType)
	}
	writeJSON(w, se.Status, se.Body())
}

// scimError returns err as the SCIM error a client sees, for a whole response or for one
// operation of a bulk request: a *scim.Error or a store error as store.SCIMError maps it, a
// body over the limit 413, a deadline 503. Anything else is internal: logged with its cause,
// answered with a bare 500. It returns nil when the client went away.
func (s *edge) scimError(r *http.Request, err error) *scim.Error {
	if se := store.SCIMError(err, ""); se != nil {
		return se
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return scim.Errorf(http.StatusRequestEntityTooLarge, "", "the request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, context.DeadlineExceeded):
		return scim.Errorf(http.StatusServiceUnavailable, "", "the request timed out; retry later").Wrap(err)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return nil
	}
	s.log.ErrorContext(r.Context(), "internal error", "err", err, "route", routePattern(r))
	return scim.Errorf(http.StatusInternalServerError, "", "internal error").Wrap(err)
}

// writeJSON writes v with the SCIM content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	bp := jsonBuffers.Get().(*[]byte)
	defer putJSONBuffer(bp)
	buf, err := appendJSON((*bp)[:0], v)
	if err != nil {
		status = http.StatusInternalServerError
		buf = append(buf[:0], `{"schemas":["`+scim.ErrorSchema+`"],"status":"500","detail":"internal error"}`...)
	}
	buf = append(buf, '\n')
	*bp = buf
	w.Header().Set("Content-Type", ContentType+"; charset=utf-8")
	// A known length lets a flushed response (a refused token, before its audit write) be
	// complete at the client at once, instead of waiting for the chunked terminator.
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(status)
	w.Write(buf)
}

// jsonBuffers are writeJSON's response buffers, reused: every response needs one.
var jsonBuffers = sync.Pool{New: func() any { return new([]byte) }}

// putJSONBuffer returns a buffer to jsonBuffers unless it grew large (a page of users), so
// that the pool does not keep the largest response ever sent alive per processor.
func putJSONBuffer(bp *[]byte) {
	if cap(*bp) > 64<<10 {
		return
	}
	jsonBuffers.Put(bp)
}

// decodeBody reads a JSON object body; numbers stay json.Number. Errors: 400 invalidSyntax,
// 413 for a body over the limit.
func decodeBody(r *http.Request) (map[string]any, error) {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		if errors.Is(err, io.EOF) {
			return nil, scim.BadRequest(scim.InvalidSyntax, "the request body is empty; a JSON object is required")
		}
		return nil, scim.BadRequest(scim.InvalidSyntax, "the request body is not valid JSON: %s", jsonErrorText(err))
	}
	if body == nil {
		return nil, scim.BadRequest(scim.InvalidSyntax, "the request body must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, scim.BadRequest(scim.InvalidSyntax, "the request body has data after the JSON object")
	}
	if err := scim.CheckKeyCase(body); err != nil {
		return nil, err
	}
	return body, nil
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	case errors.As(err, &te):
		return "expected a JSON object"
	}
	return "malformed JSON"
}

// ---- request context: request id, annotations for the access log ----

type logInfoKey struct{}

// logInfo collects what the access line reports beside the basics.
type logInfo struct {
	requestID string
	attrs     []slog.Attr
}

// has reports whether an annotation with the key was made.
func (li *logInfo) has(key string) bool {
	for _, a := range li.attrs {
		if a.Key == key {
			return true
		}
	}
	return false
}

func annotate(ctx context.Context, key string, value any) {
	if li, ok := ctx.Value(logInfoKey{}).(*logInfo); ok {
		li.attrs = append(li.attrs, slog.Any(key, value))
	}
}

// RequestIDHeader carries the request id, taken from the client when it is sane.
const RequestIDHeader = "X-Request-Id"

func (s *edge) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneID(id) {
			var b [12]byte
			rand.Read(b[:])
			id = base64.RawURLEncoding.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		li := &logInfo{requestID: id}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), logInfoKey{}, li)))
	})
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// accessLog writes one line per request: never the token, a body or a query string (a
// filter may carry personal data).
func (s *edge) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		li, _ := r.Context().Value(logInfoKey{}).(*logInfo)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		// request_id is added by LogHandler, as to every record written with the request's
		// context.
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", routePattern(r)),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes", sw.bytes),
			slog.String("user_agent", r.UserAgent()),
			slog.String("remote", r.RemoteAddr),
		}
		if slug := chi.URLParam(r, "slug"); slug != "" && saneID(slug) && !li.has("tenant") {
			attrs = append(attrs, slog.String("tenant", slug)) // the browser-facing /t/{slug}/… routes
		}
		attrs = append(attrs, li.attrs...)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

func (s *edge) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, scim.Errorf(http.StatusInternalServerError, "", "internal error").Body())
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, tooLarge := s.cfg.MaxBodyBytes, errBodyTooLarge
		bulk := strings.EqualFold(r.URL.Path, bulkPath) // in any case, as canonicalRoute routes it
		if bulk {
			limit, tooLarge = s.cfg.BulkMaxPayloadBytes, errBulkTooLarge
		}
		if r.ContentLength > limit {
			if bulk {
				s.metrics.bulkRequests.WithLabelValues("refused").Inc()
			}
			s.writeError(w, r, tooLarge(limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func errBodyTooLarge(limit int64) error {
	return scim.Errorf(http.StatusRequestEntityTooLarge, "", "the request body is larger than %d bytes", limit)
}

// ---- authentication ----

type tenantKey struct{}

type principal struct {
	tenant store.Tenant
	token  store.Token
}

func tenantFrom(ctx context.Context) store.Tenant {
	return ctx.Value(tenantKey{}).(principal).tenant
}

// authenticate resolves the bearer token to a tenant; every /scim/v2 request needs one.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r)
		t, tok, err := s.auth.Authenticate(r.Context(), r.Header.Get("Authorization"))
		var ae *directory.AuthError
		if errors.As(err, &ae) && s.authLim.blocked(ip, time.Now()) {
			// Only refused tokens are throttled: behind a load balancer many tenants' IdPs
			// share an address, and one of them guessing must not lock the others out.
			w.Header().Set("Retry-After", "60")
			s.writeError(w, r, scim.Errorf(http.StatusTooManyRequests, "", "too many refused tokens from this address; retry later"))
			return
		}
		if errors.As(err, &ae) {
			s.authLim.fail(ip, time.Now())
			s.metrics.authFailures.WithLabelValues(ae.Reason).Inc()
			annotate(r.Context(), "auth_failure", ae.Reason)
			s.writeError(w, r, scim.Errorf(http.StatusUnauthorized, "", "%s", authDetail(ae.Reason)))
			if tok.TenantID != "" {
				// The refusal reaches the client before the audit write, so that a revoked
				// token is refused as fast as an unknown one.
				http.NewResponseController(w).Flush()
				s.dir.RecordAuthFailure(r.Context(), tok, ae.Reason)
			}
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		annotate(r.Context(), "tenant", t.Slug)
		ctx := context.WithValue(r.Context(), tenantKey{}, principal{tenant: t, token: tok})
		ctx = directory.WithActor(ctx, directory.Actor{Name: "token " + tok.Label, TokenID: tok.ID})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authDetail says what was wrong with the Authorization header, but never tells an unknown
// token from a revoked one: whether a token was ever valid is for the audit log.
func authDetail(reason string) string {
	switch reason {
	case directory.AuthMissing:
		return "a bearer token is required: send Authorization: Bearer <token>"
	case directory.AuthMalformed:
		return "the Authorization header must be \"Bearer <token>\""
	}
	return "the bearer token is not valid"
}

// ---- helpers ----

func (s *Server) location(rt *scim.ResourceType, id string) string {
	return s.cfg.PublicURL + "/scim/v2" + rt.Endpoint + "/" + id
}

func ifNoneMatch(r *http.Request, etag string) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, tag := range strings.Split(inm, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}
