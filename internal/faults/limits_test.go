package faults

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfiguredLimits starts the real binary with every bound set low by its flag and
// checks that each gives its clear 4xx: 413 for the body, 431 for the headers (Go's
// net/http answers it before scimd sees the request), 400 invalidFilter for a filter's
// length and depth, 400 tooMany for PATCH operations and member values, the page size
// clamped and advertised, and a client that does not finish its headers in
// --read-header-timeout is disconnected.
func TestConfiguredLimits(t *testing.T) {
	p := startScimd(t, "sqlite:"+filepath.Join(t.TempDir(), "scimd.db"),
		"--max-body-bytes", "2000", "--max-header-bytes", "4096", "--max-filter-length", "40", "--max-filter-depth", "2",
		"--max-patch-operations", "3", "--max-members-per-request", "2", "--max-page-size", "2", "--read-header-timeout", "500ms")
	c := newClient("http://"+p.addr, p.bootstrapToken(t))
	var users []string
	for i := range 3 {
		r := c.createUser(fmt.Sprintf("u%d@example.com", i))
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %s", r)
		}
		users = append(users, r.str("id"))
	}
	group := c.createGroup(t, "Sales")
	q := url.QueryEscape
	replaceTitle := func(n int) map[string]any {
		var ops []any
		for i := range n {
			ops = append(ops, map[string]any{"op": "replace", "path": "title", "value": fmt.Sprint(i)})
		}
		return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"body", "POST", "/scim/v2/Users", map[string]any{"schemas": []string{userSchema}, "userName": strings.Repeat("x", 2000)}, 413, ""},
		{"filter length", "GET", "/scim/v2/Users?filter=" + q(`userName eq "`+strings.Repeat("a", 40)+`"`), nil, 400, "invalidFilter"},
		{"filter depth", "GET", "/scim/v2/Users?filter=" + q(`(((title pr)))`), nil, 400, "invalidFilter"},
		{"filter within bounds", "GET", "/scim/v2/Users?filter=" + q(`((title pr))`), nil, 200, ""},
		{"PATCH operations", "PATCH", "/scim/v2/Users/" + users[0], replaceTitle(4), 400, "tooMany"},
		{"PATCH operations at the bound", "PATCH", "/scim/v2/Users/" + users[0], replaceTitle(3), 200, ""},
		{"members", "PATCH", "/scim/v2/Groups/" + group, patchOp("add", "members", memberValues(users...)), 400, "tooMany"},
		{"members at the bound", "PATCH", "/scim/v2/Groups/" + group, patchOp("add", "members", memberValues(users[:2]...)), 200, ""},
	}
	for _, tc := range cases {
		r := c.do(tc.method, tc.path, tc.body)
		if tc.status == http.StatusOK && r.Status == http.StatusNoContent {
			continue // a PATCH may answer 204 (RFC 7644 §3.5.2)
		}
		if r.Status != tc.status || tc.status >= 400 && (!isSCIMError(r, tc.status) || r.str("scimType") != tc.scimType) {
			t.Errorf("%s: %s, want %d %s", tc.name, r, tc.status, tc.scimType)
		}
	}
	if r := c.do("GET", "/scim/v2/Users?count=50", nil); r.Status != 200 || fmt.Sprint(r.Body["itemsPerPage"]) != "2" || fmt.Sprint(r.Body["totalResults"]) != "3" {
		t.Errorf("page size: %s", r)
	}
	if r := c.do("GET", "/scim/v2/ServiceProviderConfig", nil); fmt.Sprint(r.Body["filter"].(map[string]any)["maxResults"]) != "2" {
		t.Errorf("maxResults not advertised: %s", r)
	}

	// Headers over --max-header-bytes: 431. Go allows a few KiB of slack above the bound, so
	// the headers sent are well over it.
	req, _ := http.NewRequest("GET", c.Base+"/scim/v2/Users", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("X-Padding", strings.Repeat("p", 16<<10))
	res, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("headers over the bound = %d, want 431", res.StatusCode)
	}

	// Headers not finished within --read-header-timeout: the connection is closed.
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.Write([]byte("GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, conn) // returns when the server closes the connection
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a client that never finished its headers was held %v, want about 500ms", d)
	}

	// A bound below 1 is refused at start.
	out, err := runScimd(t, "serve", "--addr", "127.0.0.1:0", "--database", "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "--max-patch-operations", "0")
	if err == nil || !strings.Contains(out, "--max-patch-operations") {
		t.Errorf("--max-patch-operations 0: %v %s", err, out)
	}
}
