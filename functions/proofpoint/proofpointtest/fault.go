package proofpointtest

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// FaultKind selects what an injected fault does to a request. Faults fire
// before authentication, the way a proxy or an overloaded front end fails,
// and are not counted against the tenant's pools.
type FaultKind int

// Fault kinds: the transport-level faults of every simulator (see
// simtest), with TAP's plain-text error bodies (TAP has no cursors, so
// there is no invalid-cursor or empty-page fault), plus TAP's own
// assembly timeout.
const (
	FaultRateLimit             = FaultKind(simtest.RateLimit)
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

// TAP's own faults.
const (
	// FaultAssemblyTimeout answers 500 with TAP's "could not assemble the
	// results in time" message.
	FaultAssemblyTimeout = FaultKind(simtest.VendorKinds) + iota
	numFaultKinds
)

var ownFaultNames = []string{"assembly-timeout"}

func (k FaultKind) String() string { return simtest.Name(k, ownFaultNames) }

// FaultKinds lists every kind, for table-driven tests.
func FaultKinds() []FaultKind { return simtest.Kinds(numFaultKinds) }

// Fault describes a fault for the next Count requests matching Endpoint.
type Fault struct {
	// Endpoint: "" (any), "siem" (any /v2/siem/ path), "people" (any
	// /v2/people/ path), or a full path such as "/v2/siem/all".
	Endpoint string
	Kind     FaultKind
	// Count is how many matching requests fail; 0 means 1.
	Count      int
	RetryAfter time.Duration
	Delay      time.Duration
	Status     int
}

func (f *Fault) matches(path string) bool {
	switch f.Endpoint {
	case "":
		return true
	case "siem":
		return strings.HasPrefix(path, "/v2/siem/")
	case "people":
		return strings.HasPrefix(path, "/v2/people/")
	}
	return f.Endpoint == path
}

// Inject queues a fault. It panics on an unknown kind or endpoint.
func (s *Server) Inject(f Fault) {
	if _, ok := route(f.Endpoint); !ok && f.Endpoint != "" && f.Endpoint != "siem" && f.Endpoint != "people" {
		panic(fmt.Sprintf("proofpointtest: unknown fault endpoint %q", f.Endpoint))
	}
	s.faults.Inject(f.Kind, f.Count, f)
}

// FaultsFired counts firings of a kind.
func (s *Server) FaultsFired(kind FaultKind) int { return s.faults.Fired(kind) }

// ClearFaults drops queued faults.
func (s *Server) ClearFaults() { s.faults.Clear() }

func (s *Server) takeFault(path string, rec *RequestRecord) *Fault {
	f, ok := s.faults.Take(func(f Fault) bool { return f.matches(path) })
	if !ok {
		return nil
	}
	s.mu.Lock()
	rec.Faults = append(rec.Faults, f.Kind)
	s.mu.Unlock()
	return &f
}

// AssemblyTimeoutMessage is the body of FaultAssemblyTimeout.
const AssemblyTimeoutMessage = "The results could not be assembled in the allotted time. Please try a smaller interval"

// applyFault performs f; false means "go on answering normally".
func (s *Server) applyFault(w *simtest.StatusWriter, r *http.Request, f *Fault, rec *RequestRecord) bool {
	if f.Kind == FaultAssemblyTimeout {
		writeText(w, http.StatusInternalServerError, AssemblyTimeoutMessage)
		return true
	}
	ep, _ := route(r.URL.Path)
	return s.http.Apply(w, r, simtest.Fault{Kind: simtest.Kind(f.Kind), RetryAfter: f.RetryAfter, Delay: f.Delay, Status: f.Status}, simtest.API{
		Error:    writeText,
		Messages: map[int]string{http.StatusTooManyRequests: "Too many requests"}, // TAP's wording
		Serve:    func(w http.ResponseWriter) { s.serveAPI(w, r, ep, rec) },
	})
}
