package casegen

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

// vendorGen runs one vendor's collector in the scenarios its cases need,
// the way localrun runs it (shared/hostrun), and keeps every line the
// collector wrote. The Proofpoint and Cortex XDR generators use it; the
// 1Password generator predates it and has its own (opGen).
type vendorGen struct {
	vendor      string // the state keys' vendor
	env         event.Envelope
	epochMillis []string
	streams     []string // every stream of the vendor, for run summaries
	dir         string
	lines       []*Line
	held        []state.Lease // locks "another collector" holds
}

func newVendorGen(vendor string, env event.Envelope, epochMillis, streams []string) (*vendorGen, error) {
	dir, err := os.MkdirTemp("", "casegen-"+vendor+"-")
	if err != nil {
		return nil, err
	}
	return &vendorGen{vendor: vendor, env: env, epochMillis: epochMillis, streams: streams, dir: dir}, nil
}

// close releases the held locks and removes the state files.
func (g *vendorGen) close(ctx context.Context) {
	for _, l := range g.held {
		l.Release(context.WithoutCancel(ctx))
	}
	os.RemoveAll(g.dir)
}

func (g *vendorGen) add(scenario, origin string, lines []string) {
	for _, l := range lines {
		g.lines = append(g.lines, &Line{Event: l, Origin: origin, Scenario: scenario})
	}
}

// key is a stream's state key in the default tenant.
func (g *vendorGen) key(stream string) state.Key {
	return state.Key{Tenant: "default", Vendor: g.vendor, Stream: stream}
}

// fileStore is a scenario's state file.
func (g *vendorGen) fileStore(scenario string) (*filestore.Store, error) {
	return filestore.New(filepath.Join(g.dir, scenario, "state.json"))
}

// lockedBy makes "another collector" hold a stream's lock in store for the
// rest of the generation (the lease must stay referenced, or its file is
// closed and the lock released).
func (g *vendorGen) lockedBy(ctx context.Context, store state.Store, stream string) error {
	lease, err := store.Lock(ctx, g.key(stream), state.LockOptions{Owner: "other"})
	if err != nil {
		return err
	}
	g.held = append(g.held, lease)
	return nil
}

// vendorRun is one run of a collector.
type vendorRun struct {
	scenario string
	store    state.Store // nil: a fresh state file
	refuse   bool        // the sink never confirms
	budget   pipeline.Budget
	// cancelAt interrupts the run (as SIGTERM would) after this many
	// confirmed pages.
	cancelAt int
	// confirmPages is how many pages the sink confirms at once (default
	// 1, as on stdout; a syslog sink confirms several).
	confirmPages int
	// now is the pipeline's clock (default the fixed generation clock).
	now     func() time.Time
	maxLine int // default: the sink's (59 999)
	// keep selects the lines added to the pool (default: all of them).
	keep func(line string) bool
	// setup returns the run's streams. Its error is reported the way
	// localrun reports a tenant it cannot set up (an orchestrator error
	// event), and then nothing runs.
	setup func(store state.Store) ([]pipeline.Stream, error)
}

// collect runs r and adds what the collector wrote to the pool.
func (g *vendorGen) collect(ctx context.Context, r vendorRun) error {
	rec := &recorder{refuse: r.refuse}
	store := r.store
	if store == nil {
		fs, err := g.fileStore(r.scenario)
		if err != nil {
			return err
		}
		store = fs
	}
	now := r.now
	if now == nil {
		now = fixedClock
	}
	runner, err := pipeline.New(pipeline.Config{
		Envelope: g.env, RunID: "gen-" + r.scenario, Store: store, Sink: rec, EpochMillis: g.epochMillis,
		Budget: r.budget, FinishTimeout: time.Second, Now: now, MaxLine: r.maxLine, ConfirmPages: r.confirmPages,
	})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.cancelAt > 0 {
		rec.afterConfirm = func(n int) {
			if n == r.cancelAt {
				cancel()
			}
		}
	}
	streams, err := r.setup(store)
	if err != nil {
		runner.WriteError(ctx, "default", "orchestrator", err)
	}
	results := runner.Run(runCtx, streams)
	// A sink that cannot confirm cannot confirm the summary either; like
	// localrun, the run goes on (the summary was still written).
	if err := runner.WriteSummary(runCtx, pipeline.SummaryInput{Streams: g.streams, Results: results, Tenant: "default"}); err != nil && !r.refuse {
		return fmt.Errorf("%s: %w", r.scenario, err)
	}
	var kept []string
	for _, l := range rec.lines {
		if r.keep == nil || r.keep(l) {
			kept = append(kept, l)
		}
	}
	g.add(r.scenario, OriginCollector, kept)
	return nil
}

// ofType keeps the lines of the given event types only, for runs whose
// vendor events are only the means to an error event.
func ofType(ns, typeKey string, types ...string) func(string) bool {
	return func(line string) bool {
		for _, t := range types {
			// The substring rules most lines out cheaply; decoding
			// confirms it is the event's own type.
			if !strings.Contains(line, `"`+typeKey+`":"`+t+`"`) {
				continue
			}
			var ev map[string]json.RawMessage
			var inner map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && json.Unmarshal(ev[ns], &inner) == nil && inner[typeKey] == t {
				return true
			}
		}
		return false
	}
}

// httpClient is a collector's HTTP client in the generator: quick retries
// (the simulators fail on purpose), attempt is the attempt timeout
// (default 5 s) and maxBody the largest body read (0: httpx's default).
func httpClient(attempt time.Duration, maxBody int64) (*httpx.Client, error) {
	if attempt == 0 {
		attempt = 5 * time.Second
	}
	return httpx.New(httpx.Config{AttemptTimeout: attempt, MaxAttempts: 2, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxBody: maxBody})
}

// pipelineOnly writes, through the shared pipeline's error writer with the
// vendor's envelope, the error codes the vendor's collector cannot produce
// against its simulator (the rules must know them all the same). skip
// names codes the collector does produce.
func pipelineOnly(ctx context.Context, env event.Envelope, stream string, add func(scenario, origin string, lines []string), skip ...string) error {
	for _, e := range pipelineOnlyErrors(stream) {
		if contains(skip, e.Code) {
			continue
		}
		rec := &recorder{}
		runner, err := pipeline.New(pipeline.Config{Envelope: env, RunID: "gen-pipeline-" + e.Code, Sink: rec, Now: fixedClock})
		if err != nil {
			return err
		}
		if err := runner.WriteError(ctx, "default", e.stream, &pipeline.Error{Code: e.Code, Message: e.Message, Detail: e.Detail}); err != nil {
			return err
		}
		add("pipeline-"+e.Code, OriginPipeline, rec.lines)
	}
	return nil
}

// jsonList reads a decoded array field (its JSON text).
func jsonList(l *Line, field string) []string {
	v, ok := l.Fields().Get(field)
	if !ok {
		return nil
	}
	var out []string
	if json.Unmarshal([]byte(v), &out) != nil {
		return nil
	}
	return out
}

// listIs matches lines whose array field holds only value (at least once).
func listIs(field, value string) Pred {
	return func(l *Line) bool {
		list := jsonList(l, field)
		for _, x := range list {
			if x != value {
				return false
			}
		}
		return len(list) > 0
	}
}

// hasPrefix matches lines whose field starts with s.
func hasPrefix(field, s string) Pred {
	return func(l *Line) bool { v, ok := l.Fields().Get(field); return ok && strings.HasPrefix(v, s) }
}
