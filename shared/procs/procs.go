// Package procs sets how many threads may run Go code at once in the
// collectors' processes (localrun and the Lambda functions), and how a
// short localrun process spends its CPU on memory (heap size, huge pages)
// and timers.
//
// A collector handles one stream at a time and spends most of its time
// waiting: for the vendor, for the reader of its output, for fsync or
// for DynamoDB. With a second P, every goroutine hand-off inside net/http
// (the caller and a connection's read and write loops) finds that P idle
// and wakes a thread that spins for work and sleeps again; those futex
// calls and context switches cost more CPU than the work they hand over.
// One P does the same work with about 15 % less CPU, measured on the
// whole localrun process and on the warm Lambda function (docs/testing.md,
// "One P"). The garbage collector's background work then shares the one
// P, which its pacing allows for. localrun takes its one P from the start
// of the process (package procs/onep); the Lambda functions call
// OneUnlessSet.
package procs

import (
	"runtime"
	"runtime/debug"
)

// OneUnlessSet runs Go code on one P unless the GOMAXPROCS variable (read
// by getenv) chooses otherwise, which the runtime has already applied.
func OneUnlessSet(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// GCPercent is the garbage collector's heap growth target for a localrun
// process: half the runtime's default. A run lives for seconds, so nearly
// every page its heap grows into is fresh memory, and the first touch of a
// page costs a fault (14-17 µs on the development VM); a smaller heap
// faults less than the extra collections cost, whose marking is cheap
// while little stays live (one page of events and a dedup set). About 5 %
// less CPU for a 1Password catch-up, no change for Cortex XDR or
// Proofpoint (docs/testing.md, "A smaller heap"). The Lambda functions
// keep the default: a warm function reuses the pages it touched.
const GCPercent = 50

// LeanHeapUnlessSet applies GCPercent unless the GOGC variable (read by
// getenv) chooses otherwise, which the runtime has already applied.
func LeanHeapUnlessSet(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
