package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/prefault"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// streamRun is the state of one stream during a run.
type streamRun struct {
	r     *Runner
	pacer Pacer // the sink, when it paces (nil otherwise)
	s     Stream
	sh    share
	res   *Result
	log   *slog.Logger
	b     *event.Builder
	lease state.Lease
	rec   state.Record
	seen  seenSet

	renewed   atomic.Int64 // when the lease was last extended (UnixNano, local clock)
	leaseLost atomic.Bool  // another runner took the stream over

	pending       *state.Record // to commit after the next confirmation
	pendingPages  int64
	pendingEvents int64
	pendingBytes  int64
	pendingNewest time.Time

	bytes  int64 // written by this stream
	events int64
	// turnBytes and turnEvents are bytes and events when the stream's
	// current turn began: its share is counted from there.
	turnBytes, turnEvents int64
	// ctx is the stream's context across its turns, cancelled when its
	// lease is lost or it is closed; cancel and stopRenewing end it.
	ctx          context.Context
	cancel       context.CancelFunc
	stopRenewing func()
	// held is the built page the stream stopped before when its share was
	// spent, kept for its next turn (see turn).
	held *builtPage
	// canWait: the stream stopped at its share of the run's budget, at a
	// page boundary, so it may go on in another turn.
	canWait bool
	// largestBytes and largestEvents describe the largest page written,
	// what a waiting stream without a held page needs left to go on.
	largestBytes, largestEvents int64
	// more is what the last fetched page said: the vendor has more events
	// right now. A stream that stops on an error reports it as its backlog.
	more bool
	// deliveryFailed: DELIVERY_FAILED was reported; the stream's end still
	// tries to deliver that error event, without reporting its own failure
	// as a second one.
	deliveryFailed bool
}

// failedBacklog records, for a stream stopping on an error, whether events
// are left behind: the vendor said it had more, or fetched events were not
// delivered (undelivered counts them).
func (sr *streamRun) failedBacklog(undelivered int64) {
	if sr.more || undelivered > 0 {
		sr.res.Backlog = true
	}
}

// runStream opens stream s (its lease, its stored record, its source) and
// runs its first turn. It returns the stream when it waits for another
// turn, nil when it is closed.
func (r *Runner) runStream(ctx context.Context, s Stream, sh share, res *Result) *streamRun {
	sr := &streamRun{r: r, s: s, sh: sh, res: res, ctx: ctx, log: r.cfg.Logger.With("stream", s.Key.String())}
	sr.pacer, _ = r.cfg.Sink.(Pacer)
	b, err := event.NewBuilder(event.Config{
		Envelope:    r.cfg.Envelope,
		Meta:        event.Meta{Tenant: s.Key.Tenant, Stream: s.Name, RunID: r.cfg.RunID},
		MaxLine:     r.cfg.MaxLine - r.cfg.Sink.Overhead(),
		EpochMillis: r.cfg.EpochMillis,
	})
	if err != nil {
		res.Ran, res.Stop = true, StopError
		r.emitError(ctx, s, res, &Error{Code: CodeConfig, Message: "cannot build event lines", Err: err})
		return nil
	}
	sr.b = b
	opened := false
	defer func() {
		if !opened {
			sr.close()
		}
	}()
	if r.cfg.Store != nil {
		locking := time.Now()
		lease, err := r.cfg.Store.Lock(ctx, s.Key, state.LockOptions{Owner: r.cfg.Owner, TTL: r.cfg.LeaseTTL, Until: r.cfg.LeaseUntil})
		if errors.Is(err, state.ErrLocked) {
			res.Stop = StopLocked
			res.Success = true
			sr.log.Warn("stream skipped: another runner holds it", "error", r.cfg.Redactor.String(err.Error()))
			return nil
		}
		res.Ran = true
		if err != nil {
			res.Stop = StopError
			r.emitError(ctx, s, res, &Error{Code: CodeStateRead, Message: "cannot lock the stream's state", Err: err})
			sr.finish(ctx)
			return nil
		}
		sr.lease = lease
		sr.renewed.Store(locking.UnixNano())
		sr.ctx, sr.cancel = context.WithCancel(ctx)
		sr.stopRenewing = sr.renewLease(sr.ctx, sr.cancel)
		if sr.rec, err = lease.Load(sr.ctx); err != nil {
			res.Stop = StopError
			r.emitError(sr.ctx, s, res, &Error{Code: CodeStateRead, Message: "cannot read the stream's state; it was not reset, fix or remove it", Err: err})
			sr.finish(sr.ctx)
			return nil
		}
	}
	res.Ran = true
	res.Success = true
	sr.seen.load(sr.rec.Seen)
	if err := s.Source.Start(sr.ctx, sr.rec); err != nil {
		res.Stop = StopError
		r.emitError(sr.ctx, s, res, err)
		sr.finish(sr.ctx)
		return nil
	}
	opened = true
	return sr.turn()
}

