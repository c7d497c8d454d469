package sqlstore_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The claims of SCALING.md that keep Citus (distribution by tenant_id) open: every table but
// these has tenant_id first in its primary key, and every statement of the store on such a
// table filters on (or writes) tenant_id.

// globalTables are the tables without a tenant: reference tables under Citus.
// scalingDoc is the document that explains the tenancy exceptions and places every table.
const scalingDoc = "../../../deploy/SCALING.md"

var globalTables = map[string]string{
	"tenants":           "the tenants themselves; keyed by id, found by slug (a reference table)",
	"settings":          "installation-wide secrets such as the cursor key (a reference table)",
	"schema_migrations": "the applied migrations (a reference table)",
	"event_streams":     "SCIM event streams are deployment-wide: one application receives every tenant's changes (a reference table)",
	"signing_keys":      "the deployment's one signing key set (OIDC tokens, SETs), published at one JWKS URL (a reference table)",
	"oidc_clients":      "applications signing users in through scimd are deployment-wide: one application serves every tenant (a reference table)",
}

// crossTenantStatements are the store functions whose statements may touch a tenant table
// without a tenant_id filter, and why. SCALING.md lists them too.
var crossTenantStatements = map[string]string{
	"TokenByHash":     "the token is how the tenant is found: a lookup by the unique hash, before any tenant is known",
	"PruneEvents":     "retention housekeeping deletes old audit events of every tenant at once",
	"pruneExpired":    "housekeeping (PruneSAML, PruneOIDC) deletes expired SAML requests, assertion ids, sessions, OIDC requests and tokens of every tenant at once",
	"fillFoldKeys":    "after migrating, the folded name keys of rows stored before the key columns existed are written for every tenant once; each update filters on its row's tenant",
	"StreamStats":     "an event stream's backlog (lag, parked SETs) is one number per stream, across its tenants",
	"ClaimDeliveries": "a deliverer takes the due SETs of a stream, which for an all-tenants stream span tenants",
}

var (
	createTable = regexp.MustCompile(`(?is)CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*?)\n\)[^;]*;`)
	inlinePK    = regexp.MustCompile(`(?im)^\s*(\w+)\s+[^,\n]*\bPRIMARY KEY\b`)
	tablePK     = regexp.MustCompile(`(?i)PRIMARY KEY\s*\(([^)]*)\)`)
)

// migrationTables returns, per dialect folder, each table's primary key columns in order.
func migrationTables(t *testing.T) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	dirs, _ := filepath.Glob("../../../migrations/*")
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
		tables := map[string][]string{}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range createTable.FindAllStringSubmatch(stripSQLComments(string(raw)), -1) {
				name, body := strings.ToLower(m[1]), m[2]
				var pk []string
				if k := tablePK.FindStringSubmatch(body); k != nil {
					for _, c := range strings.Split(k[1], ",") {
						pk = append(pk, strings.TrimSpace(c))
					}
				} else if k := inlinePK.FindStringSubmatch(body); k != nil {
					pk = []string{k[1]}
				}
				tables[name] = pk
			}
		}
		out[filepath.Base(dir)] = tables
	}
	if len(out) == 0 {
		t.Fatal("no migrations found")
	}
	return out
}

func stripSQLComments(s string) string {
	return regexp.MustCompile(`--[^\n]*`).ReplaceAllString(s, "")
}

// TestTenantIDLeadsEveryPrimaryKey: the distribution column of every tenant table comes
// first in its primary key, in every dialect.
func TestTenantIDLeadsEveryPrimaryKey(t *testing.T) {
	for dialect, tables := range migrationTables(t) {
		if len(tables) < 5 {
			t.Fatalf("%s: found only %d tables; is the migration parser broken?", dialect, len(tables))
		}
		for name, pk := range tables {
			if _, ok := globalTables[name]; ok {
				continue
			}
			if len(pk) == 0 || pk[0] != "tenant_id" {
				t.Errorf("%s: table %s has primary key %v; tenant_id must come first (or document it in globalTables and SCALING.md)", dialect, name, pk)
			}
		}
	}
}

// sqlStatement is one SQL statement of the store, as far as the source shows it.
type sqlStatement struct {
	fn   string
	pos  token.Position
	text string // the literal parts; parts built elsewhere in the function are resolved
}

var sqlStart = regexp.MustCompile(`^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b`)

