// Package simtest is what every vendor simulator (onepasswordtest,
// proofpointtest, cortexxdrtest) shares: a loopback HTTP server, the
// request log, the queue of injected faults and the transport-level
// faults a proxy or an overloaded front end produces, and a clock the
// test moves by hand.
//
// A simulator keeps its API, its error bodies and its own faults (an
// invalid cursor, an error inside a 200, an assembly timeout) in its own
// package, on top of these pieces.
package simtest
