package cortexxdr

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// nonceAlphabet is what the vendor's own example draws nonces from.
const nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newNonce returns 64 random characters of nonceAlphabet.
func newNonce() (string, error) {
	var b [64]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cortexxdr: nonce: %w", err)
	}
	for i := range b {
		// 256 is a multiple of 62 within 4%: the bias is irrelevant for a
		// nonce, which only has to be unique.
		b[i] = nonceAlphabet[int(b[i])%len(nonceAlphabet)]
	}
	return string(b[:]), nil
}

// Sign sets the authentication headers of one request. A standard key is
// sent as it is; an advanced key signs a fresh 64-character nonce and the
// current time in epoch milliseconds: Authorization is the lower-case hex
// SHA-256 of key, nonce and timestamp concatenated. It must run for every
// attempt, retries included, because the API refuses a replayed nonce or a
// stale timestamp (docs/cortexxdr.md, Authentication).
func sign(h http.Header, cr creds, now time.Time) error {
	h.Set("x-xdr-auth-id", cr.keyID)
	if !cr.advanced {
		h.Set("Authorization", cr.key)
		return nil
	}
	nonce, err := newNonce()
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	sum := sha256.Sum256([]byte(cr.key + nonce + ts))
	h.Set("x-xdr-nonce", nonce)
	h.Set("x-xdr-timestamp", ts)
	h.Set("Authorization", hex.EncodeToString(sum[:]))
	return nil
}

// post sends one API request body (already wrapped in request_data) with
// pacing and a fresh signature per attempt. On 401 it re-reads the
// credentials once, in case the key was rotated, and retries if they
// changed. Errors are *pipeline.Error with the seed's codes.
func (c *Collector) post(ctx context.Context, path string, body []byte, buf []byte) (*httpx.Response, error) {
	cr, err := c.credentials(ctx)
	if err != nil {
		return nil, err
	}
	reread, throttles, pause := false, 0, false
	// The API's Date header is compared with the time of the exchange
	// that carried it, not with the time the body finished arriving: a
	// page that takes seconds to download says nothing about the clocks.
	var ex exchange
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotFirstResponseByte: ex.headersArrived(c.cfg.Now)})
	for {
		base, err := c.apiURL(cr)
		if err != nil {
			return nil, err
		}
		attempt := 0
		host := "api-" + cr.fqdn
		prepare := func(r *http.Request) error {
			attempt++
			if err := c.pacer.wait(r.Context(), attempt > 1 || pause); err != nil {
				return err
			}
			if r.URL.Host != host {
				r.Host = host // another address stands in for api-<fqdn>
			}
			now := c.cfg.Now()
			ex.start(now)
			return sign(r.Header, cr, now)
		}
		resp, err := c.cfg.HTTP.Do(tctx, &httpx.Request{
			Method:  http.MethodPost,
			URL:     base + path,
			Body:    body,
			Header:  http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}},
			Buf:     buf,
			Prepare: prepare,
		})
		pause = false
		var se *httpx.StatusError
		if errors.As(err, &se) {
			c.learnSkew(se.Header, &ex)
		}
		if !reread && errors.As(err, &se) && se.Status == http.StatusUnauthorized {
			reread = true
			c.creds.Invalidate()
			if fresh, ferr := c.credentials(ctx); ferr == nil && fresh != cr {
				c.cfg.Logger.Info("Cortex XDR answered 401; retrying with re-read credentials", "tenant", c.tenant)
				cr = fresh
				continue
			}
		}
		if errors.As(err, &se) && se.Status < 500 && se.Status != http.StatusTooManyRequests && throttles < throttleRetries && ctx.Err() == nil {
			// The HTTP client retries a 429 and 5xx; the API documents its
			// throttle by message, not by status, so a throttle under
			// another status is retried here, after the tenant's pause.
			if env, ok := parseXDRError(se.Body); ok && isThrottle(env.Msg) {
				throttles++
				pause = true
				c.cfg.Logger.Warn("Cortex XDR throttled a request", "tenant", c.tenant, "status", se.Status, "retry", throttles)
				continue
			}
		}
		if err != nil {
			return nil, c.apiError(err, path, cr)
		}
		c.pacer.succeeded()
		c.learnSkew(resp.Header, &ex)
		return resp, nil
	}
}

// throttleRetries bounds the retries of a throttle the API answers with a
// status the HTTP client does not retry itself.
const throttleRetries = 5

// exchange is when the last attempt of a request was sent and when its
// answer's headers arrived, on the collector's clock (Unix nanoseconds;
// 0: not yet). The headers arrive on the transport's goroutine.
type exchange struct {
	sent, headers atomic.Int64
}

// start marks an attempt sent at now; its answer has not arrived yet.
func (e *exchange) start(now time.Time) {
	e.headers.Store(0)
	e.sent.Store(now.UnixNano())
}

// headersArrived is the trace hook that marks the answer's headers.
func (e *exchange) headersArrived(now func() time.Time) func() {
	return func() { e.headers.Store(now().UnixNano()) }
}

// span returns when the attempt was sent and when its headers arrived;
// what was not marked is now.
func (e *exchange) span(now time.Time) (sent, headers time.Time) {
	sent, headers = now, now
	if ns := e.headers.Load(); ns != 0 {
		headers = time.Unix(0, ns)
	}
	if ns := e.sent.Load(); ns != 0 {
		sent = time.Unix(0, ns)
	}
	if sent.After(headers) {
		sent = headers // a clock stepped back meanwhile
	}
	return sent, headers
}

