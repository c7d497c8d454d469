// Package bulk reads RFC 7644 §3.7 bulk requests: their operations, the bulkId references
// between them, and an order to run them in that creates every referenced resource before
// the operations that refer to it. It knows no HTTP and no store; the server runs the plan.
package bulk

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/scim"
)

// Schema URNs of bulk messages (RFC 7644 §3.7).
const (
	RequestSchema  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	ResponseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// refPrefix starts a value that stands for the id of the resource a POST of the same
// request creates (RFC 7644 §3.7.2); matched in any case.
const refPrefix = "bulkId:"

// Request is a parsed bulk request.
type Request struct {
	// FailOnErrors is how many failed operations end the bulk; 0 is no limit.
	FailOnErrors int
	Operations   []*Operation
}

// Operation is one operation of a bulk request. An operation with Err set is answered
// with that error and never run.
type Operation struct {
	Index   int    // position in the request, from 0
	Method  string // POST, PUT, PATCH or DELETE, in upper case
	BulkID  string // as sent; "" when absent
	Version string // the If-Match of PUT, PATCH and DELETE; "" when absent
	// RT is the resource type the path names, ID the resource id (empty for a POST); ID may
	// be a "bulkId:…" reference until Resolve replaces it.
	RT   *scim.ResourceType
	ID   string
	Data map[string]any // the body of POST, PUT and PATCH
	// Refs are the bulkIds this operation refers to, each once, in the order first seen.
	Refs []string
	Err  *scim.Error
}

// Location returns the operation's resource path relative to the SCIM root ("/Users/ID"),
// or "" when the operation names no resource yet.
func (op *Operation) Location() string {
	if op.RT == nil || op.ID == "" || isRef(op.ID) {
		return ""
	}
	return op.RT.Endpoint + "/" + op.ID
}

// Parse reads a decoded bulk request body. Errors, for the request as a whole: 400
// invalidValue or invalidSyntax for a body that is not a bulk request (no BulkRequest
// schema, no Operations list, a bad failOnErrors, a bulkId used by two POSTs), and 413 for
// more than maxOps operations (RFC 7644 §3.7.4). A malformed operation is not an error of
// the request: its Err says what is wrong with it.
func Parse(body map[string]any, maxOps int) (*Request, error) {
	if err := scim.CheckSchemas(body, RequestSchema); err != nil {
		return nil, err
	}
	req := &Request{}
	if v, ok := scim.Lookup(body, "failOnErrors"); ok && v != nil {
		n, ok := integer(v)
		if !ok || n < 0 {
			return nil, scim.BadRequest(scim.InvalidValue, "failOnErrors must be a whole number, 0 or more")
		}
		req.FailOnErrors = n
	}
	raw, _ := scim.Lookup(body, "Operations")
	list, ok := raw.([]any)
	if !ok {
		return nil, scim.BadRequest(scim.InvalidSyntax, "a bulk request needs \"Operations\", a list of operations")
	}
	if len(list) == 0 {
		return nil, scim.BadRequest(scim.InvalidValue, "\"Operations\" is empty; a bulk request needs at least one operation")
	}
	if len(list) > maxOps {
		return nil, scim.Errorf(http.StatusRequestEntityTooLarge, "",
			"the bulk request has %d operations; maxOperations is %d", len(list), maxOps)
	}
	byBulkID := map[string]int{}
	for i, v := range list {
		op := parseOperation(i, v)
		req.Operations = append(req.Operations, op)
		if op.Method != http.MethodPost || op.BulkID == "" {
			continue
		}
		if first, dup := byBulkID[op.BulkID]; dup {
			return nil, scim.BadRequest(scim.InvalidValue,
				"operations %d and %d both have bulkId %q; each POST needs its own", first+1, i+1, op.BulkID)
		}
		byBulkID[op.BulkID] = i
	}
	return req, nil
}

func integer(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n.String())
	return i, err == nil
}

