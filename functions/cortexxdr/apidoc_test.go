package cortexxdr

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// Behaviour the API documents, or leaves open, that the collector must not
// rely on either way (docs/cortexxdr.md): records past the 9 999 count,
// the status of a throttle, the order of records with the same sort value.

// The API stops counting at 9 999 but serves the records past that offset
// to a client that keeps paging: a millisecond holding more is read whole,
// and nothing is reported missing.
func TestMillisecondPastTheCapIsReadWholeWhenTheAPIServesIt(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{ServeBeyondCap: true}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.confirmPages = 20
	specs := crowdedMillisecond(t0.Add(-time.Hour), ResultCap+150)
	ids := e.sim.AddAlerts(testFQDN, specs)
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	alertsOnceWithoutErrors(t, e, ids)
}

// Whether offsets past the cap can be asked for at all is not documented
// beyond "use paging": an API that refuses them (400) ends the millisecond
// as one that serves nothing there does, reported, and collection goes on
// after it rather than failing on it forever.
func TestMillisecondPastTheCapRefusedIsReportedAndPassed(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{RefuseBeyondCap: true}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.confirmPages = 50
	specs := crowdedMillisecond(t0.Add(-time.Hour), ResultCap+50)
	ids := e.sim.AddAlerts(testFQDN, specs)
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	d := delivered(t, e.sink)
	if len(d["alert"]) != ResultCap+2 || d["alert"][ids[len(ids)-1]] != 1 {
		t.Fatalf("%d alerts delivered: want the %d the API serves of that millisecond and the one after it", len(d["alert"]), ResultCap+1)
	}
	errs := errorLines(t, e.sink)
	if len(errs) != 1 || errs[0].xdr["error_code"] != pipeline.CodeCollectionGap {
		t.Fatalf("errors %v, want one collection gap", errs)
	}
}

// Past the cap, the count cannot tell whether pages overlapped, but the
// offsets read can: a millisecond past the cap whose alerts come in
// another order on each page is read again, or reported.
func TestMillisecondPastTheCapOrderedDifferentlyIsReadAgainOrReported(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{ServeBeyondCap: true, UnstableTies: true}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.confirmPages = 50
	at := t0.Add(-time.Hour)
	specs := make([]cortexxdrtest.AlertSpec, ResultCap+150)
	for i := range specs {
		specs[i] = cortexxdrtest.AlertSpec{Inserted: at, Detected: at.Add(-time.Minute)}
	}
	ids := e.sim.AddAlerts(testFQDN, specs)
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	d := delivered(t, e.sink)
	missing := 0
	for _, id := range ids {
		switch d["alert"][id] {
		case 0:
			missing++
		case 1:
		default:
			t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
		}
	}
	if res[0].Duplicates == 0 {
		t.Fatal("the millisecond was not read again")
	}
	errs := errorLines(t, e.sink)
	if missing > 0 && (len(errs) == 0 || errs[0].xdr["error_code"] != pipeline.CodeCollectionGap) {
		t.Fatalf("%d alerts missing without a collection gap event", missing)
	}
	t.Logf("%d requests, %d missing, %d error events", e.sim.RequestCount(), missing, len(errs))
}

// The API documents its throttle by message ("Too many requests"), not by
// status. Whatever status carries it, the request is retried after a
// pause, and the run neither fails nor loses anything.
func TestThrottleIsRetriedWhateverItsStatus(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusBadRequest, http.StatusForbidden, http.StatusServiceUnavailable, http.StatusOK} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newEnv(t, cortexxdrtest.Options{RateLimit: 2, ThrottleStatus: status}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
			e.cfg.RequestsPerSecond = 8
			specs := make([]cortexxdrtest.AlertSpec, 900)
			for i := range specs {
				specs[i] = cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour + time.Duration(i)*time.Second)}
			}
			ids := e.sim.AddAlerts(testFQDN, specs)
			res := e.run(context.Background(), StreamAlerts)
			mustSucceed(t, res)
			if e.sim.Answered(status) == 0 {
				t.Fatalf("no request was throttled (with %d): the test shows nothing", status)
			}
			alertsOnceWithoutErrors(t, e, ids)
		})
	}
}

// A 400 that is not a throttle is still not retried: the request itself
// is refused, and asking again would only repeat it.
func TestRefusedRequestIsNotRetriedAsAThrottle(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.sim.Inject(cortexxdrtest.Fault{Kind: cortexxdrtest.FaultEchoHeaders, Status: http.StatusBadRequest})
	e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour)})
	res := e.run(context.Background(), StreamAlerts)
	if res[0].Success || e.sim.RequestCount() != 1 {
		t.Fatalf("result %+v after %d requests: want a failed run after one request", res[0], e.sim.RequestCount())
	}
}

