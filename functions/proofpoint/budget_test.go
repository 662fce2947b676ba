package proofpoint

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
)

var budgetDetail = regexp.MustCompile(`^pool=siem used=(\d+) limit=(\d+) left=(\d+) reserve=(\d+) refill=(\S+)$`)

func TestBudgetStopsTheRunBeforeThePoolIsUsedUp(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{RequestsPerDay: 40})
	h.cfg.SIEMRequestsPerDay, h.cfg.BudgetReserve, h.cfg.Lookback = 40, 5, 48*time.Hour
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-47 * time.Hour), To: t0, MessagesPerHour: 4, ClicksPerHour: 2})
	sink := &lineSink{}
	res := h.run(context.Background(), sink, h.store, StreamSIEM)
	// A planned stop, not a failure (a failed Lambda invocation would be
	// retried into the same budget): its error event is written all the
	// same.
	if !res[0].Success || res[0].Stop != "request_budget" || !res[0].Backlog || fmt.Sprint(res[0].Errors) != "[API_REQUEST_BUDGET]" {
		t.Fatalf("result %+v", res[0])
	}
	if n := len(h.sim.Requests()); n != 35 {
		t.Fatalf("%d requests; the run must stop when 5 of 40 are left", n)
	}
	// Every window delivered is committed; the budget stop itself spent no
	// request and changed nothing, so it writes nothing.
	if v := h.stored(StreamSIEM).Version; v != 35 || res[0].SkippedCommits != 1 {
		t.Fatalf("%d commits, %d skipped: every window delivered must be committed, the unchanged budget page skipped", v, res[0].SkippedCommits)
	}
	var detail string
	for _, l := range sink.lines(t) {
		if l.pp["error_code"] == "API_REQUEST_BUDGET" {
			detail = fmt.Sprint(l.pp["error_detail"])
			t.Log(l.pp["error_message"])
		}
	}
	m := budgetDetail.FindStringSubmatch(detail)
	if m == nil || m[1] != "35" || m[2] != "40" || m[3] != "5" || m[4] != "5" {
		t.Fatalf("budget event detail %q", detail)
	}
	refill, _ := time.Parse(time.RFC3339, m[5])
	if refill.Before(t0.Add(24*time.Hour)) || refill.After(t0.Add(24*time.Hour+budgetBucket)) {
		t.Fatalf("refill at %v, want 24 h after the first requests", refill)
	}

	// An hour later the budget is still used: no request, same event.
	h.clock.Advance(time.Hour)
	res = h.run(context.Background(), sink, h.store, StreamSIEM)
	if fmt.Sprint(res[0].Errors) != "[API_REQUEST_BUDGET]" || len(h.sim.Requests()) != 35 {
		t.Fatalf("result %+v after %d requests", res[0], len(h.sim.Requests()))
	}
	// From the refill on, collection goes on as the pool allows (a pool of
	// 40 a day sustains a run every six hours), stopping again when it
	// must, and nothing is missing in the end.
	h.clock.Set(refill)
	for end := refill.Add(72 * time.Hour); !h.clock.Now().After(end); h.clock.Advance(6 * time.Hour) {
		res := h.run(context.Background(), sink, h.store, StreamSIEM)
		if !res[0].Success && fmt.Sprint(res[0].Errors) != "[API_REQUEST_BUDGET]" {
			t.Fatalf("result %+v", res[0])
		}
	}
	got, _ := events(t, sink.lines(t))
	exactlyOnce(t, got, h.expected())
	for _, r := range h.sim.Requests() {
		if r.Status == 429 {
			t.Fatal("the server had to refuse a request: the budget did not stop the collector in time")
		}
	}
}

func TestA429EndsTheRunWithoutLosingThePosition(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-2 * time.Hour), To: t0.Add(time.Hour), MessagesPerHour: 20, ClicksPerHour: 10})
	sink := &lineSink{}
	h.poll(sink, t0.Add(10*time.Minute), 5*time.Minute)
	before := h.siemCursor().Start
	// Another client on the same credential used the pool up.
	h.sim.SpendPool("acme", "siem", proofpointtest.RequestsPerDay)
	h.clock.Advance(5 * time.Minute)
	reqs := len(h.sim.Requests())
	res := h.run(context.Background(), sink, h.store, StreamSIEM)
	if res[0].Success || fmt.Sprint(res[0].Errors) != "[API_HTTP_429]" || len(h.sim.Requests()) != reqs+1 {
		t.Fatalf("result %+v, %d requests", res[0], len(h.sim.Requests())-reqs)
	}
	if !h.siemCursor().Start.Equal(before) {
		t.Fatal("a 429 moved the position")
	}
	h.clock.Advance(24 * time.Hour)
	h.poll(sink, h.clock.Now().Add(time.Hour), 5*time.Minute)
	got, _ := events(t, sink.lines(t))
	exactlyOnce(t, got, h.expected())
}
