package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
)

const canary = "CANARY-SECRET-7f3a9c"

func client(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(c *Client, url string) (*Response, error) {
	return c.Do(context.Background(), &Request{Method: "POST", URL: url, Body: []byte(`{}`), Header: http.Header{"Authorization": {"Bearer " + canary}}})
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	resp, err := get(client(t, Config{}), srv.URL)
	if err != nil || string(resp.Body) != `{"ok":true}` || n.Load() != 3 {
		t.Fatalf("resp %v err %v attempts %d", resp, err, n.Load())
	}
}

func TestDoesNotRetryClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(status)
		}))
		_, err := get(client(t, Config{}), srv.URL)
		srv.Close()
		var se *StatusError
		if !errors.As(err, &se) || se.Status != status || n.Load() != 1 {
			t.Fatalf("status %d: err %v after %d attempts", status, err, n.Load())
		}
	}
}

func TestErrorCodes(t *testing.T) {
	cases := map[int]string{400: "API_HTTP_400", 401: "API_HTTP_401", 429: "API_HTTP_429", 500: "API_HTTP_500", 502: "API_HTTP_UNEXPECTED", 418: "API_HTTP_UNEXPECTED"}
	for status, code := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
		_, err := get(client(t, Config{MaxAttempts: 1}), srv.URL)
		srv.Close()
		if got := pipeline.CodeOf(err); got != code {
			t.Errorf("status %d: code %s, want %s", status, got, code)
		}
	}
}

func TestRetryAfterBeyondDeadlineFailsAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := client(t, Config{MaxRetryAfter: 2 * time.Hour}).Do(ctx, &Request{Method: "GET", URL: srv.URL})
	if pipeline.CodeOf(err) != "API_HTTP_429" || time.Since(start) > time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestEchoedSecretsAreRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		w.Write([]byte("you sent: " + r.Header.Get("Authorization")))
	}))
	defer srv.Close()
	red := redact.New()
	red.Add(canary)
	_, err := get(client(t, Config{Redactor: red}), srv.URL)
	if err == nil || strings.Contains(err.Error(), canary) || !strings.Contains(err.Error(), redact.Mask) {
		t.Fatalf("err = %v", err)
	}
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("redaction lost the error type: %T", err)
	}
}

func TestProxyCredentialsAreRedacted(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://user:"+canary+"@127.0.0.1:1")
	red := redact.New()
	c := client(t, Config{Redactor: red, MaxAttempts: 1, Proxy: http.ProxyFromEnvironment})
	// https to a non-loopback name goes through the (dead) proxy.
	_, err := c.Do(context.Background(), &Request{Method: "GET", URL: "https://events.1password.invalid/api"})
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("err = %v", err)
	}
	if got := red.String("x " + canary); strings.Contains(got, canary) {
		t.Fatalf("proxy password not registered")
	}
}

func TestHTTPSOnlyExceptLoopback(t *testing.T) {
	for _, ok := range []string{"https://events.1password.com", "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"} {
		if _, err := CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{"http://events.1password.com", "ftp://x", "http://10.0.0.1", "://"} {
		if _, err := CheckURL(bad); err == nil {
			t.Errorf("CheckURL(%s) accepted", bad)
		}
	}
}

func TestSlowResponseTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // lets the server notice the client hanging up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	_, err := get(client(t, Config{AttemptTimeout: 100 * time.Millisecond, MaxAttempts: 2}), srv.URL)
	if pipeline.CodeOf(err) != "API_TIMEOUT" {
		t.Fatalf("err %v code %s", err, pipeline.CodeOf(err))
	}
}

func TestConnectionRefused(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err := get(client(t, Config{MaxAttempts: 2}), "http://"+addr)
	if pipeline.CodeOf(err) != "API_CONNECTION_ERROR" {
		t.Fatalf("err %v code %s", err, pipeline.CodeOf(err))
	}
}

func TestTruncatedBodyIsRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte(`{"items":[`))
			return // the server closes short of Content-Length
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	resp, err := get(client(t, Config{}), srv.URL)
	if err != nil || string(resp.Body) != `{}` {
		t.Fatalf("resp %v err %v", resp, err)
	}
}

type countingLimiter struct{ n atomic.Int32 }

func (c *countingLimiter) Wait(ctx context.Context) error { c.n.Add(1); return nil }

func TestLimiterPacesEveryAttempt(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	lim := &countingLimiter{}
	if _, err := get(client(t, Config{Limiter: lim}), srv.URL); err != nil {
		t.Fatal(err)
	}
	if lim.n.Load() != 3 {
		t.Fatalf("limiter consulted %d times for 3 attempts", lim.n.Load())
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := retryAfter("7", now); d != 7*time.Second {
		t.Fatal(d)
	}
	if d := retryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now); d != 30*time.Second {
		t.Fatal(d)
	}
	if d := retryAfter("soon", now); d != 0 {
		t.Fatal(d)
	}
}

