// Package e2e holds the end-to-end tests of the Proofpoint collector on a
// host: the real localrun binary, built once, run as a wodle would run it
// (a new process per run, stdout read by the test, SIGKILL at random
// points) against the TAP simulator on loopback, on the real clock.
package e2e
