package onepasswordtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawDo sends a request and returns the transport error instead of failing.
func rawDo(ctx context.Context, s *Server, token, path, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestStatusFaults(t *testing.T) {
	cases := []struct {
		fault      Fault
		status     int
		retryAfter string
	}{
		{Fault{Kind: FaultRateLimit, RetryAfter: 2500 * time.Millisecond}, 429, "3"},
		{Fault{Kind: FaultRateLimit}, 429, "1"},
		{Fault{Kind: FaultRateLimitNoRetryAfter}, 429, ""},
		{Fault{Kind: FaultInternalError}, 500, ""},
		{Fault{Kind: FaultBadGateway}, 502, ""},
		{Fault{Kind: FaultServiceUnavailable}, 503, ""},
		{Fault{Kind: FaultServiceUnavailable, RetryAfter: 5 * time.Second}, 503, "5"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v/%v", c.fault.Kind, c.fault.RetryAfter), func(t *testing.T) {
			s, _, tok := newServer(t, Options{})
			s.Generate("acme", StreamAuditEvents, 5, t0.Add(-time.Minute), time.Second)
			s.Inject(c.fault)
			status, h, b := do(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{}`)
			if status != c.status || h.Get("Retry-After") != c.retryAfter {
				t.Fatalf("status %d Retry-After %q, want %d %q", status, h.Get("Retry-After"), c.status, c.retryAfter)
			}
			var e apiError
			if err := json.Unmarshal(b, &e); err != nil || e.Status != c.status {
				t.Fatalf("body %s is not a v2 error", b)
			}
			// Only one request fails.
			if p := fetch(t, s, tok, StreamAuditEvents, `{}`); len(p.Items) != 5 {
				t.Fatalf("after the fault: %d items", len(p.Items))
			}
			if s.FaultsFired(c.fault.Kind) != 1 || s.FaultsPending() != 0 {
				t.Fatalf("fired %d pending %d", s.FaultsFired(c.fault.Kind), s.FaultsPending())
			}
			if r := s.Requests()[0]; r.Status != c.status || len(r.Faults) != 1 || r.Faults[0] != c.fault.Kind {
				t.Fatalf("record %+v", r)
			}
		})
	}
}

func TestFaultCountAndEndpointFilter(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Inject(Fault{Endpoint: StreamSignInAttempts, Kind: FaultInternalError, Count: 3})
	s.Inject(Fault{Endpoint: "/api/v2/auth/introspect", Kind: FaultBadGateway})
	fetch(t, s, tok, StreamAuditEvents, `{}`) // other endpoint: unaffected
	for i := range 3 {
		expectError(t, s, tok, http.MethodPost, "/api/v2/signinattempts", `{}`, 500)
		if got := s.FaultsPending(); got != 3-i-1+1 {
			t.Fatalf("pending %d after %d firings", got, i+1)
		}
	}
	fetch(t, s, tok, StreamSignInAttempts, `{}`)
	expectError(t, s, tok, http.MethodGet, "/api/v2/auth/introspect", "", 502)
	if s.FaultsFired(FaultInternalError) != 3 || s.FaultsFired(FaultBadGateway) != 1 || s.FaultsPending() != 0 {
		t.Fatal("fault accounting is off")
	}
	s.Inject(Fault{Kind: FaultInternalError, Count: 10})
	s.ClearFaults()
	fetch(t, s, tok, StreamSignInAttempts, `{}`)
}

func TestSlowFault(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 5, t0.Add(-time.Minute), time.Second)

	s.Inject(Fault{Kind: FaultSlow, Delay: 200 * time.Millisecond})
	start := time.Now()
	if p := fetch(t, s, tok, StreamAuditEvents, `{}`); len(p.Items) != 5 {
		t.Fatalf("slow answer has %d items", len(p.Items))
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("answered after %v, want at least the delay", d)
	}

	// A client timeout ends the wait on both sides.
	s.Inject(Fault{Kind: FaultSlow, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := rawDo(ctx, s, tok, "/api/v2/auditevents", `{}`); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client error %v, want deadline exceeded", err)
	}
	fetch(t, s, tok, StreamAuditEvents, `{}`)

	// Close does not wait for a sleeping handler.
	s.Inject(Fault{Kind: FaultSlow, Delay: time.Hour})
	go func() { _, _, _ = rawDo(context.Background(), s, tok, "/api/v2/auditevents", `{}`) }()
	for s.FaultsPending() != 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs on a slow handler")
	}
}

func TestTruncatedBody(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 50, t0.Add(-time.Minute), time.Second)
	s.Inject(Fault{Kind: FaultTruncated})
	status, h, cut := do(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{}`)
	if status != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("truncated: %d %s", status, h.Get("Content-Type"))
	}
	if json.Valid(cut) {
		t.Fatal("truncated body is valid JSON")
	}
	_, _, full := do(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{}`)
	if len(cut) != len(full)/2 || !bytes.HasPrefix(full, cut) {
		t.Fatalf("truncated body (%d bytes) is not the first half of the page (%d bytes)", len(cut), len(full))
	}
}

func TestShortBody(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 50, t0.Add(-time.Minute), time.Second)
	s.Inject(Fault{Kind: FaultShortBody})
	resp, _, err := rawDo(context.Background(), s, tok, "/api/v2/auditevents", `{}`)
	if resp == nil || resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: resp %v err %v, want 200 then unexpected EOF", resp, err)
	}
	if r := s.Requests()[0]; r.Status != 200 || r.Faults[0] != FaultShortBody {
		t.Fatalf("record %+v", r)
	}
	fetch(t, s, tok, StreamAuditEvents, `{}`)
}

func TestHTMLFaults(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	for kind, want := range map[FaultKind]int{FaultHTMLPage: 200, FaultHTMLBadGateway: 502} {
		s.Inject(Fault{Kind: kind})
		status, h, b := do(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{}`)
		if status != want || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || json.Valid(b) {
			t.Fatalf("%v: %d %s %q", kind, status, h.Get("Content-Type"), b)
		}
		mustContain(t, b, "<html")
	}
}

func TestInvalidCursorFault(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 30, t0.Add(-time.Minute), time.Second)
	s.Inject(Fault{Kind: FaultInvalidCursor})
	// A ResetCursor request carries no cursor: unaffected, fault stays queued.
	p := fetch(t, s, tok, StreamAuditEvents, `{"limit":10}`)
	if s.FaultsPending() != 1 {
		t.Fatal("invalid-cursor fault consumed by a ResetCursor request")
	}
	e := expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents", cursorBody(p.Cursor), 400)
	if e.Message != "invalid cursor" {
		t.Fatalf("message %q", e.Message)
	}
	// The fault does not break the cursor; a reset or a retry works.
	if q := fetch(t, s, tok, StreamAuditEvents, cursorBody(p.Cursor)); len(q.Items) != 10 {
		t.Fatalf("%d items after the fault", len(q.Items))
	}
}

