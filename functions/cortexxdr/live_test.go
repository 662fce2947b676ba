package cortexxdr

import (
	"context"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
)

// schedule is a tenant's life over a simulated period: alerts arriving
// continuously, each visible up to a minute after the API inserted it,
// one in ten uploaded hours after detection by an endpoint that was
// offline, bursts sharing one millisecond, and incidents moving through
// their lifecycle.
type schedule struct {
	alerts    []string
	incidents []string
}

func buildSchedule(t testing.TB, sim *cortexxdrtest.Server, start time.Time, span time.Duration, meanGap time.Duration, seed uint64, boundaries []time.Time) schedule {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	var specs []cortexxdrtest.AlertSpec
	lag := func() time.Duration { return time.Duration(rng.Int64N(int64(60 * time.Second))) }
	for at := start; at.Before(start.Add(span)); at = at.Add(time.Duration(rng.ExpFloat64() * float64(meanGap))) {
		sp := cortexxdrtest.AlertSpec{Inserted: at.Truncate(time.Millisecond), Lag: lag()}
		if rng.IntN(10) == 0 {
			sp.Detected = at.Add(-time.Hour - time.Duration(rng.Int64N(int64(7*time.Hour))))
		}
		specs = append(specs, sp)
	}
	// Bursts of one millisecond across page boundaries, some of them on
	// the exact upper bound of a run's window, which the next window
	// starts at again.
	bursts := []time.Time{start.Add(span / 3).Truncate(time.Millisecond), start.Add(2 * span / 3).Truncate(time.Millisecond)}
	bursts = append(bursts, boundaries...)
	for _, b := range bursts {
		for i := 0; i < 230; i++ {
			specs = append(specs, cortexxdrtest.AlertSpec{Inserted: b, Lag: lag()})
		}
	}
	s := schedule{alerts: sim.AddAlerts(testFQDN, specs)}
	statuses := []string{"under_investigation", "resolved_true_positive", "resolved_false_positive"}
	for i := 0; i < 40; i++ {
		created := start.Add(time.Duration(rng.Int64N(int64(max(span-2*time.Hour, span/3))))).Truncate(time.Millisecond)
		id := sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: created, Lag: lag(), AlertCount: 1 + rng.IntN(4)})
		at := created
		for j, st := range statuses[:1+rng.IntN(3)] {
			at = at.Add(12*time.Minute + time.Duration(rng.Int64N(int64(25*time.Minute))))
			ch := cortexxdrtest.IncidentChange{At: at, Lag: lag(), Status: st, AddAlerts: j % 2, AssignTo: "Ana Analyst"}
			if st != "under_investigation" {
				ch.ResolveComment = "closed by the SOC"
			}
			sim.ChangeIncident(testFQDN, id, ch)
		}
		s.incidents = append(s.incidents, id)
	}
	return s
}

func TestLiveScheduleDeliversEveryAlertAndIncidentChangeOnce(t *testing.T) {
	liveSchedule(t, cortexxdrtest.Options{}, true)
}

// The same schedule against the other reading of everything the vendor
// leaves open at once: ties in another order on every request, offsets
// past 10 000 refused, a throttle answered 403 (the tenant allowing three
// requests a second, fewer than the collector sends), gzip replies.
func TestLiveScheduleOnEveryUndocumentedVariant(t *testing.T) {
	liveSchedule(t, cortexxdrtest.Options{UnstableTies: true, RefuseBeyondCap: true, Gzip: true, ThrottleStatus: http.StatusForbidden, RateLimit: 3}, false)
}