// storeStatements parses the Go source of dir and returns every string expression that
// starts an SQL statement, with identifiers it is built from resolved to the string
// literals assigned (or Fprintf'd) to them in the same function, and package constants.
func storeStatements(t *testing.T, dir string) []sqlStatement {
	t.Helper()
	fset := token.NewFileSet()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var parsed []*ast.File
	consts := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
		for _, d := range af.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.CONST {
				for _, sp := range gd.Specs {
					vs := sp.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							consts[n.Name] = literals(vs.Values[i])
						}
					}
				}
			}
		}
	}
	var out []sqlStatement
	for _, af := range parsed {
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			// What each local name is given: string literals assigned to it, appended to
			// it, or printed into it with fmt.Fprintf(&name, …).
			locals := map[string]*strings.Builder{}
			add := func(name, text string) {
				if locals[name] == nil {
					locals[name] = &strings.Builder{}
				}
				locals[name].WriteString(" " + text)
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.AssignStmt:
					for i, l := range x.Lhs {
						if id, ok := l.(*ast.Ident); ok && i < len(x.Rhs) {
							add(id.Name, literals(x.Rhs[i]))
						}
					}
				case *ast.ValueSpec:
					for i, id := range x.Names {
						if i < len(x.Values) {
							add(id.Name, literals(x.Values[i]))
						}
					}
				case *ast.CallExpr:
					if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Fprintf" && len(x.Args) > 1 {
						if u, ok := x.Args[0].(*ast.UnaryExpr); ok {
							if id, ok := u.X.(*ast.Ident); ok {
								add(id.Name, literals(x.Args[1]))
							}
						}
					}
				}
				return true
			})
			var resolve func(e ast.Expr, depth int) string
			resolve = func(e ast.Expr, depth int) string {
				var b strings.Builder
				ast.Inspect(e, func(n ast.Node) bool {
					switch x := n.(type) {
					case *ast.BasicLit:
						if x.Kind == token.STRING {
							s, _ := strconv.Unquote(x.Value)
							b.WriteString(s)
						}
					case *ast.Ident:
						if c, ok := consts[x.Name]; ok {
							b.WriteString(c)
						} else if l, ok := locals[x.Name]; ok && depth < 3 {
							b.WriteString(" " + l.String() + " ")
						} else {
							b.WriteString(" ? ")
						}
					}
					return true
				})
				return b.String()
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				e, ok := n.(ast.Expr)
				if !ok {
					return true
				}
				switch x := e.(type) {
				case *ast.BasicLit, *ast.BinaryExpr:
					if x, ok := x.(*ast.BinaryExpr); ok && x.Op != token.ADD {
						return true
					}
					lead := e
					for {
						be, ok := lead.(*ast.BinaryExpr)
						if !ok {
							break
						}
						lead = be.X
					}
					lit, ok := lead.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						return true
					}
					first, _ := strconv.Unquote(lit.Value)
					if !sqlStart.MatchString(first) {
						return true
					}
					out = append(out, sqlStatement{fn: fd.Name.Name, pos: fset.Position(e.Pos()), text: resolve(e, 0)})
					return false // the whole expression is one statement
				}
				return true
			})
		}
	}
	return out
}

// literals returns the string literals of e, concatenated.
func literals(e ast.Expr) string {
	var b strings.Builder
	ast.Inspect(e, func(n ast.Node) bool {
		if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
			s, _ := strconv.Unquote(l.Value)
			b.WriteString(s + " ")
		}
		return true
	})
	return b.String()
}

var (
	tableRef     = regexp.MustCompile(`(?i)\b(?:FROM|JOIN|INTO|UPDATE)\s+(\?|\w+)`)
	tenantFilter = regexp.MustCompile(`(?i)\btenant_id\s*(=|IN\b)|\(\s*tenant_id\b`)
)

