package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

// memSink records confirmed lines; confirmErr fails confirmations.
type memSink struct {
	pending, confirmed bytes.Buffer
	confirmErr         error
	writes             int
}

func (m *memSink) Overhead() int { return 0 }
func (m *memSink) Write(ctx context.Context, b []byte) error {
	m.writes++
	m.pending.Write(b)
	return nil
}
func (m *memSink) Confirm(ctx context.Context) error {
	if m.confirmErr != nil {
		m.pending.Reset()
		return m.confirmErr
	}
	m.confirmed.Write(m.pending.Bytes())
	m.pending.Reset()
	return nil
}
func (m *memSink) Close() error { return nil }

func (m *memSink) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(m.confirmed.String(), "\n"), "\n") {
		if l == "" {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("bad line %q: %v", l, err)
		}
		out = append(out, v["op"].(map[string]any))
	}
	return out
}

// pagedSource serves n events in pages of size; its cursor is the index.
type pagedSource struct {
	n, size  int
	pos      int
	started  state.Record
	failAt   int // page index to fail at (0 = never)
	panicAt  int
	fetches  int
	notice   *Notice
	badItems bool
}

func (p *pagedSource) Start(ctx context.Context, rec state.Record) error {
	p.started = rec
	if len(rec.Cursor) > 0 {
		var c struct{ Pos int }
		if err := json.Unmarshal(rec.Cursor, &c); err != nil {
			return err
		}
		p.pos = c.Pos
	}
	return nil
}

func (p *pagedSource) Fetch(ctx context.Context) (*Page, error) {
	p.fetches++
	if p.failAt > 0 && p.fetches == p.failAt {
		return nil, &Error{Code: CodeHTTP500, Message: "server error"}
	}
	if p.panicAt > 0 && p.fetches == p.panicAt {
		panic("boom")
	}
	page := &Page{}
	end := min(p.pos+p.size, p.n)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := p.pos; i < end; i++ {
		raw := fmt.Sprintf(`{"uuid":"E%06d","n":%d,"empty":""}`, i, i)
		if p.badItems && i%2 == 1 {
			raw = `{"uuid":`
		}
		page.Items = append(page.Items, Item{Raw: []byte(raw), Type: "audit_event", Key: fmt.Sprintf("E%06d", i), Time: t0.Add(time.Duration(i) * time.Second)})
	}
	p.pos = end
	page.Cursor, _ = json.Marshal(struct{ Pos int }{p.pos})
	page.More = p.pos < p.n
	page.SeenSince = t0.Add(time.Duration(p.pos-3) * time.Second)
	if p.notice != nil {
		page.Notices = append(page.Notices, *p.notice)
		p.notice = nil
	}
	return page, nil
}