// liveSchedule polls four hours of arrivals every five minutes; paced
// says the tenant never throttles, so that pacing is checked too.
func liveSchedule(t *testing.T, opts cortexxdrtest.Options, paced bool) {
	e := newEnv(t, opts, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	const poll = 5 * time.Minute
	span := 4 * time.Hour
	// Runs start on the clock exactly, so a run's upper bound is its start
	// less the lag: put two bursts right there.
	boundaries := []time.Time{t0.Add(20*poll - e.collector().cfg.Lag), t0.Add(37*poll - e.collector().cfg.Lag)}
	sch := buildSchedule(t, e.sim, t0, span, 4*time.Second, 1, boundaries)
	ctx := context.Background()
	runs, dups := 0, int64(0)
	for at := t0.Add(poll); !at.After(t0.Add(span + 3*poll)); at = at.Add(poll) {
		e.clock.AdvanceTo(at)
		res := e.run(ctx)
		mustSucceed(t, res)
		for _, r := range res {
			dups += r.Duplicates
		}
		runs++
	}
	if dups < 2*230 {
		t.Fatalf("only %d re-served alerts were suppressed: the bursts on window bounds were not read twice", dups)
	}
	d := delivered(t, e.sink)
	for _, id := range sch.alerts {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
		}
	}
	if len(d["alert"]) != len(sch.alerts) {
		t.Fatalf("%d distinct alerts delivered, %d exist", len(d["alert"]), len(sch.alerts))
	}
	versions := e.sim.IncidentVersions(testFQDN)
	for _, v := range versions {
		if d["incident"][v.Key()] != 1 {
			t.Fatalf("incident %s changed at %d (%s) delivered %d times", v.ID, v.Modified, v.Status, d["incident"][v.Key()])
		}
	}
	if len(d["incident"]) != len(versions) || len(d["error"]) != 0 {
		t.Fatalf("%d incident changes delivered of %d; %d errors", len(d["incident"]), len(versions), len(d["error"]))
	}
	if !paced {
		t.Logf("%d runs, %d alerts, %d incident changes, %d requests, %d throttled", runs, len(sch.alerts), len(versions), e.sim.RequestCount(), e.sim.Answered(opts.ThrottleStatus))
		return
	}
	// Pacing kept the tenant well below its limit: never throttled, and
	// never more than 4 requests in any second of the API's clock.
	perSecond := map[int64]int{}
	for _, r := range e.sim.Requests() {
		if r.Status != http.StatusOK {
			t.Fatalf("request answered %d: %s", r.Status, r.ErrMsg)
		}
		perSecond[r.Time.Unix()]++
		if perSecond[r.Time.Unix()] > DefaultRequestsPerSecond {
			t.Fatalf("%d requests in one second", perSecond[r.Time.Unix()])
		}
	}
	t.Logf("%d runs, %d alerts, %d incident changes, %d requests", runs, len(sch.alerts), len(versions), e.sim.RequestCount())
}

// The seed's algorithm against the same kind of schedule: creation_time
// filter, cursor = newest creation_time + 1 ms, no lag. It loses alerts,
// which is what the test above guards against (and shows the simulator
// models the traps).
func TestSeedAlgorithmLosesAlertsOnTheSameSchedule(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	sch := buildSchedule(t, e.sim, t0, 3*time.Hour, 4*time.Second, 2, nil)
	c := e.collector()
	seen := map[string]bool{}
	cursor := int64(0)
	for at := t0.Add(5 * time.Minute); !at.After(t0.Add(3*time.Hour + 15*time.Minute)); at = at.Add(5 * time.Minute) {
		e.clock.AdvanceTo(at)
		if cursor == 0 {
			cursor = at.Add(-24 * time.Hour).UnixMilli()
		}
		latest := cursor
		for offset := 0; ; offset += 100 {
			body := []byte(`{"request_data":{"filters":[{"field":"creation_time","operator":"gte","value":` + itoa(cursor) + `}],"search_from":` + itoa(int64(offset)) + `,"search_to":` + itoa(int64(offset+100)) + `,"sort":{"field":"creation_time","keyword":"asc"}}}`)
			resp, err := c.post(context.Background(), PathAlertsForTest, body, nil)
			if err != nil {
				t.Fatal(err)
			}
			dec := newDecoder(Streams()[0])
			r, err := dec.decode(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range r.items {
				seen[it.Key] = true
				var created int64
				if v, ok := jsonField(it.Raw, "detection_timestamp"); ok {
					created, _ = millis(v)
				}
				latest = max(latest, created)
			}
			if len(r.items) < 100 {
				break
			}
		}
		if latest > cursor {
			cursor = latest + 1
		}
	}
	lost := 0
	for _, id := range sch.alerts {
		if !seen[id] {
			lost++
		}
	}
	if lost == 0 {
		t.Fatal("the seed's algorithm lost nothing: the schedule does not exercise late uploads and visibility lag")
	}
	t.Logf("seed algorithm lost %d of %d alerts", lost, len(sch.alerts))
}