// turn runs the stream until it stops, within its share sr.sh, and
// delivers and commits what it wrote. A stream that stopped at its share
// of the run's budget while the run has budget left waits for another
// turn: it keeps its lease, its source's position and the page it could
// not fit, which its next turn delivers first, so the leftover of the
// streams that caught up early is not wasted and no page is fetched
// twice. turn returns sr when it waits, and closes it otherwise.
func (sr *streamRun) turn() (waiting *streamRun) {
	defer func() {
		if waiting == nil {
			sr.close()
		}
	}()
	ctx, res := sr.ctx, sr.res
	sr.turnBytes, sr.turnEvents = sr.bytes, sr.events
	res.Stop, res.Backlog, sr.canWait = "", false, false
	sr.loop(ctx)
	if sr.leaseLost.Load() {
		// The commit would be refused: the next holder starts from the
		// stored cursor and may send the delivered pages again.
		sr.dropPending()
		res.Stop, res.Backlog = StopError, true
		r := sr.r
		r.emitError(ctx, sr.s, res, &Error{Code: CodeStateWrite, Message: "another runner took over the stream's lease; stopped without saving the cursor, the next run may repeat delivered events"})
	}
	sr.finish(ctx)
	if sr.canWait && res.Success && ctx.Err() == nil && sr.r.budgetLeft() && sr.mayFit() {
		return sr
	}
	return nil
}

// mayFit says whether what is left of the run's budget takes the page the
// stream holds (as the first page of a turn, it may use all of it), or,
// holding none, one as large as the largest it wrote: a stream that would
// fetch a page only to leave it for the next run gets no other turn, as
// that would spend a vendor request for nothing.
func (sr *streamRun) mayFit() bool {
	r, b := sr.r, sr.r.cfg.Budget
	bytes, events := sr.largestBytes, sr.largestEvents
	if sr.held != nil {
		bytes, events = int64(len(sr.held.lines)), sr.held.events
	}
	return (b.MaxBytes <= 0 || b.MaxBytes-r.bytes >= bytes) &&
		(b.MaxEvents <= 0 || b.MaxEvents-r.events >= events)
}

// budgetLeft says whether the run has any of its budget left.
func (r *Runner) budgetLeft() bool {
	b := r.cfg.Budget
	return (b.MaxBytes <= 0 || r.bytes < b.MaxBytes) &&
		(b.MaxEvents <= 0 || r.events < b.MaxEvents) &&
		(b.Deadline.IsZero() || r.cfg.Now().Before(b.Deadline))
}

// close ends the stream: it gives back the page it held and releases its
// lease.
func (sr *streamRun) close() {
	if h := sr.held; h != nil {
		sr.held = nil
		sr.r.heldBytes -= len(h.lines)
		sr.r.putPage(h.lines)
	}
	if sr.lease == nil {
		return
	}
	sr.stopRenewing()
	sr.cancel()
	fctx, cancelFinish := sr.r.finishContext(sr.ctx)
	defer cancelFinish()
	if err := sr.lease.Release(fctx); err != nil {
		sr.log.Warn("releasing the stream lease failed; it expires on its own", "error", sr.r.cfg.Redactor.String(err.Error()))
	}
}

