// Package procs sets how many threads may run Go code at once in the
// collectors' processes (localrun and the Lambda functions).
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
// P, which its pacing allows for.
package procs

import "runtime"

// OneUnlessSet runs Go code on one P unless the GOMAXPROCS variable (read
// by getenv) chooses otherwise, which the runtime has already applied.
func OneUnlessSet(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
