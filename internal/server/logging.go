package server

import (
	"context"
	"log/slog"
)

// LogHandler returns h with the request id of the record's context added to every record
// written while serving a request (through the *Context methods of slog.Logger), whichever
// service writes it: SCIM, SAML, the console, the directory below them. cmd/scimd builds the
// process's logger on it; records written outside a request are passed on unchanged.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// RequestIDFrom returns the id of the request being served with ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	if li, ok := ctx.Value(logInfoKey{}).(*logInfo); ok {
		return li.requestID
	}
	return ""
}