// renewLease keeps the lease alive while the stream runs: whenever a third
// of its TTL passed since it was last extended (by Lock, a commit or a
// renewal), it renews it, so a slow page never loses it while a runner
// that dies frees the stream within the TTL. If the lease was taken over,
// it marks the stream and cancels it. It returns a function that stops the
// renewals and waits for them to end.
func (sr *streamRun) renewLease(ctx context.Context, cancel context.CancelFunc) func() {
	every := sr.r.cfg.LeaseTTL / 3
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if wait := every - time.Since(time.Unix(0, sr.renewed.Load())); wait > 0 {
				t.Reset(wait)
				continue
			}
			rctx, rcancel := context.WithTimeout(ctx, every)
			renewing := time.Now()
			err := sr.lease.Renew(rctx)
			rcancel()
			switch {
			case err == nil:
				sr.renewed.Store(renewing.UnixNano())
				t.Reset(every)
			case errors.Is(err, state.ErrLeaseLost):
				sr.log.Error("the stream's lease was taken over; stopping", "error", sr.r.cfg.Redactor.String(err.Error()))
				sr.leaseLost.Store(true)
				cancel()
				return
			default:
				// Try again soon; the lease is still ours for a while.
				sr.log.Warn("renewing the stream lease failed; retrying", "error", sr.r.cfg.Redactor.String(err.Error()))
				t.Reset(max(every/4, time.Millisecond))
			}
		}
	}()
	return func() {
		close(stop)
		wg.Wait()
	}
}

// finishContext bounds a step that must complete even when the run was
// cancelled or its budget ran out: confirming, committing a delivered
// page, error events, releasing the lease. It is not cancelled with ctx.
// It lasts FinishTimeout, or, while ctx is still live, until ctx's own
// deadline when that is later: cutting the commit of a delivered page
// short while the run still has time (a Lambda invocation's margin, a
// slow state store) would only make the next run send the page again.
func (r *Runner) finishContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(r.cfg.FinishTimeout)
	if d, ok := ctx.Deadline(); ok && ctx.Err() == nil && d.After(deadline) {
		deadline = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), deadline)
}

// builtPage is a fetched page built into lines, before it is written.
type builtPage struct {
	lines  []byte
	events int64 // vendor events in lines
	newest time.Time
	// From the source's page: see Page.
	cursor    json.RawMessage
	more      bool
	seenSince time.Time
	err       error
}