// learnSkew reads the API's clock from the Date header of an answer to
// exchange ex. The API stamped it after the request was sent and before
// the headers arrived, so on agreeing clocks it falls within that span:
// the skew is the distance from the span to the header's time (the middle
// of its second, as the header has one-second precision), 0 inside it, and
// differences under two seconds count as none. Reading our clock when the
// body has arrived instead would take a slow page for skew.
func (c *Collector) learnSkew(h http.Header, ex *exchange) {
	if h == nil {
		return
	}
	d, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return
	}
	api := d.Add(500 * time.Millisecond)
	sent, headers := ex.span(c.cfg.Now())
	local := api
	switch {
	case local.Before(sent):
		local = sent
	case local.After(headers):
		local = headers
	}
	skew := api.Sub(local)
	if skew > -2*time.Second && skew < 2*time.Second {
		skew = 0
	}
	if old := time.Duration(c.skew.Swap(int64(skew))); (old == 0) != (skew == 0) && skew != 0 {
		c.cfg.Logger.Warn("this host's clock differs from the Cortex XDR API's", "tenant", c.tenant, "api_minus_local", skew.Round(time.Second).String())
	}
}

// xdrError is the API's error envelope {"reply":{"err_code","err_msg","err_extra"}}.
type xdrError struct {
	Code  json.RawMessage `json:"err_code"`
	Msg   string          `json:"err_msg"`
	Extra json.RawMessage `json:"err_extra"`
}

// parseXDRError reads the error envelope from a body (possibly cut short
// by the HTTP client's snippet); ok is false when it is not one.
func parseXDRError(body string) (xdrError, bool) {
	var v struct {
		Reply *xdrError `json:"reply"`
	}
	if json.Unmarshal([]byte(body), &v) != nil || v.Reply == nil || (len(v.Reply.Code) == 0 && v.Reply.Msg == "") {
		return xdrError{}, false
	}
	return *v.Reply, true
}

func (e xdrError) detail() string {
	var b strings.Builder
	if len(e.Code) > 0 && string(e.Code) != "null" {
		fmt.Fprintf(&b, " err_code=%s", e.Code)
	}
	if e.Msg != "" {
		fmt.Fprintf(&b, " err_msg=%q", e.Msg)
	}
	if len(e.Extra) > 0 && string(e.Extra) != "null" {
		extra := string(e.Extra)
		if len(extra) > 300 {
			extra = extra[:300] + "…"
		}
		fmt.Fprintf(&b, " err_extra=%s", extra)
	}
	return b.String()
}

// isThrottle reports whether an error message is the API's "too many
// requests", whatever status carried it.
func isThrottle(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "too many requests") || strings.Contains(m, "rate limit")
}

// apiError turns a failed request into an error event with the seed's
// code and a message that says what to check.
func (c *Collector) apiError(err error, path string, cr creds) error {
	var pe *pipeline.Error
	if errors.As(err, &pe) {
		return err
	}
	code := pipeline.CodeOf(err)
	detail := "endpoint=" + path
	var msg string
	var se *httpx.StatusError
	if errors.As(err, &se) {
		env, ok := parseXDRError(se.Body)
		detail += fmt.Sprintf(" status=%d", se.Status)
		if ok {
			detail += env.detail()
		}
		switch {
		case se.Status == http.StatusTooManyRequests || ok && isThrottle(env.Msg):
			code = pipeline.CodeHTTP429
			msg = "Cortex XDR rate limit reached (10 requests per second per tenant, shared by every tool using the tenant) — retries exhausted"
		case se.Status == http.StatusUnauthorized:
			msg = fmt.Sprintf("Authentication failed (HTTP 401) — check the API key ID and key (%s; %s) and that the key has not expired or been deleted", c.name(FieldAPIKeyID), c.name(FieldAPIKey))
			if cr.advanced {
				msg += "; an advanced key also signs the request time, so check this host's clock (NTP)"
				if s := c.ClockSkew(); s != 0 {
					msg += fmt.Sprintf(": it differs from the API's by about %s", s.Round(time.Second))
				}
				msg += ", and that the security level (" + c.name(FieldSecurityLevel) + ") matches the key (advanced or standard)"
			} else {
				msg += ", and that the security level (" + c.name(FieldSecurityLevel) + ") matches the key (standard or advanced)"
			}
		case se.Status == http.StatusPaymentRequired:
			msg = "The Cortex XDR tenant's licence does not include this API (HTTP 402)"
		case se.Status == http.StatusForbidden:
			msg = "The API key's role may not use this API (HTTP 403) — give the key a role that can view alerts and incidents"
		case se.Status == http.StatusNotFound:
			msg = "Not found (HTTP 404) — check the tenant host (" + c.name(FieldFQDN) + "): the host of the console's API URL without api-, e.g. acme.xdr.us.paloaltonetworks.com"
		case se.Status == http.StatusBadRequest:
			msg = "Cortex XDR refused the request (HTTP 400): a filter, sort or paging value was not accepted"
		case se.Status >= 500:
			msg = fmt.Sprintf("Cortex XDR API internal error (HTTP %d) — retries exhausted", se.Status)
		default:
			msg = fmt.Sprintf("Cortex XDR API returned an unexpected status (HTTP %d)", se.Status)
		}
		return &pipeline.Error{Code: code, Message: msg, Detail: detail, Err: err}
	}
	switch code {
	case pipeline.CodeTimeout:
		msg = "Cortex XDR API request timed out"
	case pipeline.CodeConnection:
		msg = "Cortex XDR API unreachable — check the tenant host (" + c.name(FieldFQDN) + "), DNS, proxy and network access to api-" + cr.fqdn
	default:
		msg = "Cortex XDR API request failed"
	}
	return &pipeline.Error{Code: code, Message: msg, Detail: detail, Err: err}
}

// name says where a credential field comes from: the deployment's Where,
// else the seed's variable.
func (c *Collector) name(field string) string {
	if c.cfg.Where != nil {
		return c.cfg.Where(field)
	}
	return HostVars()[field]
}
