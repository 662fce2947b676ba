package hostrun

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/hostrun/wodle"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

var auditKey = state.Key{Tenant: "default", Vendor: "1password", Stream: "audit"}

// twoStepRig is a state file seen through a runner's twoStep store and
// directly, as stored.
type twoStepRig struct {
	t    *testing.T
	path string
}

func newRig(t *testing.T) *twoStepRig {
	return &twoStepRig{t: t, path: filepath.Join(t.TempDir(), "state.json")}
}

func (r *twoStepRig) file() *filestore.Store {
	fs, err := filestore.New(r.path)
	if err != nil {
		r.t.Fatal(err)
	}
	return fs
}

// run is one runner: it takes the stream's lease, loads, and commits the
// given cursors in turn (as the pipeline does page by page); it returns
// the record the runner was shown and its store.
func (r *twoStepRig) run(ctx context.Context, pending bool, reader string, cursors ...string) (state.Record, *twoStep) {
	r.t.Helper()
	ts := newTwoStep(r.file(), pending, reader, "run-"+reader, slog.New(slog.DiscardHandler))
	l, err := ts.Lock(context.Background(), auditKey, state.LockOptions{Owner: "t"})
	if err != nil {
		r.t.Fatal(err)
	}
	defer l.Release(context.Background())
	shown, err := l.Load(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	v := shown.Version
	for _, c := range cursors {
		rec := state.Record{Version: v, Cursor: json.RawMessage(`"` + c + `"`), Seen: []state.Seen{{Digest: state.KeyDigest(c), At: time.Unix(1772438400, 0)}}}
		if v, err = l.Commit(context.Background(), rec); err != nil {
			r.t.Fatalf("commit %s: %v", c, err)
		}
	}
	return shown, ts
}

// stored reads the record as the file holds it.
func (r *twoStepRig) stored() state.Record {
	r.t.Helper()
	l, err := r.file().Lock(context.Background(), auditKey, state.LockOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	defer l.Release(context.Background())
	rec, err := l.Load(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return rec
}

func cursorOf(rec state.Record) string {
	var s string
	json.Unmarshal(rec.Cursor, &s)
	return s
}

func TestPendingIsPromotedByTheSameReader(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	shown, _ := r.run(ctx, true, "modulesd-A", "c1", "c2")
	if shown.Version != 0 {
		t.Fatalf("first run shown version %d, want 0", shown.Version)
	}
	st := r.stored()
	if len(st.Cursor) != 0 || st.Pending == nil || cursorOf(state.Record{Cursor: st.Pending.Cursor}) != "c2" || st.Pending.Reader != "modulesd-A" || st.Pending.RunID != "run-modulesd-A" {
		t.Fatalf("after a pending run: cursor %s, pending %+v; want no cursor and c2 pending for modulesd-A", st.Cursor, st.Pending)
	}
	shown, ts := r.run(ctx, true, "modulesd-A", "c3")
	if cursorOf(shown) != "c2" || shown.Version == 0 || len(shown.Seen) != 1 || shown.Seen[0].Digest != state.KeyDigest("c2") {
		t.Fatalf("second run by the same reader was shown %+v, want the promoted c2 with its key", shown)
	}
	if o := ts.Outcome(auditKey); o != pendingPromoted {
		t.Fatalf("outcome %q, want promoted", o)
	}
	st = r.stored()
	if cursorOf(st) != "c2" || st.Pending == nil || cursorOf(state.Record{Cursor: st.Pending.Cursor}) != "c3" {
		t.Fatalf("stored cursor %s pending %+v; want c2 promoted and c3 pending", st.Cursor, st.Pending)
	}
}

func TestPendingOfAnotherReaderIsDiscarded(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.run(ctx, true, "modulesd-A", "c1")
	r.run(ctx, true, "modulesd-A", "c2") // promotes c1, c2 pending
	shown, ts := r.run(ctx, true, "modulesd-B")
	if cursorOf(shown) != "c1" {
		t.Fatalf("a run of another reader was shown %s, want the promoted c1", shown.Cursor)
	}
	if o := ts.Outcome(auditKey); o != pendingDiscarded {
		t.Fatalf("outcome %q, want discarded", o)
	}
	if st := r.stored(); cursorOf(st) != "c1" || st.Pending != nil {
		t.Fatalf("stored %s pending %+v; want c1 and no pending", st.Cursor, st.Pending)
	}
	// An unknown reader never promotes, even a pending position tagged "".
	r.run(ctx, true, "", "c5")
	if shown, ts = r.run(ctx, true, ""); cursorOf(shown) != "c1" || ts.Outcome(auditKey) != pendingDiscarded {
		t.Fatalf("unknown reader: shown %s, outcome %q; want c1, discarded", shown.Cursor, ts.Outcome(auditKey))
	}
}

// TestNeverPromotedLooksLikeAFirstRun: a stream whose pending positions
// were all discarded has a record (versions count commits) but no cursor;
// the source must be told it is its first run, so that it still adopts
// the seed wodle's position.
func TestNeverPromotedLooksLikeAFirstRun(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.run(ctx, true, "modulesd-A", "c1")
	shown, _ := r.run(ctx, true, "modulesd-B", "c1")
	if shown.Version != 0 || len(shown.Cursor) != 0 {
		t.Fatalf("shown %+v, want version 0 and no cursor", shown)
	}
	if st := r.stored(); st.Version < 2 {
		t.Fatalf("stored version %d: the discard and the new pending were not written", st.Version)
	}
}

// TestInterruptedRunDecidesNothing: a run cancelled (SIGTERM) by the time
// it would decide neither promotes nor discards. (The file store refuses
// to lock or load under a cancelled context; the decision is tested on
// the record it loaded just before.)
func TestInterruptedRunDecidesNothing(t *testing.T) {
	r := newRig(t)
	r.run(context.Background(), true, "modulesd-A", "c1")
	before := r.stored()
	ts := newTwoStep(r.file(), true, "modulesd-A", "run", slog.New(slog.DiscardHandler))
	l, err := r.file().Lock(context.Background(), auditKey, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	shown := ts.resolve(cancelled, l, rec)
	l.Release(context.Background())
	if len(shown.Cursor) != 0 || shown.Pending != nil || ts.Outcome(auditKey) != pendingKept {
		t.Fatalf("interrupted run shown %+v, outcome %q; want no cursor and kept", shown, ts.Outcome(auditKey))
	}
	after := r.stored()
	if after.Version != before.Version || after.Pending == nil || after.Pending.Reader != "modulesd-A" {
		t.Fatalf("an interrupted run wrote state: %+v -> %+v", before, after)
	}
}

func TestImmediateCommitsTheCursor(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.run(ctx, true, "modulesd-A", "c1")
	// An immediate run of another reader drops the pending position and
	// moves the cursor itself.
	shown, ts := r.run(ctx, false, "terminal", "c7")
	if len(shown.Cursor) != 0 || ts.Outcome(auditKey) != pendingDiscarded {
		t.Fatalf("shown %s outcome %q", shown.Cursor, ts.Outcome(auditKey))
	}
	if st := r.stored(); cursorOf(st) != "c7" || st.Pending != nil {
		t.Fatalf("stored %s pending %+v, want c7 and none", st.Cursor, st.Pending)
	}
	// An immediate run of the reader that took a pending position still
	// promotes it: that reader forwarded it.
	r.run(ctx, true, "modulesd-A", "c8")
	if shown, ts = r.run(ctx, false, "modulesd-A"); cursorOf(shown) != "c8" || ts.Outcome(auditKey) != pendingPromoted {
		t.Fatalf("shown %s outcome %q, want c8 promoted", shown.Cursor, ts.Outcome(auditKey))
	}
}

func TestTwoStepCommitChecksTheVersionItShowed(t *testing.T) {
	r := newRig(t)
	ts := newTwoStep(r.file(), true, "A", "run", slog.New(slog.DiscardHandler))
	l, err := ts.Lock(context.Background(), auditKey, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if _, err := l.Commit(context.Background(), state.Record{Version: 3}); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("commit at a version never shown: err = %v, want ErrConflict", err)
	}
	v, err := l.Commit(context.Background(), state.Record{Version: 0, Cursor: json.RawMessage(`1`)})
	if err != nil || v != 1 {
		t.Fatalf("commit = %d, %v", v, err)
	}
	if _, err := l.Commit(context.Background(), state.Record{Version: 0}); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("commit at a stale version: err = %v, want ErrConflict", err)
	}
}

func TestPendingSummaryFields(t *testing.T) {
	ts := newTwoStep(nil, true, "A", "run", slog.New(slog.DiscardHandler))
	a := state.Key{Tenant: "client-a", Vendor: "v", Stream: "audit"}
	b := state.Key{Tenant: "client-b", Vendor: "v", Stream: "signin"}
	c := state.Key{Tenant: "client-b", Vendor: "v", Stream: "audit"}
	ts.record(a, pendingPromoted)
	ts.record(b, pendingDiscarded)
	got := ts.pendingFields([]string{"client-a", "client-b", "client-c"}, []state.Key{a, b, c})
	if len(got) != 2 || got[0].Key != "client-a" || got[1].Key != "client-b" {
		t.Fatalf("fields %+v", got)
	}
	if single := ts.pendingFields(nil, []state.Key{{Tenant: defaultTenant, Stream: "audit"}}); len(single) != 0 {
		t.Fatalf("no outcome, fields %+v", single)
	}
}

// TestNothingPromotedWhileTheQueueIsBroken: a run whose modulesd cannot
// reach the queue's daemon has no identity, so it promotes nothing and
// its own pending positions are never promoted; a healthy queue keeps the
// reader's identity.
func TestNothingPromotedWhileTheQueueIsBroken(t *testing.T) {
	reader := wodle.Reader{Stat: wodle.Stat{PID: 812, Comm: wodle.ModulesdComm, StartTime: 4242}, Boot: "b", Command: "c", QueueDaemon: wodle.AnalysisdComm}
	for _, q := range []string{wodle.QueueStale, wodle.QueueDown} {
		reader.Queue = q
		if id := (wodlePlan{reader: reader}).identity(); id != "" {
			t.Errorf("queue %s: identity %q, want none", q, id)
		}
	}
	for _, q := range []string{wodle.QueueOK, wodle.QueueUnknown} {
		reader.Queue = q
		if id := (wodlePlan{reader: reader}).identity(); id != reader.Identity() {
			t.Errorf("queue %q: identity %q, want the reader's %q", q, id, reader.Identity())
		}
	}
}
