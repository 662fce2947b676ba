package proofpoint

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
)

// faultCodes is the documented error event of every fault that outlasts
// the retries (README.md, "Errors").
var faultCodes = map[proofpointtest.FaultKind]string{
	proofpointtest.FaultRateLimit:             "API_HTTP_429",
	proofpointtest.FaultRateLimitNoRetryAfter: "API_HTTP_429",
	proofpointtest.FaultInternalError:         "API_HTTP_500",
	proofpointtest.FaultBadGateway:            "API_HTTP_UNEXPECTED",
	proofpointtest.FaultServiceUnavailable:    "API_HTTP_UNEXPECTED",
	proofpointtest.FaultSlow:                  "API_TIMEOUT",
	proofpointtest.FaultTruncated:             "API_INVALID_RESPONSE",
	proofpointtest.FaultShortBody:             "API_CONNECTION_ERROR",
	proofpointtest.FaultHTMLPage:              "API_INVALID_RESPONSE",
	proofpointtest.FaultHTMLBadGateway:        "API_HTTP_UNEXPECTED",
	proofpointtest.FaultConnectionReset:       "API_CONNECTION_ERROR",
	proofpointtest.FaultConnectionClose:       "API_CONNECTION_ERROR",
	proofpointtest.FaultEchoHeaders:           "API_HTTP_500",
	proofpointtest.FaultAssemblyTimeout:       "API_HTTP_500",
}

func TestEveryFaultGivesItsErrorEventAndLosesNothing(t *testing.T) {
	for _, kind := range proofpointtest.FaultKinds() {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			want, ok := faultCodes[kind]
			if !ok {
				t.Fatalf("fault %v has no documented error code", kind)
			}
			h := newHarness(t, proofpointtest.Options{})
			h.attemptTimeout = 300 * time.Millisecond
			h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-3 * time.Hour), To: t0.Add(30 * time.Minute), MessagesPerHour: 30, ClicksPerHour: 10})
			sink := &lineSink{}
			h.poll(sink, t0.Add(10*time.Minute), 5*time.Minute)
			before := h.siemCursor()
			// Persistent: more failures than retries and re-asks.
			h.sim.Inject(proofpointtest.Fault{Endpoint: "siem", Kind: kind, Count: 20, Delay: 2 * time.Second})
			h.clock.Advance(5 * time.Minute)
			res := h.run(context.Background(), sink, h.store, StreamSIEM)
			if res[0].Success || fmt.Sprint(res[0].Errors) != "["+want+"]" {
				t.Fatalf("result %+v, want one %s error", res[0], want)
			}
			after := h.siemCursor()
			if !after.Start.Equal(before.Start) {
				t.Fatalf("position moved from %v to %v on a failed request", before.Start, after.Start)
			}
			rateLimited := kind == proofpointtest.FaultRateLimit || kind == proofpointtest.FaultRateLimitNoRetryAfter
			if rateLimited {
				if n := h.sim.FaultsFired(kind); n != 1 {
					t.Fatalf("a 429 was asked %d times: it must end the run at once", n)
				}
			}
			// A failure that may come from the window's size (TAP not
			// assembling it in time: a 500 or a timeout) halves the next
			// window; the others say nothing about the window.
			sizeRelated := want == "API_HTTP_500" || want == "API_TIMEOUT"
			if halved := after.Limit == limitToLearn && after.Span > 0 && (before.Span == 0 || after.Span < before.Span); halved != sizeRelated {
				t.Fatalf("window after the failure: span %d s (was %d), limit %d", after.Span, before.Span, after.Limit)
			}
			// The requests the fault cost are counted in the stored budget.
			if h.budget().Used(h.clock.Now()) < h.sim.FaultsFired(kind) {
				t.Fatalf("budget counts %d requests, %d faults fired", h.budget().Used(h.clock.Now()), h.sim.FaultsFired(kind))
			}
			h.sim.ClearFaults()
			h.poll(sink, t0.Add(75*time.Minute), 5*time.Minute)
			lines := sink.lines(t)
			got, errs := events(t, lines)
			if len(errs) != 1 || errs[0] != want {
				t.Fatalf("error events %v", errs)
			}
			exactlyOnce(t, got, h.expected())
			basic := base64.StdEncoding.EncodeToString([]byte(h.cred.Principal + ":" + h.cred.Secret))
			for _, l := range lines {
				if strings.Contains(l.raw, proofpointtest.SecretCanary) || strings.Contains(l.raw, basic) {
					t.Fatalf("a credential leaked into %s", l.raw)
				}
				if l.pp["event_type"] == "error" && (l.pp["error_source"] != StreamSIEM || l.pp["error_message"] == "") {
					t.Fatalf("error event %s", l.raw)
				}
			}
		})
	}
}

