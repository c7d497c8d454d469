package deploy_test

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/scimd/scimd/"

// deps returns the module's packages that pkg imports, directly or not (test files aside).
func deps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	var walk func(path string)
	walk = func(path string) {
		p, err := build.ImportDir(filepath.Join("..", strings.TrimPrefix(path, module)), 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) && !seen[imp] {
				seen[imp] = true
				walk(imp)
			}
		}
	}
	walk(module + pkg)
	return seen
}

// TestLayering: dependencies point inward, and only cmd/scimd wires the services together:
// the console knows single sign-on through package sso, never package saml; the backends
// never import each other; the protocol knows no adapter.
func TestLayering(t *testing.T) {
	for _, tc := range []struct {
		pkg     string
		mustNot []string
	}{
		{"internal/console", []string{"internal/saml", "internal/server", "internal/store/postgres", "internal/store/sqlite"}},
		{"internal/saml", []string{"internal/console", "internal/server", "internal/store/postgres", "internal/store/sqlite"}},
		{"internal/server", []string{"internal/saml", "internal/console", "internal/store/postgres", "internal/store/sqlite"}},
		{"internal/directory", []string{"internal/server", "internal/saml", "internal/console", "internal/store/postgres", "internal/store/sqlite"}},
		{"internal/store/postgres", []string{"internal/store/sqlite", "internal/directory", "internal/server"}},
		{"internal/store/sqlite", []string{"internal/store/postgres", "internal/directory", "internal/server"}},
		{"internal/scim", []string{"internal/store", "internal/directory", "internal/server"}},
	} {
		got := deps(t, tc.pkg)
		for _, bad := range tc.mustNot {
			if got[module+bad] {
				t.Errorf("%s imports %s", tc.pkg, bad)
			}
		}
	}
}

// TestTestSupportLeaves: the test-support packages that services' own package-internal
// tests import depend on no scimd package, or those tests would make an import cycle.
func TestTestSupportLeaves(t *testing.T) {
	for _, pkg := range []string{"internal/saml/samltest", "internal/testlog"} {
		for dep := range deps(t, pkg) {
			t.Errorf("%s imports %s", pkg, dep)
		}
	}
}