func TestEmptyPageFault(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 30, t0.Add(-time.Minute), time.Second)
	p := fetch(t, s, tok, StreamAuditEvents, `{"limit":10}`)
	s.Inject(Fault{Kind: FaultEmptyPage, Count: 2})
	q := fetch(t, s, tok, StreamAuditEvents, cursorBody(p.Cursor))
	if len(q.Items) != 0 || !q.HasMore || q.Cursor != p.Cursor {
		t.Fatalf("empty page: %d items has_more %v, cursor moved %v", len(q.Items), q.HasMore, q.Cursor != p.Cursor)
	}
	// On a reset too: no items, has_more, and the cursor starts at the beginning.
	r := fetch(t, s, tok, StreamAuditEvents, `{"limit":10}`)
	if len(r.Items) != 0 || !r.HasMore {
		t.Fatal("empty page on reset")
	}
	items, _ := drain(t, s, tok, StreamAuditEvents, cursorBody(r.Cursor))
	if len(items) != 30 {
		t.Fatalf("after empty pages: %d items, want all 30", len(items))
	}
	// Introspect never gets an empty page.
	s.Inject(Fault{Kind: FaultEmptyPage})
	do(t, s, tok, http.MethodGet, "/api/v2/auth/introspect", "")
	if s.FaultsPending() != 1 {
		t.Fatal("empty-page fault consumed by introspect")
	}
}

func TestConnectionFaults(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Inject(Fault{Kind: FaultConnectionReset})
	_, _, err := rawDo(context.Background(), s, tok, "/api/v2/auditevents", `{}`)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reset: err %v, want ECONNRESET", err)
	}
	s.Inject(Fault{Kind: FaultConnectionClose})
	_, _, err = rawDo(context.Background(), s, tok, "/api/v2/auditevents", `{}`)
	if err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		t.Fatalf("close: err %v, want EOF", err)
	}
	for _, r := range s.Requests() {
		if r.Status != 0 {
			t.Fatalf("dropped connection recorded status %d", r.Status)
		}
	}
	fetch(t, s, tok, StreamAuditEvents, `{}`)
}

func TestEchoHeadersFault(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Inject(Fault{Kind: FaultEchoHeaders})
	s.Inject(Fault{Kind: FaultEchoHeaders, Status: 400})
	status, _, b := do(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{}`)
	if status != 500 {
		t.Fatalf("status %d", status)
	}
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil || e.Status != 500 {
		t.Fatalf("not a v2 error: %s", b)
	}
	if !strings.Contains(e.Message, "Authorization: Bearer "+tok) {
		t.Fatalf("body does not echo the token: %s", b)
	}
	expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{}`, 400)
	if strings.Contains(fmt.Sprintf("%#v", s.Requests()), tok) {
		t.Fatal("request log kept the echoed token")
	}
}

func TestTransportFaultsPrecedeAuth(t *testing.T) {
	// A proxy fails before the API sees the token, so even an unknown token
	// gets the fault.
	s, _, _ := newServer(t, Options{})
	s.Inject(Fault{Kind: FaultBadGateway})
	expectError(t, s, "bogus", http.MethodPost, "/api/v2/auditevents", `{}`, 502)
}

func TestEveryFaultKindIsNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range FaultKinds() {
		n := k.String()
		if n == "" || strings.HasPrefix(n, "FaultKind(") || seen[n] {
			t.Fatalf("kind %d has name %q", int(k), n)
		}
		seen[n] = true
	}
	if len(seen) != 15 {
		t.Fatalf("%d kinds", len(seen))
	}
}

func TestInjectRejectsUnknownEndpoint(t *testing.T) {
	s, _, _ := newServer(t, Options{})
	defer func() {
		if recover() == nil {
			t.Fatal("Inject accepted an unknown endpoint")
		}
	}()
	s.Inject(Fault{Endpoint: "auditevent", Kind: FaultInternalError})
}
