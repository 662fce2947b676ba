package cortexxdr

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/logx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

func TestLicenceRoleAndFQDNBecomeClearErrorEvents(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tenant     cortexxdrtest.Tenant
		key        cortexxdrtest.Key
		fqdn       string
		failing    []string
		code, want string
	}{
		{"licence", cortexxdrtest.Tenant{Unlicensed: []string{"alerts"}}, cortexxdrtest.Key{}, "", []string{"alerts"}, pipeline.CodeHTTPUnexpected, "licence does not include this API (HTTP 402)"},
		{"role", cortexxdrtest.Tenant{}, cortexxdrtest.Key{Streams: []string{"alerts"}}, "", []string{"incidents"}, pipeline.CodeHTTPUnexpected, "role may not use this API (HTTP 403)"},
		{"fqdn", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, "https://api-acme.xdr.us.paloaltonetworks.com/", []string{"alerts", "incidents"}, pipeline.CodeHTTPUnexpected, "check the tenant host (XDR_FQDN)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cortexxdrtest.Options{}, tc.tenant, tc.key)
			someAlerts(e, 3)
			e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: t0.Add(-time.Hour)})
			if tc.fqdn != "" {
				e.creds[FieldFQDN] = tc.fqdn // normalised to another tenant's host
			}
			res := e.run(context.Background())
			errs := errorLines(t, e.sink)
			if len(errs) != len(tc.failing) {
				t.Fatalf("%d error events, want %d: %v", len(errs), len(tc.failing), res)
			}
			for i, el := range errs {
				msg, _ := el.xdr["error_message"].(string)
				detail, _ := el.xdr["error_detail"].(string)
				if el.xdr["error_source"] != tc.failing[i] || el.xdr["error_code"] != tc.code || !strings.Contains(msg, tc.want) || !strings.Contains(detail, "endpoint=/public_api/") {
					t.Fatalf("error event %s", el.raw)
				}
			}
			// One stream's failure leaves the other to run.
			d := delivered(t, e.sink)
			for _, r := range res {
				failing := false
				for _, f := range tc.failing {
					failing = failing || f == r.Name
				}
				if r.Success == failing {
					t.Fatalf("stream %s success %v", r.Name, r.Success)
				}
			}
			if len(tc.failing) == 1 && len(d["alert"])+len(d["incident"]) == 0 {
				t.Fatal("the healthy stream delivered nothing")
			}
		})
	}
}

// Without pacing the client exceeds the tenant's 10 requests per second;
// the throttled requests are retried after the tenant pauses, and nothing
// is lost.
func TestThrottlingBacksOffAndLosesNothing(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.cfg.RequestsPerSecond = -1
	e.cfg.PageSize = 10
	ids := someAlerts(e, 400)
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	if d := delivered(t, e.sink); len(d["alert"]) != len(ids) {
		t.Fatalf("delivered %d of %d", len(d["alert"]), len(ids))
	}
	throttled := 0
	for _, r := range e.sim.Requests() {
		if r.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("an unpaced client was never throttled: the test proves nothing")
	}
	// With the default pacing the same work is never throttled.
	e2 := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e2.cfg.PageSize = 10
	someAlerts(e2, 400)
	mustSucceed(t, e2.run(context.Background(), StreamAlerts))
	for _, r := range e2.sim.Requests() {
		if r.Status != http.StatusOK {
			t.Fatalf("paced client answered %d", r.Status)
		}
	}
}

func TestEveryFaultIsRecoveredWithoutLossOrDuplicate(t *testing.T) {
	for _, kind := range cortexxdrtest.FaultKinds() {
		t.Run(kind.String(), func(t *testing.T) {
			e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{Standard: true})
			hc, err := httpx.New(httpx.Config{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxAttempts: 4, AttemptTimeout: 300 * time.Millisecond, Redactor: e.red})
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			e.cfg.HTTP = hc
			e.cfg.Logger = logx.New(&logs, slog.LevelDebug, e.red)
			e.cfg.PageSize = 20
			ids := someAlerts(e, 50)
			// The first request meets the fault, and so does the second
			// page, mid-window (except for a 429 whose Retry-After costs a
			// real second).
			fired := 1
			e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: kind, Delay: time.Second})
			if kind != cortexxdrtest.FaultRateLimit {
				e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: kind, Delay: time.Second})
				fired++
			}
			res := e.run(context.Background(), StreamAlerts)
			mustSucceed(t, res)
			d := delivered(t, e.sink)
			for _, id := range ids {
				if d["alert"][id] != 1 {
					t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
				}
			}
			if e.sim.FaultsFired(kind) != fired {
				t.Fatalf("fault fired %d times", e.sim.FaultsFired(kind))
			}
			// A standard key travels in Authorization; echoed back by a
			// proxy it must still never reach a log line.
			noSecret(t, "logs", logs.Bytes(), e.key)
			for _, l := range e.sink.lines(t) {
				noSecret(t, "event", l.raw, e.key)
			}
		})
	}
}

func TestPersistentFailureReportsAndMovesNoCursor(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	e.cfg.PageSize = 10
	ids := someAlerts(e, 35)
	e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: cortexxdrtest.FaultHTMLPage, Count: 1}) // recovered by asking again
	mustSucceed(t, e.runWith(context.Background(), e.store, pipeline.Budget{MaxEvents: 10}, nil, StreamAlerts))
	// As many 500s as the HTTP client has attempts.
	e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: cortexxdrtest.FaultInternalError, Count: 4})
	res := e.run(context.Background(), StreamAlerts)
	errs := errorLines(t, e.sink)
	if res[0].Success || res[0].CursorAdvanced || len(errs) != 1 || errs[0].xdr["error_code"] != pipeline.CodeHTTP500 {
		t.Fatalf("result %+v, errors %d", res[0], len(errs))
	}
	e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: cortexxdrtest.FaultTruncated, Count: invalidReplyRetries + 1})
	res = e.run(context.Background(), StreamAlerts)
	if errs = errorLines(t, e.sink); res[0].Success || res[0].CursorAdvanced || len(errs) != 2 || errs[1].xdr["error_code"] != pipeline.CodeInvalidResponse {
		t.Fatalf("result %+v, %d errors", res[0], len(errs))
	}
	if e.sim.FaultsPending() != 0 {
		t.Fatalf("%d faults left", e.sim.FaultsPending())
	}
	mustSucceed(t, e.run(context.Background(), StreamAlerts))
	d := delivered(t, e.sink)
	for _, id := range ids {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
		}
	}
}

// An error envelope served with 200 is reported by its err_code (500 when
// that is not an error status), and its detail says the reply was a 200:
// an operator reading "HTTP 500" would otherwise look for a server error
// the API never sent.
func TestErrorEnvelopeIn200SaysSo(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	someAlerts(e, 5)
	e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: cortexxdrtest.FaultErrorIn200, Count: invalidReplyRetries + 1})
	res := e.run(context.Background(), StreamAlerts)
	errs := errorLines(t, e.sink)
	if res[0].Success || res[0].CursorAdvanced || len(errs) != 1 {
		t.Fatalf("result %+v, %d error events", res[0], len(errs))
	}
	detail, _ := errs[0].xdr["error_detail"].(string)
	if errs[0].xdr["error_code"] != pipeline.CodeHTTP500 || !strings.Contains(detail, "HTTP 200 reply") {
		t.Fatalf("error event %v; want API_HTTP_500 with a detail naming the 200 reply", errs[0].xdr)
	}
}