// parseOperation reads one element of Operations. Attribute names match in any case.
func parseOperation(i int, v any) *Operation {
	op := &Operation{Index: i}
	m, ok := v.(map[string]any)
	if !ok {
		op.Err = scim.BadRequest(scim.InvalidSyntax, "operation %d is not a JSON object", i+1)
		return op
	}
	str := func(name string) (string, bool) {
		v, present := scim.Lookup(m, name)
		if !present || v == nil {
			return "", true
		}
		s, ok := v.(string)
		if !ok && op.Err == nil {
			op.Err = scim.BadRequest(scim.InvalidValue, "%s of operation %d must be a string", name, i+1)
		}
		return s, ok
	}
	method, _ := str("method")
	op.Method = strings.ToUpper(strings.TrimSpace(method))
	op.BulkID, _ = str("bulkId")
	op.Version, _ = str("version")
	path, _ := str("path")
	if op.Err != nil {
		return op
	}
	switch op.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	case "":
		op.Err = scim.BadRequest(scim.InvalidValue, "operation %d has no method; use POST, PUT, PATCH or DELETE", i+1)
		return op
	default:
		op.Err = scim.BadRequest(scim.InvalidValue, "method %q of operation %d is not POST, PUT, PATCH or DELETE", method, i+1)
		return op
	}
	if err := op.parsePath(path); err != nil {
		op.Err = err
		return op
	}
	if op.Method != http.MethodDelete {
		raw, _ := scim.Lookup(m, "data")
		data, ok := raw.(map[string]any)
		if !ok {
			op.Err = scim.BadRequest(scim.InvalidSyntax, "operation %d (%s) needs \"data\", a JSON object", i+1, op.Method)
			return op
		}
		op.Data = data
	}
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			op.Refs = append(op.Refs, id)
		}
	}
	if isRef(op.ID) {
		add(op.ID[len(refPrefix):])
	}
	walkRefs(op.Data, "", func(id string) string { add(id); return "" })
	return op
}

// parsePath reads path: "/Users" or "/Groups" for POST, "/Users/{id}" or "/Groups/{id}"
// otherwise; the leading slash may be left out.
func (op *Operation) parsePath(path string) *scim.Error {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, rt := range []*scim.ResourceType{scim.Users, scim.Groups} {
		if strings.EqualFold("/"+parts[0], rt.Endpoint) {
			op.RT = rt
		}
	}
	switch {
	case op.RT == nil:
		return scim.BadRequest(scim.InvalidValue, "path %q of operation %d names no resource type; use /Users or /Groups", path, op.Index+1)
	case op.Method == http.MethodPost && len(parts) != 1:
		return scim.BadRequest(scim.InvalidValue, "path %q of operation %d: a POST goes to %s", path, op.Index+1, op.RT.Endpoint)
	case op.Method != http.MethodPost && (len(parts) != 2 || parts[1] == ""):
		return scim.BadRequest(scim.InvalidValue, "path %q of operation %d: a %s goes to %s/{id}", path, op.Index+1, op.Method, op.RT.Endpoint)
	}
	if len(parts) == 2 {
		op.ID = parts[1]
	}
	if isRef(op.ID) && len(op.ID) == len(refPrefix) {
		return scim.BadRequest(scim.InvalidValue, "path %q of operation %d: \"bulkId:\" needs a bulkId after it", path, op.Index+1)
	}
	return nil
}

func isRef(s string) bool {
	return len(s) >= len(refPrefix) && strings.EqualFold(s[:len(refPrefix)], refPrefix)
}

// walkRefs calls fn with the bulkId of every reference in v and puts fn's answer in its
// place when it is not "": a string value "bulkId:ID", or, in a PATCH path, a quoted
// "bulkId:ID" inside a filter (members[value eq "bulkId:ID"]). key is the name v is held
// under.
func walkRefs(v any, key string, fn func(id string) string) any {
	switch x := v.(type) {
	case string:
		if isRef(x) && len(x) > len(refPrefix) {
			if id := fn(x[len(refPrefix):]); id != "" {
				return id
			}
			return x
		}
		if strings.EqualFold(key, "path") {
			return replaceQuoted(x, fn)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = walkRefs(e, k, fn)
		}
	case []any:
		for i, e := range x {
			x[i] = walkRefs(e, "", fn)
		}
	}
	return v
}

// replaceQuoted replaces each quoted "bulkId:ID" in s by fn's answer (when not "").
func replaceQuoted(s string, fn func(id string) string) string {
	var out strings.Builder
	rest := s
	changed := false
	for {
		i := strings.Index(rest, `"`)
		if i < 0 {
			break
		}
		j := strings.Index(rest[i+1:], `"`)
		if j < 0 {
			break
		}
		inner := rest[i+1 : i+1+j]
		out.WriteString(rest[:i+1])
		if isRef(inner) && len(inner) > len(refPrefix) {
			if id := fn(inner[len(refPrefix):]); id != "" {
				inner, changed = id, true
			}
		}
		out.WriteString(inner)
		out.WriteByte('"')
		rest = rest[i+1+j+1:]
	}
	if !changed {
		return s
	}
	out.WriteString(rest)
	return out.String()
}

