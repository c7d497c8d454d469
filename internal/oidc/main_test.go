package oidc_test

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain silences the library's logging, which goes to slog's default logger.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
