// Package httpx is the HTTP client every vendor collector uses: timeouts on
// every attempt, bounded retries with exponential backoff and jitter,
// Retry-After, proactive rate limiting, proxies from the environment, an
// optional CA bundle, HTTPS only (plain HTTP on loopback for tests and the
// demo), and redaction of credentials in every error and log line.
package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/sysroots"
)

// Limiter paces requests before they are sent.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Pacer adapts a token bucket to Limiter. When the next request's turn
// comes after the context's deadline, it waits until the deadline instead
// of refusing at once as rate.Limiter.Wait does: the pipeline tells "the
// time budget ran out" (stop, commit, report a backlog) from "the vendor
// call failed" by whether its context has ended, and an early refusal
// would turn every paced run that reaches its deadline into a failure.
func Pacer(l *rate.Limiter) Limiter { return pacer{l} }

type pacer struct{ lim *rate.Limiter }

func (p pacer) Wait(ctx context.Context) error {
	r := p.lim.Reserve()
	if !r.OK() {
		return fmt.Errorf("httpx: rate limiter refused a request (burst %d)", p.lim.Burst())
	}
	d := r.Delay()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel() // give the turn back
		return ctx.Err()
	}
}

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	// ConnectTimeout bounds TCP connect and TLS handshake (default 10 s).
	ConnectTimeout time.Duration
	// AttemptTimeout bounds one attempt, response body included (default 60 s).
	AttemptTimeout time.Duration
	// MaxAttempts bounds tries per request, the first included (default 5).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape exponential backoff with full jitter
	// (defaults 1 s and 60 s).
	BaseBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest server-requested wait honoured; a longer
	// one fails the request at once (default 5 min). Waits never pass the
	// context's deadline.
	MaxRetryAfter time.Duration
	// MaxBody bounds a response body (default DefaultMaxBody); a request
	// may set its own (Request.MaxBody). A larger body fails the request
	// with a BodyTooLargeError (API_RESPONSE_TOO_LARGE).
	MaxBody int64
	// CABundlePEM adds trusted CAs to the system's roots (TLS-inspecting
	// proxies). Either are loaded only as a handshake needs them
	// (shared/sysroots).
	CABundlePEM []byte
	// Limiter paces requests; nil means no proactive limit.
	Limiter Limiter
	// Redactor masks secrets in errors and logs.
	Redactor *redact.Redactor
	Logger   *slog.Logger
	// UserAgent is sent with every request.
	UserAgent string
	// Proxy picks a proxy per request (default http.ProxyFromEnvironment).
	Proxy func(*http.Request) (*url.URL, error)
	// Transport replaces the built transport (tests).
	Transport http.RoundTripper
}

// Client sends vendor requests.
type Client struct {
	cfg  Config
	http *http.Client
	// bodySize is the largest successful body read lately: a request
	// whose buffer is smaller reads into one of about that size instead
	// of growing one (the streams of a tenant share the client, and their
	// pages are alike).
	bodySize atomic.Int64
}

// New builds a Client. It registers any proxy credentials found in the
// environment with the redactor, since Go's errors can quote proxy URLs.
func New(cfg Config) (*Client, error) {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 60 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 60 * time.Second
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 5 * time.Minute
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Redactor == nil {
		cfg.Redactor = redact.New()
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "wazuh-pull"
	}
	if cfg.Proxy == nil {
		cfg.Proxy = http.ProxyFromEnvironment
	}
	RegisterProxySecrets(cfg.Redactor)
	rt := cfg.Transport
	if rt == nil {
		roots, err := sysroots.New(cfg.CABundlePEM)
		if err != nil {
			return nil, fmt.Errorf("httpx: %w", err)
		}
		dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
		rt = roots.Transport(&http.Transport{
			Proxy:                 cfg.Proxy,
			DialContext:           dialer.DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   cfg.ConnectTimeout,
			ResponseHeaderTimeout: cfg.AttemptTimeout,
			// HTTP/1.1 even where the vendor offers HTTP/2: a body then
			// comes straight from the connection into the caller's buffer,
			// where HTTP/2 frames it, copies it through a stream buffer and
			// answers with window updates. A 35 000-event 1Password run
			// over TLS took 13 % less CPU (315 against 361 ms, five
			// alternated runs; docs/testing.md, "TLS roots"). The requests
			// of a run are sequential, so multiplexing gains nothing.
			Protocols: http1Only(),
			// The default 4 KiB read buffer: a body is read into the
			// caller's buffer directly (bufio passes reads larger than
			// its buffer through), so a larger one would only add a copy
			// and memory every process touches for the first time.
			WriteBufferSize: 64 << 10,
			MaxIdleConns:    10,
			IdleConnTimeout: 90 * time.Second,
		})
	}
	return &Client{cfg: cfg, http: &http.Client{Transport: rt, CheckRedirect: noRedirects}}, nil
}

