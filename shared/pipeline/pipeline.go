// Package pipeline runs the collection loop that every vendor and every
// deployment shares:
//
//	source page → lines → sink.Write → sink.Confirm → lease.Commit, per page
//
// A cursor moves only after the sink confirmed the lines of its page, so a
// crash at any point re-sends at most the unconfirmed pages and loses
// nothing. A page is confirmed and committed once the next one has been
// fetched, just before that one is written: the sink's reader drains the
// page while the vendor answers, so confirming rarely waits, and no more
// pages are ever unconfirmed than before. Each stream runs in isolation: an error or a panic in one is
// reported as an error event and the others carry on.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Item is one vendor event of a page.
type Item struct {
	// Raw is the vendor's JSON object; it must stay valid until the next Fetch.
	Raw []byte
	// Type is the event_type put in the envelope.
	Type string
	// Key is the stable dedup key; "" means never deduplicated. Any bytes
	// and any length will do: the pipeline remembers its digest
	// (state.KeyDigest), computed once per item.
	Key string
	// Time is the event's own time (zero if unknown). The dedup set keeps
	// a key while its Time is at or after the page's SeenSince; the newest
	// Time delivered (ignoring times more than MaxFutureSkew ahead of the
	// clock) is reported as Result.Newest.
	Time time.Time
	// SeenAt, when set, is the time the dedup key is remembered under
	// instead of Time (see Page.SeenSince). A source sets it when the event
	// can be served again for longer than its own time suggests: a vendor
	// that selects events by when it indexed or classified them may serve
	// an event with an old timestamp in a new window.
	SeenAt time.Time
	// Scan is set when the source already validated and classified Raw
	// with jsonscan.ScanArray under ScanOptions(ctx) of its Fetch: a clean
	// event is then copied into its line instead of rebuilt.
	Scan jsonscan.Class
}

// Page is the result of one vendor request.
type Page struct {
	Items []Item
	// Cursor is the source position after this page, committed once the
	// page is delivered.
	Cursor json.RawMessage
	// More reports that the vendor has more events right now.
	More bool
	// SeenSince tells which delivered keys to remember: those of events at
	// or after this time, the window a future restart may overlap. Zero
	// means remember none.
	SeenSince time.Time
	// Notices are error events to deliver with this page.
	Notices []Notice
	// Err, when set, ends the stream after this page as if Fetch had
	// returned it: the page (items, notices, cursor) is delivered and
	// committed first. A source uses it when a failed call changed what its
	// cursor records (requests spent against a vendor quota).
	Err error
}

// Source is one stream of one tenant of one vendor.
type Source interface {
	// Start positions the source at the stored record (Version 0 means the
	// stream was never committed). A record the source cannot use is an
	// error, never a silent restart.
	Start(ctx context.Context, rec state.Record) error
	// Fetch returns the next page.
	Fetch(ctx context.Context) (*Page, error)
}

// Stream is one unit of collection.
type Stream struct {
	// Key names the stream's state (tenant/vendor/stream).
	Key state.Key
	// Name is the seed's stream name, used as "source" in error events and
	// in run summary keys ("audit", "signin", …).
	Name   string
	Source Source
}

// Budget bounds one run.
type Budget struct {
	// Deadline is when fetching stops (zero: no deadline besides ctx).
	Deadline time.Time
	// MaxBytes bounds the bytes written by the run (0: unbounded). A page
	// that does not fit is left for the next run, except that a run always
	// makes progress with at least one page.
	MaxBytes int64
	// MaxEvents bounds the vendor events written by the run (0: unbounded).
	MaxEvents int64
}

