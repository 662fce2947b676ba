package simtest

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Kind is a transport-level fault: what a proxy, a load balancer or an
// overloaded front end does to a request before the API sees it. A
// simulator's own fault kinds are numbered from VendorKinds on.
type Kind int

// Transport-level fault kinds.
const (
	_ Kind = iota
	// RateLimit answers 429 with `Retry-After: <seconds>` (Fault.RetryAfter
	// rounded up to whole seconds, default 1 s).
	RateLimit
	// RateLimitNoRetryAfter answers 429 without Retry-After.
	RateLimitNoRetryAfter
	// InternalError answers 500 with the API's error body.
	InternalError
	// BadGateway answers 502 with the API's error body.
	BadGateway
	// ServiceUnavailable answers 503 (with Retry-After only if
	// Fault.RetryAfter > 0).
	ServiceUnavailable
	// Slow waits Fault.Delay (real time), then answers normally. The wait
	// ends early when the client gives up or the server closes, so tests
	// never hang.
	Slow
	// Truncated answers the normal status and headers with the first half
	// of the body, properly terminated: valid HTTP, invalid JSON.
	Truncated
	// ShortBody announces the full Content-Length, sends half the body and
	// closes the connection: the client sees an unexpected EOF.
	ShortBody
	// HTMLPage answers 200 with a proxy's HTML login page (a captive
	// portal), Content-Type text/html.
	HTMLPage
	// HTMLBadGateway answers 502 with an HTML proxy error page.
	HTMLBadGateway
	// ConnectionReset closes the connection with a TCP RST before any
	// response byte.
	ConnectionReset
	// ConnectionClose closes the connection cleanly (FIN) before any
	// response byte.
	ConnectionClose
	// EchoHeaders answers Fault.Status (default 500) with an error body
	// that echoes every request header, Authorization included, as
	// misconfigured proxies and debug endpoints do: clients must redact
	// it from what they log.
	EchoHeaders
	// VendorKinds is the first kind free for a simulator's own faults.
	VendorKinds
)

var kindNames = [...]string{
	RateLimit:             "rate-limit",
	RateLimitNoRetryAfter: "rate-limit-no-retry-after",
	InternalError:         "internal-error",
	BadGateway:            "bad-gateway",
	ServiceUnavailable:    "service-unavailable",
	Slow:                  "slow",
	Truncated:             "truncated",
	ShortBody:             "short-body",
	HTMLPage:              "html-page",
	HTMLBadGateway:        "html-bad-gateway",
	ConnectionReset:       "connection-reset",
	ConnectionClose:       "connection-close",
	EchoHeaders:           "echo-headers",
}

func (k Kind) String() string {
	switch {
	case k > 0 && k < VendorKinds:
		return kindNames[k]
	case k == 0:
		return "none"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Name names a simulator's fault kind k: a transport kind by its name
// here, one of the simulator's own (k >= VendorKinds) by own[k-VendorKinds].
func Name[K ~int](k K, own []string) string {
	if i := int(k) - int(VendorKinds); i >= 0 && i < len(own) {
		return own[i]
	}
	return Kind(k).String()
}

// Kinds lists the kinds 1 … n-1 of a simulator, for table-driven tests.
func Kinds[K ~int](n K) []K {
	out := make([]K, 0, n-1)
	for k := K(1); k < n; k++ {
		out = append(out, k)
	}
	return out
}

// Fault is what the transport faults need to know of an injected fault.
type Fault struct {
	Kind Kind
	// RetryAfter is sent as Retry-After by RateLimit and ServiceUnavailable.
	RetryAfter time.Duration
	// Delay is how long Slow waits.
	Delay time.Duration
	// Status overrides the status of EchoHeaders (default 500).
	Status int
}

// Queue holds a simulator's injected faults (of type F, with kinds of
// type K from 1 to n-1) until requests consume them, in the order they
// were injected, and counts what fired.
type Queue[K ~int, F any] struct {
	name string
	n    K

	mu      sync.Mutex
	pending []*queued[K, F]
	fired   []int
}

type queued[K ~int, F any] struct {
	kind K
	left int
	f    F
}

// NewQueue returns an empty queue for kinds 1 … n-1; name prefixes its
// panics.
func NewQueue[K ~int, F any](name string, n K) *Queue[K, F] {
	return &Queue[K, F]{name: name, n: n, fired: make([]int, n)}
}

// Inject queues f, of kind k, for the next count matching requests (0
// means 1). It panics on an unknown kind: that is a mistake in the test.
func (q *Queue[K, F]) Inject(k K, count int, f F) {
	if k <= 0 || k >= q.n {
		panic(fmt.Sprintf("%s: unknown fault kind %d", q.name, int(k)))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, &queued[K, F]{kind: k, left: max(count, 1), f: f})
}

// Take consumes one firing of the first queued fault that match accepts.
func (q *Queue[K, F]) Take(match func(F) bool) (F, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, p := range q.pending {
		if !match(p.f) {
			continue
		}
		p.left--
		if p.left == 0 {
			q.pending = slices.Delete(q.pending, i, i+1)
		}
		q.fired[p.kind]++
		return p.f, true
	}
	var none F
	return none, false
}

// Fired returns how many times faults of kind k have fired.
func (q *Queue[K, F]) Fired(k K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if k <= 0 || k >= q.n {
		return 0
	}
	return q.fired[k]
}

// Pending returns how many injected firings are still queued.
func (q *Queue[K, F]) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, p := range q.pending {
		n += p.left
	}
	return n
}

// Clear drops every queued fault.
func (q *Queue[K, F]) Clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = nil
}