func newRunner(t *testing.T, s *memSink, store state.Store, b Budget) *Runner {
	t.Helper()
	r, err := New(Config{
		Envelope: event.Envelope{Integration: "1password", Namespace: "op"},
		RunID:    "run-1", Store: store, Sink: s, Budget: b,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newStore(t *testing.T) *filestore.Store {
	s, err := filestore.New(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func key(stream string) state.Key {
	return state.Key{Tenant: "default", Vendor: "1password", Stream: stream}
}

func stored(t *testing.T, store state.Store, k state.Key) (state.Record, int) {
	t.Helper()
	l, err := store.Lock(context.Background(), k, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	rec, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Pos int }
	json.Unmarshal(rec.Cursor, &c)
	return rec, c.Pos
}

func TestCommitsEveryDeliveredPage(t *testing.T) {
	sink, store := &memSink{}, newStore(t)
	src := &pagedSource{n: 25, size: 10}
	res := newRunner(t, sink, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if r := res[0]; !r.Success || r.Events != 25 || r.Pages != 3 || r.Stop != StopCaughtUp || r.Backlog || !r.CursorAdvanced {
		t.Fatalf("result %+v", r)
	}
	rec, pos := stored(t, store, key("audit"))
	if pos != 25 || rec.Version != 3 {
		t.Fatalf("stored pos %d version %d, want 25 and one commit per page", pos, rec.Version)
	}
	lines := sink.lines(t)
	if len(lines) != 25 || lines[0]["uuid"] != "E000000" || lines[0]["empty"] != nil {
		t.Fatalf("lines: %d, first %v", len(lines), lines[0])
	}
	// The dedup set holds only keys inside the page's overlap window.
	if len(rec.Seen) != 3 || rec.Seen[2].Digest != state.KeyDigest("E000024") {
		t.Fatalf("seen = %+v", rec.Seen)
	}
}

func TestUnconfirmedPageIsNotCommitted(t *testing.T) {
	sink, store := &memSink{confirmErr: errors.New("peer reset")}, newStore(t)
	src := &pagedSource{n: 25, size: 10}
	res := newRunner(t, sink, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if r := res[0]; r.Success || r.CursorAdvanced || r.Events != 0 {
		t.Fatalf("result %+v", r)
	}
	if rec, _ := stored(t, store, key("audit")); rec.Version != 0 {
		t.Fatalf("cursor moved without confirmed delivery: %+v", rec)
	}
	if !strings.Contains(fmt.Sprint(res[0].Errors), CodeDeliveryFailed) {
		t.Fatalf("errors = %v", res[0].Errors)
	}
}

func TestResumesWhereItStoppedAndSuppressesOverlap(t *testing.T) {
	store := newStore(t)
	src := &pagedSource{n: 20, size: 10}
	newRunner(t, &memSink{}, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	// A restart two events back (as after an invalid cursor) re-serves
	// events already delivered: the dedup set suppresses them.
	rec, _ := stored(t, store, key("audit"))
	l, _ := store.Lock(context.Background(), key("audit"), state.LockOptions{})
	rec.Cursor = json.RawMessage(`{"Pos":18}`)
	l.Commit(context.Background(), rec)
	l.Release(context.Background())
	sink := &memSink{}
	src2 := &pagedSource{n: 30, size: 10}
	res := newRunner(t, sink, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src2}})
	if res[0].Duplicates != 2 || res[0].Events != 10 {
		t.Fatalf("result %+v", res[0])
	}
	if got := sink.lines(t)[0]["uuid"]; got != "E000020" {
		t.Fatalf("first line %v, want E000020", got)
	}
}

func TestFailureAndPanicAreIsolated(t *testing.T) {
	sink, store := &memSink{}, newStore(t)
	failing := &pagedSource{n: 30, size: 10, failAt: 2}
	panicking := &pagedSource{n: 30, size: 10, panicAt: 1}
	healthy := &pagedSource{n: 5, size: 10}
	res := newRunner(t, sink, store, Budget{}).Run(context.Background(), []Stream{
		{Key: key("audit"), Name: "audit", Source: failing},
		{Key: key("signin"), Name: "signin", Source: panicking},
		{Key: key("itemusage"), Name: "itemusage", Source: healthy},
	})
	if res[0].Success || res[0].Events != 10 || !res[0].CursorAdvanced {
		t.Fatalf("failing stream: %+v", res[0])
	}
	if res[1].Success || res[1].Errors[0] != CodeUnexpected {
		t.Fatalf("panicking stream: %+v", res[1])
	}
	if !res[2].Success || res[2].Events != 5 {
		t.Fatalf("healthy stream after failures: %+v", res[2])
	}
	var codes []string
	for _, l := range sink.lines(t) {
		if l["event_type"] == "error" {
			codes = append(codes, l["error_code"].(string)+"/"+l["source"].(string))
		}
	}
	if fmt.Sprint(codes) != "[API_HTTP_500/audit API_UNEXPECTED_ERROR/signin]" {
		t.Fatalf("error events %v", codes)
	}
	if _, pos := stored(t, store, key("audit")); pos != 10 {
		t.Fatalf("failing stream committed to %d, want its delivered page 10", pos)
	}
}

func TestByteBudgetLeavesPageForNextRun(t *testing.T) {
	sink, store := &memSink{}, newStore(t)
	src := &pagedSource{n: 100, size: 10}
	// A page is 1750 bytes; allow a bit over two pages.
	res := newRunner(t, sink, store, Budget{MaxBytes: 3600}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if r := res[0]; r.Stop != StopMaxBytes || !r.Backlog || r.Events != 20 {
		t.Fatalf("result %+v", r)
	}
	if int64(sink.confirmed.Len()) > 3600 {
		t.Fatalf("wrote %d bytes over a 3600 budget", sink.confirmed.Len())
	}
	if _, pos := stored(t, store, key("audit")); pos != 20 {
		t.Fatalf("committed %d, want 20", pos)
	}
}

func TestRunAlwaysMakesProgress(t *testing.T) {
	sink := &memSink{}
	src := &pagedSource{n: 100, size: 10}
	res := newRunner(t, sink, newStore(t), Budget{MaxBytes: 10}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if res[0].Events != 10 {
		t.Fatalf("a budget smaller than one page must still deliver one page: %+v", res[0])
	}
}

func TestLockedStreamIsSkipped(t *testing.T) {
	store := newStore(t)
	l, _ := store.Lock(context.Background(), key("audit"), state.LockOptions{})
	defer l.Release(context.Background())
	src := &pagedSource{n: 5, size: 10}
	res := newRunner(t, &memSink{}, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if res[0].Ran || res[0].Stop != StopLocked || src.fetches != 0 {
		t.Fatalf("result %+v, fetches %d", res[0], src.fetches)
	}
}

func TestNoticesAndBadItemsBecomeErrorEvents(t *testing.T) {
	sink := &memSink{}
	src := &pagedSource{n: 4, size: 10, badItems: true, notice: &Notice{Code: CodeCursorReset, Message: "cursor refused"}}
	res := newRunner(t, sink, newStore(t), Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	var kinds []string
	for _, l := range sink.lines(t) {
		if l["event_type"] == "error" {
			kinds = append(kinds, l["error_code"].(string))
		} else {
			kinds = append(kinds, l["uuid"].(string))
		}
	}
	if fmt.Sprint(kinds) != "[CURSOR_RESET E000000 API_INVALID_EVENT E000002 API_INVALID_EVENT]" {
		t.Fatalf("lines %v", kinds)
	}
	if res[0].Events != 2 {
		t.Fatalf("result %+v", res[0])
	}
}

func TestBackfillNeverTouchesState(t *testing.T) {
	sink := &memSink{}
	src := &pagedSource{n: 15, size: 10}
	res := newRunner(t, sink, nil, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if res[0].Events != 15 || res[0].CursorAdvanced {
		t.Fatalf("result %+v", res[0])
	}
}

func TestSummaryMatchesSeedShape(t *testing.T) {
	sink := &memSink{}
	r := newRunner(t, sink, newStore(t), Budget{})
	res := r.Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: &pagedSource{n: 1, size: 10}}})
	if err := r.WriteSummary(context.Background(), SummaryInput{Streams: []string{"audit", "signin", "itemusage"}, Tenant: "default", Results: res}); err != nil {
		t.Fatal(err)
	}
	lines := sink.lines(t)
	sum := lines[len(lines)-1]
	if sum["event_type"] != "run_summary" || sum["source"] != "orchestrator" || sum["audit_ran"] != true || sum["audit_success"] != true || sum["signin_ran"] != false {
		t.Fatalf("summary %v", sum)
	}
	if _, ok := sum["signin_success"]; ok {
		t.Fatalf("a stream that did not run has no _success, as in the seed")
	}
}

// cancelOnConfirm cancels the run right after a confirmation succeeded,
// as a SIGTERM or deadline landing at that instant would.
type cancelOnConfirm struct {
	memSink
	cancel context.CancelFunc
}

func (c *cancelOnConfirm) Confirm(ctx context.Context) error {
	err := c.memSink.Confirm(ctx)
	c.cancel()
	return err
}

// ctxStore fails a commit whose context has ended, as a network store does.
type ctxStore struct{ state.Store }

func (s ctxStore) Lock(ctx context.Context, k state.Key, o state.LockOptions) (state.Lease, error) {
	l, err := s.Store.Lock(ctx, k, o)
	return ctxLease{l}, err
}

type ctxLease struct{ state.Lease }

func (l ctxLease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return l.Lease.Commit(ctx, rec)
}

func TestCommitOfAConfirmedPageSurvivesCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sink := &cancelOnConfirm{cancel: cancel}
	store := newStore(t)
	r, err := New(Config{Envelope: event.Envelope{Integration: "1password", Namespace: "op"}, RunID: "r", Store: ctxStore{store}, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	src := &pagedSource{n: 60, size: 10}
	res := r.Run(ctx, []Stream{{Key: key("signin"), Name: "signin", Source: src}})
	if res[0].Stop != StopInterrupted || !res[0].CursorAdvanced || len(res[0].Errors) != 0 {
		t.Fatalf("result %+v", res[0])
	}
	if _, pos := stored(t, store, key("signin")); pos != 10 {
		t.Fatalf("committed %d, want the confirmed page (10)", pos)
	}
}

// keySource serves fixed items once, then nothing, with a cursor that only
// moves when it served something (like a vendor cursor at the end of its
// log), and serves its items again from the start when restarted at 0.
type keySource struct {
	items []Item
	pos   int
}

func (k *keySource) Start(ctx context.Context, rec state.Record) error {
	k.pos = 0
	if len(rec.Cursor) > 0 {
		var c struct{ Pos int }
		if err := json.Unmarshal(rec.Cursor, &c); err != nil {
			return err
		}
		k.pos = c.Pos
	}
	return nil
}

func (k *keySource) Fetch(ctx context.Context) (*Page, error) {
	page := &Page{Items: k.items[k.pos:], SeenSince: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	k.pos = len(k.items)
	page.Cursor, _ = json.Marshal(struct{ Pos int }{k.pos})
	return page, nil
}

// TestUnusualKeysNeverFailACommit is the regression for a 1Password uuid
// that was not valid UTF-8: the commit failed on every run and the same
// page was sent forever. Keys are now digests: any bytes, any length.
func TestUnusualKeysNeverFailACommit(t *testing.T) {
	store := newStore(t)
	at := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	keys := []string{"\xff\xfe\xfd-not-utf8", strings.Repeat("long", 5000), "nul\x00binary\x01\x02", "\xed\xa0\x80"}
	src := &keySource{}
	for i, k := range keys {
		src.items = append(src.items, Item{Raw: []byte(fmt.Sprintf(`{"n":%d}`, i)), Type: "audit_event", Key: k, Time: at})
	}
	// A key too large for any Wazuh line: the event is reported, not
	// forwarded, and the commit is not affected either.
	src.items = append(src.items, Item{Raw: []byte(`{"n":9}`), Type: "audit_event", Key: strings.Repeat("k", 1<<20), Time: at})
	res := newRunner(t, &memSink{}, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if r := res[0]; !r.CursorAdvanced || r.Events != int64(len(keys)) || fmt.Sprint(r.Errors) != "["+CodeInvalidEvent+"]" {
		t.Fatalf("result %+v", r)
	}
	rec, _ := stored(t, store, key("audit"))
	if len(rec.Seen) != len(keys) {
		t.Fatalf("%d keys remembered, want %d", len(rec.Seen), len(keys))
	}
	// A restart from the beginning: every one of them is recognised.
	l, _ := store.Lock(context.Background(), key("audit"), state.LockOptions{})
	rec.Cursor = json.RawMessage(`{"Pos":0}`)
	if _, err := l.Commit(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	l.Release(context.Background())
	sink := &memSink{}
	res = newRunner(t, sink, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if r := res[0]; r.Duplicates != int64(len(keys)) || r.Events != 0 || fmt.Sprint(r.Errors) != "["+CodeInvalidEvent+"]" {
		t.Fatalf("re-served keys: %+v", r)
	}
}

// countingStore counts leases, commits and renewals; renewErr, when set,
// is what Renew returns.
type countingStore struct {
	state.Store
	locks, commits, renews atomic.Int64
	renewErr               error
}

func (s *countingStore) Lock(ctx context.Context, k state.Key, o state.LockOptions) (state.Lease, error) {
	s.locks.Add(1)
	l, err := s.Store.Lock(ctx, k, o)
	if err != nil {
		return nil, err
	}
	return &countingLease{Lease: l, s: s}, nil
}

type countingLease struct {
	state.Lease
	s *countingStore
}

func (l *countingLease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	l.s.commits.Add(1)
	return l.Lease.Commit(ctx, rec)
}

func (l *countingLease) Renew(ctx context.Context) error {
	l.s.renews.Add(1)
	if l.s.renewErr != nil {
		return l.s.renewErr
	}
	return l.Lease.Renew(ctx)
}

// TestIdleRunWritesNoState: a run that finds nothing new (same cursor, no
// new keys) does not commit; one that finds something does.
func TestIdleRunWritesNoState(t *testing.T) {
	store := &countingStore{Store: newStore(t)}
	src := &pagedSource{n: 25, size: 10}
	run := func() Result {
		return newRunner(t, &memSink{}, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})[0]
	}
	if r := run(); !r.Success || r.Events != 25 || store.commits.Load() != 3 {
		t.Fatalf("first run: %+v, %d commits", r, store.commits.Load())
	}
	for i := range 2 {
		r := run()
		if !r.Success || r.Events != 0 || r.CursorAdvanced || r.SkippedCommits != 1 {
			t.Fatalf("idle run %d: %+v", i, r)
		}
		if n := store.commits.Load(); n != 3 {
			t.Fatalf("idle run %d committed (%d commits in all)", i, n)
		}
	}
	rec, pos := stored(t, store, key("audit"))
	if rec.Version != 3 || pos != 25 {
		t.Fatalf("record after idle runs: version %d, pos %d", rec.Version, pos)
	}
	src.n = 27
	if r := run(); r.Events != 2 || !r.CursorAdvanced || store.commits.Load() != 4 {
		t.Fatalf("run with new events: %+v, %d commits", r, store.commits.Load())
	}
}

// TestFarFutureTimeIsNotTheNewestEvent: an event stamped years ahead does
// not become the newest delivered event (it would report a negative lag).
func TestFarFutureTimeIsNotTheNewestEvent(t *testing.T) {
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	real := now.Add(-time.Minute)
	src := &keySource{items: []Item{
		{Raw: []byte(`{"n":1}`), Type: "audit_event", Key: "a", Time: real},
		{Raw: []byte(`{"n":2}`), Type: "audit_event", Key: "b", Time: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Raw: []byte(`{"n":3}`), Type: "audit_event", Key: "c", Time: now.Add(30 * time.Second)}, // a little ahead: fine
	}}
	r, err := New(Config{Envelope: event.Envelope{Integration: "1password", Namespace: "op"}, RunID: "r", Store: newStore(t), Sink: &memSink{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if res[0].Events != 3 || !res[0].Newest.Equal(now.Add(30*time.Second)) {
		t.Fatalf("newest = %s (events %d), want %s", res[0].Newest, res[0].Events, now.Add(30*time.Second))
	}
}

// blockingSource's first Fetch waits until release is closed, ctx ends or
// giveUp passed, as a slow vendor page would.
type blockingSource struct {
	pagedSource
	release chan struct{}
	giveUp  time.Duration
	once    bool
}

func (b *blockingSource) Fetch(ctx context.Context) (*Page, error) {
	if !b.once {
		b.once = true
		select {
		case <-b.release:
		case <-time.After(b.giveUp):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return b.pagedSource.Fetch(ctx)
}

// TestLeaseRenewedWhileAPageIsInFlight: a page that takes several lease
// TTLs does not lose the lease: it is renewed every third of its TTL.
func TestLeaseRenewedWhileAPageIsInFlight(t *testing.T) {
	store := &countingStore{Store: newStore(t)}
	const ttl = 30 * time.Millisecond
	// Progress, not time, decides: the page completes after three
	// renewals. Renewals come every ttl/3; a pipeline that never renews
	// gets the page after a thousand TTLs and fails below.
	src := &blockingSource{pagedSource: pagedSource{n: 5, size: 10}, release: make(chan struct{}), giveUp: 1000 * ttl}
	go func() {
		for store.renews.Load() < 3 {
			time.Sleep(ttl / 10)
		}
		close(src.release)
	}()
	r, err := New(Config{Envelope: event.Envelope{Integration: "1password", Namespace: "op"}, RunID: "r", Store: store, Sink: &memSink{}, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if !res[0].Success || res[0].Events != 5 || !res[0].CursorAdvanced || store.renews.Load() < 3 {
		t.Fatalf("result %+v after %d renewals", res[0], store.renews.Load())
	}
}

// TestLeaseTakenOverStopsTheStream: when a renewal finds the lease taken
// over, the stream stops at once, says so, and does not try to commit.
func TestLeaseTakenOverStopsTheStream(t *testing.T) {
	store := &countingStore{Store: newStore(t), renewErr: fmt.Errorf("renew: %w", state.ErrLeaseLost)}
	src := &blockingSource{pagedSource: pagedSource{n: 5, size: 10}, release: make(chan struct{}), giveUp: 30 * time.Second}
	sink := &memSink{}
	r, err := New(Config{Envelope: event.Envelope{Integration: "1password", Namespace: "op"}, RunID: "r", Store: store, Sink: sink, LeaseTTL: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	if res[0].Success || res[0].Stop != StopError || fmt.Sprint(res[0].Errors) != "["+CodeStateWrite+"]" || store.commits.Load() != 0 {
		t.Fatalf("result %+v, %d commits", res[0], store.commits.Load())
	}
	if lines := sink.lines(t); len(lines) != 1 || lines[0]["error_code"] != CodeStateWrite {
		t.Fatalf("delivered %v, want the error event", lines)
	}
}

// windowSource serves one page whose events carry old own times but are
// remembered under the page's window end, the way a vendor that selects
// by classification time re-serves an event with an old timestamp.
type windowSource struct {
	t0     time.Time
	served int
	err    error // set on the page as Page.Err
}

func (w *windowSource) Start(ctx context.Context, rec state.Record) error { return nil }

func (w *windowSource) Fetch(ctx context.Context) (*Page, error) {
	w.served++
	end := w.t0.Add(time.Hour)
	page := &Page{Cursor: json.RawMessage(fmt.Sprintf(`{"fetch":%d}`, w.served)), SeenSince: end.Add(-30 * time.Minute), Err: w.err}
	for i := range 3 {
		page.Items = append(page.Items, Item{
			Raw:    []byte(fmt.Sprintf(`{"uuid":"R%d"}`, i)),
			Type:   "click",
			Key:    fmt.Sprintf("R%d", i),
			Time:   w.t0.Add(-72 * time.Hour), // days before the window
			SeenAt: end,
		})
	}
	return page, nil
}

func TestSeenAtDecidesHowLongAKeyIsKept(t *testing.T) {
	store := newStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sink := &memSink{}
	res := newRunner(t, sink, store, Budget{}).Run(context.Background(), []Stream{{Key: key("siem"), Name: "siem", Source: &windowSource{t0: t0}}})
	if res[0].Events != 3 {
		t.Fatalf("result %+v", res[0])
	}
	rec, _ := stored(t, store, key("siem"))
	if len(rec.Seen) != 3 || !rec.Seen[0].At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("keys of old events must be kept under SeenAt, got %+v", rec.Seen)
	}
	// Served again in the next run: suppressed, although their own time
	// is long before SeenSince.
	res = newRunner(t, &memSink{}, store, Budget{}).Run(context.Background(), []Stream{{Key: key("siem"), Name: "siem", Source: &windowSource{t0: t0}}})
	if res[0].Events != 0 || res[0].Duplicates != 3 {
		t.Fatalf("re-served events not suppressed: %+v", res[0])
	}
}

func TestPageErrCommitsThePageThenFails(t *testing.T) {
	store := newStore(t)
	sink := &memSink{}
	src := &windowSource{t0: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), err: &Error{Code: CodeHTTP429, Message: "quota used up"}}
	res := newRunner(t, sink, store, Budget{}).Run(context.Background(), []Stream{{Key: key("siem"), Name: "siem", Source: src}})
	r := res[0]
	if r.Success || r.Stop != StopError || !r.Backlog || r.Events != 3 || !r.CursorAdvanced || fmt.Sprint(r.Errors) != "[API_HTTP_429]" {
		t.Fatalf("result %+v", r)
	}
	if src.served != 1 {
		t.Fatalf("fetched %d pages after a page with Err, want 1", src.served)
	}
	rec, _ := stored(t, store, key("siem"))
	if string(rec.Cursor) != `{"fetch":1}` {
		t.Fatalf("cursor %s: the page carrying Err must be committed", rec.Cursor)
	}
	lines := sink.lines(t)
	if len(lines) != 4 || lines[3]["error_code"] != CodeHTTP429 {
		t.Fatalf("lines %v: want the page's events, then the error event", lines)
	}
}

// TestRequestBudgetIsAPlannedStop: a source that stops before its vendor's
// request quota would be used up has its page committed and its error
// event written, like any failure, but the stream did not fail: a failure
// makes a Lambda invocation be retried into the same quota.
func TestRequestBudgetIsAPlannedStop(t *testing.T) {
	store := newStore(t)
	sink := &memSink{}
	src := &windowSource{t0: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), err: &Error{Code: CodeRequestBudget, Message: "budget nearly used up"}}
	res := newRunner(t, sink, store, Budget{}).Run(context.Background(), []Stream{{Key: key("siem"), Name: "siem", Source: src}})
	r := res[0]
	if !r.Success || r.Stop != StopRequestBudget || !r.Backlog || r.Events != 3 || !r.CursorAdvanced || fmt.Sprint(r.Errors) != "["+CodeRequestBudget+"]" {
		t.Fatalf("result %+v", r)
	}
	lines := sink.lines(t)
	if len(lines) != 4 || lines[3]["error_code"] != CodeRequestBudget {
		t.Fatalf("lines %v: want the page's events, then the budget's error event", lines)
	}
}