// TestStoreQueriesFilterOnTenant: every statement of the SQL store that reads or writes a
// tenant table names tenant_id in its condition (or, for an INSERT, its first column),
// but for the documented cross-tenant statements.
func TestStoreQueriesFilterOnTenant(t *testing.T) {
	tenantTables := map[string]bool{}
	for _, tables := range migrationTables(t) {
		for name := range tables {
			if _, ok := globalTables[name]; !ok {
				tenantTables[name] = true
			}
		}
	}
	stmts := storeStatements(t, ".")
	t.Logf("%d SQL statements in the store", len(stmts))
	if len(stmts) < 20 {
		t.Fatalf("found only %d SQL statements; is the parser broken?", len(stmts))
	}
	exempted := map[string]bool{}
	for _, st := range stmts {
		var touched []string
		for _, m := range tableRef.FindAllStringSubmatch(st.text, -1) {
			name := strings.ToLower(m[1])
			if name == "?" || tenantTables[name] { // "?": a table chosen at run time
				touched = append(touched, name)
			}
		}
		if len(touched) == 0 || tenantFilter.MatchString(st.text) {
			continue
		}
		if cols, _, ok := strings.Cut(st.text, "VALUES"); ok && strings.HasPrefix(strings.TrimSpace(st.text), "INSERT") &&
			regexp.MustCompile(`\btenant_id\b`).MatchString(cols) {
			continue // an INSERT that writes tenant_id
		}
		if _, ok := crossTenantStatements[st.fn]; ok {
			exempted[st.fn] = true
			continue
		}
		t.Errorf("%s: %s touches %v without filtering on tenant_id:\n%s", st.pos, st.fn, touched, strings.Join(strings.Fields(st.text), " "))
	}
	var stale []string
	for fn := range crossTenantStatements {
		if !exempted[fn] {
			stale = append(stale, fn)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("documented exceptions %v no longer need one; remove them here and from SCALING.md", stale)
	}
}

// TestScalingDocumentsExceptions: SCALING.md names every exception this test allows.
func TestScalingDocumentsExceptions(t *testing.T) {
	raw, err := os.ReadFile(scalingDoc)
	if err != nil {
		t.Fatal(err)
	}
	for name := range crossTenantStatements {
		if !strings.Contains(string(raw), "`"+name+"`") {
			t.Errorf("SCALING.md does not explain the exception %s", name)
		}
	}
	for name := range globalTables {
		if !strings.Contains(string(raw), "`"+name+"`") {
			t.Errorf("SCALING.md does not mention the global table %s", name)
		}
	}
}

// TestStoreStatementParser: the statement finder sees through the ways the store builds SQL
// (constants, concatenation, locals, Fprintf into a builder), so a query without tenant_id
// cannot hide from TestStoreQueriesFilterOnTenant.
func TestStoreStatementParser(t *testing.T) {
	dir := t.TempDir()
	src := `package x

import ("fmt"; "strings")

const cols = "id, user_name"

func good(db any, tenant string) {
	where := "r.tenant_id = " + tenant
	q := "SELECT " + cols + " FROM users r WHERE " + where
	var b strings.Builder
	fmt.Fprintf(&b, "tenant_id = %s", tenant)
	q2 := "DELETE FROM sessions WHERE " + b.String()
	_, _ = q, q2
}

func bad(db any, id string) {
	q := "SELECT " + cols + " FROM users WHERE id = $1"
	_ = q
}
`
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, st := range storeStatements(t, dir) {
		got[st.fn+": "+strings.Join(strings.Fields(st.text), " ")] = tenantFilter.MatchString(st.text)
	}
	var goodOK, badCaught int
	for k, filtered := range got {
		switch {
		case strings.HasPrefix(k, "good: ") && filtered:
			goodOK++
		case strings.HasPrefix(k, "bad: ") && !filtered:
			badCaught++
		default:
			t.Errorf("misjudged %q (filtered=%v)", k, filtered)
		}
	}
	if goodOK != 2 || badCaught != 1 {
		t.Errorf("found %v; want 2 filtered statements in good and 1 unfiltered in bad", got)
	}
}

// TestScalingPlacesEveryTable: deploy/SCALING.md's Citus statements name every table the
// PostgreSQL migrations create (schema_migrations is the migration runner's own), so a new
// table cannot be forgotten there.
func TestScalingPlacesEveryTable(t *testing.T) {
	raw, err := os.ReadFile(scalingDoc)
	if err != nil {
		t.Fatal(err)
	}
	placed := map[string]bool{}
	for _, m := range regexp.MustCompile(`create_(?:distributed|reference)_table\('(\w+)'`).FindAllStringSubmatch(string(raw), -1) {
		placed[m[1]] = true
	}
	tables := migrationTables(t)["postgres"]
	if len(tables) == 0 {
		t.Fatal("no PostgreSQL tables found")
	}
	for name := range tables {
		if !placed[name] {
			t.Errorf("table %s has no create_distributed_table or create_reference_table in SCALING.md", name)
		}
	}
}