// unstableTieAlerts inserts n alerts over span before t0, all detected at
// the same moment: with the window sorted by creation_time they are one
// tie, which the API may order differently on every page.
func unstableTieAlerts(e *env, n int, span time.Duration) []string {
	specs := make([]cortexxdrtest.AlertSpec, n)
	detected := t0.Add(-3 * time.Hour)
	for i := range specs {
		specs[i] = cortexxdrtest.AlertSpec{Inserted: t0.Add(-10*time.Minute + span*time.Duration(i)/time.Duration(n)), Detected: detected}
	}
	return e.sim.AddAlerts(testFQDN, specs)
}

// The API documents the sort field, not the order of records with the
// same value. When it orders them differently on each request, offset
// paging reads some twice and skips others; the collector sees that a
// window gave fewer different alerts than its count and reads it again in
// narrower windows, so that every alert arrives once.
func TestAlertsOrderedDifferentlyOnEachPageAreAllDelivered(t *testing.T) {
	for _, unstable := range []bool{false, true} {
		t.Run(fmt.Sprintf("unstable=%v", unstable), func(t *testing.T) {
			e := newEnv(t, cortexxdrtest.Options{UnstableTies: unstable}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
			ids := unstableTieAlerts(e, 450, 5*time.Minute)
			res := e.run(context.Background(), StreamAlerts)
			mustSucceed(t, res)
			alertsOnceWithoutErrors(t, e, ids)
			if !unstable && e.sim.RequestCount() != 5 {
				// A stable order costs nothing: one query, five pages.
				t.Fatalf("%d requests with a stable order, want 5", e.sim.RequestCount())
			}
			t.Logf("%d requests, %d duplicates suppressed", e.sim.RequestCount(), res[0].Duplicates)
		})
	}
}

// The same across runs that stop mid-window (a Lambda's deadline, the
// event budget): the count of different alerts survives the restart, and
// the ids read before it are not counted twice.
func TestAlertsOrderedDifferentlyAcrossInterruptedRunsAreAllDelivered(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{UnstableTies: true}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	ids := unstableTieAlerts(e, 450, 5*time.Minute)
	for run := 0; ; run++ {
		if run == 40 {
			t.Fatal("not caught up after 40 runs")
		}
		res := e.runWith(context.Background(), e.store, pipeline.Budget{MaxEvents: 60}, nil, StreamAlerts)
		mustSucceed(t, res)
		if res[0].Stop == pipeline.StopCaughtUp {
			break
		}
	}
	alertsOnceWithoutErrors(t, e, ids)
}

// A millisecond cannot be narrowed: when its alerts come in another order
// on each page, it is read again until every alert arrived, or the run
// says some may be missing. It never delivers one twice, and never loses
// one in silence.
func TestMillisecondOrderedDifferentlyOnEachPageIsReadAgainOrReported(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{UnstableTies: true}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.cfg.PageSize = 50
	ids := unstableTieAlerts(e, 120, 0) // one millisecond
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	d := delivered(t, e.sink)
	missing := 0
	for _, id := range ids {
		switch d["alert"][id] {
		case 0:
			missing++
		case 1:
		default:
			t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
		}
	}
	errs := errorLines(t, e.sink)
	if missing > 0 && (len(errs) != 1 || errs[0].xdr["error_code"] != pipeline.CodeCollectionGap) {
		t.Fatalf("%d alerts missing without a collection gap event (errors: %v)", missing, errs)
	}
	if missing == 0 && len(errs) != 0 {
		t.Fatalf("error events %v though every alert arrived", errs[0].xdr)
	}
	if res[0].Duplicates == 0 {
		t.Fatal("the millisecond was not read again")
	}
	t.Logf("%d requests, %d missing", e.sim.RequestCount(), missing)
}

// The API compresses its replies for a client that accepts gzip: the
// collector asks for it (through the HTTP client's transport) and reads
// the compressed pages of both streams.
func TestGzipRepliesAreRead(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{Gzip: true}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	ids := someAlerts(e, 250)
	inc := e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: t0.Add(-time.Hour)})
	mustSucceed(t, e.run(context.Background()))
	d := delivered(t, e.sink)
	if len(d["alert"]) != len(ids) || len(d["incident"]) != 1 {
		t.Fatalf("delivered %d of %d alerts, %d incidents (want %s)", len(d["alert"]), len(ids), len(d["incident"]), inc)
	}
	for _, r := range e.sim.Requests() {
		if !r.Gzip {
			t.Fatalf("request %s was answered uncompressed: the collector did not accept gzip", r.Path)
		}
	}
}