func TestTransientFaultsAreRetriedWithoutAnErrorEvent(t *testing.T) {
	for _, kind := range []proofpointtest.FaultKind{proofpointtest.FaultInternalError, proofpointtest.FaultConnectionReset, proofpointtest.FaultShortBody, proofpointtest.FaultTruncated, proofpointtest.FaultServiceUnavailable} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, proofpointtest.Options{})
			h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-2 * time.Hour), To: t0, MessagesPerHour: 30, ClicksPerHour: 10})
			h.sim.Inject(proofpointtest.Fault{Endpoint: "siem", Kind: kind, Count: 1})
			h.clock.Set(t0.Add(40 * time.Minute))
			sink := &lineSink{}
			res := h.run(context.Background(), sink, h.store, StreamSIEM)
			if !res[0].Success || len(res[0].Errors) > 0 {
				t.Fatalf("result %+v", res[0])
			}
			got, _ := events(t, sink.lines(t))
			exactlyOnce(t, got, h.expected())
		})
	}
}

func TestWrongCredentialsAnd401(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.creds = secrets.Static{FieldPrincipal: h.cred.Principal, FieldSecret: "wrong-" + proofpointtest.SecretCanary}
	sink := &lineSink{}
	res := h.run(context.Background(), sink, h.store, StreamSIEM)
	if fmt.Sprint(res[0].Errors) != "[API_HTTP_401]" {
		t.Fatalf("result %+v", res[0])
	}
	if strings.Contains(sink.confirmed.String(), proofpointtest.SecretCanary) {
		t.Fatal("the secret leaked into an event")
	}
	h.creds = secrets.Static{FieldPrincipal: h.cred.Principal}
	res = h.run(context.Background(), sink, h.store, StreamSIEM)
	if fmt.Sprint(res[0].Errors) != "[CONFIG_MISSING_CREDENTIAL]" {
		t.Fatalf("result %+v", res[0])
	}
}

// rotating returns old credentials until invalidated, then the new ones,
// like a Secrets Manager secret rotated under a warm cache.
type rotating struct {
	mu       sync.Mutex
	cur, new secrets.Credentials
}

func (r *rotating) Get(context.Context) (secrets.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, nil
}

func (r *rotating) Invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur = r.new
}

func TestRotatedSecretIsReReadOn401(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0, MessagesPerHour: 30, ClicksPerHour: 10})
	old := secrets.Credentials{FieldPrincipal: h.cred.Principal, FieldSecret: h.cred.Secret}
	fresh := h.sim.RotateSecret("acme")
	h.creds = &rotating{cur: old, new: secrets.Credentials{FieldPrincipal: fresh.Principal, FieldSecret: fresh.Secret}}
	h.clock.Set(t0.Add(40 * time.Minute))
	sink := &lineSink{}
	res := h.run(context.Background(), sink, h.store, StreamSIEM)
	if !res[0].Success || len(res[0].Errors) > 0 {
		t.Fatalf("result %+v", res[0])
	}
	got, _ := events(t, sink.lines(t))
	exactlyOnce(t, got, h.expected())
}