func (sr *streamRun) loop(ctx context.Context) {
	r, res := sr.r, sr.res
	fetchCtx := ctx
	if !sr.sh.deadline.IsZero() {
		var cancel context.CancelFunc
		fetchCtx, cancel = context.WithDeadline(ctx, sr.sh.deadline)
		defer cancel()
	}
	fetchCtx = withItemsBuffer(withBodyBuffer(withScanOptions(fetchCtx, sr.b.ScanOptions()), &r.body), &r.items)
	var buf []byte
	defer func() { r.putPage(buf) }()
	for {
		if stop := sr.budgetStop(ctx); stop != "" {
			res.Stop, res.Backlog = stop, true
			// A share of bytes or events, not of time: whether a page
			// fits the time left is known only once it is fetched, and
			// fetching one that then waits for the next run would spend
			// a vendor request for nothing.
			sr.canWait = stop == StopMaxBytes || stop == StopMaxEvents
			return
		}
		var pg builtPage
		if h := sr.held; h != nil {
			// The page the last turn could not fit goes first.
			sr.held = nil
			r.heldBytes -= len(h.lines)
			pg, buf = *h, h.lines
		} else {
			page, err := sr.s.Source.Fetch(fetchCtx)
			if err != nil {
				// Pending pages are still confirmed by finish.
				sr.stopAfter(ctx, fetchCtx, err, false)
				return
			}
			if buf == nil {
				buf = r.takePage()
			}
			pg = sr.build(buf, page)
			buf = pg.lines
		}
		sr.more = pg.more
		if stop := sr.pageStop(int64(len(pg.lines)), pg.events); stop != "" {
			// Not written and not committed: the stream's next turn
			// delivers it when the run has room left, else the next run
			// fetches it again.
			res.Stop, res.Backlog = stop, true
			if r.heldBytes+len(pg.lines) <= maxHeldBytes {
				pg.cursor = bytes.Clone(pg.cursor) // the source's, which may reuse it
				sr.held, buf = &pg, nil
				r.heldBytes += len(pg.lines)
				sr.canWait = true
			}
			return
		}
		if ctx.Err() != nil {
			res.Stop, res.Backlog = StopInterrupted, true
			return
		}
		// The pages written before this one are confirmed only now, after
		// this one was fetched: the reader drained them meanwhile, so the
		// confirmation rarely has to wait. Nothing more is pending at any
		// time than before (ConfirmPages), so a crash repeats no more.
		if sr.pendingPages >= int64(r.cfg.ConfirmPages) {
			if !sr.confirmAndCommit(ctx) {
				return
			}
			// Interrupted, or out of time, while confirming: this page
			// is not written, as if the check before the fetch had
			// stopped the stream.
			if stop := sr.budgetStop(ctx); stop != "" {
				res.Stop, res.Backlog = stop, true
				return
			}
		}
		if err := sr.write(ctx, pg.lines); err != nil {
			if errors.Is(err, errPaced) {
				// Not written and not committed, like a page over a
				// byte or event budget.
				res.Stop, res.Backlog = StopPaced, true
				return
			}
			res.Stop = StopError
			if ctx.Err() != nil {
				res.Stop = StopInterrupted
				res.Backlog = true
			}
			sr.failedBacklog(sr.pendingEvents + pg.events)
			sr.dropPending() // not delivered: nothing written since the last confirmation counts
			sr.deliveryFailed = true
			r.emitError(ctx, sr.s, res, &Error{Code: CodeDeliveryFailed, Message: "writing events to the sink failed", Err: err})
			return
		}
		n := int64(len(pg.lines))
		sr.largestBytes, sr.largestEvents = max(sr.largestBytes, n), max(sr.largestEvents, pg.events)
		sr.bytes += n
		sr.events += pg.events
		r.bytes += n
		r.events += pg.events
		sr.pending = &state.Record{Cursor: pg.cursor, Seen: sr.seen.snapshot(pg.seenSince, sr.r.cfg.SeenLimit)}
		sr.pendingPages++
		sr.pendingEvents += pg.events
		sr.pendingBytes += n
		if pg.newest.After(sr.pendingNewest) {
			sr.pendingNewest = pg.newest
		}
		if pg.err != nil {
			// The page is pending: finish delivers and commits it.
			sr.stopAfter(ctx, fetchCtx, pg.err, true)
			return
		}
		if !pg.more {
			res.Stop = StopCaughtUp
			return
		}
	}
}

// stopAfter stops the stream after err (from Fetch, or carried by a page)
// ended it: interrupted, out of its share of time, or failed, which an
// error event reports. A failure leaves a backlog when the vendor said it
// had more (failedBacklog), or always when backlog is set.
func (sr *streamRun) stopAfter(ctx, fetchCtx context.Context, err error, backlog bool) {
	res := sr.res
	switch {
	case ctx.Err() != nil:
		res.Stop, res.Backlog = StopInterrupted, true
	case fetchCtx.Err() != nil:
		res.Stop, res.Backlog = StopDeadline, true
	default:
		res.Stop = StopError
		budget := CodeOf(err) == CodeRequestBudget
		if budget {
			res.Stop = StopRequestBudget
		}
		if backlog {
			res.Backlog = true
		} else {
			sr.failedBacklog(0)
		}
		sr.r.emitError(ctx, sr.s, res, err)
		if budget {
			// A planned stop, like the run's own bounds: the error event
			// says so and Wazuh alerts on it, but nothing failed. Counted
			// as a failure, it made a Lambda invocation fail and be
			// retried twice into the same budget, and a wodle run exit 1.
			res.Success = true
		}
	}
}

