package cortexxdr

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// requestPaging reads search_from/search_to and the time filter of a
// logged request body.
func requestPaging(t testing.TB, body []byte) (from, to int, gte, lte int64) {
	t.Helper()
	var v struct {
		RD struct {
			Filters []struct {
				Operator string `json:"operator"`
				Value    int64  `json:"value"`
			} `json:"filters"`
			From int `json:"search_from"`
			To   int `json:"search_to"`
		} `json:"request_data"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("request body %s: %v", body, err)
	}
	for _, f := range v.RD.Filters {
		if f.Operator == "gte" {
			gte = f.Value
		} else {
			lte = f.Value
		}
	}
	return v.RD.From, v.RD.To, gte, lte
}

func TestOutageOf50000AlertsIsCaughtUpWithoutCapLoss(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.confirmPages = 20 // as through a syslog sink: fewer commits, same algorithm
	ctx := context.Background()
	// The collector is up, then down for three hours while 50 000 alerts
	// arrive, 12 000 of them within one minute.
	e.clock.AdvanceTo(t0.Add(5 * time.Minute))
	mustSucceed(t, e.run(ctx))
	rng := rand.New(rand.NewPCG(7, 7))
	outage := t0.Add(10 * time.Minute)
	var specs []cortexxdrtest.AlertSpec
	for i := 0; i < 38000; i++ {
		at := outage.Add(time.Duration(rng.Int64N(int64(3 * time.Hour)))).Truncate(time.Millisecond)
		sp := cortexxdrtest.AlertSpec{Inserted: at, Lag: time.Duration(rng.Int64N(int64(time.Minute)))}
		if i%10 == 0 {
			sp.Detected = at.Add(-5 * time.Hour)
		}
		specs = append(specs, sp)
	}
	storm := outage.Add(time.Hour)
	for i := 0; i < 12000; i++ {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: storm.Add(time.Duration(rng.Int64N(int64(time.Minute)))).Truncate(time.Millisecond)})
	}
	ids := e.sim.AddAlerts(testFQDN, specs)

	// Scheduled runs resume after the outage, each bounded like a wodle
	// run, until the backlog is gone.
	at := outage.Add(3*time.Hour + 5*time.Minute)
	runs := 0
	for ; runs < 20; runs++ {
		e.clock.AdvanceTo(at)
		res := e.runWith(ctx, e.store, pipeline.Budget{MaxEvents: 15000}, nil, StreamAlerts)
		mustSucceed(t, res)
		at = at.Add(5 * time.Minute)
		if !res[0].Backlog {
			break
		}
	}
	d := delivered(t, e.sink)
	for _, id := range ids {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
		}
	}
	if len(d["alert"]) != len(ids) || runs < 3 {
		t.Fatalf("%d alerts delivered of %d, in %d runs", len(d["alert"]), len(ids), runs+1)
	}
	// No query ever needed an offset near the cap, and every window was
	// narrowed to at most WindowMax alerts before it was paged.
	windows := map[[2]int64]int{}
	for _, r := range e.sim.Requests() {
		from, to, gte, lte := requestPaging(t, r.Body)
		if to > 1000 || to-from > MaxPageSize {
			t.Fatalf("request for results %d-%d", from, to)
		}
		if from > 0 {
			windows[[2]int64{gte, lte}] = max(windows[[2]int64{gte, lte}], r.Total)
		}
	}
	for w, total := range windows {
		if total > 1000 {
			t.Fatalf("window %v paged with %d alerts", w, total)
		}
	}
	t.Logf("%d runs, %d requests, %d paged windows", runs+1, e.sim.RequestCount(), len(windows))
}

// TestSteadyCatchUpThrowsAwayFewPages: a window whose count exceeds
// WindowMax is narrowed, and the page that query returned is thrown away.
// At a steady rate the next window is sized from the last one's density,
// so only the first window of a catch-up is narrowed (halving from the
// whole backlog), not every window.
func TestSteadyCatchUpThrowsAwayFewPages(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	ctx := context.Background()
	e.clock.AdvanceTo(t0.Add(5 * time.Minute))
	mustSucceed(t, e.run(ctx, StreamAlerts))
	const n = 10000 // over 10 hours: 1 000 an hour
	from := t0.Add(10 * time.Minute)
	specs := make([]cortexxdrtest.AlertSpec, n)
	for i := range specs {
		specs[i].Inserted = from.Add(time.Duration(i) * 10 * time.Hour / n)
	}
	ids := e.sim.AddAlerts(testFQDN, specs)
	e.sim.ResetRequests()
	e.clock.AdvanceTo(from.Add(10*time.Hour + 10*time.Minute))
	mustSucceed(t, e.run(ctx, StreamAlerts))
	d := delivered(t, e.sink)
	for _, id := range ids {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
		}
	}
	thrown := 0
	for _, r := range e.sim.Requests() {
		if from, _, _, _ := requestPaging(t, r.Body); from == 0 && r.Total > 1000 {
			thrown++
		}
	}
	// Halving 10 000 down to 1 000 takes four queries. The first window
	// also spans the quiet minutes before the backlog, so the second, at
	// most twice as wide, may be narrowed once more; every later window
	// fits at the first try (sized at the last one's density, one page was
	// thrown away per window).
	if thrown > 5 {
		t.Fatalf("%d of %d queries were narrowed and their page thrown away, want at most 5", thrown, e.sim.RequestCount())
	}
	t.Logf("%d requests for %d alerts, %d pages thrown away", e.sim.RequestCount(), n, thrown)
}

// A window cannot be narrowed below one millisecond: when one millisecond
// holds more alerts than the API counts (and serves), the run says so and
// goes on after it.
func TestMillisecondBeyondTheCapIsReported(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.confirmPages = 20
	specs := crowdedMillisecond(t0.Add(-time.Hour), ResultCap+50)
	e.sim.AddAlerts(testFQDN, specs)
	res := e.run(context.Background(), StreamAlerts)
	d := delivered(t, e.sink)
	if len(d["alert"]) != ResultCap+1 {
		t.Fatalf("%d alerts delivered: want the %d the API serves of that millisecond and the one after it", len(d["alert"]), ResultCap)
	}
	errs := errorLines(t, e.sink)
	if len(errs) != 1 || errs[0].xdr["error_code"] != pipeline.CodeCollectionGap || res[0].Stop != pipeline.StopCaughtUp {
		t.Fatalf("errors %v, result %+v", errs, res[0])
	}
}

// An alert that becomes visible later than Lag allows, while its window is
// paged, and sorts before the offset already reached, is not skipped: the
// window's count grew, so it is read again.
func TestAlertVisibleWhileItsWindowIsPagedIsNotSkipped(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.cfg.PageSize = 10
	var specs []cortexxdrtest.AlertSpec
	for i := 0; i < 250; i++ {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: t0.Add(-10*time.Minute + time.Duration(i)*time.Second)})
	}
	ids := e.sim.AddAlerts(testFQDN, specs)
	// Inserted inside the run's window, detected long ago (so it sorts
	// first), visible two seconds into the run, after the first pages.
	late := e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-150 * time.Second), Detected: t0.Add(-9 * time.Hour), Lag: 152 * time.Second})
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	d := delivered(t, e.sink)
	for _, id := range append(ids, late) {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
		}
	}
	if res[0].Duplicates == 0 {
		t.Fatal("the window was not read again")
	}
}

// An alert hidden while its window is paged (an alert exclusion made
// then) shifts the alerts after it one offset back: the one that moves
// across a page boundary would be skipped. The window's count fell, so it
// is read again.
func TestAlertHiddenWhileItsWindowIsPagedSkipsNoOther(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.cfg.PageSize = 10
	var specs []cortexxdrtest.AlertSpec
	for i := 0; i < 250; i++ {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: t0.Add(-10*time.Minute + time.Duration(i)*time.Second), Detected: t0.Add(-time.Hour + time.Duration(i)*time.Second)})
	}
	// The third alert (in creation_time order) is hidden two seconds into
	// the run, after the first pages were read.
	specs[2].Excluded = t0.Add(2 * time.Second)
	ids := e.sim.AddAlerts(testFQDN, specs)
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	d := delivered(t, e.sink)
	for i, id := range ids {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %d (%s) delivered %d times", i, id, d["alert"][id])
		}
	}
}
