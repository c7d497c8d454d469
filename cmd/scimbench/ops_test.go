package main

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	figs := []OpsFigure{{Op: "lookup", FloorRatio: 0.30, P99: 4}, {Op: "create", FloorRatio: 0.4}, {Op: "cursor-page", FloorRatio: 0.01}}
	for _, tc := range []struct {
		dialect string
		band    float64
		want    []string // substrings of the failures, in order
	}{
		{"postgres", 0.35, []string{"create"}},           // lookup 0.30 ≥ 0.4×0.65; create 0.4 < 0.7×0.65
		{"postgres", 0.10, []string{"lookup", "create"}}, // both below with a narrow band
		{"sqlite", 0.10, nil},                            // 0.30 ≥ 0.2, 0.4 ≥ 0.4×0.9; cursor-page has no target
		{"postgres", 0.50, nil},
	} {
		got := gate(tc.dialect, figs, tc.band, 8)
		if len(got) != len(tc.want) {
			t.Errorf("%s band %.2f: %q, want %d failures", tc.dialect, tc.band, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s band %.2f: failure %d = %q, want it about %s", tc.dialect, tc.band, i, got[i], w)
			}
		}
	}
	if got := gate("postgres", []OpsFigure{{Op: "lookup", FloorRatio: 1, P99: 9}}, 0.35, 8); len(got) != 1 || !strings.Contains(got[0], "p99") {
		t.Errorf("a lookup p99 of 9 ms at c=8: %q, want the p99 failure", got)
	}
}

func TestCompareBaseline(t *testing.T) {
	base := []OpsFigure{{Op: "lookup", OpsPerSec: 1000, CPUMicros: 200}, {Op: "create", OpsPerSec: 500}}
	cur := []OpsFigure{{Op: "lookup", OpsPerSec: 300, CPUMicros: 225}, {Op: "create", OpsPerSec: 420}}
	// lookup: compared by CPU a request (225 ≤ 230) whatever its ops/s; create by ops/s
	// (420 < 500/1.15).
	got := compareBaseline(base, cur, 0.15)
	if len(got) != 1 || !strings.Contains(got[0], "create") {
		t.Fatalf("compareBaseline = %q, want create only", got)
	}
	if got := compareBaseline(base, cur, 0.20); len(got) != 0 {
		t.Fatalf("within 20%%: %q", got)
	}
	cur[0].CPUMicros = 240
	if got := compareBaseline(base, cur, 0.20); len(got) != 0 {
		t.Fatalf("240 µs against 200 within 20%%: %q", got)
	}
	if got := compareBaseline(base, cur, 0.15); len(got) != 2 || !strings.Contains(got[0], "lookup") {
		t.Fatalf("240 µs against 200 within 15%%: %q", got)
	}
	// With the floor client's CPU in both runs, the quotient decides: 240 µs is 1.2x the
	// baseline's CPU, but the floor client's rose alike (8x → 8x), so it is flat; a quotient
	// 1.2x the baseline's is not, whatever the raw CPU.
	base[0].CPUPerFloorCPU, cur[0].CPUPerFloorCPU = 8, 8
	if got := compareBaseline(base, cur, 0.15); len(got) != 1 || !strings.Contains(got[0], "create") {
		t.Fatalf("quotient 8x against 8x: %q, want create only", got)
	}
	cur[0].CPUMicros, cur[0].CPUPerFloorCPU = 200, 9.6
	if got := compareBaseline(base, cur, 0.15); len(got) != 2 || !strings.Contains(got[0], "floor client") {
		t.Fatalf("quotient 9.6x against 8x: %q, want the lookup's failure", got)
	}
}

func TestSelfCPU(t *testing.T) {
	// Work until selfCPU has counted 10 ms of it (a busy machine may give this test
	// little of the CPU: the wall-clock bound is only a backstop).
	before := selfCPU()
	for start := time.Now(); selfCPU()-before < 10*time.Millisecond; {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("selfCPU rose %v in 10 s of busy work", selfCPU()-before)
		}
	}
}

func TestLimitOf(t *testing.T) {
	for _, tc := range []struct{ floor, ceil, want float64 }{
		{20000, 20000, 10000},
		{30000, 15000, 10000},
		{0, 20000, 0},
		{20000, 0, 0},
	} {
		if got := limitOf(tc.floor, tc.ceil); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("limitOf(%v, %v) = %v, want %v", tc.floor, tc.ceil, got, tc.want)
		}
	}
}

func TestMedianAndMerge(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
	a, b := newRecorder("a"), newRecorder("b")
	now := time.Now()
	a.record("lookup", now, time.Millisecond, 200, true)
	b.record("lookup", now.Add(time.Second), time.Millisecond, 500, false)
	m := newRecorder("m")
	m.merge(a)
	m.merge(b)
	rep := m.report()
	if n, bad := m.counts(); n != 2 || bad != 1 || rep.Ops[0].Count != 2 || rep.Ops[0].Errors["500"] != 1 {
		t.Errorf("merged: %d requests, %d bad, %+v", n, bad, rep)
	}
}

func TestProcCPU(t *testing.T) {
	busy := time.Now()
	for time.Since(busy) < 50*time.Millisecond {
	}
	if d := procCPU(os.Getpid()); d <= 0 {
		t.Errorf("procCPU of this process = %v after 50 ms of work", d)
	}
	if d := procCPU(0); d != 0 {
		t.Errorf("procCPU(0) = %v", d)
	}
}
