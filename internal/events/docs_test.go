package events_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/events"
)

const eventsDoc = "../../docs/EVENTS.md"

// TestDocsTable: docs/EVENTS.md's table of audit events and RFC 9967 events is the
// mapping the code uses, row for row.
func TestDocsTable(t *testing.T) {
	raw, err := os.ReadFile(eventsDoc)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (.*?) \\| (.*?) \\|$")
	var got []string
	for _, m := range row.FindAllStringSubmatch(string(raw), -1) {
		got = append(got, m[1]+" | "+m[2]+" | "+m[3])
	}
	var want []string
	for _, m := range events.Table {
		var uris []string
		for _, u := range m.URIs {
			uris = append(uris, "`"+strings.TrimPrefix(u, events.URIPrefix)+"`")
		}
		want = append(want, m.Audit+" | "+strings.Join(uris, ", ")+" | "+m.When)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docs/EVENTS.md's table differs from events.Table:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDocsReceiverBuilds: the receiver shown in docs/EVENTS.md compiles.
func TestDocsReceiverBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	raw, err := os.ReadFile(eventsDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), "## A receiver")
	if !ok {
		t.Fatal("no receiver section")
	}
	_, code, ok := strings.Cut(after, "```go\n")
	code, _, ok2 := strings.Cut(code, "```")
	if !ok || !ok2 {
		t.Fatal("no Go block in the receiver section")
	}
	if n := strings.Count(code, "\n"); n > 80 {
		t.Errorf("the receiver has %d lines; keep it short", n)
	}
	dir, err := os.MkdirTemp(".", "docreceiver")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "build", "-o", os.DevNull, "./"+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("the receiver of docs/EVENTS.md does not build: %v\n%s", err, out)
	}
	if out, err := exec.Command("gofmt", "-l", dir).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("the receiver is not gofmt'd: %s %v", out, err)
	}
}
