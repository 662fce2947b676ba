package hostrun

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/hostrun/wodle"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

// collect is `localrun <vendor>`.
func (a *App) collect(ctx context.Context, d *spec.Descriptor, args []string, io IO) int {
	o, err := parse(d, a.Name, args, io.Stderr, io.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(io.Stderr, "%s %s: %v\n", a.Name, d.Command, err)
		reportConfigError(io.Stdout, d, err)
		return ExitUsage
	}
	return a.run(ctx, o, io)
}

// reportConfigError also puts a configuration error on stdout as an error
// event, since a wodle's operator looks at Wazuh, not at a terminal.
func reportConfigError(stdout *os.File, d *spec.Descriptor, err error) {
	r, rerr := pipeline.New(pipeline.Config{Envelope: d.Envelope, RunID: NewRunID(), Sink: newStdout(stdout)})
	if rerr != nil {
		return
	}
	r.WriteError(context.Background(), defaultTenant, "orchestrator", &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid configuration", Err: err})
}

func (a *App) run(ctx context.Context, o *options, io IO) int {
	d := o.d
	prog := a.Name + " " + d.Command
	red := redact.New()
	log, closeLog, err := newLogger(o.debug, o.logFile, io.Stderr, red)
	if err != nil {
		fmt.Fprintln(io.Stderr, prog+":", err)
		return ExitUsage
	}
	defer closeLog()
	runID := NewRunID()
	start := time.Now()
	out, err := o.sinkOpts.open(io.Stdout, o.maxLine, log)
	if err != nil {
		fmt.Fprintln(io.Stderr, prog+":", red.String(err.Error()))
		reportConfigError(io.Stdout, d, red.Error(err))
		return ExitUsage
	}
	defer out.Close()

	wp, err := o.planWodle(wodle.SystemProc())
	if err != nil {
		fmt.Fprintln(io.Stderr, prog+":", err)
		reportConfigError(io.Stdout, d, err)
		return ExitUsage
	}
	log.Info("output plan", "reader", wp.reader.Comm, "reader_pid", wp.reader.PID, "reader_error", wp.readerErr, "queue_daemon", wp.reader.QueueDaemon, "queue", wp.reader.Queue, "commit", wp.mode, "max_events", wp.maxEvents, "max_eps", wp.rate.MaxEPS, "max_eps_from", wp.rate.From)
	if wp.stdout && wp.reader.QueueBroken() {
		log.Warn("wazuh-modulesd cannot forward to the daemon owning its queue: it is not running, or it restarted after wazuh-modulesd, whose command wodles connect to it only when they start; until Wazuh is restarted this wodle's output is dropped, so nothing this run prints is taken as delivered",
			"queue_daemon", wp.reader.QueueDaemon, "queue", wp.reader.Queue)
	}

	var store state.Store
	var fstore *filestore.Store
	var ts *twoStep
	if !o.backfill {
		if fstore, err = filestore.New(o.stateFile); err != nil {
			return fatal(ctx, d, out, runID, log, &pipeline.Error{Code: pipeline.CodeStateRead, Message: "cannot open the state file", Err: err})
		}
		ts = newTwoStep(fstore, wp.mode == CommitPending, wp.identity(), runID, log)
		store = ts
	} else if isTerminal(io.Stderr) {
		fmt.Fprintf(io.Stderr, "%s: --all: reading the last %v; stored cursors are neither read nor moved\n", prog, o.lookback)
	}
	runner, err := pipeline.New(pipeline.Config{
		Envelope:      d.Envelope,
		RunID:         runID,
		Store:         store,
		Sink:          out,
		MaxLine:       o.maxLine,
		EpochMillis:   d.EpochMillis,
		Budget:        pipeline.Budget{Deadline: start.Add(o.maxRuntime), MaxBytes: o.maxBytes, MaxEvents: wp.maxEvents},
		ConfirmPages:  o.sinkOpts.confirmPages(),
		FinishTimeout: o.finishTimeout,
		Logger:        log,
		Redactor:      red,
	})
	if err != nil {
		fmt.Fprintln(io.Stderr, prog+":", err)
		return ExitUsage
	}
	tenants, err := o.tenants(red, log)
	if err != nil {
		runner.WriteError(ctx, defaultTenant, "orchestrator", &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "cannot read the multi-tenant file", Detail: "path=" + o.tenantsFile, Err: err})
		return ExitUsage
	}
	httpClient, err := o.httpClient(a.Version, red, log)
	if err != nil {
		runner.WriteError(ctx, defaultTenant, "orchestrator", &pipeline.Error{Code: pipeline.CodeConfig, Message: "cannot set up the HTTP client", Err: err})
		return ExitUsage
	}

	var streams []pipeline.Stream
	var tenantNames []string
	failed, misconfigured := false, false
	for _, t := range tenants {
		tenantNames = append(tenantNames, t.name)
		c, err := d.New(spec.Params{
			Tenant:      t.name,
			Credentials: t.creds,
			HTTP:        httpClient(),
			Settings:    o.settings,
			Lookback:    o.lookback,
			Logger:      log.With("tenant", t.name),
			Redactor:    red,
			Where:       o.where(t),
		})
		if err != nil {
			runner.WriteError(ctx, t.name, "orchestrator", &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid " + d.Title + " configuration", Err: err})
			return ExitUsage
		}
		names, err := plan(ctx, c, o.streams)
		if err != nil {
			failed = true
			runner.WriteError(ctx, t.name, "orchestrator", err)
			switch pipeline.CodeOf(err) {
			case pipeline.CodeMissingCredential, pipeline.CodeConfig:
				misconfigured = true
				continue
			case pipeline.CodeHTTP401:
				// A tenant of a multi-tenant file is skipped, as the seed
				// did. A single tenant's streams are still tried, as the
				// seed's were: each then fails with its own error and shows
				// as failed (<stream>_success false) in the run summary,
				// which is what the seed's per-stream failure rules and
				// dashboards count. A rejected token costs one request per
				// stream and run.
				if t.multi {
					continue
				}
			}
		}
		for _, name := range names {
			key := state.Key{Tenant: t.name, Vendor: d.Name, Stream: name}
			src, err := c.Source(name, spec.SourceOptions{Backfill: o.backfill, Legacy: legacyFor(fstore, t)})
			if err != nil {
				failed = true
				runner.WriteError(ctx, t.name, name, &pipeline.Error{Code: pipeline.CodeConfig, Message: "cannot set up the " + name + " stream", Err: err})
				continue
			}
			streams = append(streams, pipeline.Stream{Key: key, Name: name, Source: src})
		}
	}
	results := runner.Run(ctx, streams)
	in := pipeline.SummaryInput{Streams: d.StreamNames(), Results: results, Tenant: defaultTenant}
	if len(tenants) > 0 && tenants[0].multi {
		in.Tenants = tenantNames
	}
	keys := make([]state.Key, len(streams))
	for i, s := range streams {
		keys[i] = s.Key
	}
	in.Extra = wp.summaryFields(o, ts, in.Tenants, keys)
	if err := runner.WriteSummary(ctx, in); err != nil {
		log.Error("run summary not delivered", "error", err)
		failed = true
	}
	var total int64
	locked := false
	for _, r := range results {
		total += r.Events
		log.Info("stream done", "stream", r.Key.String(), "events", r.Events, "pages", r.Pages, "duplicates", r.Duplicates, "reduced", r.Reduced, "stop", r.Stop, "backlog", r.Backlog, "success", r.Success)
		if !r.Success {
			failed = true
		}
		if r.Stop == pipeline.StopLocked {
			locked = true
		}
	}
	log.Info("run finished", "run_id", runID, "events", total, "bytes", runner.WrittenBytes(), "duration", time.Since(start).String(), "peak_rss_kib", peakRSSKiB())
	switch {
	case ctx.Err() != nil:
		return ExitInterrupted
	case misconfigured:
		return ExitUsage
	case wp.stdout && wp.reader.QueueBroken():
		return ExitUndelivered
	case failed:
		return ExitFailed
	case locked:
		return ExitLocked
	}
	return ExitOK
}

// plan picks the streams to run: the requested ones the credentials allow
// when the collector can tell (spec.Planner). When it cannot tell, every
// requested stream is tried, and the reason is returned.
func plan(ctx context.Context, c spec.Collector, requested []string) ([]string, error) {
	p, ok := c.(spec.Planner)
	if !ok {
		return requested, nil
	}
	names, err := p.Plan(ctx, requested)
	if err != nil {
		return requested, err
	}
	return names, nil
}

func fatal(ctx context.Context, d *spec.Descriptor, out sink.Sink, runID string, log *slog.Logger, err error) int {
	r, rerr := pipeline.New(pipeline.Config{Envelope: d.Envelope, RunID: runID, Sink: out, Logger: log})
	if rerr == nil {
		r.WriteError(ctx, defaultTenant, "orchestrator", err)
	}
	return ExitFailed
}
