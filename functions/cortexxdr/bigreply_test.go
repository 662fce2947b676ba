package cortexxdr

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
)

// limitReplies makes e's collectors read at most limit bytes of a reply.
func limitReplies(t *testing.T, e *env, limit int64) {
	t.Helper()
	hc, err := httpx.New(httpx.Config{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxAttempts: 4, Redactor: e.red, MaxBody: limit})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.HTTP = hc
}

// pageSizes is search_to - search_from of every alerts request, in order.
func pageSizes(t *testing.T, e *env) []int {
	t.Helper()
	var out []int
	for _, r := range e.sim.Requests() {
		if r.Path != "/public_api/v2/alerts/get_alerts_multi_events" {
			continue
		}
		var body struct {
			RequestData struct {
				From int `json:"search_from"`
				To   int `json:"search_to"`
			} `json:"request_data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("request body %q: %v", r.Body, err)
		}
		out = append(out, body.RequestData.To-body.RequestData.From)
	}
	return out
}

// The API bounds a page's records, not its bytes: a page of wide alerts
// over the reply limit is asked for again in smaller pages, and every
// alert arrives once.
func TestReplyOverTheLimitIsAskedForInSmallerPages(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	ids := someAlerts(e, 300)
	// About 35 of the simulator's full alerts fit: 100 and 50 do not.
	limitReplies(t, e, 200<<10)
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	if errs := errorLines(t, e.sink); len(errs) != 0 {
		t.Fatalf("error events: %s", errs[0].raw)
	}
	var got []string
	for _, l := range e.sink.lines(t) {
		if id, ok := l.xdr["alert_id"].(string); ok {
			got = append(got, id)
		}
	}
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d alerts (%d distinct), want each of %d once", len(got), len(slices.Compact(slices.Clone(got))), len(want))
	}
	sizes := pageSizes(t, e)
	if len(sizes) < 3 || sizes[0] != MaxPageSize || sizes[1] != MaxPageSize/2 || sizes[2] != MaxPageSize/4 {
		t.Fatalf("page sizes asked %v; want 100, 50, 25 and then 25", sizes)
	}
	for _, n := range sizes[2:] {
		if n != MaxPageSize/4 {
			t.Fatalf("page sizes asked %v: the smaller size should last for the run", sizes)
		}
	}
}

// One alert over the limit even alone cannot be read: the stream fails
// with API_RESPONSE_TOO_LARGE, saying so, its position kept, and a run
// allowed larger replies delivers it.
func TestRecordOverTheLimitAloneKeepsThePosition(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	big := e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour), Oversize: 300 << 10})
	limitReplies(t, e, 200<<10)
	res := e.run(context.Background(), StreamAlerts)
	errs := errorLines(t, e.sink)
	if res[0].Success || res[0].CursorAdvanced || len(errs) != 1 {
		t.Fatalf("result %+v, %d error events", res[0], len(errs))
	}
	msg, _ := errs[0].xdr["error_message"].(string)
	if errs[0].xdr["error_code"] != "API_RESPONSE_TOO_LARGE" || msg != "One Cortex XDR record, asked for alone, is larger than the reply limit; the stream cannot move past it" {
		t.Fatalf("error event %v", errs[0].xdr)
	}
	if sizes := pageSizes(t, e); !slices.Equal(sizes, []int{100, 50, 25, 12, 6, 3, 1}) {
		t.Fatalf("page sizes asked %v; want halved down to 1", sizes)
	}

	e.sink = &recordingSink{}
	limitReplies(t, e, httpx.DefaultMaxBody)
	mustSucceed(t, e.run(context.Background(), StreamAlerts))
	lines := e.sink.lines(t)
	if len(lines) != 1 || lines[0].xdr["alert_id"] != big {
		t.Fatalf("%d lines after the limit was raised; want the alert %s", len(lines), big)
	}
}
