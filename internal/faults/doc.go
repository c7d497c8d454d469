// Package faults holds scimd's fault-injection tests: the database going away under load,
// kill -9 and SIGTERM of the real binary during a write storm, serialization conflicts and
// deadlocks between concurrent PATCHes, and the timing of refused tokens. It has no code of
// its own; the tests drive the real router or the real binary over loopback and then check
// the database for every acknowledged write and for torn resources.
package faults