// Config configures Run.
type Config struct {
	Envelope event.Envelope
	RunID    string
	// Owner names this runner in leases (defaults to RunID).
	Owner string
	// Store holds cursors. Nil means backfill: cursors are neither read
	// nor committed, and the live collection is not disturbed.
	Store state.Store
	Sink  sink.Sink
	// MaxLine is the line limit including the sink's overhead
	// (default sink.DefaultMaxLine).
	MaxLine     int
	EpochMillis []string
	Budget      Budget
	// ConfirmPages is how many delivered pages may wait for one sink
	// confirmation (default 1: confirm and commit every page).
	ConfirmPages int
	// FinishTimeout bounds the final confirmation, commit and error events
	// after the run was cancelled or ran out of time (default 5 s). While
	// the run's context is live and its deadline is later, they may run
	// until that deadline instead.
	FinishTimeout time.Duration
	// LeaseTTL is how long a stream's lease lasts after it was taken,
	// committed through or renewed (default DefaultLeaseTTL). While a
	// stream runs, the pipeline renews it whenever a third of it passed
	// without a commit, so a runner that dies frees its stream within
	// LeaseTTL while a slow page never loses it.
	LeaseTTL time.Duration
	// LeaseUntil, when set, is a time no lease of this run outlasts (the
	// hard deadline of a Lambda invocation, plus a little).
	LeaseUntil time.Time
	// SeenLimit caps each stream's dedup set (default state.MaxSeen).
	SeenLimit int
	Logger    *slog.Logger
	Redactor  *redact.Redactor
	Now       func() time.Time
}