// maxHeldBytes bounds the pages streams waiting for another turn hold
// (see streamRun.turn): past it, a stream that stops at its share ends
// as before, and the next run fetches its page again.
const maxHeldBytes = 16 << 20

// takePage returns the largest of the runner's spare buffers for a page's
// lines, the least likely to need growing (nil when there is none:
// growPage makes one).
func (r *Runner) takePage() []byte {
	if len(r.pages) == 0 {
		return nil
	}
	i := 0
	for j := range r.pages {
		if cap(r.pages[j]) > cap(r.pages[i]) {
			i = j
		}
	}
	b := r.pages[i]
	r.pages = slices.Delete(r.pages, i, i+1)
	return b[:0]
}

// putPage keeps buf for the next page, of any stream.
func (r *Runner) putPage(buf []byte) {
	if cap(buf) > 0 {
		r.pages = append(r.pages, buf[:0])
	}
}

// build turns page into lines in buf: its notices as error events, then
// every item not in the dedup set, which it adds them to.
func (sr *streamRun) build(buf []byte, page *Page) builtPage {
	r, res := sr.r, sr.res
	buf = growPage(buf[:0], page, sr.b.LineOverhead())
	for _, n := range page.Notices {
		buf = r.appendError(buf, sr.b, sr.s, res, &Error{Code: n.Code, Message: n.Message, Detail: n.Detail})
	}
	pg := builtPage{cursor: page.Cursor, more: page.More, seenSince: page.SeenSince, err: page.Err}
	futureLimit := r.cfg.Now().Add(MaxFutureSkew)
	for _, it := range page.Items {
		// The key is hashed once; the digest is what the set holds.
		dedup := it.Key != ""
		var digest state.Digest
		if dedup {
			digest = state.KeyDigest(it.Key)
			if sr.seen.has(digest) {
				res.Duplicates++
				continue
			}
		}
		var info event.Info
		var err error
		buf, info, err = sr.appendItem(buf, &it)
		if err != nil {
			// Never dropped in silence: the operator gets an event
			// naming the item, and can fetch it from the vendor.
			buf = r.appendError(buf, sr.b, sr.s, res, &Error{Code: CodeInvalidEvent, Message: "a vendor event could not be decoded and was not forwarded", Detail: fmt.Sprintf("key=%q", it.Key), Err: err})
			continue
		}
		if info.Reduced {
			res.Reduced++
			sr.log.Warn("event reduced to fit Wazuh's limits", "key", it.Key, "bytes", info.Bytes)
		}
		if dedup {
			at := it.Time
			if !it.SeenAt.IsZero() {
				at = it.SeenAt
			}
			sr.seen.add(digest, at)
		}
		if it.Time.After(pg.newest) && !it.Time.After(futureLimit) {
			pg.newest = it.Time
		}
		pg.events++
	}
	pg.lines = buf
	return pg
}

// errPaced reports a page that the sink's events-per-second limit would
// hold back past the deadline: it was not written.
var errPaced = errors.New("pipeline: paced past the deadline")

