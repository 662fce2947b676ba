package pipeline

import (
	"context"
	"fmt"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
)

// SummaryInput describes one run for its run_summary event.
type SummaryInput struct {
	// Streams lists all of the vendor's stream names in the seed's order;
	// streams that did not run are reported with <name>_ran false.
	Streams []string
	// Tenants lists the tenants in multi-tenant mode (nil: single tenant).
	Tenants []string
	// Tenant is the tenant of a single-tenant run.
	Tenant  string
	Results []Result
	// Extra fields are appended after the streams' (the host runner adds
	// how a wodle run was sized and committed).
	Extra event.Fields
}

// SummaryFields builds the seed-compatible run_summary fields: "source"
// "orchestrator", "timestamp", and per stream <name>_ran and, when it ran,
// <name>_success; in multi-tenant mode "mode":"multi_tenant" and the same
// keys under "tenants".<name>. We add <name>_events, <name>_backlog and
// <name>_stop (why the stream stopped, e.g. "caught_up", "max_bytes",
// "paced", "locked"), and <name>_paced_ms when the sink's events-per-second
// limit held the stream's pages back (the time it did); the seed's rules
// ignore them.
func SummaryFields(in SummaryInput, now string) event.Fields {
	return summaryFields(event.DefaultSourceKey, in, now)
}

func summaryFields(sourceKey string, in SummaryInput, now string) event.Fields {
	f := event.Fields{{Key: sourceKey, Value: "orchestrator"}}
	if len(in.Tenants) > 0 {
		f = append(f, event.Field{Key: "mode", Value: "multi_tenant"})
	}
	f = append(f, event.Field{Key: "timestamp", Value: now})
	if len(in.Tenants) == 0 {
		f = append(f, streamFields(in.Streams, in.Tenant, in.Results)...)
		return append(f, in.Extra...)
	}
	tenants := event.Fields{}
	for _, t := range in.Tenants {
		tenants = append(tenants, event.Field{Key: t, Value: streamFields(in.Streams, t, in.Results)})
	}
	f = append(f, event.Field{Key: "tenants", Value: tenants})
	return append(f, in.Extra...)
}

func streamFields(names []string, tenant string, results []Result) event.Fields {
	var f event.Fields
	for _, name := range names {
		var res *Result
		for i := range results {
			if results[i].Name == name && results[i].Key.Tenant == tenant {
				res = &results[i]
				break
			}
		}
		if res == nil || !res.Ran {
			f = append(f, event.Field{Key: name + "_ran", Value: false})
			if res != nil && res.Stop != "" {
				f = append(f, event.Field{Key: name + "_stop", Value: res.Stop})
			}
			continue
		}
		f = append(f,
			event.Field{Key: name + "_ran", Value: true},
			event.Field{Key: name + "_success", Value: res.Success},
			event.Field{Key: name + "_events", Value: res.Events},
			event.Field{Key: name + "_backlog", Value: res.Backlog},
			event.Field{Key: name + "_stop", Value: res.Stop},
		)
		if res.Paced.Milliseconds() > 0 {
			f = append(f, event.Field{Key: name + "_paced_ms", Value: res.Paced.Milliseconds()})
		}
	}
	return f
}

// WriteSummary writes the run_summary event and confirms it. It uses a
// short grace period when ctx is already cancelled, so an interrupted run
// still reports what it did.
func (r *Runner) WriteSummary(ctx context.Context, in SummaryInput) error {
	tenant := in.Tenant
	if len(in.Tenants) > 0 {
		tenant = "*"
	}
	b, err := event.NewBuilder(event.Config{
		Envelope: r.cfg.Envelope,
		Meta:     event.Meta{Tenant: tenant, Stream: "orchestrator", RunID: r.cfg.RunID},
		MaxLine:  r.cfg.MaxLine - r.cfg.Sink.Overhead(),
	})
	if err != nil {
		return fmt.Errorf("pipeline: summary: %w", err)
	}
	line, _, err := b.AppendFields(nil, summaryFields(r.cfg.Envelope.Source(), in, event.SeedTime(r.cfg.Now())), event.TypeRunSummary, r.cfg.RunID+":summary")
	if err != nil {
		return fmt.Errorf("pipeline: summary: %w", err)
	}
	wctx, cancel := r.finishContext(ctx)
	defer cancel()
	if ctx.Err() == nil {
		wctx = ctx
	}
	if err := r.cfg.Sink.Write(wctx, line); err != nil {
		return fmt.Errorf("pipeline: write run summary: %w", err)
	}
	r.bytes += int64(len(line))
	if err := r.cfg.Sink.Confirm(wctx); err != nil {
		return fmt.Errorf("pipeline: confirm run summary: %w", err)
	}
	return nil
}

// WriteError writes and confirms an error event that belongs to no stream
// (configuration, credentials, introspection), with the seed's "source".
func (r *Runner) WriteError(ctx context.Context, tenant, source string, err error) error {
	res := &Result{}
	s := Stream{Name: source}
	s.Key.Tenant = tenant
	r.emitError(ctx, s, res, err)
	wctx, cancel := r.finishContext(ctx)
	defer cancel()
	if ctx.Err() == nil {
		wctx = ctx
	}
	return r.cfg.Sink.Confirm(wctx)
}
