package cortexxdrtest

import (
	"net/http"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// FaultKind selects what an injected fault does to a request.
type FaultKind int

// Fault kinds: the transport-level faults of every simulator (see
// simtest), answered with this API's error envelope, which fire before
// authentication, the way a proxy or an overloaded front end fails
// (after it with Fault.AfterAuth); and two of this API's own, which fire
// on requests that would otherwise have been served.
const (
	FaultRateLimit             = FaultKind(simtest.RateLimit) // the API's "Too many requests" envelope
	FaultRateLimitNoRetryAfter = FaultKind(simtest.RateLimitNoRetryAfter)
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

// This API's own faults.
const (
	// FaultEmptyPage answers 200 with no records but the true total_count,
	// a page that contradicts its own count.
	FaultEmptyPage = FaultKind(simtest.VendorKinds) + iota
	// FaultErrorIn200 answers 200 with an error envelope (its err_code 200 too).
	FaultErrorIn200
	// FaultSlowBody gives whatever answer the request earns (an error
	// too), its headers and the first half of its body at once and the
	// rest Fault.Delay later (real time): a page slow to arrive after its
	// Date was stamped. It fires before authentication (AfterAuth is
	// ignored), and a fault queued to fire after authentication waits for
	// the next request.
	FaultSlowBody
	numFaultKinds
)

var ownFaultNames = []string{"empty-page", "error-in-200", "slow-body"}

func (k FaultKind) String() string { return simtest.Name(k, ownFaultNames) }

// FaultKinds lists every fault kind, for table-driven tests.
func FaultKinds() []FaultKind { return simtest.Kinds(numFaultKinds) }

func (k FaultKind) apiLevel() bool { return k == FaultEmptyPage || k == FaultErrorIn200 }

// Phases of a request at which faults fire.
const (
	phaseTransport = iota // before authentication
	phaseAfterAuth        // transport-level faults with AfterAuth
	phaseAPI              // API-level faults
)

func (f *Fault) phase() int {
	switch {
	case f.Kind.apiLevel():
		return phaseAPI
	case f.Kind == FaultSlowBody:
		return phaseTransport
	case f.AfterAuth:
		return phaseAfterAuth
	}
	return phaseTransport
}

// Fault describes a fault to inject; it applies to the next Count requests
// that match Stream. Faults are consumed in the order they were injected.
type Fault struct {
	// Stream restricts the fault: "" (any), "alerts" or "incidents".
	Stream string
	Kind   FaultKind
	// Count is how many matching requests fail; 0 means 1.
	Count int
	// RetryAfter is sent as Retry-After by FaultRateLimit and FaultServiceUnavailable.
	RetryAfter time.Duration
	// Delay is how long FaultSlow waits, and how long FaultSlowBody holds
	// the second half of the body back (real time).
	Delay time.Duration
	// Status overrides the status of FaultEchoHeaders (default 500).
	Status int
	// AfterAuth fires a transport-level fault after the request was
	// authenticated, as a failing back end does: the nonce is then spent,
	// and a retry must bring a fresh one.
	AfterAuth bool
}

// Inject queues a fault. It panics on an unknown kind or stream.
func (s *Server) Inject(f Fault) {
	if f.Stream != "" {
		mustStream(f.Stream)
	}
	s.faults.Inject(f.Kind, f.Count, f)
}

// FaultsFired returns how many times faults of a kind have fired.
func (s *Server) FaultsFired(kind FaultKind) int { return s.faults.Fired(kind) }

// FaultsPending returns how many injected fault firings are still queued.
func (s *Server) FaultsPending() int { return s.faults.Pending() }

func (s *Server) takeFault(stream string, phase int, rec *RequestRecord) *Fault {
	f, ok := s.faults.Take(func(f Fault) bool { return f.phase() == phase && (f.Stream == "" || f.Stream == stream) })
	if !ok {
		return nil
	}
	s.mu.Lock()
	rec.Faults = append(rec.Faults, f.Kind)
	s.mu.Unlock()
	return &f
}

// applyTransportFault performs a transport-level fault; false means
// "continue with normal handling" (after a delay).
func (s *Server) applyTransportFault(w *simtest.StatusWriter, r *http.Request, f *Fault, stream string, body []byte, rec *RequestRecord) bool {
	return s.http.Apply(w, r, simtest.Fault{Kind: simtest.Kind(f.Kind), RetryAfter: f.RetryAfter, Delay: f.Delay, Status: f.Status}, simtest.API{
		Error: func(w http.ResponseWriter, status int, msg string) { s.writeError(w, rec, status, msg, nil) },
		// The API's own wording of these statuses.
		Messages: map[int]string{http.StatusTooManyRequests: "Too many requests", http.StatusInternalServerError: "An internal error occurred"},
		Serve:    func(w http.ResponseWriter) { s.serveAPI(w, r, stream, body, rec) },
	})
}
