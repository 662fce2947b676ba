package casegen

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

// A stand-in generator writes a vendor's lines through the shared
// pipeline, exactly as a collector built on it would (envelope, stripping,
// metadata, limits, error events, run summary), from vendor records that
// follow the vendor's documented shapes. It stands in for a collector that
// does not exist yet; when the collector lands, its generator replaces the
// stand-in in the vendor's registration and the cases are regenerated from
// real collector output.

// record is one vendor record of a stand-in stream.
type record struct {
	eventType string
	key       string
	raw       any // marshalled to JSON
}

// staticSource serves its records as one page, or fails. With more, the
// page says more events wait (a run cut short leaves a backlog).
type staticSource struct {
	records []record
	err     error
	more    bool
	done    bool
}

func (s *staticSource) Start(context.Context, state.Record) error { return nil }

func (s *staticSource) Fetch(context.Context) (*pipeline.Page, error) {
	if s.err != nil {
		return nil, s.err
	}
	page := &pipeline.Page{Cursor: json.RawMessage(`{"position":"end"}`)}
	if s.done {
		return page, nil
	}
	s.done = true
	page.More = s.more
	for _, r := range s.records {
		raw, err := json.Marshal(r.raw)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, pipeline.Item{Raw: raw, Type: r.eventType, Key: r.key})
	}
	return page, nil
}

// standinStream is one stream of a stand-in run.
type standinStream struct {
	name    string
	records []record
	err     error
}

// standinRun is one run of a stand-in collector.
type standinRun struct {
	scenario    string
	streams     []standinStream
	allStreams  []string // the vendor's stream names, for the run summary
	budget      pipeline.Budget
	refuse      bool
	locked      string // a stream another collector holds
	cancel      bool   // interrupted (as by SIGTERM) after the first stream's first page
	epochMillis []string
}

// standinGen runs stand-in scenarios for one envelope.
type standinGen struct {
	env   event.Envelope
	dir   string
	lines []*Line
}

func newStandinGen(env event.Envelope) (*standinGen, error) {
	dir, err := os.MkdirTemp("", "casegen-"+env.Integration+"-")
	if err != nil {
		return nil, err
	}
	return &standinGen{env: env, dir: dir}, nil
}

func (g *standinGen) close() { os.RemoveAll(g.dir) }

func (g *standinGen) add(scenario, origin string, lines []string) {
	for _, l := range lines {
		g.lines = append(g.lines, &Line{Event: l, Origin: origin, Scenario: scenario})
	}
}

