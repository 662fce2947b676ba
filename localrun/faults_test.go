package main

import (
	"strings"
	"testing"
	"time"

	opsim "github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// TestEveryFaultIsReportedAndLosesNothing injects each simulator fault
// persistently: the run must emit the documented error event and exit 1,
// and the next run must carry on from the committed cursor and deliver
// everything exactly once. Injected once, the same faults are absorbed by
// retries without any error event.
func TestEveryFaultIsReportedAndLosesNothing(t *testing.T) {
	cases := []struct {
		kind  opsim.FaultKind
		code  string
		extra []string
	}{
		{opsim.FaultRateLimit, "API_HTTP_429", nil},
		{opsim.FaultRateLimitNoRetryAfter, "API_HTTP_429", nil},
		{opsim.FaultInternalError, "API_HTTP_500", nil},
		{opsim.FaultBadGateway, "API_HTTP_UNEXPECTED", nil},
		{opsim.FaultServiceUnavailable, "API_HTTP_UNEXPECTED", nil},
		{opsim.FaultSlow, "API_TIMEOUT", nil}, // --http-timeout derived below
		{opsim.FaultTruncated, "API_INVALID_RESPONSE", nil},
		{opsim.FaultShortBody, "API_CONNECTION_ERROR", nil},
		{opsim.FaultHTMLPage, "API_INVALID_RESPONSE", nil},
		{opsim.FaultHTMLBadGateway, "API_HTTP_UNEXPECTED", nil},
		{opsim.FaultConnectionReset, "API_CONNECTION_ERROR", nil},
		{opsim.FaultConnectionClose, "API_CONNECTION_ERROR", nil},
		{opsim.FaultEchoHeaders, "API_HTTP_500", nil},
	}
	for _, c := range cases {
		for _, persistent := range []bool{true, false} {
			name := c.kind.String() + map[bool]string{true: "/persistent", false: "/once"}[persistent]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, opsim.Options{})
				h.sim.Generate("acme", opsim.StreamAuditEvents, 1500, time.Now().Add(-3*time.Hour), time.Second)
				d := newDelivery()
				args := append([]string{"--source", "audit", "--page-limit", "500", "--http-attempts", "2"}, c.extra...)
				began := time.Now()
				if res := h.run(args...); res.exit != 0 {
					t.Fatalf("clean run exit %d", res.exit)
				} else {
					d.add(res.lines)
				}
				delay := 2 * time.Second
				if c.kind == opsim.FaultSlow {
					// A request must time out only when the server stalls:
					// the limit is several times what a whole clean run of
					// three requests took on this machine, and the stall
					// lasts until the client gives up.
					timeout := max(time.Second, 4*time.Since(began))
					args = append(args, "--http-timeout", timeout.String())
					delay = time.Hour
				}
				h.sim.Generate("acme", opsim.StreamAuditEvents, 1500, time.Now().Add(-time.Hour), time.Second)
				count := 1
				if persistent {
					count = 30
				}
				h.sim.Inject(opsim.Fault{Endpoint: opsim.StreamAuditEvents, Kind: c.kind, Count: count, Delay: delay, RetryAfter: time.Second})
				res := h.run(args...)
				_, dups := d.add(res.lines)
				errs := errorsOf(t, res.lines)
				if persistent {
					if res.exit != exitFailed || len(errs) != 1 || errs[0]["error_code"] != c.code || errs[0]["source"] != "audit" {
						t.Fatalf("exit %d, error events %v; want exit 1 and one %s", res.exit, errs, c.code)
					}
					if strings.Contains(string(joinLines(res.lines)), h.token) {
						t.Fatal("the token leaked into an error event")
					}
					sum := summaries(t, res.lines)[0]
					if sum["audit_success"] != false {
						t.Fatalf("summary %v", sum)
					}
				} else if res.exit != 0 || len(errs) != 0 {
					t.Fatalf("a single fault was not absorbed: exit %d, errors %s", res.exit, codes(errs))
				}
				h.sim.ClearFaults()
				res = h.run(args...)
				_, dups2 := d.add(res.lines)
				if res.exit != 0 {
					t.Fatalf("run after the fault: exit %d", res.exit)
				}
				if dups+dups2 != 0 {
					t.Fatalf("%d duplicates", dups+dups2)
				}
				if miss := d.missing(h.sim.EventIDs("acme", opsim.StreamAuditEvents)); len(miss) > 0 {
					t.Fatalf("%d events lost", len(miss))
				}
			})
		}
	}
}

