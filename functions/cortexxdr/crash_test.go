package cortexxdr

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// flakyStore fails the commit numbered failAt (counting from 1) of any
// stream, as a full disk or a lost DynamoDB lease would.
type flakyStore struct {
	state.Store
	mu      sync.Mutex
	commits int
	failAt  int
}

func (f *flakyStore) Lock(ctx context.Context, k state.Key, o state.LockOptions) (state.Lease, error) {
	l, err := f.Store.Lock(ctx, k, o)
	if err != nil {
		return nil, err
	}
	return &flakyLease{Lease: l, f: f}, nil
}

type flakyLease struct {
	state.Lease
	f *flakyStore
}

func (l *flakyLease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	l.f.mu.Lock()
	l.f.commits++
	fail := l.f.commits == l.f.failAt
	l.f.mu.Unlock()
	if fail {
		return 0, errors.New("disk full")
	}
	return l.Lease.Commit(ctx, rec)
}

// cancellingSink cancels the run while writing page number cancelAt.
type cancellingSink struct {
	*recordingSink
	mu       sync.Mutex
	writes   int
	cancelAt int
	cancel   context.CancelFunc
}

func (c *cancellingSink) Write(ctx context.Context, b []byte) error {
	c.mu.Lock()
	c.writes++
	hit := c.writes == c.cancelAt
	c.mu.Unlock()
	if hit {
		c.cancel()
	}
	return c.recordingSink.Write(ctx, b)
}

func TestCrashMidCatchUpLosesNothingAndRepeatsAtMostAPage(t *testing.T) {
	kinds := []string{"sink", "commit", "cancel"}
	for trial := 0; trial < 5; trial++ {
		t.Run(fmt.Sprint(trial), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(trial), 99))
			e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
			e.cfg.WindowMax = 500 // several windows, so crashes land in window openings too
			var specs []cortexxdrtest.AlertSpec
			for i := 0; i < 1600; i++ {
				at := t0.Add(-5 * time.Hour).Add(time.Duration(rng.Int64N(int64(4 * time.Hour)))).Truncate(time.Millisecond)
				specs = append(specs, cortexxdrtest.AlertSpec{Inserted: at, Lag: time.Duration(rng.Int64N(int64(time.Minute)))})
			}
			for i := 0; i < 150; i++ { // a burst across pages and windows
				specs = append(specs, cortexxdrtest.AlertSpec{Inserted: t0.Add(-3 * time.Hour)})
			}
			ids := e.sim.AddAlerts(testFQDN, specs)
			for i := 0; i < 260; i++ {
				created := t0.Add(-5 * time.Hour).Add(time.Duration(rng.Int64N(int64(4 * time.Hour)))).Truncate(time.Millisecond)
				id := e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: created})
				if i%3 == 0 {
					e.sim.ChangeIncident(testFQDN, id, cortexxdrtest.IncidentChange{At: created.Add(30 * time.Minute), Status: "under_investigation"})
				}
			}
			ctx := context.Background()
			crashes := 0
			// Two crashes of random kinds at random pages, each followed by
			// a fresh runner on the same state file.
			for c := 0; c < 2; c++ {
				kind := kinds[rng.IntN(len(kinds))]
				at := 1 + rng.IntN(18)
				var res []pipeline.Result
				switch kind {
				case "sink":
					e.sink.failConfirm = func(n int) bool { return n == at }
					res = e.run(ctx)
					e.sink.failConfirm = nil
				case "commit":
					res = e.runWith(ctx, &flakyStore{Store: e.store, failAt: at}, pipeline.Budget{}, nil)
				case "cancel":
					cctx, cancel := context.WithCancel(ctx)
					cs := &cancellingSink{recordingSink: e.sink, cancelAt: at, cancel: cancel}
					r, err := pipeline.New(pipeline.Config{Envelope: Envelope(), EpochMillis: EpochMillis(), RunID: "run", Store: e.store, Sink: cs, Redactor: e.red, Now: e.clock.Now})
					if err != nil {
						t.Fatal(err)
					}
					res = r.Run(cctx, e.streams(e.collector(), nil))
					cancel()
				}
				failed := false
				for _, r := range res {
					failed = failed || !r.Success || r.Stop == pipeline.StopInterrupted
				}
				if failed {
					crashes++
				}
				t.Logf("crash %d: %s at page %d, results %v", c, kind, at, stops(res))
			}
			mustSucceed(t, e.run(ctx))
			d := delivered(t, e.sink)
			dups := 0
			for _, id := range ids {
				if d["alert"][id] == 0 {
					t.Fatalf("alert %s lost", id)
				}
				dups += d["alert"][id] - 1
			}
			// Every incident changed before the first run: its current state
			// is the one change there is to deliver.
			current := map[string]string{}
			for _, v := range e.sim.IncidentVersions(testFQDN) {
				current[v.ID] = v.Key()
			}
			for _, k := range current {
				if d["incident"][k] == 0 {
					t.Fatalf("incident change %s lost", k)
				}
			}
			if len(d["incident"]) != len(current) {
				t.Fatalf("%d incident changes delivered, %d exist", len(d["incident"]), len(current))
			}
			for _, n := range d["incident"] {
				dups += n - 1
			}
			if dups > crashes*MaxPageSize {
				t.Fatalf("%d duplicates after %d crashes: more than a page per crash", dups, crashes)
			}
			t.Logf("%d crashes, %d duplicates", crashes, dups)
		})
	}
}

func stops(res []pipeline.Result) []string {
	var out []string
	for _, r := range res {
		out = append(out, r.Name+":"+r.Stop)
	}
	return out
}
