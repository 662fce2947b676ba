package cortexxdr

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
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

// The documentation names 500 as the status of every API error (a bad
// filter value has come back as 500), so a request past the cap that the
// API will not serve may fail with 500 on every attempt rather than be
// refused with 400. It ends the millisecond the same way, reported, and
// the next run goes on; a failing stream would ask the same offset on
// every run and never move again. A 500 within the cap still fails the
// stream after the HTTP client's retries, and the next run resumes on the
// same page.
func TestMillisecondPastTheCapFailingWith500IsReportedAndPassed(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{RefuseBeyondCap: true, RefuseStatus: http.StatusInternalServerError}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	e.confirmPages = 50
	ids := e.sim.AddAlerts(testFQDN, detectedTogether(crowdedMillisecond(t0.Add(-time.Hour), ResultCap+50)))
	served := append(ids[:ResultCap+1:ResultCap+1], ids[len(ids)-1]) // offsets up to 10 000, and the alert after

	// Within the cap: retried, then the stream fails and commits nothing.
	if res := e.runWith(context.Background(), e.store, pipeline.Budget{MaxEvents: 5000}, nil, StreamAlerts); res[0].Stop != pipeline.StopMaxEvents {
		t.Fatalf("first run stopped by %s, want the event budget inside the millisecond", res[0].Stop)
	}
	e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: cortexxdrtest.FaultInternalError, Count: 4}) // the HTTP client's attempts
	if res := e.run(context.Background(), StreamAlerts); res[0].Success || res[0].CursorAdvanced || e.sim.FaultsPending() != 0 {
		t.Fatalf("a 500 within the cap: result %+v, %d faults left; want a failed run that moved nothing", res[0], e.sim.FaultsPending())
	}

	// Past the cap: reported, passed.
	e.sim.ResetRequests()
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	if e.sim.Answered(http.StatusInternalServerError) == 0 {
		t.Fatal("no request past the cap met a 500: the test shows nothing")
	}
	d := delivered(t, e.sink)
	for _, id := range served {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times; %d delivered, want the %d the API served, once each", id, d["alert"][id], len(d["alert"]), len(served))
		}
	}
	errs := errorLines(t, e.sink)
	if len(errs) != 2 || errs[0].xdr["error_code"] != pipeline.CodeHTTP500 || errs[1].xdr["error_code"] != pipeline.CodeCollectionGap {
		t.Fatalf("error events %v, want the 500 within the cap, then one collection gap", errs)
	}
	if detail, _ := errs[1].xdr["error_detail"].(string); !strings.Contains(detail, "HTTP 500") || !strings.Contains(detail, fmt.Sprint(ResultCap+1)) {
		t.Fatalf("gap detail %q does not say what could not be read", detail)
	}

	// Not stuck: the next run reads what came after.
	later := e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: e.clock.Advance(10 * time.Minute).Add(-5 * time.Minute)})
	mustSucceed(t, e.run(context.Background(), StreamAlerts))
	if d := delivered(t, e.sink); d["alert"][later] != 1 || len(d["alert"]) != len(served)+1 || len(errorLines(t, e.sink)) != 2 {
		t.Fatalf("next run: alert after the gap delivered %d times, %d alerts, %d error events", d["alert"][later], len(d["alert"]), len(errorLines(t, e.sink)))
	}
}

// What ends a read past the cap is the API declining the offset: a
// refusal, or a server error that every retry met. A throttle, whatever
// its status, or a failure to reach the API says nothing about the offset
// and fails the stream as anywhere else (the next run asks again).
func TestWhatDeclinesAnOffsetPastTheCap(t *testing.T) {
	throttle := `{"reply":{"err_code":429,"err_msg":"Too many requests","err_extra":null}}`
	for _, tc := range []struct {
		err  error
		want int
	}{
		{&httpx.StatusError{Status: http.StatusBadRequest}, http.StatusBadRequest},
		{&httpx.StatusError{Status: http.StatusUnprocessableEntity}, http.StatusUnprocessableEntity},
		{&pipeline.Error{Code: pipeline.CodeHTTP500, Err: &httpx.StatusError{Status: http.StatusInternalServerError, Body: `{"reply":{"err_code":500,"err_msg":"An internal error occurred"}}`}}, http.StatusInternalServerError},
		{&httpx.StatusError{Status: http.StatusGatewayTimeout}, http.StatusGatewayTimeout},
		{&httpx.StatusError{Status: http.StatusServiceUnavailable, Body: throttle}, 0},
		{&httpx.StatusError{Status: http.StatusBadRequest, Body: throttle}, 0},
		{&httpx.StatusError{Status: http.StatusTooManyRequests}, 0},
		{&httpx.StatusError{Status: http.StatusUnauthorized}, 0},
		{&httpx.TransportError{Kind: httpx.KindTimeout, Op: "request", Err: context.DeadlineExceeded}, 0},
	} {
		if got := unservedPastCap(tc.err); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.err, got, tc.want)
		}
	}
}

// An API may also stop serving past the cap without an error, with empty
// pages: at offset 10 000 (a search engine's default window), which the
// count (9 999) does not reach, or further. The read then ends on an
// empty page as it would at the end of the alerts, and the collector
// cannot tell which it was: it reports that alerts past that offset may
// be missing, and goes on.
func TestMillisecondPastTheCapEndingOnAnEmptyPageIsReported(t *testing.T) {
	for _, reach := range []int{ResultCap + 1, ResultCap + 201} {
		t.Run(fmt.Sprint(reach), func(t *testing.T) {
			e := newEnv(t, cortexxdrtest.Options{EmptyBeyond: reach}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
			e.confirmPages = 50
			ids := e.sim.AddAlerts(testFQDN, detectedTogether(crowdedMillisecond(t0.Add(-time.Hour), ResultCap+300)))
			served := append(ids[:reach:reach], ids[len(ids)-1])
			mustSucceed(t, e.run(context.Background(), StreamAlerts))
			d := delivered(t, e.sink)
			for _, id := range served {
				if d["alert"][id] != 1 {
					t.Fatalf("alert %s delivered %d times; %d delivered, want the %d the API served, once each", id, d["alert"][id], len(d["alert"]), len(served))
				}
			}
			errs := errorLines(t, e.sink)
			if len(errs) != 1 || errs[0].xdr["error_code"] != pipeline.CodeCollectionGap {
				t.Fatalf("error events %v, want one collection gap", errs)
			}
			if detail, _ := errs[0].xdr["error_detail"].(string); !strings.Contains(detail, fmt.Sprint(reach)) {
				t.Fatalf("gap detail %q does not name the offset reached", detail)
			}
			later := e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: e.clock.Advance(10 * time.Minute).Add(-5 * time.Minute)})
			mustSucceed(t, e.run(context.Background(), StreamAlerts))
			if d := delivered(t, e.sink); d["alert"][later] != 1 || len(errorLines(t, e.sink)) != 1 {
				t.Fatalf("next run: alert after the gap delivered %d times, %d error events", d["alert"][later], len(errorLines(t, e.sink)))
			}
		})
	}
}

// detectedTogether gives alerts one detection time, so that sorted by it
// they come in id order (the simulator's stable order of ties), which is
// insertion order: the alerts an API serves up to an offset are the first
// ones inserted.
func detectedTogether(specs []cortexxdrtest.AlertSpec) []cortexxdrtest.AlertSpec {
	for i := range specs {
		specs[i].Detected = t0.Add(-3 * time.Hour)
	}
	return specs
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