// Resolve replaces the operation's bulkId references (in its path and data) by the ids
// that ids gives. Errors: 409 for a reference ids cannot resolve (its POST failed or never
// ran), naming the bulkId.
func (op *Operation) Resolve(ids func(bulkID string) (string, bool)) *scim.Error {
	for _, ref := range op.Refs {
		if _, ok := ids(ref); !ok {
			return scim.Errorf(http.StatusConflict, "",
				"bulkId %q could not be resolved: the POST with that bulkId failed, so this operation did not run", ref)
		}
	}
	fn := func(id string) string { v, _ := ids(id); return v }
	if isRef(op.ID) {
		op.ID = fn(op.ID[len(refPrefix):])
	}
	walkRefs(op.Data, "", fn)
	return nil
}

// Plan checks the bulkId references of req and returns the order to run its operations in:
// every operation after the POSTs whose bulkIds it refers to, otherwise in request order.
// Operations that refer to a bulkId no POST of the request has get Err 400 invalidValue;
// operations whose references form a cycle (a group that is a member of another that is a
// member of the first, both created here) get Err 409, as RFC 7644 §3.7.1 allows; so do
// operations that depend on them. Every operation is in the order once.
func (req *Request) Plan() []*Operation {
	n := len(req.Operations)
	byBulkID := map[string]int{}
	for _, op := range req.Operations {
		// A malformed POST keeps its bulkId: it is answered first, with its error, and the
		// operations that refer to it then find the bulkId unresolved (409).
		if op.Method == http.MethodPost && op.BulkID != "" {
			byBulkID[op.BulkID] = op.Index
		}
	}
	deps := make([][]int, n)       // deps[i]: the POSTs operation i waits for
	dependents := make([][]int, n) // dependents[j]: the operations waiting for j
	waiting := make([]int, n)
	for _, op := range req.Operations {
		if op.Err != nil {
			continue
		}
		for _, ref := range op.Refs {
			j, ok := byBulkID[ref]
			if !ok {
				op.Err = scim.BadRequest(scim.InvalidValue, "operation %d refers to bulkId %q, which no POST of this request has", op.Index+1, ref)
				break
			}
			deps[op.Index] = append(deps[op.Index], j)
		}
		if op.Err != nil {
			deps[op.Index] = nil
			continue
		}
		for _, j := range deps[op.Index] {
			dependents[j] = append(dependents[j], op.Index)
		}
		waiting[op.Index] = len(deps[op.Index])
	}
	// Kahn's algorithm, always taking the lowest ready index: request order wherever the
	// references allow it.
	ready := &minHeap{}
	for i := range n {
		if waiting[i] == 0 {
			*ready = append(*ready, i) // ascending: already a heap
		}
	}
	order := make([]*Operation, 0, n)
	done := make([]bool, n)
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		done[i] = true
		order = append(order, req.Operations[i])
		for _, d := range dependents[i] {
			if waiting[d]--; waiting[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	// What is left is on a cycle or waits for one.
	for i := range n {
		if done[i] {
			continue
		}
		op := req.Operations[i]
		if cycle := findCycle(i, deps, done); cycle != nil {
			op.Err = scim.Errorf(http.StatusConflict, "",
				"circular bulkId reference: operations %s refer to each other's bulkIds; create the resources first and add the references with PATCH in a later operation",
				joinIndexes(cycle))
		} else {
			op.Err = scim.Errorf(http.StatusConflict, "",
				"operation %d waits for a bulkId that is part of a circular reference, so it did not run", i+1)
		}
		order = append(order, op)
	}
	return order
}

// findCycle returns the operations (indexes) of a cycle through start among those not
// done, or nil when start only waits for a cycle without being on one.
func findCycle(start int, deps [][]int, done []bool) []int {
	// Depth-first search with an explicit stack: maxOperations may be large.
	type frame struct{ node, next int }
	visited := map[int]bool{start: true}
	stack := []frame{{start, 0}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(deps[top.node]) {
			stack = stack[:len(stack)-1]
			continue
		}
		d := deps[top.node][top.next]
		top.next++
		if d == start {
			path := make([]int, len(stack))
			for i, f := range stack {
				path[i] = f.node
			}
			return path
		}
		if done[d] || visited[d] {
			continue
		}
		visited[d] = true
		stack = append(stack, frame{d, 0})
	}
	return nil
}

func joinIndexes(ix []int) string {
	parts := make([]string, len(ix))
	for i, x := range ix {
		parts[i] = strconv.Itoa(x + 1)
	}
	if len(parts) == 1 {
		return parts[0] + " (itself)"
	}
	return strings.Join(parts, ", ")
}

// minHeap is a min-heap of operation indexes (container/heap).
type minHeap []int

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// String describes the operation for logs and test failures.
func (op *Operation) String() string {
	return fmt.Sprintf("operation %d: %s %s", op.Index+1, op.Method, op.Location())
}
