package simtest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
)

// DefaultMaxRecords is how many request records a Log keeps by default.
const DefaultMaxRecords = 100000

// Log is a simulator's request log: the latest records of type R and an
// exact count of requests. It is guarded by the simulator's own lock,
// because the simulator's handlers fill a record in (account, items
// served, faults) while they hold that lock for their own state.
type Log[R any] struct {
	mu      sync.Locker
	max     int
	records []*R
	count   int
}

// NewLog returns a log guarded by mu that keeps the latest max records
// (DefaultMaxRecords when max <= 0); the count stays exact.
func NewLog[R any](mu sync.Locker, max int) *Log[R] {
	if max <= 0 {
		max = DefaultMaxRecords
	}
	return &Log[R]{mu: mu, max: max}
}

// Begin logs rec and returns the writer the request is answered through:
// it stores the answer's status in *status (a field of rec) before any
// byte is sent, so a test that has just received a response, or a dropped
// connection, always finds it logged.
func (l *Log[R]) Begin(w http.ResponseWriter, rec *R, status *int) *StatusWriter {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	l.records = append(l.records, rec)
	if len(l.records) > l.max {
		l.records = slices.Delete(l.records, 0, len(l.records)-l.max)
	}
	return &StatusWriter{ResponseWriter: w, mu: l.mu, logged: status}
}

// Records returns copies of the kept records, in arrival order; clone
// deep-copies what a record shares (slices), or is nil.
func (l *Log[R]) Records(clone func(R) R) []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]R, len(l.records))
	for i, r := range l.records {
		out[i] = *r
		if clone != nil {
			out[i] = clone(out[i])
		}
	}
	return out
}

// Count returns how many requests were logged since the last Reset.
func (l *Log[R]) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// Matching counts the kept records that ok accepts.
func (l *Log[R]) Matching(ok func(*R) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if ok(r) {
			n++
		}
	}
	return n
}

// Reset clears the records and the count.
func (l *Log[R]) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records, l.count = nil, 0
}

// StatusWriter logs the status of the answer and passes Hijack through
// for the connection faults.
type StatusWriter struct {
	http.ResponseWriter
	mu     sync.Locker
	logged *int
	status int
}

func (w *StatusWriter) setStatus(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	w.mu.Lock()
	*w.logged = code
	w.mu.Unlock()
}

// WriteHeader logs code, then sends it.
func (w *StatusWriter) WriteHeader(code int) {
	w.setStatus(code)
	w.ResponseWriter.WriteHeader(code)
}

// Write logs 200 if no status was sent yet, then sends p.
func (w *StatusWriter) Write(p []byte) (int, error) {
	w.setStatus(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

// Hijack takes the connection over, for the faults that break it.
func (w *StatusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("simtest: %T cannot hijack", w.ResponseWriter)
	}
	return hj.Hijack()
}
