package cortexxdr

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// nullTotalProxy stands in front of the simulator and answers every reply
// with "total_count": null, a count the collector reads as unknown.
func nullTotalProxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	count := regexp.MustCompile(`"total_count":\s*\d+`)
	p := httputil.NewSingleHostReverseProxy(u) // keeps the api-<fqdn> Host the simulator routes by
	p.ModifyResponse = func(r *http.Response) error {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return err
		}
		b = count.ReplaceAll(b, []byte(`"total_count":null`))
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Without a count the collector cannot size its windows, so one window
// may hold more alerts than the API serves (9 999 offsets, a refusal past
// 10 000, or empty pages from 10 000 on). A window of several
// milliseconds that stops there must be read in narrower windows, not
// passed: passing it loses the alerts past the cap (in silence, or with a
// gap event naming a single millisecond).
func TestWindowWithoutCountStoppedAtTheCapIsNarrowedNotPassed(t *testing.T) {
	for name, opts := range map[string]cortexxdrtest.Options{
		"served to the count": {},
		"refused past 10000":  {RefuseBeyondCap: true},
		"empty past 10000":    {EmptyBeyond: ResultCap + 1},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, opts, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
			e.cfg.BaseURL = nullTotalProxy(t, e.sim.URL)
			e.confirmPages = 50
			n := ResultCap + 200
			specs := make([]cortexxdrtest.AlertSpec, n)
			for i := range specs {
				specs[i] = cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour + time.Duration(i)*time.Millisecond)}
			}
			ids := e.sim.AddAlerts(testFQDN, specs)
			res := e.run(context.Background(), StreamAlerts)
			mustSucceed(t, res)
			alertsOnceWithoutErrors(t, e, ids)
			t.Logf("%d requests, %d duplicates suppressed", e.sim.RequestCount(), res[0].Duplicates)
		})
	}
}

// A window in progress stored by the release before the count of
// different ids (no "distinct") resumes where it was, as that release
// would have: the ids it read are not taken for pages that overlapped,
// which would read the window again (or, for one millisecond, read it
// again three times and report a gap that is not there).
func TestWindowInProgressFromThePreviousReleaseResumesWithoutRereading(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	ids := unstableTieAlerts(e, 450, 5*time.Minute)
	res := e.runWith(context.Background(), e.store, pipeline.Budget{MaxEvents: 200}, nil, StreamAlerts)
	if res[0].Stop != pipeline.StopMaxEvents {
		t.Fatalf("first run stopped by %s, want the event budget mid-window", res[0].Stop)
	}
	b, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	distinct := regexp.MustCompile(`,"distinct":\d+`)
	if !distinct.Match(b) {
		t.Fatalf("no window in progress stored: %.300s", b)
	}
	if err := os.WriteFile(e.path, distinct.ReplaceAll(b, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	// The rest of the window is three pages (offsets 200, 300, 400).
	if requests, dups := resumedRun(t, e, ids); requests != 3 || dups != 0 {
		t.Fatalf("resumed window took %d requests with %d duplicates, want 3 and none", requests, dups)
	}
}

// Alerts inserted at exactly a window's upper bound are read again by the
// next window, which starts there. When that next window is opened by a
// later run and interrupted in its turn, the ids read before the restart
// are in the dedup set: the boundary alerts must count as read from the
// window's start, or the window looks overlapped and is read again.
func TestWindowAfterARestartCountsTheAlertsAtItsStart(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	upper := t0.Add(-e.collector().cfg.Lag) // the first run's bound
	var specs []cortexxdrtest.AlertSpec
	for range 5 { // at the bound, detected last: sorted after the rest
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: upper, Detected: t0.Add(time.Hour)})
	}
	for i := range 10 {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour + time.Duration(i)*time.Minute)})
	}
	ids := e.sim.AddAlerts(testFQDN, specs)
	mustSucceed(t, e.run(context.Background(), StreamAlerts))
	more := make([]cortexxdrtest.AlertSpec, 450)
	for i := range more {
		more[i] = cortexxdrtest.AlertSpec{Inserted: t0.Add(time.Duration(i) * 100 * time.Millisecond), Detected: t0.Add(-time.Hour)}
	}
	ids = append(ids, e.sim.AddAlerts(testFQDN, more)...)
	e.clock.Advance(10 * time.Minute)
	res := e.runWith(context.Background(), e.store, pipeline.Budget{MaxEvents: 200}, nil, StreamAlerts)
	if res[0].Stop != pipeline.StopMaxEvents {
		t.Fatalf("second run stopped by %s, want the event budget mid-window", res[0].Stop)
	}
	// The rest of the window: offsets 200, 300 and 400 of its 455 alerts,
	// the 5 at its start read again and suppressed.
	if requests, dups := resumedRun(t, e, ids); requests != 3 || dups != 5 {
		t.Fatalf("resumed window took %d requests with %d duplicates, want 3 and 5", requests, dups)
	}
}

// resumedRun runs the alerts stream once more, checks that every alert of
// ids was delivered once in all and no error event, and returns the run's
// requests and the duplicates it suppressed.
func resumedRun(t *testing.T, e *env, ids []string) (requests int, duplicates int64) {
	t.Helper()
	before := e.sim.RequestCount()
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	alertsOnceWithoutErrors(t, e, ids)
	return e.sim.RequestCount() - before, res[0].Duplicates
}