// write writes a built page. A pacing sink gets the deadline the page must
// meet; a page it would hold back past that deadline is not written
// (errPaced), unless it is the run's very first page, which always goes
// so that a run always makes progress (the sink then sends it faster than
// its limit, and says so).
func (sr *streamRun) write(ctx context.Context, buf []byte) error {
	r := sr.r
	if sr.pacer == nil {
		return r.cfg.Sink.Write(ctx, buf)
	}
	by := sr.paceDeadline(ctx)
	lines := bytes.Count(buf, []byte{'\n'})
	if d := sr.pacer.PaceDelay(lines); d > 0 && !by.IsZero() && r.cfg.Now().Add(d).After(by) {
		if r.bytes > 0 || r.events > 0 {
			sr.log.Info("stopping before a page the sink's events-per-second limit would hold back past the deadline; the next run continues",
				"lines", lines, "held_back", d.String(), "time_left", by.Sub(r.cfg.Now()).String())
			return errPaced
		}
	}
	waited, err := sr.pacer.PacedWrite(ctx, buf, by)
	sr.res.Paced += waited
	return err
}

// paceDeadline is when a page must have left: the stream's share of the
// run's time, or, for the stream's first page, what is left of the run
// (as pageStop allows), and never past ctx's deadline. Zero means none.
func (sr *streamRun) paceDeadline(ctx context.Context) time.Time {
	by := sr.sh.deadline
	if sr.firstOfTurn() {
		by = sr.r.cfg.Budget.Deadline
	}
	if dl, ok := ctx.Deadline(); ok && (by.IsZero() || dl.Before(by)) {
		by = dl
	}
	return by
}

// firstOfTurn says whether the stream has written nothing in this turn.
func (sr *streamRun) firstOfTurn() bool {
	return sr.bytes == sr.turnBytes && sr.events == sr.turnEvents
}

// budgetStop says whether the stream must stop before fetching.
func (sr *streamRun) budgetStop(ctx context.Context) string {
	switch {
	case ctx.Err() != nil:
		return StopInterrupted
	case !sr.sh.deadline.IsZero() && !sr.r.cfg.Now().Before(sr.sh.deadline):
		return StopDeadline
	case sr.sh.maxBytes > 0 && sr.bytes-sr.turnBytes >= sr.sh.maxBytes && sr.bytes > sr.turnBytes:
		return StopMaxBytes
	case sr.sh.maxEvents > 0 && sr.events-sr.turnEvents >= sr.sh.maxEvents && sr.events > sr.turnEvents:
		return StopMaxEvents
	}
	return ""
}

// pageStop says whether a built page must be left for later. A page fits
// the stream's share; or, as the first page of the stream's turn, what is
// left of the run; and the run's very first page always goes, so that a
// page larger than the whole budget cannot stall collection forever.
func (sr *streamRun) pageStop(n, events int64) string {
	r := sr.r
	b := r.cfg.Budget
	if r.bytes == 0 && r.events == 0 {
		return ""
	}
	first := sr.firstOfTurn()
	if b.MaxBytes > 0 && sr.bytes-sr.turnBytes+n > sr.sh.maxBytes && !(first && r.bytes+n <= b.MaxBytes) {
		return StopMaxBytes
	}
	if b.MaxEvents > 0 && sr.events-sr.turnEvents+events > sr.sh.maxEvents && !(first && r.events+events <= b.MaxEvents) {
		return StopMaxEvents
	}
	return ""
}