func (g *standinGen) run(ctx context.Context, r standinRun) error {
	rec := &recorder{refuse: r.refuse}
	fs, err := filestore.New(filepath.Join(g.dir, r.scenario, "state.json"))
	if err != nil {
		return err
	}
	runner, err := pipeline.New(pipeline.Config{
		Envelope: g.env, RunID: "gen-" + r.scenario, Store: fs, Sink: rec, Budget: r.budget,
		FinishTimeout: time.Second, Now: fixedClock, EpochMillis: r.epochMillis,
	})
	if err != nil {
		return err
	}
	if r.locked != "" {
		lease, err := fs.Lock(ctx, state.Key{Tenant: "default", Vendor: g.env.Integration, Stream: r.locked}, state.LockOptions{Owner: "other"})
		if err != nil {
			return err
		}
		defer lease.Release(ctx)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.cancel {
		// Each stream delivers one page; the last one says more wait and
		// is interrupted after it. (Interrupting earlier would start the
		// later streams in a cancelled run, which cannot even lock state.)
		rec.afterConfirm = func(n int) {
			if n == len(r.streams) {
				cancel()
			}
		}
	}
	var streams []pipeline.Stream
	for i, s := range r.streams {
		streams = append(streams, pipeline.Stream{
			Key:    state.Key{Tenant: "default", Vendor: g.env.Integration, Stream: s.name},
			Name:   s.name,
			Source: &staticSource{records: s.records, err: s.err, more: r.cancel && i == len(r.streams)-1},
		})
	}
	results := runner.Run(runCtx, streams)
	if err := runner.WriteSummary(runCtx, pipeline.SummaryInput{Streams: r.allStreams, Results: results, Tenant: "default"}); err != nil {
		return fmt.Errorf("%s: %w", r.scenario, err)
	}
	g.add(r.scenario, OriginStandIn, rec.lines)
	return nil
}

// writeError writes one error event through the pipeline's error writer.
func (g *standinGen) writeError(ctx context.Context, scenario, stream string, e *pipeline.Error) error {
	rec := &recorder{}
	runner, err := pipeline.New(pipeline.Config{Envelope: g.env, RunID: "gen-" + scenario, Sink: rec, Now: fixedClock})
	if err != nil {
		return err
	}
	if err := runner.WriteError(ctx, "default", stream, e); err != nil {
		return err
	}
	g.add(scenario, OriginStandIn, rec.lines)
	return nil
}

// standinHealth writes every error code and the run summaries a
// collector produces: stream failures, budgets, backlogs, a locked
// stream, delivery failures.
func (g *standinGen) standinHealth(ctx context.Context, streams []string, sample []record) error {
	errs := []struct {
		scenario string
		e        pipeline.Error
	}{
		{"error-401-1", pipeline.Error{Code: pipeline.CodeHTTP401, Message: "authentication failed: verify the credentials", Detail: "status=401"}},
		{"error-401-2", pipeline.Error{Code: pipeline.CodeHTTP401, Message: "authentication failed: verify the credentials", Detail: "status=401"}},
		{"error-missing-credential", pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "missing required credential", Detail: "secrets file / environment"}},
		{"error-429", pipeline.Error{Code: pipeline.CodeHTTP429, Message: "rate limit reached: retries exhausted", Detail: "status=429"}},
		{"error-timeout", pipeline.Error{Code: pipeline.CodeTimeout, Message: "request timed out", Detail: "attempt timeout 60s"}},
		{"error-connection", pipeline.Error{Code: pipeline.CodeConnection, Message: "API unreachable: verify network connectivity", Detail: "connection refused"}},
		{"error-state-read", pipeline.Error{Code: pipeline.CodeStateRead, Message: "cannot read the stream's state; it was not reset, fix or remove it", Detail: "state: stored state is corrupt"}},
		{"error-state-write", pipeline.Error{Code: pipeline.CodeStateWrite, Message: "delivered events but could not save the cursor; the next run may repeat them", Detail: "no space left on device"}},
		{"error-400", pipeline.Error{Code: pipeline.CodeHTTP400, Message: "bad request: the request was refused", Detail: "status=400"}},
		{"error-500", pipeline.Error{Code: pipeline.CodeHTTP500, Message: "server error after retries", Detail: "status=500"}},
		{"error-unexpected-status", pipeline.Error{Code: pipeline.CodeHTTPUnexpected, Message: "unexpected HTTP status", Detail: "status=403"}},
		{"error-invalid-response", pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "response is not valid JSON", Detail: "unexpected end of JSON input"}},
		{"error-unexpected", pipeline.Error{Code: pipeline.CodeUnexpected, Message: "unhandled failure in the stream", Detail: "runtime error"}},
		{"error-fatal", pipeline.Error{Code: pipeline.CodeOrchestratorFatal, Message: "the run could not start", Detail: "cannot create the run's log file"}},
		{"error-delivery-1", pipeline.Error{Code: pipeline.CodeDeliveryFailed, Message: "the sink did not confirm delivery; the cursor was not moved", Detail: "not confirmed"}},
		{"error-delivery-2", pipeline.Error{Code: pipeline.CodeDeliveryFailed, Message: "the sink did not confirm delivery; the cursor was not moved", Detail: "not confirmed"}},
		{"error-delivery-3", pipeline.Error{Code: pipeline.CodeDeliveryFailed, Message: "the sink did not confirm delivery; the cursor was not moved", Detail: "not confirmed"}},
		{"error-reduced", pipeline.Error{Code: pipeline.CodeEventReduced, Message: "an event was cut to fit Wazuh's limits", Detail: "bytes=80213"}},
		{"error-cursor-reset", pipeline.Error{Code: pipeline.CodeCursorReset, Message: "the stored position was refused; collection restarted with overlap", Detail: "restart=2026-03-02T11:00:00Z"}},
		{"error-gap", pipeline.Error{Code: pipeline.CodeCollectionGap, Message: "a window could not be collected", Detail: "older than the vendor keeps"}},
		{"error-invalid-event", pipeline.Error{Code: pipeline.CodeInvalidEvent, Message: "a vendor event could not be decoded and was not forwarded", Detail: "key=\"EXAMPLE\""}},
		{"error-config", pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid configuration", Detail: "lookback must be positive"}},
		{"error-too-large", pipeline.Error{Code: "API_RESPONSE_TOO_LARGE", Message: "the response exceeded its size limit and was not read", Detail: "limit=268435456"}},
		{"error-unknown-code", pipeline.Error{Code: "API_HTTP_403", Message: "a code added after these rules", Detail: "status=403"}},
	}
	for _, e := range errs {
		e := e
		if err := g.writeError(ctx, e.scenario, streams[0], &e.e); err != nil {
			return err
		}
	}
	healthy := func() []standinStream {
		var out []standinStream
		for _, s := range streams {
			out = append(out, standinStream{name: s, records: sample})
		}
		return out
	}
	failing := healthy()
	failing[0].err = &pipeline.Error{Code: pipeline.CodeHTTP500, Message: "server error after retries", Detail: "status=500"}
	runs := []standinRun{
		{scenario: "healthy", streams: healthy()},
		{scenario: "stream-failed", streams: failing},
		{scenario: "interrupted", streams: healthy(), cancel: true},
		{scenario: "locked", streams: healthy(), locked: streams[len(streams)-1]},
	}
	for i := 1; i <= 3; i++ {
		runs = append(runs, standinRun{scenario: fmt.Sprintf("max-events-%d", i), streams: healthy(), budget: pipeline.Budget{MaxEvents: 1}})
	}
	for _, r := range runs {
		r.allStreams = streams
		if err := g.run(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