// TestPacerWaitsUntilTheDeadline: when the next request's turn comes after
// the deadline, the pacer waits for the deadline instead of refusing early,
// so the caller sees its own context end (a clean budget stop).
func TestPacerWaitsUntilTheDeadline(t *testing.T) {
	p := Pacer(rate.NewLimiter(rate.Every(time.Hour), 1))
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() == nil || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("err %v after %v; want the context's own deadline", err, time.Since(start))
	}
}

func TestOnAttemptCountsEveryAttemptAndCanStopRetries(t *testing.T) {
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch served.Add(1) {
		case 1, 2:
			w.WriteHeader(500)
		case 3:
			w.WriteHeader(429)
		default:
			w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	c := client(t, Config{MaxAttempts: 10})
	var prevs []string
	quotaUsed := errors.New("quota used up")
	_, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, OnAttempt: func(prev error) error {
		var se *StatusError
		switch {
		case prev == nil:
			prevs = append(prevs, "first")
		case errors.As(prev, &se):
			prevs = append(prevs, se.Error())
			if se.Status == 429 {
				return quotaUsed
			}
		}
		return nil
	}})
	if !errors.Is(err, quotaUsed) {
		t.Fatalf("err %v: the hook's error must end the request", err)
	}
	if served.Load() != 3 || strings.Join(prevs, "|") != "first|HTTP 500|HTTP 500|HTTP 429" {
		t.Fatalf("served %d, hook saw %q: want one call per attempt about to be made, then the refused retry", served.Load(), prevs)
	}
	// Refusing the first attempt sends nothing.
	_, err = c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, OnAttempt: func(error) error { return quotaUsed }})
	if !errors.Is(err, quotaUsed) || served.Load() != 3 {
		t.Fatalf("err %v, served %d", err, served.Load())
	}
}

func TestRedactorIsShared(t *testing.T) {
	red := redact.New()
	c := client(t, Config{Redactor: red})
	c.Redactor().AddBasic("principal-"+canary, "secret")
	if got := red.String("principal-" + canary); strings.Contains(got, canary) {
		t.Fatalf("credential registered through the client is not redacted: %q", got)
	}
}

func TestPrepareRunsForEveryAttempt(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Nonce")+"@"+r.Host)
		if len(seen) < 3 {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	n := 0
	req := &Request{Method: "POST", URL: srv.URL, Body: []byte(`{}`), Prepare: func(r *http.Request) error {
		n++
		r.Header.Set("X-Nonce", strings.Repeat("n", n))
		r.Host = "api-acme.example.test"
		return nil
	}}
	if _, err := client(t, Config{}).Do(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	want := []string{"n@api-acme.example.test", "nn@api-acme.example.test", "nnn@api-acme.example.test"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("attempts saw %v, want a fresh value per attempt %v", seen, want)
	}
}

func TestPrepareErrorIsNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	calls := 0
	boom := errors.New("cannot sign")
	_, err := client(t, Config{}).Do(context.Background(), &Request{Method: "POST", URL: srv.URL, Prepare: func(*http.Request) error {
		calls++
		return boom
	}})
	if !errors.Is(err, boom) || calls != 1 || hits.Load() != 0 {
		t.Fatalf("err %v after %d prepare calls and %d requests", err, calls, hits.Load())
	}
}

// A vendor's pacing may hold an attempt back for longer than the attempt
// timeout (Cortex XDR pauses a tenant up to 30 s after a throttle): that
// wait is bounded by the caller's context, and the attempt timeout still
// bounds the request once it is sent.
func TestPrepareWaitIsNotBoundedByTheAttemptTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want, _ := ctx.Deadline()
	var got time.Time
	var had bool
	_, err := client(t, Config{AttemptTimeout: 100 * time.Millisecond, MaxAttempts: 1}).Do(ctx, &Request{Method: "POST", URL: srv.URL, Prepare: func(r *http.Request) error {
		got, had = r.Context().Deadline()
		return nil
	}})
	if !had || !got.Equal(want) {
		t.Fatalf("Prepare's wait ends at %v (set: %v), want the caller's deadline %v, not the attempt timeout", got, had, want)
	}
	var te *TransportError
	if !errors.As(err, &te) || te.Kind != KindTimeout || ctx.Err() != nil {
		t.Fatalf("a request that is never answered ended with %v (caller's context: %v), want the attempt's timeout", err, ctx.Err())
	}
}