// confirmAndCommit asks the sink to confirm everything written and then
// commits the last pending cursor. It reports whether the stream may go on.
func (sr *streamRun) confirmAndCommit(ctx context.Context) bool {
	r, res := sr.r, sr.res
	cctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		cctx, cancel = r.finishContext(ctx)
		defer cancel()
	}
	if err := r.cfg.Sink.Confirm(cctx); err != nil {
		sr.failedBacklog(sr.pendingEvents)
		sr.dropPending()
		res.Success = false
		res.Stop = StopError
		if ctx.Err() != nil {
			res.Stop, res.Backlog = StopInterrupted, true
		}
		if sr.deliveryFailed {
			sr.log.Error("the error event of the failed delivery could not be delivered either", "error", r.cfg.Redactor.String(err.Error()))
			return false
		}
		sr.deliveryFailed = true
		r.emitError(ctx, sr.s, res, &Error{Code: CodeDeliveryFailed, Message: "the sink did not confirm delivery; the cursor was not moved", Err: err})
		// The error event itself may still get through a reconnecting sink.
		fctx, cancel := r.finishContext(ctx)
		defer cancel()
		if err := r.cfg.Sink.Confirm(fctx); err != nil {
			sr.log.Error("error event could not be delivered either", "error", r.cfg.Redactor.String(err.Error()))
		}
		return false
	}
	res.Events += sr.pendingEvents
	res.Pages += sr.pendingPages
	res.Bytes += sr.pendingBytes
	if sr.pendingNewest.After(res.Newest) {
		res.Newest = sr.pendingNewest
	}
	sr.pendingPages, sr.pendingEvents, sr.pendingBytes = 0, 0, 0
	sr.pendingNewest = time.Time{}
	if sr.pending == nil || sr.lease == nil {
		sr.pending = nil
		return true
	}
	rec := *sr.pending
	rec.Version = sr.rec.Version
	if rec.Version > 0 && bytes.Equal(rec.Cursor, sr.rec.Cursor) && sameSeen(rec.Seen, sr.rec.Seen) {
		// Nothing new: the stored record already says all this. An idle
		// run then writes nothing but its lease.
		sr.pending = nil
		res.SkippedCommits++
		sr.log.Info("nothing new since the last commit; state not written", "version", rec.Version)
		return true
	}
	// The page is delivered: abandoning its commit because the run was
	// cancelled would only make the next run send it again. The commit is
	// still conditional on the lease and version, and bounded in time.
	commitCtx, cancelCommit := r.finishContext(ctx)
	defer cancelCommit()
	committing := time.Now()
	v, err := sr.lease.Commit(commitCtx, rec)
	sr.pending = nil
	if err != nil {
		res.Success = false
		res.Stop = StopError
		sr.failedBacklog(0)
		r.emitError(ctx, sr.s, res, &Error{Code: CodeStateWrite, Message: "delivered events but could not save the cursor; the next run may repeat them", Err: err})
		sr.confirmQuietly(ctx)
		return false
	}
	rec.Version = v
	sr.rec = rec
	sr.renewed.Store(committing.UnixNano()) // a commit extends the lease
	res.CursorAdvanced = true
	return true
}

// growPage makes room in buf for the lines of page in one step rather than
// by repeated doubling, which would touch (and fault in) about twice the
// memory: the lines are at most the events' bytes plus the builder's
// per-line overhead (events that need escaping grow more, and are then
// appended as usual). An eighth more leaves room for the next pages,
// which are rarely much larger.
func growPage(buf []byte, page *Page, overhead int) []byte {
	need := 0
	for i := range page.Items {
		need += len(page.Items[i].Raw) + len(page.Items[i].Key)
	}
	need += len(page.Items)*overhead + len(page.Notices)*2048
	if need > cap(buf) {
		// A new buffer rather than slices.Grow, which would copy the old
		// one's whole capacity and clear the rest: only what it holds is
		// kept, and the pages about to be written are backed at once.
		grown := make([]byte, len(buf), len(buf)+need+need/8)
		copy(grown, buf)
		prefault.Populate(grown[len(buf) : len(buf)+need])
		buf = grown
	}
	return buf
}

func (sr *streamRun) dropPending() {
	sr.pending = nil
	sr.pendingPages, sr.pendingEvents, sr.pendingBytes = 0, 0, 0
	sr.pendingNewest = time.Time{}
}

func (sr *streamRun) confirmQuietly(ctx context.Context) {
	fctx, cancel := sr.r.finishContext(ctx)
	defer cancel()
	if err := sr.r.cfg.Sink.Confirm(fctx); err != nil {
		sr.log.Error("error event could not be delivered", "error", sr.r.cfg.Redactor.String(err.Error()))
	}
}

// finish delivers what is pending (pages and error events) and commits.
func (sr *streamRun) finish(ctx context.Context) {
	sr.confirmAndCommit(ctx)
}
