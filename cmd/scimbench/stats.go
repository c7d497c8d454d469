package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// recorder collects the outcome of every request of one phase, per operation.
type recorder struct {
	phase string
	mu    sync.Mutex
	ops   map[string]*opStats
	order []string
	total int
	bad   int
	// firstErr is the first unexpected answer or floor error, reported with the count.
	firstErr atomic.Pointer[error]
}

// opStats is what was seen of one operation.
type opStats struct {
	lat         []time.Duration
	errs        map[int]int // unexpected statuses (0: no response) → count
	first, last time.Time   // start of the first request, end of the last
}

func newRecorder(phase string) *recorder {
	return &recorder{phase: phase, ops: map[string]*opStats{}}
}

// record notes one request of op that started at start and took d; ok is whether its status
// was the expected one.
func (r *recorder) record(op string, start time.Time, d time.Duration, status int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.ops[op]
	if s == nil {
		s = &opStats{errs: map[int]int{}, first: start}
		r.ops[op] = s
		r.order = append(r.order, op)
	}
	s.lat = append(s.lat, d)
	if start.Before(s.first) {
		s.first = start
	}
	if end := start.Add(d); end.After(s.last) {
		s.last = end
	}
	r.total++
	if !ok {
		s.errs[status]++
		r.bad++
	}
}

// unexpected notes an answer whose status was not the expected one: the first is reported
// (method, path, status and the start of the body), so that a failed run says what failed.
func (r *recorder) unexpected(method, path string, res response) {
	err := fmt.Errorf("%s %s: %d %s", method, path, res.status, clip(res.body))
	r.firstErr.CompareAndSwap(nil, &err)
}

// counts returns the requests and failures recorded so far.
func (r *recorder) counts() (total, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, r.bad
}

// OpReport is the summary of one operation.
type OpReport struct {
	Op         string         `json:"op"`
	Count      int            `json:"count"`
	Errors     map[string]int `json:"errors,omitempty"` // by status ("0": no response)
	Throughput float64        `json:"throughput_per_s"`
	P50        float64        `json:"p50_ms"`
	P90        float64        `json:"p90_ms"`
	P99        float64        `json:"p99_ms"`
	Max        float64        `json:"max_ms"`
}

// PhaseReport is the summary of one phase.
type PhaseReport struct {
	Phase string     `json:"phase"`
	Ops   []OpReport `json:"ops"`
}

// report summarises the phase, operations in the order first seen.
func (r *recorder) report() PhaseReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := PhaseReport{Phase: r.phase}
	for _, name := range r.order {
		out.Ops = append(out.Ops, summarize(name, r.ops[name]))
	}
	return out
}

func summarize(name string, s *opStats) OpReport {
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	o := OpReport{Op: name, Count: len(lat), P50: ms(percentile(lat, 50)), P90: ms(percentile(lat, 90)),
		P99: ms(percentile(lat, 99)), Max: ms(percentile(lat, 100))}
	if wall := s.last.Sub(s.first); wall > 0 {
		o.Throughput = float64(len(lat)) / wall.Seconds()
	}
	for status, n := range s.errs {
		if o.Errors == nil {
			o.Errors = map[string]int{}
		}
		o.Errors[fmt.Sprint(status)] = n
	}
	return o
}

// percentile returns the p-th percentile (nearest rank) of sorted; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeTable prints phases as aligned text tables; floor, when not nil, adds the floor's p50
// and the ratio of p50s for operations of the same name.
func writeTable(w io.Writer, phases []PhaseReport, floor *PhaseReport) {
	floorOps := map[string]OpReport{}
	if floor != nil {
		for _, o := range floor.Ops {
			floorOps[o.Op] = o
		}
	}
	for _, ph := range phases {
		fmt.Fprintf(w, "\n== %s\n", ph.Phase)
		fmt.Fprintf(w, "%-24s %8s %9s %9s %9s %9s %9s  %s\n", "op", "count", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors")
		for _, o := range ph.Ops {
			fmt.Fprintf(w, "%-24s %8d %9.1f %9.2f %9.2f %9.2f %9.2f  %s\n", o.Op, o.Count, o.Throughput, o.P50, o.P90, o.P99, o.Max, errString(o.Errors))
		}
	}
	if floor == nil {
		return
	}
	fmt.Fprintf(w, "\n== floor: the same row work with the raw driver, same database, same concurrency\n")
	fmt.Fprintf(w, "%-24s %8s %9s %9s %9s %9s  %s\n", "op", "count", "req/s", "p50 ms", "p99 ms", "scim p50", "scim/floor p50")
	scim := map[string]OpReport{}
	for _, ph := range phases {
		for _, o := range ph.Ops {
			scim[o.Op] = o
		}
	}
	for _, o := range floor.Ops {
		ratio := "-"
		if s, ok := scim[o.Op]; ok && o.P50 > 0 {
			ratio = fmt.Sprintf("%.2fx", s.P50/o.P50)
		}
		fmt.Fprintf(w, "%-24s %8d %9.1f %9.2f %9.2f %9.2f  %s\n", o.Op, o.Count, o.Throughput, o.P50, o.P99, scim[o.Op].P50, ratio)
	}
}

func errString(errs map[string]int) string {
	if len(errs) == 0 {
		return "-"
	}
	keys := slices.Collect(maps.Keys(errs))
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		name := k
		if k == "0" {
			name = "no-response"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, errs[k]))
	}
	return strings.Join(parts, " ")
}