func (c *Config) defaults() error {
	if c.Sink == nil {
		return errors.New("pipeline: no sink")
	}
	if c.MaxLine == 0 {
		c.MaxLine = sink.DefaultMaxLine
	}
	if c.Owner == "" {
		c.Owner = c.RunID
	}
	if c.ConfirmPages <= 0 {
		c.ConfirmPages = 1
	}
	if c.FinishTimeout <= 0 {
		c.FinishTimeout = 5 * time.Second
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.SeenLimit <= 0 || c.SeenLimit > state.MaxSeen {
		c.SeenLimit = state.MaxSeen
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// DefaultLeaseTTL is the lease duration when Config.LeaseTTL is zero.
const DefaultLeaseTTL = time.Minute

// MaxFutureSkew is how far ahead of the local clock an event's time may be
// and still count as the newest delivered event: a vendor clock a little
// ahead is normal, a timestamp years ahead is not a reason to report a
// negative lag (or, for a source, to move its restart point).
const MaxFutureSkew = time.Minute

// Stop reasons reported per stream.
const (
	StopCaughtUp    = "caught_up"
	StopDeadline    = "deadline"
	StopMaxBytes    = "max_bytes"
	StopMaxEvents   = "max_events"
	StopInterrupted = "interrupted"
	StopError       = "error"
	StopLocked      = "locked"
	// StopPaced is a budget stop like the others: the sink's
	// events-per-second limit (see Pacer) would have held the next page
	// back past the deadline, so the page was left for the next run and
	// what was delivered is committed.
	StopPaced = "paced"
	// StopRequestBudget: the source stopped before its vendor's request
	// quota would be used up (CodeRequestBudget). Its error event is
	// written, but the stream did not fail (Success stays true): the
	// next run goes on when the quota has refilled.
	StopRequestBudget = "request_budget"
)

// Pacer is implemented by a sink that limits how many lines per second it
// sends (the syslog sink's EventsPerSecond, which keeps a sender to what
// the Wazuh manager absorbs). The pipeline asks it before each page
// whether the page can go before the deadline, and stops at the page
// boundary (StopPaced) when it cannot; a run's very first page always goes,
// so that a page larger than what the limit allows in a whole run cannot
// stall collection.
type Pacer interface {
	// PaceDelay is how long a write of n more lines, started now, would be
	// held back by the limit in all (0: it would go at once).
	PaceDelay(lines int) time.Duration
	// PacedWrite is Write that keeps to the limit, except that lines the
	// limit would hold back past by (zero: no bound) are sent faster,
	// spread over the time left. It returns how long it held them back.
	PacedWrite(ctx context.Context, b []byte, by time.Time) (time.Duration, error)
}

// Result reports what happened to one stream.
type Result struct {
	Key  state.Key
	Name string
	// Ran is false when the stream was skipped (locked by another runner).
	Ran bool
	// Success is true when the stream ended without an error.
	Success bool
	// Stop says why the stream stopped.
	Stop string
	// Backlog is true when the vendor had more events than this run took:
	// on a budget stop, and on an error stop after the vendor said it had
	// more or with fetched events left undelivered.
	Backlog bool
	// Events counts vendor events delivered (confirmed); Duplicates the
	// events suppressed by the dedup set; Reduced the events cut to fit.
	Events, Duplicates, Reduced int64
	// Copied counts events copied into their lines as they came (the fast
	// path); Unclassified those the source did not classify under the
	// stream's options (see ScanOptions), rebuilt even when clean. Both
	// count events built, delivered or not.
	Copied, Unclassified int64
	Pages                int64
	Bytes                int64
	// CursorAdvanced is true when at least one commit landed.
	CursorAdvanced bool
	// SkippedCommits counts commits left out because the cursor and the
	// dedup set were exactly what was stored: an idle run writes no state.
	SkippedCommits int64
	// Errors lists the error codes emitted for this stream.
	Errors []string
	// Newest is the newest event time delivered (zero if none), ignoring
	// times more than MaxFutureSkew ahead of the clock.
	Newest time.Time
	// Paced is how long the sink's events-per-second limit held this
	// stream's pages back (see Pacer); with Stop StopPaced, it also left a
	// page for the next run.
	Paced time.Duration
}

// Runner executes streams against one sink. It is not safe for concurrent
// use: streams run one after another, sharing the run's budget.
type Runner struct {
	cfg       Config
	bytes     int64 // written by the whole run
	events    int64
	errorSeq  int
	errorLine []byte
	// pages are buffers for a page's lines not in use, reused by every
	// stream: memory a process touches for the first time is its most
	// expensive (a page fault per 4 KiB), so a buffer is grown once, to
	// the size of a page, and reused by every page after. A stream
	// waiting for another turn keeps the one holding its next page.
	pages     [][]byte
	heldBytes int    // the lines of the pages waiting streams hold
	body      []byte // a page's response body, lent to each stream (BodyBuffer)
	items     []Item // a page's items, lent likewise (ItemsBuffer)
}

// New checks cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg}, nil
}

// Run collects every stream in turn and returns one result per stream.
// Each stream gets an equal share of what is left of the byte, event and
// time budgets, so one large backlog cannot starve the others; what a
// stream leaves unused passes to the streams after it. What is still left
// once every stream had its turn goes round again, shared the same way,
// to the streams that stopped at their share (see streamRun.turn): a run
// with a backlog uses its whole budget, so catching up takes as few runs
// as the budget allows whichever stream has the backlog.
func (r *Runner) Run(ctx context.Context, streams []Stream) []Result {
	results := make([]Result, len(streams))
	var waiting []*streamRun
	for i, s := range streams {
		results[i] = Result{Key: s.Key, Name: s.Name}
		sh := r.share(len(streams) - i)
		sr := r.runIsolated(ctx, s, &results[i], func() *streamRun { return r.runStream(ctx, s, sh, &results[i]) })
		if sr != nil {
			waiting = append(waiting, sr)
		}
	}
	for len(waiting) > 0 {
		bytes, events := r.bytes, r.events
		var again []*streamRun
		for i, sr := range waiting {
			if !sr.mayFit() {
				r.closeIsolated(ctx, sr)
				continue
			}
			sr.sh = r.share(len(waiting) - i)
			if w := r.runIsolated(ctx, sr.s, sr.res, sr.turn); w != nil {
				again = append(again, w)
			}
		}
		if r.bytes == bytes && r.events == events {
			// Nothing fitted: what is left is less than any stream's
			// next page, and another round would not change that.
			for _, sr := range again {
				r.closeIsolated(ctx, sr)
			}
			break
		}
		waiting = again
	}
	return results
}

// WrittenBytes is what the run has written so far.
func (r *Runner) WrittenBytes() int64 { return r.bytes }

type share struct {
	deadline  time.Time
	maxBytes  int64
	maxEvents int64
}

func (r *Runner) share(left int) share {
	b := r.cfg.Budget
	s := share{}
	if !b.Deadline.IsZero() {
		// One reading of the clock: two would move the share's deadline
		// past the budget by however long the goroutine waited between them.
		now := r.cfg.Now()
		s.deadline = now.Add(b.Deadline.Sub(now) / time.Duration(left))
	}
	if b.MaxBytes > 0 {
		s.maxBytes = max((b.MaxBytes-r.bytes)/int64(left), 0)
	}
	if b.MaxEvents > 0 {
		s.maxEvents = max((b.MaxEvents-r.events)/int64(left), 0)
	}
	return s
}

// runIsolated runs one turn of stream s (fn) and turns a panic into the
// stream's error event. It returns what fn returns: the stream when it
// waits for another turn.
func (r *Runner) runIsolated(ctx context.Context, s Stream, res *Result, fn func() *streamRun) (waiting *streamRun) {
	defer func() {
		if p := recover(); p != nil {
			r.cfg.Logger.Error("stream panicked", "stream", s.Key.String(), "panic", r.cfg.Redactor.String(fmt.Sprint(p)), "stack", string(debug.Stack()))
			res.Success = false
			res.Stop = StopError
			r.emitError(ctx, s, res, &Error{Code: CodeUnexpected, Message: fmt.Sprintf("unhandled failure in the %s stream", s.Name), Detail: r.cfg.Redactor.String(fmt.Sprint(p))})
			waiting = nil
		}
	}()
	return fn()
}

// closeIsolated closes a waiting stream that gets no other turn, a panic
// included as in a turn.
func (r *Runner) closeIsolated(ctx context.Context, sr *streamRun) {
	r.runIsolated(ctx, sr.s, sr.res, func() *streamRun {
		sr.close()
		return nil
	})
}

// maxDetail bounds the error detail so an error event never needs reducing.
const maxDetail = 2000

// errorFields turns err into the seed's error event fields.
func (r *Runner) errorFields(streamName string, err error) (event.Fields, string) {
	code := CodeOf(err)
	var pe *Error
	message, detail := "", ""
	if errors.As(err, &pe) {
		message, detail = pe.Message, pe.Detail
		if pe.Err != nil {
			if detail != "" {
				detail += "; "
			}
			detail += pe.Err.Error()
		}
	} else {
		message = err.Error()
	}
	message = r.cfg.Redactor.String(message)
	detail = r.cfg.Redactor.String(detail)
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
	}
	return event.Fields{
		{Key: r.cfg.Envelope.Source(), Value: streamName},
		{Key: "error_code", Value: code},
		{Key: "error_message", Value: message},
		{Key: "timestamp", Value: event.SeedTime(r.cfg.Now())},
		{Key: "error_detail", Value: detail},
	}, code
}

// appendError adds an error event line for stream s to buf and records the
// code in res.
func (r *Runner) appendError(buf []byte, b *event.Builder, s Stream, res *Result, err error) []byte {
	fields, code := r.errorFields(s.Name, err)
	res.Errors = append(res.Errors, code)
	r.cfg.Logger.Error("stream error", "stream", s.Key.String(), "code", code, "error", r.cfg.Redactor.String(err.Error()))
	r.errorSeq++
	key := fmt.Sprintf("%s:error:%d", r.cfg.RunID, r.errorSeq)
	if b == nil {
		var berr error
		b, berr = event.NewBuilder(event.Config{
			Envelope: r.cfg.Envelope,
			Meta:     event.Meta{Tenant: s.Key.Tenant, Stream: s.Name, RunID: r.cfg.RunID},
			MaxLine:  r.cfg.MaxLine - r.cfg.Sink.Overhead(),
		})
		if berr != nil {
			r.cfg.Logger.Error("cannot build an error event", "error", berr)
			return buf
		}
	}
	out, _, berr := b.AppendFields(buf, fields, event.TypeError, key)
	if berr != nil {
		r.cfg.Logger.Error("cannot build an error event", "error", berr)
		return buf
	}
	return out
}

// emitError writes an error event for a failed stream to the sink. It is
// confirmed with the stream's remaining pages when the stream finishes.
func (r *Runner) emitError(ctx context.Context, s Stream, res *Result, err error) {
	res.Success = false
	r.errorLine = r.appendError(r.errorLine[:0], nil, s, res, err)
	if len(r.errorLine) == 0 {
		return
	}
	wctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		wctx, cancel = r.finishContext(ctx)
		defer cancel()
	}
	if werr := r.cfg.Sink.Write(wctx, r.errorLine); werr != nil {
		r.cfg.Logger.Error("error event could not be written", "stream", s.Key.String(), "error", r.cfg.Redactor.String(werr.Error()))
		return
	}
	r.bytes += int64(len(r.errorLine))
}