func joinLines(lines [][]byte) []byte {
	var b []byte
	for _, l := range lines {
		b = append(b, l...)
	}
	return b
}

// TestRefusedCursorRestartsWithOverlapAndNoDuplicates: when the API
// refuses the stored cursor, collection restarts five minutes before the
// newest delivered event; the overlap is suppressed by uuid, and an error
// event says what happened.
func TestRefusedCursorRestartsWithOverlapAndNoDuplicates(t *testing.T) {
	h := newHarness(t, opsim.Options{})
	base := time.Now().Add(-2 * time.Hour)
	h.sim.Generate("acme", opsim.StreamAuditEvents, 600, base, time.Second) // 10 minutes of events
	d := newDelivery()
	args := []string{"--source", "audit", "--page-limit", "100"}
	res := h.run(args...)
	d.add(res.lines)
	h.sim.Generate("acme", opsim.StreamAuditEvents, 300, base.Add(20*time.Minute), time.Second)
	h.sim.Inject(opsim.Fault{Endpoint: opsim.StreamAuditEvents, Kind: opsim.FaultInvalidCursor})
	res = h.run(args...)
	_, dups := d.add(res.lines)
	errs := errorsOf(t, res.lines)
	if res.exit != 0 || len(errs) != 1 || errs[0]["error_code"] != "API_HTTP_400" || !strings.Contains(errs[0]["error_detail"].(string), "restart=") {
		t.Fatalf("exit %d, errors %v", res.exit, errs)
	}
	if dups != 0 {
		t.Fatalf("%d events of the overlap were delivered again", dups)
	}
	if miss := d.missing(h.sim.EventIDs("acme", opsim.StreamAuditEvents)); len(miss) > 0 {
		t.Fatalf("%d events lost", len(miss))
	}
}

// TestLateEmptyAndOversizedEvents: a late-arriving event (older timestamp,
// ingested after newer ones were served) is still collected through the
// stored cursor; empty pages with has_more are walked through; an oversized
// event is delivered reduced and marked, under the line limit.
func TestLateEmptyAndOversizedEvents(t *testing.T) {
	h := newHarness(t, opsim.Options{})
	now := time.Now()
	h.sim.Generate("acme", opsim.StreamSignInAttempts, 200, now.Add(-time.Hour), time.Second)
	d := newDelivery()
	args := []string{"--source", "signin", "--page-limit", "50"}
	d.add(h.run(args...).lines)
	late := h.sim.GenerateOne("acme", opsim.StreamSignInAttempts, now.Add(-55*time.Minute))
	big := h.sim.IngestOversized("acme", opsim.StreamSignInAttempts, now.Add(-time.Minute), 200<<10)
	h.sim.Generate("acme", opsim.StreamSignInAttempts, 120, now.Add(-30*time.Second), 100*time.Millisecond)
	h.sim.Inject(opsim.Fault{Endpoint: opsim.StreamSignInAttempts, Kind: opsim.FaultEmptyPage, Count: 3})
	res := h.run(args...)
	if res.exit != 0 || len(errorsOf(t, res.lines)) != 0 {
		t.Fatalf("exit %d errors %s", res.exit, codes(errorsOf(t, res.lines)))
	}
	d.add(res.lines)
	if d.count[late] != 1 {
		t.Fatal("late-arriving event missed")
	}
	for _, l := range res.lines {
		if uuidOf(l) == big {
			if len(l)-1 > 59_999 || !strings.Contains(string(l), `"reduced":{"original_bytes":`) {
				t.Fatalf("oversized event: %d bytes, marker present=%v", len(l), strings.Contains(string(l), "reduced"))
			}
		}
	}
	if miss := d.missing(h.sim.EventIDs("acme", opsim.StreamSignInAttempts)); len(miss) > 0 {
		t.Fatalf("%d events lost", len(miss))
	}
}