// Redactor is the client's redactor, for sources that derive credentials
// the request headers do not show in full (register them with Add or
// AddPair before the first request).
func (c *Client) Redactor() *redact.Redactor { return c.cfg.Redactor }

// registerCredentials adds the credentials a request carries to the
// redactor before it is sent, in every form a server may echo them: the
// token of "Bearer x", the base64 of "Basic b" and the principal and secret
// it decodes to (AddPair), a bare Authorization value (an API key), and
// the values of headers named like credentials (X-Api-Key, x-xdr-auth-id).
// A source thus cannot forget a derived form, such as Proofpoint's Basic
// header.
func (c *Client) registerCredentials(h http.Header) {
	for name, values := range h {
		switch {
		case name == "Authorization" || name == "Proxy-Authorization":
			for _, v := range values {
				scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
				if !ok {
					c.cfg.Redactor.Add(scheme) // a bare key
					continue
				}
				cred = strings.TrimSpace(cred)
				c.cfg.Redactor.Add(cred)
				if strings.EqualFold(scheme, "Basic") {
					if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
						if user, pass, ok := strings.Cut(string(dec), ":"); ok {
							c.cfg.Redactor.AddPair(user, pass)
						}
					}
				}
			}
		case credentialHeader(name):
			c.cfg.Redactor.Add(values...)
		}
	}
}

// credentialHeader reports whether a (canonical) header name says it
// carries a credential.
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"key", "token", "secret", "auth", "signature", "password", "cookie"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// noRedirects keeps credentials from following a redirect to another host.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// RegisterProxySecrets adds the userinfo of proxy URLs in the environment
// to r.
func RegisterProxySecrets(r *redact.Redactor) {
	for _, name := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || u.User == nil {
			continue
		}
		if p, ok := u.User.Password(); ok {
			r.Add(p)
		}
		r.Add(u.User.String())
	}
}

// Request is one API call.
type Request struct {
	Method string
	URL    string
	Body   []byte
	// Header carries the credentials; it is never logged.
	Header http.Header
	// Buf, when set, is reused to hold the response body.
	Buf []byte
	// SizeHint is the size the body is expected to have (a vendor's
	// usual page) while the client has not read a larger one: a body of
	// unknown length is read into a buffer of about that size rather than
	// one grown from 64 KiB. It never lifts the limit.
	SizeHint int64
	// Prepare, when set, is called with every attempt's request (retries
	// included) just before it is sent, after the client's limiter. It
	// may wait (a vendor's own pacing, shared across requests; the
	// request's context then bounds the wait, not the attempt's timeout,
	// which starts after Prepare) and set what must be fresh per attempt,
	// such as a signature over a nonce and a timestamp. An error ends the
	// request without retry.
	Prepare func(*http.Request) error
	// MaxBody, when positive, replaces the client's response body limit
	// for this request: set it to the largest page the vendor may
	// legally send.
	MaxBody int64
	// OnAttempt, when set, is called once for every attempt about to be
	// made: before the first (prev nil) and, when a failed attempt is to be
	// retried, before waiting for the retry (prev is that attempt's error).
	// An error it returns ends the request with that error. Callers count
	// requests against a vendor quota with it, and refuse retries the
	// quota cannot afford.
	OnAttempt func(prev error) error
}

// Response is a successful (2xx) answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// CheckURL enforces HTTPS, allowing plain HTTP only to loopback addresses.
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("httpx: invalid URL: %w", err)
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("httpx: %s: plain http is only allowed to loopback addresses; use https", u.Redacted())
	}
	return nil, fmt.Errorf("httpx: %s: unsupported scheme %q", u.Redacted(), u.Scheme)
}

// IsLoopback reports whether host names the local machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Do sends req, retrying what is worth retrying, and returns the 2xx
// response or an error carrying the seed error code.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	u, err := CheckURL(req.URL)
	if err != nil {
		return nil, c.redact(err)
	}
	c.registerCredentials(req.Header)
	if req.OnAttempt != nil {
		if err := req.OnAttempt(nil); err != nil {
			return nil, c.redact(err)
		}
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		if c.cfg.Limiter != nil {
			if err := c.cfg.Limiter.Wait(ctx); err != nil {
				return nil, c.redact(&TransportError{Kind: KindTimeout, Op: "rate limit wait", Err: contextCause(ctx, err)})
			}
		}
		resp, err := c.attempt(ctx, u, req)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		wait, retry := c.retryable(err, attempt)
		if !retry || attempt >= c.cfg.MaxAttempts {
			return nil, c.redact(lastErr)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, c.redact(lastErr)
		}
		if req.OnAttempt != nil {
			if err := req.OnAttempt(err); err != nil {
				return nil, c.redact(err)
			}
		}
		c.cfg.Logger.Info("retrying vendor request", "url", c.cfg.Redactor.String(u.Redacted()), "attempt", attempt, "wait", wait.String(), "error", c.cfg.Redactor.String(err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, c.redact(lastErr)
		case <-t.C:
		}
	}
}

func contextCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// rate.Limiter refuses early when the wait would pass the deadline.
	return fmt.Errorf("%v: %w", err, context.DeadlineExceeded)
}

func (c *Client) redact(err error) error {
	return c.cfg.Redactor.Error(err)
}

func (c *Client) attempt(ctx context.Context, u *url.URL, req *Request) (*Response, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("httpx: build request: %w", err)
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	hr.Header.Set("User-Agent", c.cfg.UserAgent)
	if req.Body != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.Prepare != nil {
		// Prepare may wait for the vendor's pacing, up to a pause of
		// seconds after a throttle: that wait is bounded by the request's
		// own context, not by the attempt's timeout, which starts once the
		// attempt is sent (a pause as long as --http-timeout would
		// otherwise turn every throttle into a timeout).
		if err := req.Prepare(hr); err != nil {
			return nil, &prepareError{transportError(ctx, ctx, "prepare request", err)}
		}
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	hr = hr.WithContext(actx)
	start := time.Now()
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, transportError(ctx, actx, "request", err)
	}
	// Closing a body that was not read to the end drops the connection,
	// which is what an oversized or endless body deserves.
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Only the start matters (the snippet); a hostile error body is
		// not read to its end.
		b, err := readBody(io.LimitReader(resp.Body, maxErrorBody), -1, maxErrorBody, req.Buf, 0)
		if err != nil && !errors.Is(err, errBodyTooLarge) {
			return nil, transportError(ctx, actx, "read response body", err)
		}
		c.cfg.Logger.Debug("vendor request", "method", req.Method, "url", c.cfg.Redactor.String(u.Redacted()), "status", resp.StatusCode, "bytes", len(b), "duration", time.Since(start).String())
		return nil, &StatusError{
			Status:     resp.StatusCode,
			Body:       snippet(c.cfg.Redactor.String(string(b))),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Header:     resp.Header,
		}
	}
	limit := c.cfg.MaxBody
	if req.MaxBody > 0 {
		limit = req.MaxBody
	}
	data, err := readBody(resp.Body, resp.ContentLength, limit, req.Buf, min(max(c.bodySize.Load(), req.SizeHint), limit))
	if errors.Is(err, errBodyTooLarge) {
		return nil, &BodyTooLargeError{Status: resp.StatusCode, Limit: limit, ContentLength: resp.ContentLength}
	}
	if err != nil {
		return nil, transportError(ctx, actx, "read response body", err)
	}
	if n := int64(len(data)); n > c.bodySize.Load() {
		c.bodySize.Store(n)
	}
	c.cfg.Logger.Debug("vendor request", "method", req.Method, "url", c.cfg.Redactor.String(u.Redacted()), "status", resp.StatusCode, "bytes", len(data), "duration", time.Since(start).String())
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// retryable says whether err deserves another attempt and how long to wait.
func (c *Client) retryable(err error, attempt int) (time.Duration, bool) {
	backoff := c.backoff(attempt)
	var se *StatusError
	if errors.As(err, &se) {
		switch {
		case se.Status == http.StatusTooManyRequests:
			if se.RetryAfter > 0 {
				if se.RetryAfter > c.cfg.MaxRetryAfter {
					return 0, false
				}
				return se.RetryAfter, true
			}
			return backoff, true
		case se.Status >= 500 && se.Status != http.StatusNotImplemented:
			if se.RetryAfter > 0 && se.RetryAfter <= c.cfg.MaxRetryAfter {
				return se.RetryAfter, true
			}
			return backoff, true
		}
		return 0, false
	}
	var pe *prepareError
	if errors.As(err, &pe) {
		return 0, false
	}
	// A certificate the server's name or the trusted roots refuse is
	// refused again on every attempt.
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return 0, false
	}
	var te *TransportError
	if errors.As(err, &te) {
		return backoff, !te.cancelled
	}
	return 0, false
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BaseBackoff << (attempt - 1)
	if d > c.cfg.MaxBackoff || d <= 0 {
		d = c.cfg.MaxBackoff
	}
	// Full jitter spreads retries of many runners hitting the same limit.
	return time.Duration(rand.Int64N(int64(d)/2+1)) + d/2
}

// retryAfter parses delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func snippet(s string) string {
	const max = 512
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, s)
}

func http1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}
