package main

import (
	"os"
	"strings"
	"testing"
)

// TestConnectExampleInDocs: the Go example of docs/connect-your-application.md is the file
// that builds with the repository, so the page cannot show code that does not compile.
func TestConnectExampleInDocs(t *testing.T) {
	page, err := os.ReadFile("../../docs/connect-your-application.md")
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("../../docs/examples/connect/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "```go\n"+string(code)+"```") {
		t.Fatal("docs/connect-your-application.md does not show docs/examples/connect/main.go verbatim")
	}
}
