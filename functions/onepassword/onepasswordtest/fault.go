package onepasswordtest

import (
	"fmt"
	"strings"
	"time"
)

// FaultKind selects what an injected fault does to a request.
type FaultKind int

// Fault kinds. Transport-level faults (everything except FaultInvalidCursor
// and FaultEmptyPage) fire before authentication, the way a proxy or an
// overloaded front end fails; the two API-level faults fire only on
// requests that would otherwise have been served a page.
const (
	_ FaultKind = iota
	// FaultRateLimit answers 429 with `Retry-After: <seconds>` (Fault.RetryAfter,
	// rounded up to whole seconds, default 1s).
	FaultRateLimit
	// FaultRateLimitNoRetryAfter answers 429 without Retry-After, as the
	// vendor documents nothing about the header.
	FaultRateLimitNoRetryAfter
	// FaultInternalError answers 500 with a v2 error body.
	FaultInternalError
	// FaultBadGateway answers 502 with a v2 error body.
	FaultBadGateway
	// FaultServiceUnavailable answers 503 (with Retry-After only if Fault.RetryAfter > 0).
	FaultServiceUnavailable
	// FaultSlow sleeps Fault.Delay, then answers normally. The sleep ends early
	// when the client gives up or the server closes, so tests never hang.
	FaultSlow
	// FaultTruncated answers with the normal status and headers but only the
	// first half of the body, properly terminated: valid HTTP, invalid JSON.
	FaultTruncated
	// FaultShortBody announces the full Content-Length, sends half the body
	// and closes the connection: the client sees an unexpected EOF.
	FaultShortBody
	// FaultHTMLPage answers 200 with an HTML page (a captive portal or proxy
	// login page), Content-Type text/html.
	FaultHTMLPage
	// FaultHTMLBadGateway answers 502 with an HTML proxy error page.
	FaultHTMLBadGateway
	// FaultInvalidCursor answers 400 {"status":400,"message":"invalid cursor"}
	// to requests that carry a cursor (ResetCursor requests do not match).
	FaultInvalidCursor
	// FaultEmptyPage answers 200 with no items, has_more=true and a cursor at
	// the same position, as the documentation allows.
	FaultEmptyPage
	// FaultConnectionReset closes the connection with a TCP RST before any
	// response byte.
	FaultConnectionReset
	// FaultConnectionClose closes the connection cleanly (FIN) before any
	// response byte.
	FaultConnectionClose
	// FaultEchoHeaders answers Fault.Status (default 500) with an error body
	// that echoes every request header, Authorization included, as some
	// misconfigured proxies and debug endpoints do. It exists to prove that
	// clients redact secrets from logged error bodies.
	FaultEchoHeaders
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
	FaultInvalidCursor:         "invalid-cursor",
	FaultEmptyPage:             "empty-page",
	FaultConnectionReset:       "connection-reset",
	FaultConnectionClose:       "connection-close",
	FaultEchoHeaders:           "echo-headers",
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
	endpoint  string // normalised
	remaining int
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

// retryAfterSeconds rounds d up to whole seconds, the only form of
// Retry-After (besides an HTTP date) that clients must understand.
func retryAfterSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
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
