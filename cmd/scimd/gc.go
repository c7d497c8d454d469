package main

import (
	"os"
	"runtime/debug"
)

// serveGCPercent is the garbage collector's target for `scimd serve` when GOGC is not set:
// the heap may grow to five times what is live before a collection, instead of Go's two.
// scimd's live heap is small (tens of MiB at a million users) and every request allocates,
// so at Go's default a lookup spent a third of its CPU on collection and its allocations'
// assists; at 400 a SQLite lookup costs 155 µs of CPU instead of 220–275, a PostgreSQL one
// 175–185 instead of 215, with resident memory still far under its 200 MiB bound
// (BENCHMARKS.md). 800 was no better; GOGC=off was far worse (fresh pages cost more than
// collecting). GOGC in the environment, Go's own knob, still wins.
const serveGCPercent = 400

// tuneGC applies serveGCPercent unless GOGC is set.
func tuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(serveGCPercent)
	}
}