// A bulk action (an analyst resolving many incidents at once) can give
// hundreds of incidents the same modification_time. When the API orders
// them differently on each page, the changes of that millisecond still
// all arrive once.
func TestBulkIncidentChangeOrderedDifferentlyOnEachPageIsDeliveredWhole(t *testing.T) {
	for _, unstable := range []bool{false, true} {
		t.Run(fmt.Sprintf("unstable=%v", unstable), func(t *testing.T) {
			e := newEnv(t, cortexxdrtest.Options{UnstableTies: unstable}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
			var ids []string
			for i := 0; i < 260; i++ {
				ids = append(ids, e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: t0.Add(-5*time.Hour + time.Duration(i)*time.Minute/2)}))
			}
			mustSucceed(t, e.run(context.Background(), StreamIncidents))
			bulk := t0.Add(time.Minute)
			for _, id := range ids {
				e.sim.ChangeIncident(testFQDN, id, cortexxdrtest.IncidentChange{At: bulk, Status: "resolved_false_positive"})
			}
			e.clock.Advance(5 * time.Minute)
			mustSucceed(t, e.run(context.Background(), StreamIncidents))
			d := delivered(t, e.sink)
			for _, v := range e.sim.IncidentVersions(testFQDN) {
				if d["incident"][v.Key()] != 1 {
					t.Fatalf("incident %s in state %s delivered %d times; %d changes delivered", v.ID, v.Status, d["incident"][v.Key()], len(d["incident"]))
				}
			}
			if errs := errorLines(t, e.sink); len(errs) != 0 {
				t.Fatalf("error events %v, want none", errs[0].xdr)
			}
			t.Logf("%d requests", e.sim.RequestCount())
		})
	}
}

// A cursor stored by the version that paged a millisecond of changes by
// offset resumes it by creation time, from its start; one that makes no
// sense is refused, not reset.
func TestIncidentCursorOfTheOffsetVersionResumesByCreationTime(t *testing.T) {
	var c incidentCursor
	if err := c.decode([]byte(`{"watermark":1772438400000,"skip":40,"to":1772438500000}`)); err != nil {
		t.Fatal(err)
	}
	if c != (incidentCursor{Watermark: 1772438400000, To: 1772438500000, Created: 1}) {
		t.Fatalf("decoded %+v", c)
	}
	for _, bad := range []string{`{"watermark":1772438400000,"skip":40}`, `{"watermark":1772438400000,"created":5}`, `{"watermark":1772438400000,"created":-1,"to":1772438500000}`} {
		if err := c.decode([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// Incidents created in one millisecond and changed in one millisecond, a
// full page of them, can only be paged by offset: when the API orders them
// differently on each page they are read again, or reported; never lost
// in silence.
func TestIncidentsOfOneCreationAndOneChangeMillisecondAreReadAgainOrReported(t *testing.T) {
	for _, unstable := range []bool{false, true} {
		t.Run(fmt.Sprintf("unstable=%v", unstable), func(t *testing.T) {
			e := newEnv(t, cortexxdrtest.Options{UnstableTies: unstable}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
			e.cfg.PageSize = 20
			at := t0.Add(-time.Hour)
			for i := 0; i < 70; i++ {
				e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: at})
			}
			mustSucceed(t, e.run(context.Background(), StreamIncidents))
			d := delivered(t, e.sink)
			missing := 0
			for _, v := range e.sim.IncidentVersions(testFQDN) {
				switch d["incident"][v.Key()] {
				case 0:
					missing++
				case 1:
				default:
					t.Fatalf("incident %s delivered %d times", v.Key(), d["incident"][v.Key()])
				}
			}
			errs := errorLines(t, e.sink)
			if missing > 0 && (len(errs) != 1 || errs[0].xdr["error_code"] != pipeline.CodeCollectionGap) {
				t.Fatalf("%d incidents missing without a collection gap event (errors: %v)", missing, errs)
			}
			if missing == 0 && len(errs) != 0 {
				t.Fatalf("error events %v though every incident arrived", errs[0].xdr)
			}
			// With a stable order nothing is read again: a page to reach
			// the millisecond, one finding it full, one by creation time
			// finding that full too, four by offset, one after it.
			if !unstable && (missing != 0 || e.sim.RequestCount() != 8) {
				t.Fatalf("stable order: %d missing after %d requests, want none after 8", missing, e.sim.RequestCount())
			}
			t.Logf("%d requests, %d missing", e.sim.RequestCount(), missing)
		})
	}
}
