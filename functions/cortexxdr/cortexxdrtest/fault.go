package cortexxdrtest

import (
	"fmt"
	"time"
)

// FaultKind selects what an injected fault does to a request.
type FaultKind int

// Fault kinds: those of the 1Password simulator that make sense for this
// API, plus its own. Transport-level faults fire before authentication,
// the way a proxy or an overloaded front end fails; FaultEmptyPage and
// FaultErrorIn200 fire on requests that would otherwise have been served.
const (
	_ FaultKind = iota
	// FaultRateLimit answers 429 with the API's "Too many requests"
	// envelope and `Retry-After: <seconds>` (Fault.RetryAfter, default 1s).
	FaultRateLimit
	// FaultRateLimitNoRetryAfter answers 429 without Retry-After: the API
	// documents no such header.
	FaultRateLimitNoRetryAfter
	// FaultInternalError answers 500 with an error envelope.
	FaultInternalError
	// FaultBadGateway answers 502 with an error envelope.
	FaultBadGateway
	// FaultServiceUnavailable answers 503 (with Retry-After only if Fault.RetryAfter > 0).
	FaultServiceUnavailable
	// FaultSlow sleeps Fault.Delay (real time), then answers normally; the
	// sleep ends early when the client gives up or the server closes.
	FaultSlow
	// FaultTruncated answers with the normal status and headers but only
	// the first half of the body, properly terminated: invalid JSON.
	FaultTruncated
	// FaultShortBody announces the full Content-Length, sends half the body
	// and closes the connection: the client sees an unexpected EOF.
	FaultShortBody
	// FaultHTMLPage answers 200 with an HTML page (a captive portal).
	FaultHTMLPage
	// FaultHTMLBadGateway answers 502 with an HTML proxy error page.
	FaultHTMLBadGateway
	// FaultEmptyPage answers 200 with no records but the true total_count,
	// a page that contradicts its own count.
	FaultEmptyPage
	// FaultConnectionReset closes the connection with a TCP RST.
	FaultConnectionReset
	// FaultConnectionClose closes the connection cleanly (FIN) before any
	// response byte.
	FaultConnectionClose
	// FaultEchoHeaders answers Fault.Status (default 500) with an error
	// envelope echoing every request header, Authorization included, as
	// misconfigured proxies do: clients must redact it.
	FaultEchoHeaders
	// FaultErrorIn200 answers 200 with an error envelope (err_code 500).
	FaultErrorIn200
	numFaultKinds
)

var faultNames = [...]string{
	FaultRateLimit:             "rate-limit",
	FaultRateLimitNoRetryAfter: "rate-limit-no-retry-after",
	FaultInternalError:         "internal-error",
	FaultBadGateway:            "bad-gateway",
	FaultServiceUnavailable:    "service-unavailable",
	FaultSlow:                  "slow",
	FaultTruncated:             "truncated",
	FaultShortBody:             "short-body",
	FaultHTMLPage:              "html-page",
	FaultHTMLBadGateway:        "html-bad-gateway",
	FaultEmptyPage:             "empty-page",
	FaultConnectionReset:       "connection-reset",
	FaultConnectionClose:       "connection-close",
	FaultEchoHeaders:           "echo-headers",
	FaultErrorIn200:            "error-in-200",
}

func (k FaultKind) String() string {
	if k > 0 && k < numFaultKinds {
		return faultNames[k]
	}
	if k == 0 {
		return "none"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultKinds lists every fault kind, for table-driven tests.
func FaultKinds() []FaultKind {
	out := make([]FaultKind, 0, numFaultKinds-1)
	for k := FaultKind(1); k < numFaultKinds; k++ {
		out = append(out, k)
	}
	return out
}

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
	// Delay is how long FaultSlow waits (real time).
	Delay time.Duration
	// Status overrides the status of FaultEchoHeaders (default 500).
	Status int
	// AfterAuth fires a transport-level fault after the request was
	// authenticated, as a failing back end does: the nonce is then spent,
	// and a retry must bring a fresh one.
	AfterAuth bool
}

type pendingFault struct {
	Fault
	remaining int
}

const htmlProxyPage = `<!DOCTYPE html>
<html><head><title>Network Access Message</title></head>
<body><h1>Access to this site requires authentication</h1>
<p>Your request was intercepted by the corporate web proxy. Please sign in to continue.</p>
</body></html>
`

const htmlBadGatewayPage = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
`
