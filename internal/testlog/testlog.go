// Package testlog is the log buffer of scimd's tests: the server writes its log lines (an
// access line after the response has reached the client) while the test reads them. It
// imports nothing of scimd, so that the services' own internal tests can use it as well as
// the black-box ones (internal/testkit builds on the services and cannot be imported by
// them).
package testlog

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Records returns the JSON log records written so far whose msg starts with prefix ("" for
// all); lines that are not JSON objects are left out.
func (b *Buffer) Records(prefix string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, m)
		}
	}
	return out
}
