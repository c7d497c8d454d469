package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update", false, "rewrite the generated flag table of README.md")

const (
	readmePath  = "../../README.md"
	flagsBegin  = "<!-- flags:begin: generated from `scimd serve --help` by cmd/scimd/readme_test.go; go test ./cmd/scimd -run README -update -->"
	flagsEnd    = "<!-- flags:end -->"
	flagsMarker = "<!-- flags:begin"
)

var envName = regexp.MustCompile(`\(env (SCIMD_[A-Z0-9_]+)(;\s*)?`)

// flagTable renders the flags of `scimd serve` as the README's markdown table: flag,
// environment variable (named in the usage text as "(env SCIMD_…)"), default, meaning.
func flagTable(t *testing.T) string {
	t.Helper()
	// Defaults are read from the environment when the flags are made; render the built-in ones.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SCIMD_") {
			t.Setenv(name, "")
		}
	}
	fs := newFlagSet("serve", io.Discard)
	serveFlags(fs)
	var b strings.Builder
	b.WriteString("| flag | env | default | meaning |\n|---|---|---|---|\n")
	fs.VisitAll(func(f *flag.Flag) {
		usage := f.Usage
		env := "—"
		if m := envName.FindStringSubmatchIndex(usage); m != nil {
			env = "`" + usage[m[2]:m[3]] + "`"
			rest := usage[m[1]:]
			if m[4] < 0 { // "(env X)": drop it; "(env X; more)": keep "(more)"
				rest = strings.TrimPrefix(rest, ")")
				usage = usage[:m[0]] + rest
			} else {
				usage = usage[:m[0]] + "(" + rest
			}
		}
		usage = strings.TrimSpace(strings.ReplaceAll(usage, "()", ""))
		def := "—"
		if f.DefValue != "" {
			def = "`" + f.DefValue + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | %s | %s | %s |\n", f.Name, env, def, strings.ReplaceAll(usage, "|", `\|`))
	})
	return b.String()
}

// TestREADMEFlags: the README's configuration table is the one `scimd serve --help` gives,
// so that it cannot drift from the code. Run with -update to rewrite it.
func TestREADMEFlags(t *testing.T) {
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	begin := strings.Index(readme, flagsMarker)
	end := strings.Index(readme, flagsEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md has no %s … %s section", flagsMarker, flagsEnd)
	}
	want := flagsBegin + "\n" + flagTable(t) + flagsEnd
	got := readme[begin : end+len(flagsEnd)]
	if got == want {
		return
	}
	if *updateReadme {
		if err := os.WriteFile(readmePath, []byte(readme[:begin]+want+readme[end+len(flagsEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's flag table is out of date; run go test ./cmd/scimd -run README -update\n got:\n%s\nwant:\n%s", got, want)
}

// TestREADMELinks: the documents the README points to exist.
func TestREADMELinks(t *testing.T) {
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllStringSubmatch(string(raw), -1) {
		if _, err := os.Stat("../../" + m[1]); err != nil {
			t.Errorf("README links to %s: %v", m[1], err)
		}
	}
}
