package hostrun

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Commit modes (--commit, WAZUH_PULL_COMMIT).
const (
	// CommitAuto is CommitPending when wazuh-modulesd reads the output,
	// CommitImmediate otherwise.
	CommitAuto = "auto"
	// CommitPending stores a delivered page's cursor as pending, tagged
	// with the reader's identity; the next run started by the same reader
	// promotes it (the reader forwarded everything before starting that
	// run), any other run discards it and starts again from the cursor.
	CommitPending = "pending"
	// CommitImmediate moves the cursor as soon as the reader took the
	// lines (the behaviour before pending positions existed): what the
	// reader loses afterwards is not collected again.
	CommitImmediate = "immediate"
)

// Outcomes of a stream's stored pending position at the start of a run.
const (
	pendingPromoted  = "promoted"
	pendingDiscarded = "discarded"
	// pendingKept: the run was interrupted before it could decide; the
	// next run decides.
	pendingKept = "kept"
)

// twoStep is the host runner's store: it decides what becomes of a
// stream's pending position when the stream's lease is taken, before the
// stream's cursor is used, and in pending mode turns every commit of the
// pipeline into a pending position.
//
// The pipeline sees an ordinary record: the promoted cursor and its dedup
// keys, with the version it must commit at. A record that has never had
// a promoted cursor is shown as version 0, whatever pending positions
// were stored and discarded before, so that a source still adopts the
// seed wodle's cursor on what is, for it, the stream's first run.
type twoStep struct {
	inner   state.Store
	pending bool   // this run commits pending positions
	reader  string // identity of this run's reader ("" when unknown)
	runID   string
	log     *slog.Logger

	mu       sync.Mutex
	outcomes map[state.Key]string
}

func newTwoStep(inner state.Store, pending bool, reader, runID string, log *slog.Logger) *twoStep {
	return &twoStep{inner: inner, pending: pending, reader: reader, runID: runID, log: log, outcomes: map[state.Key]string{}}
}

func (s *twoStep) Lock(ctx context.Context, key state.Key, opts state.LockOptions) (state.Lease, error) {
	l, err := s.inner.Lock(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	return &twoStepLease{s: s, inner: l}, nil
}

func (s *twoStep) record(key state.Key, outcome string) {
	s.mu.Lock()
	s.outcomes[key] = outcome
	s.mu.Unlock()
}

// Outcome says what became of key's pending position in this run ("" if
// there was none).
func (s *twoStep) Outcome(key state.Key) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outcomes[key]
}

// resolve promotes or discards rec's pending position and returns the
// record as stored afterwards, without a pending position. Under a
// cancelled context (SIGTERM) it writes nothing: the pending position
// stays for the next run to decide, and this run, which stops at once,
// starts from the promoted cursor.
func (s *twoStep) resolve(ctx context.Context, l state.Lease, rec state.Record) state.Record {
	p := rec.Pending
	if p == nil {
		return rec
	}
	rec.Pending = nil
	log := s.log.With("stream", l.Key().String(), "pending_run_id", p.RunID)
	if ctx.Err() != nil {
		s.record(l.Key(), pendingKept)
		log.Warn("interrupted before the pending position was decided; the next run decides")
		return rec
	}
	next := state.Record{Version: rec.Version, Cursor: rec.Cursor, Seen: rec.Seen}
	outcome := pendingDiscarded
	if s.reader != "" && p.Reader == s.reader {
		next.Cursor, next.Seen = p.Cursor, p.Seen
		outcome = pendingPromoted
	}
	v, err := l.Commit(ctx, next)
	if err != nil {
		// Starting from the promoted cursor is safe either way (it only
		// repeats); the run's own commits report the store's failure.
		log.Warn("could not save the decision on the pending position; starting from the promoted cursor", "decision", outcome, "error", err)
		s.record(l.Key(), pendingDiscarded)
		return rec
	}
	next.Version = v
	s.record(l.Key(), outcome)
	if outcome == pendingPromoted {
		log.Info("pending position promoted: the reader that took it started this run, so it forwarded it")
	} else {
		log.Warn("pending position discarded: this run's reader is not the one that took it (wazuh-modulesd or wazuh-analysisd restarted, or analysisd's queue is down), so what it took may be lost; its events are read again", "pending_reader", p.Reader, "reader", s.reader)
	}
	return next
}

// twoStepLease is one stream's lease through twoStep.
type twoStepLease struct {
	s     *twoStep
	inner state.Lease

	loaded bool
	stored state.Record // the record as stored (its pending position resolved)
	shown  int64        // the version the pipeline was given and commits at
}

func (l *twoStepLease) Key() state.Key { return l.inner.Key() }

// Load resolves the stream's pending position on the first call and
// returns the promoted cursor.
func (l *twoStepLease) Load(ctx context.Context) (state.Record, error) {
	if !l.loaded {
		rec, err := l.inner.Load(ctx)
		if err != nil {
			return state.Record{}, err
		}
		l.stored = l.s.resolve(ctx, l.inner, rec)
		l.shown = l.stored.Version
		if len(l.stored.Cursor) == 0 && len(l.stored.Seen) == 0 {
			l.shown = 0 // never promoted: a first run for the source
		}
		l.loaded = true
	}
	return state.Record{Version: l.shown, Cursor: l.stored.Cursor, Seen: l.stored.Seen, UpdatedAt: l.stored.UpdatedAt}, nil
}

// Commit stores rec as the cursor (immediate) or as the pending position
// beside the promoted cursor (pending).
func (l *twoStepLease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	if !l.loaded {
		if _, err := l.Load(ctx); err != nil {
			return 0, err
		}
	}
	if rec.Version != l.shown {
		return 0, fmt.Errorf("commit %s at version %d, read %d: %w", l.Key(), rec.Version, l.shown, state.ErrConflict)
	}
	next := state.Record{Version: l.stored.Version, Cursor: rec.Cursor, Seen: rec.Seen}
	if l.s.pending {
		next = state.Record{Version: l.stored.Version, Cursor: l.stored.Cursor, Seen: l.stored.Seen,
			Pending: &state.Pending{Cursor: rec.Cursor, Seen: rec.Seen, Reader: l.s.reader, RunID: l.s.runID}}
	}
	v, err := l.inner.Commit(ctx, next)
	if err != nil {
		return 0, err
	}
	l.stored.Version = v
	if !l.s.pending {
		l.stored.Cursor, l.stored.Seen = rec.Cursor, rec.Seen
	}
	l.shown = v
	return v, nil
}

func (l *twoStepLease) Renew(ctx context.Context) error   { return l.inner.Renew(ctx) }
func (l *twoStepLease) Release(ctx context.Context) error { return l.inner.Release(ctx) }

// pendingFields lists the streams whose pending position was decided in
// this run, for the run summary: {"audit":"promoted"}, or per tenant in
// multi-tenant mode.
func (s *twoStep) pendingFields(tenants []string, keys []state.Key) event.Fields {
	byTenant := map[string]event.Fields{}
	for _, k := range keys {
		if o := s.Outcome(k); o != "" {
			byTenant[k.Tenant] = append(byTenant[k.Tenant], event.Field{Key: k.Stream, Value: o})
		}
	}
	if len(tenants) == 0 {
		return byTenant[defaultTenant]
	}
	var out event.Fields
	for _, t := range tenants {
		if f := byTenant[t]; len(f) > 0 {
			out = append(out, event.Field{Key: t, Value: f})
		}
	}
	return out
}
