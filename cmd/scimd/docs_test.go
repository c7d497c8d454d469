package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated flag table of docs/configuration.md")

const (
	configPath  = "../../docs/configuration.md"
	flagsBegin  = "<!-- flags:begin: generated from `scimd serve --help` by cmd/scimd/docs_test.go; go test ./cmd/scimd -run ConfigFlags -update -->"
	flagsEnd    = "<!-- flags:end -->"
	flagsMarker = "<!-- flags:begin"
)

// flagTable renders the flags of `scimd serve` as docs/configuration.md's markdown table: flag,
// environment variable (env.go), default, meaning.
func flagTable(t *testing.T) string {
	t.Helper()
	fs := newFlagSet("serve", io.Discard)
	serveFlags(fs)
	var b strings.Builder
	b.WriteString("| flag | env | default | meaning |\n|---|---|---|---|\n")
	fs.VisitAll(func(f *flag.Flag) {
		usage, env := f.Usage, "—"
		if note := envNote(f.Name); strings.HasSuffix(usage, note) {
			usage, env = strings.TrimSuffix(usage, note), "`"+envVar(f.Name)+"`"
		}
		def := "—"
		if f.DefValue != "" {
			def = "`" + f.DefValue + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | %s | %s | %s |\n", f.Name, env, def, strings.ReplaceAll(usage, "|", `\|`))
	})
	return b.String()
}

// TestConfigFlags: docs/configuration.md's flag table is the one `scimd serve --help` gives,
// so that it cannot drift from the code. Run with -update to rewrite it.
func TestConfigFlags(t *testing.T) {
	raw, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin := strings.Index(doc, flagsMarker)
	end := strings.Index(doc, flagsEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s has no %s … %s section", configPath, flagsMarker, flagsEnd)
	}
	want := flagsBegin + "\n" + flagTable(t) + flagsEnd
	got := doc[begin : end+len(flagsEnd)]
	if got == want {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(configPath, []byte(doc[:begin]+want+doc[end+len(flagsEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's flag table is out of date; run go test ./cmd/scimd -run ConfigFlags -update\n got:\n%s\nwant:\n%s", configPath, got, want)
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]*)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	mdFence   = regexp.MustCompile("(?ms)^```.*?^```")
)

// anchors returns the GitHub anchors of a markdown document's headings.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	for _, m := range mdHeading.FindAllStringSubmatch(mdFence.ReplaceAllString(doc, ""), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(m[1])) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestDocLinks: every relative link of README.md and docs/*.md names a file that exists and,
// for a markdown file, a heading it has; and README.md stays short.
func TestDocLinks(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "../../README.md")
	for _, doc := range docs {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(doc, "README.md") && strings.Count(string(raw), "\n") > 150 {
			t.Errorf("README.md has %d lines; keep it under 150 and put the rest in docs/", strings.Count(string(raw), "\n"))
		}
		for _, m := range mdLink.FindAllStringSubmatch(mdFence.ReplaceAllString(string(raw), ""), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(link, "#")
			target := doc
			if path != "" {
				target = filepath.Join(filepath.Dir(doc), path)
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s links to %s: %v", doc, link, err)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			body, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			if !anchors(string(body))[anchor] {
				t.Errorf("%s links to %s: %s has no heading #%s", doc, link, target, anchor)
			}
		}
	}
}
