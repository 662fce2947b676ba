package onepasswordtest

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// FaultKind selects what an injected fault does to a request.
type FaultKind int

// Fault kinds: the transport-level faults of every simulator (see
// simtest), which fire before authentication, the way a proxy or an
// overloaded front end fails, and two API-level faults, which fire only on
// requests that would otherwise have been served a page. Error bodies are
// the v2 shape {"status":N,"message":"…"}.
const (
	FaultRateLimit             = FaultKind(simtest.RateLimit)
	FaultRateLimitNoRetryAfter = FaultKind(simtest.RateLimitNoRetryAfter) // the vendor documents no Retry-After
	FaultInternalError         = FaultKind(simtest.InternalError)
	FaultBadGateway            = FaultKind(simtest.BadGateway)
	FaultServiceUnavailable    = FaultKind(simtest.ServiceUnavailable)
	FaultSlow                  = FaultKind(simtest.Slow)
	FaultTruncated             = FaultKind(simtest.Truncated)
	FaultShortBody             = FaultKind(simtest.ShortBody)
	FaultHTMLPage              = FaultKind(simtest.HTMLPage)
	FaultHTMLBadGateway        = FaultKind(simtest.HTMLBadGateway)
	FaultConnectionReset       = FaultKind(simtest.ConnectionReset)
	FaultConnectionClose       = FaultKind(simtest.ConnectionClose)
	FaultEchoHeaders           = FaultKind(simtest.EchoHeaders)
)

// The API-level faults.
const (
	// FaultInvalidCursor answers 400 {"status":400,"message":"invalid cursor"}
	// to requests that carry a cursor (ResetCursor requests do not match).
	FaultInvalidCursor = FaultKind(simtest.VendorKinds) + iota
	// FaultEmptyPage answers 200 with no items, has_more=true and a cursor at
	// the same position, as the documentation allows.
	FaultEmptyPage
	numFaultKinds
)

var ownFaultNames = []string{"invalid-cursor", "empty-page"}

func (k FaultKind) String() string { return simtest.Name(k, ownFaultNames) }

// FaultKinds lists every fault kind, for table-driven tests.
func FaultKinds() []FaultKind { return simtest.Kinds(numFaultKinds) }

// apiLevel reports whether the fault is decided after authentication and
// body validation (it needs to know whether the request carries a cursor).
func (k FaultKind) apiLevel() bool { return k == FaultInvalidCursor || k == FaultEmptyPage }

// Fault describes a fault to inject. It applies to the next Count requests
// that match Endpoint (and, for FaultInvalidCursor, carry a cursor; for
// FaultEmptyPage, target a data endpoint). Faults are consumed in the order
// they were injected; one request triggers at most one transport-level and
// one API-level fault.
type Fault struct {
	// Endpoint restricts the fault: "" (any), "introspect", "auditevents",
	// "signinattempts", "itemusages", or the full path ("/api/v2/auditevents").
	Endpoint string
	Kind     FaultKind
	// Count is how many matching requests fail; 0 means 1.
	Count int
	// RetryAfter is sent as Retry-After seconds by FaultRateLimit and
	// FaultServiceUnavailable.
	RetryAfter time.Duration
	// Delay is how long FaultSlow waits before answering.
	Delay time.Duration
	// Status overrides the status of FaultEchoHeaders (default 500).
	Status int
}

type pendingFault struct {
	Fault
	endpoint string // normalised
}

func normaliseEndpoint(e string) (string, error) {
	e = strings.TrimPrefix(e, "/api/v2/")
	e = strings.TrimPrefix(e, "auth/")
	switch e {
	case "", "introspect", StreamAuditEvents, StreamSignInAttempts, StreamItemUsages:
		return e, nil
	}
	return "", fmt.Errorf("onepasswordtest: unknown fault endpoint %q", e)
}

// Inject queues a fault. It panics on an unknown kind or endpoint.
func (s *Server) Inject(f Fault) {
	ep, err := normaliseEndpoint(f.Endpoint)
	if err != nil {
		panic(err.Error())
	}
	s.faults.Inject(f.Kind, f.Count, pendingFault{Fault: f, endpoint: ep})
}

// FaultsFired returns how many times faults of a kind have fired.
func (s *Server) FaultsFired(kind FaultKind) int { return s.faults.Fired(kind) }

// FaultsPending returns how many injected fault firings are still queued.
func (s *Server) FaultsPending() int { return s.faults.Pending() }

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// takeFault pops the first queued fault that applies to this request.
func (s *Server) takeFault(endpoint string, apiLevel, hasCursor bool, rec *RequestRecord) *Fault {
	f, ok := s.faults.Take(func(f pendingFault) bool {
		switch {
		case f.Kind.apiLevel() != apiLevel || (f.endpoint != "" && f.endpoint != endpoint):
			return false
		case f.Kind == FaultInvalidCursor && !hasCursor:
			return false
		case f.Kind == FaultEmptyPage && endpoint == "introspect":
			return false
		}
		return true
	})
	if !ok {
		return nil
	}
	s.mu.Lock()
	rec.Faults = append(rec.Faults, f.Kind)
	s.mu.Unlock()
	return &f.Fault
}

// applyTransportFault performs a transport-level fault. It reports whether
// the request is finished; false means "continue with normal handling"
// (after a delay).
func (s *Server) applyTransportFault(w *simtest.StatusWriter, r *http.Request, f *Fault, ep string, body []byte, rec *RequestRecord) bool {
	return s.http.Apply(w, r, simtest.Fault{Kind: simtest.Kind(f.Kind), RetryAfter: f.RetryAfter, Delay: f.Delay, Status: f.Status}, simtest.API{
		Error: writeError,
		Serve: func(w http.ResponseWriter) { s.serveAPI(w, r, ep, body, rec) },
	})
}
