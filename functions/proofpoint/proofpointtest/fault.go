package proofpointtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FaultKind selects what an injected fault does to a request. Faults fire
// before authentication, the way a proxy or an overloaded front end fails,
// and are not counted against the tenant's pools.
type FaultKind int

// Fault kinds: those of the 1Password simulator that apply to TAP (TAP has
// no cursors, so there is no invalid-cursor or empty-page fault), plus
// TAP's own assembly timeout.
const (
	_ FaultKind = iota
	// FaultRateLimit answers 429 with Retry-After (Fault.RetryAfter, default 1 s).
	FaultRateLimit
	// FaultRateLimitNoRetryAfter answers 429 without Retry-After.
	FaultRateLimitNoRetryAfter
	// FaultInternalError answers 500 with a plain-text body.
	FaultInternalError
	// FaultBadGateway answers 502.
	FaultBadGateway
	// FaultServiceUnavailable answers 503 (Retry-After only if Fault.RetryAfter > 0).
	FaultServiceUnavailable
	// FaultSlow waits Fault.Delay, then answers normally; the wait ends
	// early when the client gives up or the server closes.
	FaultSlow
	// FaultTruncated answers the normal status with half the body,
	// properly terminated: valid HTTP, invalid JSON.
	FaultTruncated
	// FaultShortBody announces the full Content-Length, sends half the
	// body and closes: the client sees an unexpected EOF.
	FaultShortBody
	// FaultHTMLPage answers 200 with a proxy's HTML login page.
	FaultHTMLPage
	// FaultHTMLBadGateway answers 502 with an HTML error page.
	FaultHTMLBadGateway
	// FaultConnectionReset closes the connection with a TCP RST.
	FaultConnectionReset
	// FaultConnectionClose closes the connection cleanly before answering.
	FaultConnectionClose
	// FaultEchoHeaders answers Fault.Status (default 500) with a body that
	// echoes every request header, Authorization included.
	FaultEchoHeaders
	// FaultAssemblyTimeout answers 500 with TAP's "could not assemble the
	// results in time" message.
	FaultAssemblyTimeout
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
	FaultConnectionReset:       "connection-reset",
	FaultConnectionClose:       "connection-close",
	FaultEchoHeaders:           "echo-headers",
	FaultAssemblyTimeout:       "assembly-timeout",
}

func (k FaultKind) String() string {
	if k > 0 && k < numFaultKinds {
		return faultNames[k]
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultKinds lists every kind, for table-driven tests.
func FaultKinds() []FaultKind {
	out := make([]FaultKind, 0, numFaultKinds-1)
	for k := FaultKind(1); k < numFaultKinds; k++ {
		out = append(out, k)
	}
	return out
}

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

type pendingFault struct {
	Fault
	remaining int
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
	if f.Kind <= 0 || f.Kind >= numFaultKinds {
		panic(fmt.Sprintf("proofpointtest: unknown fault kind %d", int(f.Kind)))
	}
	if _, ok := route(f.Endpoint); !ok && f.Endpoint != "" && f.Endpoint != "siem" && f.Endpoint != "people" {
		panic(fmt.Sprintf("proofpointtest: unknown fault endpoint %q", f.Endpoint))
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &pendingFault{Fault: f, remaining: f.Count})
}

// FaultsFired counts firings of a kind.
func (s *Server) FaultsFired(kind FaultKind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind <= 0 || kind >= numFaultKinds {
		return 0
	}
	return s.fired[kind]
}

// ClearFaults drops queued faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(path string, rec *RequestRecord) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.matches(path) {
			continue
		}
		f.remaining--
		if f.remaining == 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		s.fired[f.Kind]++
		rec.Faults = append(rec.Faults, f.Kind)
		out := f.Fault
		return &out
	}
	return nil
}

const htmlProxyPage = `<!DOCTYPE html>
<html><head><title>Network Access Message</title></head>
<body><h1>Access to this site requires authentication</h1>
<p>Your request was intercepted by the corporate web proxy.</p></body></html>
`

const htmlBadGatewayPage = `<html><head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>
`

// AssemblyTimeoutMessage is the body of FaultAssemblyTimeout.
const AssemblyTimeoutMessage = "The results could not be assembled in the allotted time. Please try a smaller interval"

func abort(w http.ResponseWriter, reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if reset {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		} else if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
			if tc, ok := nc.NetConn().(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
	}
	_ = conn.Close()
}

func writeHTML(w http.ResponseWriter, status int, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, page)
}

// applyFault performs f; false means "go on answering normally".
func (s *Server) applyFault(w *statusWriter, r *http.Request, f *Fault) bool {
	ep, _ := route(r.URL.Path)
	switch f.Kind {
	case FaultRateLimit:
		d := f.RetryAfter
		if d <= 0 {
			d = time.Second
		}
		w.Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
		writeText(w, http.StatusTooManyRequests, "Too many requests")
	case FaultRateLimitNoRetryAfter:
		writeText(w, http.StatusTooManyRequests, "Too many requests")
	case FaultInternalError:
		writeText(w, http.StatusInternalServerError, "Internal Server Error")
	case FaultAssemblyTimeout:
		writeText(w, http.StatusInternalServerError, AssemblyTimeoutMessage)
	case FaultBadGateway:
		writeText(w, http.StatusBadGateway, "Bad Gateway")
	case FaultServiceUnavailable:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
		}
		writeText(w, http.StatusServiceUnavailable, "Service Unavailable")
	case FaultSlow:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			abort(w, false)
		case <-s.closing:
			abort(w, false)
		}
	case FaultTruncated, FaultShortBody:
		bw := &bufferWriter{header: make(http.Header)}
		s.serveAPI(bw, r, ep, w.rec)
		cut := bw.buf[:len(bw.buf)/2]
		if f.Kind == FaultShortBody {
			writeShortBody(w, bw, cut)
			return true
		}
		for k, v := range bw.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(cut)))
		w.WriteHeader(bw.status)
		_, _ = w.Write(cut)
	case FaultHTMLPage:
		writeHTML(w, http.StatusOK, htmlProxyPage)
	case FaultHTMLBadGateway:
		writeHTML(w, http.StatusBadGateway, htmlBadGatewayPage)
	case FaultConnectionReset:
		abort(w, true)
	case FaultConnectionClose:
		abort(w, false)
	case FaultEchoHeaders:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		msg := "upstream error; request was: " + r.Method + " " + r.URL.Path
		for _, k := range keys {
			for _, v := range r.Header[k] {
				msg += "; " + k + ": " + v
			}
		}
		writeText(w, status, msg)
	}
	return true
}

func writeShortBody(w *statusWriter, bw *bufferWriter, cut []byte) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	w.setStatus(bw.status)
	fmt.Fprintf(rw, "HTTP/1.1 %d %s\r\n", bw.status, http.StatusText(bw.status))
	bw.header.Set("Content-Length", strconv.Itoa(len(bw.buf)))
	bw.header.Set("Connection", "close")
	_ = bw.header.Write(rw)
	_, _ = rw.WriteString("\r\n")
	_, _ = rw.Write(cut)
	_ = rw.Flush()
}

type bufferWriter struct {
	header http.Header
	status int
	buf    []byte
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}
