package proofpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/quota"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

const siemPath = "/v2/siem/all"

// budgetBucket is the granularity of the stored request counts: 144
// buckets a day, so a request is counted at most 10 minutes longer than
// TAP counts it.
const budgetBucket = 10 * time.Minute

// invalidBodyRetries re-asks a window whose answer was not valid JSON (a
// proxy glitch); each try is a request of the pool.
const invalidBodyRetries = 2

// Legacy is the seed wodle's state value for a stream (under
// StreamDef.LegacyKey), adopted when the stream has no record of ours.
type Legacy struct {
	Value string
}

// SIEMCursor is the stored position of the SIEM stream.
type SIEMCursor struct {
	// Start is where the next run's first window starts. Every event
	// created before it was asked for at least Overlap after it was
	// created, which is taken as enough for TAP to have indexed it.
	Start time.Time `json:"start"`
	// End is the newest queryEndTime read. Runs re-read [Start, End]
	// for events indexed late, then go on from End.
	End time.Time `json:"end,omitzero"`
	// Span is the window length in seconds, when busy windows made it
	// shorter than Config.Window.
	Span int64 `json:"span,omitempty"`
	// Limit, after TAP failed to return a window (a 500 or a timeout:
	// results it could not assemble in time), is the most events a window
	// has held since (at least minLimit); windows are sized to hold no
	// more until LimitAt is limitLife ago. limitToLearn: a window failed,
	// the next answer sets it.
	Limit   int       `json:"limit,omitempty"`
	LimitAt time.Time `json:"limit_at,omitzero"`
	// Behind is how many seconds TAP's clock was behind ours at the last
	// answer (its Date header), negative when TAP's clock was ahead.
	// Windows end and the overlap is counted by the earlier of the two
	// clocks, so that a host clock running ahead never asks for TAP's
	// future; the 7-day limit is counted by TAP's, which is the one TAP
	// enforces.
	Behind int64 `json:"behind,omitempty"`
	// Budget counts this credential's requests of the SIEM pool over
	// the last 24 hours (shared/quota's compact form).
	Budget json.RawMessage `json:"budget,omitempty"`
}

// siemSource reads the SIEM stream of one tenant.
type siemSource struct {
	c        *Collector
	legacy   Legacy
	backfill bool
	stopAt   time.Time // backfill: the end fixed when the run started
	// fresh: the start is the lookback's, not a position any run reached.
	// Moving it inside the 7-day limit gives up nothing that was due, so
	// it is no collection gap.
	fresh bool
	// gapFrom is where the last gap event's interval began: a second
	// move of the same request's start (after TAP refused it) extends
	// that event rather than adding another.
	gapFrom time.Time
	// startNotices go out with the run's first page (an unreadable seed
	// position).
	startNotices []pipeline.Notice

	cur    SIEMCursor
	readTo time.Time // end of the last window of this run
	budget *quota.Rolling
	dec    *siemDecoder
	buf    []byte
	// bodyLimit is the largest answer the HTTP client reads: windows are
	// sized to answers of half as much (httpx.DefaultMaxBody until an
	// answer over the client's limit tells it).
	bodyLimit int64

	// A response handed out in several pages.
	pending   []pipeline.Item
	after     SIEMCursor
	afterMore bool
}

// NewSource returns the pipeline source of stream def. legacy is the seed
// position to adopt when the stream has no record of ours yet.
func (c *Collector) NewSource(def StreamDef, legacy Legacy) (pipeline.Source, error) {
	switch def.Name {
	case StreamSIEM:
		return &siemSource{c: c, legacy: legacy, dec: newSIEMDecoder()}, nil
	case StreamPeople:
		return &peopleSource{c: c, legacy: legacy}, nil
	}
	return nil, fmt.Errorf("proofpoint: unknown stream %q", def.Name)
}

// NewBackfill returns a source that reads the lookback from scratch and
// neither reads nor moves stored positions (--all). For the People stream
// it takes one snapshot, whatever the cadence.
func (c *Collector) NewBackfill(def StreamDef) (pipeline.Source, error) {
	switch def.Name {
	case StreamSIEM:
		return &siemSource{c: c, backfill: true, dec: newSIEMDecoder()}, nil
	case StreamPeople:
		return &peopleSource{c: c, backfill: true}, nil
	}
	return nil, fmt.Errorf("proofpoint: unknown stream %q", def.Name)
}

func (c *Collector) lookback() time.Duration { return min(c.cfg.Lookback, MaxAge-ageMargin) }

// Start positions the source: the stored position, else the seed's last
// queryEndTime less the overlap (the seed had none, so late events may be
// missing there), else Lookback ago.
func (s *siemSource) Start(ctx context.Context, rec state.Record) error {
	cfg := &s.c.cfg
	now := cfg.Now().UTC()
	b, err := quota.New(cfg.SIEMRequestsPerDay, 24*time.Hour, budgetBucket)
	if err != nil {
		return &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid SIEM request budget", Err: err}
	}
	s.budget, s.pending, s.readTo = b, nil, time.Time{}
	s.cur = SIEMCursor{}
	s.fresh, s.startNotices = false, nil
	switch {
	case s.backfill:
		s.cur.Start, s.fresh = now.Add(-s.c.lookback()), true
		s.stopAt = now.Add(-cfg.SafetyLag)
	case len(rec.Cursor) > 0:
		if err := json.Unmarshal(rec.Cursor, &s.cur); err != nil || s.cur.Start.IsZero() {
			return &pipeline.Error{Code: pipeline.CodeStateRead, Message: "stored Proofpoint SIEM position is unreadable; fix or remove the state record", Err: err}
		}
		if s.cur.Start.After(now.Add(24 * time.Hour)) {
			return &pipeline.Error{Code: pipeline.CodeStateRead, Message: "stored Proofpoint SIEM position is more than a day in the future; check the clock, then fix or remove the state record", Detail: "start=" + stamp(s.cur.Start)}
		}
		if len(s.cur.Budget) > 0 {
			if err := s.budget.Load(s.cur.Budget, now); err != nil {
				return &pipeline.Error{Code: pipeline.CodeStateRead, Message: "stored Proofpoint request budget is unreadable; fix or remove the state record", Err: err}
			}
		}
	case rec.Version == 0 && s.legacy.Value != "":
		t, ok := parseTime(strings.TrimSpace(s.legacy.Value))
		if !ok {
			s.c.cfg.Logger.Warn("unreadable seed SIEM position ignored; starting from the lookback", "tenant", s.c.tenant)
			s.cur.Start, s.fresh = now.Add(-s.c.lookback()), true
			// Events between the seed's position and the lookback may
			// be missed: say so in Wazuh, not only in the log.
			s.startNotices = append(s.startNotices, pipeline.Notice{
				Code:    pipeline.CodeStateRead,
				Message: "the seed wodle's SIEM position is unreadable; collection started from the lookback, events before it may be missing",
				Detail:  fmt.Sprintf("siem_cursor=%.40q start=%s", s.legacy.Value, stamp(s.cur.Start.UTC().Truncate(time.Second))),
			})
			break
		}
		s.cur.Start = t.Add(-cfg.Overlap)
		s.c.cfg.Logger.Info("adopting the seed wodle's SIEM position, re-reading the overlap before it", "tenant", s.c.tenant, "seed_query_end", stamp(t))
	default:
		s.cur.Start, s.fresh = now.Add(-s.c.lookback()), true
	}
	s.cur.Start = s.cur.Start.UTC().Truncate(time.Second)
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *siemSource) span() time.Duration {
	if s.cur.Span > 0 {
		return min(max(time.Duration(s.cur.Span)*time.Second, MinWindow), s.c.cfg.Window)
	}
	return s.c.cfg.Window
}

// maxBehind bounds the clock difference taken from a Date header, either
// way: a header further off than this (a proxy with a broken clock) is not
// believed, since windows ending that far back would stop collection
// without a word, and a 7-day limit counted that far ahead would give up
// events TAP still serves. A refusal for a start too old is believed
// whatever its Date says (see Fetch).
const maxBehind = time.Hour

// behind is how far TAP's clock is behind ours, as last measured
// (negative: ahead).
func (s *siemSource) behind() time.Duration { return time.Duration(s.cur.Behind) * time.Second }

// tapNow is TAP's clock when ours reads now: what its 7-day limit is
// counted by.
func (s *siemSource) tapNow(now time.Time) time.Time { return now.Add(-s.behind()) }

// earlierNow is the earlier of TAP's clock and ours when ours reads now.
// Window ends and the overlap are counted by it: behind TAP's clock, a
// window never asks for TAP's future and the overlap is never shorter
// than TAP's indexing lag; where TAP's clock is ahead, ours is already
// behind it.
func (s *siemSource) earlierNow(now time.Time) time.Time { return now.Add(-max(s.behind(), 0)) }

// learnClock reads TAP's clock from an answer's Date header and returns
// it (false without a readable header).
func (s *siemSource) learnClock(h http.Header) (time.Time, bool) {
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return time.Time{}, false
	}
	// Measured after the answer arrived, from a header truncated to the
	// second, so the difference is an overestimate either way: windows
	// end a little earlier, and a TAP clock ahead is taken as a little
	// less ahead (the 7-day margin covers that).
	behind := s.c.cfg.Now().Sub(date).Truncate(time.Second)
	if behind > maxBehind || -behind > maxBehind {
		s.c.cfg.Logger.Warn("Proofpoint answer's Date header is implausibly far from our clock; ignored", "tenant", s.c.tenant, "date", stamp(date))
		return date, true
	}
	switch old := s.behind(); {
	case behind > s.c.cfg.SafetyLag/2 && old <= 0:
		s.c.cfg.Logger.Warn("Proofpoint TAP's clock is behind ours; windows end that much earlier (check this host's time sync)", "tenant", s.c.tenant, "behind", behind.String())
	case -behind > s.c.cfg.SafetyLag/2 && old >= 0:
		s.c.cfg.Logger.Warn("Proofpoint TAP's clock is ahead of ours; its 7-day limit is counted by its clock (check this host's time sync)", "tenant", s.c.tenant, "ahead", (-behind).String())
	}
	s.cur.Behind = int64(behind / time.Second)
	return date, true
}

// window plans the next request: from the run's read position (or the
// stored start), at most a span long, ending SafetyLag before now by the
// earlier of TAP's clock and ours.
func (s *siemSource) window(now time.Time) (start, end time.Time, ok bool) {
	start = s.cur.Start
	if s.readTo.After(start) {
		start = s.readTo
	}
	limit := s.earlierNow(now).Add(-s.c.cfg.SafetyLag)
	if s.backfill && s.stopAt.Before(limit) {
		limit = s.stopAt
	}
	end = start.Add(s.span())
	if end.After(limit) {
		end = limit
	}
	end = end.Truncate(time.Second)
	return start, end, end.Sub(start) >= MinWindow
}

// Fetch returns the next page: the rest of a large answer, or one window.
func (s *siemSource) Fetch(ctx context.Context) (*pipeline.Page, error) {
	if len(s.pending) > 0 {
		return s.nextPart(), nil
	}
	cfg := &s.c.cfg
	notices := s.startNotices
	s.startNotices = nil
	refusedAge, refusedFuture, tooLarge := false, false, 0
	for attempt := 0; ; attempt++ {
		now := cfg.Now().UTC()
		notices = s.clamp(s.tapNow(now), ageMargin, notices)
		start, end, ok := s.window(now)
		if !ok {
			return s.page(nil, s.cur, false, notices), nil
		}
		if s.budget.Left(now) <= cfg.BudgetReserve {
			p := s.page(nil, s.cur, false, notices)
			p.Err = s.budgetError(now)
			return p, nil
		}
		q := url.Values{"format": {"json"}, "interval": {stamp(start) + "/" + stamp(end)}}
		detail := "endpoint=" + siemPath + " interval=" + q.Get("interval")
		resp, err := s.c.get(ctx, siemPath, q, s.onAttempt, s.buf)
		if err != nil {
			var se *httpx.StatusError
			var tapNow time.Time
			known := false
			if errors.As(err, &se) {
				tapNow, known = s.learnClock(se.Header)
			}
			if se, ok := isStatus(err, http.StatusBadRequest); ok {
				switch {
				case !refusedAge && strings.Contains(se.Body, "too far into the past"):
					// TAP's clock is further ahead than we knew. Its Date
					// header, believed here whatever it says since TAP
					// just confirmed its clock is ahead, tells where its
					// limit is: start the usual margin inside it. A
					// refusal that clock does not explain (no header, a
					// limit counted otherwise) moves the start three
					// margins inside ours.
					refusedAge = true
					ref, margin := s.tapNow(cfg.Now().UTC()), 3*ageMargin
					if known && tapNow.After(ref) {
						ref = tapNow
					}
					if known && start.Before(tapNow.Add(-MaxAge+ageMargin)) {
						margin = ageMargin
					}
					notices = s.clamp(ref, margin, notices)
					continue
				case !refusedFuture && known && end.After(tapNow):
					// The window ended in TAP's future (whatever TAP's
					// words for it): ask again, ending behind TAP's clock.
					refusedFuture = true
					cfg.Logger.Warn("Proofpoint refused a window ending after its clock; asking again behind it", "tenant", s.c.tenant, "interval", q.Get("interval"), "tap_time", stamp(tapNow))
					continue
				}
			}
			var big *httpx.BodyTooLargeError
			if errors.As(err, &big) && tooLarge < maxTooLargeRetries && end.Sub(start) > MinWindow && ctx.Err() == nil {
				// No paging: a smaller window is the only way to a
				// smaller answer. Ask one at once.
				tooLarge++
				s.shrinkForBody(big, start, end)
				continue
			}
			if ctx.Err() == nil && sizeMayMatter(err) { // the run's own deadline is not TAP failing
				s.shrinkAfterFailure(start, end)
			}
			p := s.page(nil, s.cur, false, notices)
			p.Err = s.callError(err, detail)
			return p, nil
		}
		s.learnClock(resp.Header)
		s.buf = resp.Body[:0]
		queryEnd := end
		items := s.dec.items[:0]
		if resp.Status != http.StatusNoContent {
			qe, derr := s.dec.decode(resp.Body)
			if derr != nil {
				if attempt < invalidBodyRetries && ctx.Err() == nil {
					cfg.Logger.Warn("invalid Proofpoint SIEM answer; asking again", "tenant", s.c.tenant, "error", derr)
					continue
				}
				p := s.page(nil, s.cur, false, notices)
				p.Err = &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "Proofpoint SIEM answer is not a valid JSON events object", Detail: detail, Err: derr}
				return p, nil
			}
			items = s.dec.items
			switch {
			case qe.IsZero():
				cfg.Logger.Warn("Proofpoint SIEM answer without queryEndTime; taking the requested end", "tenant", s.c.tenant, "interval", q.Get("interval"))
			case qe.After(end):
				// Never move past what was asked for.
			default:
				queryEnd = qe
			}
		}
		if !queryEnd.After(start) {
			p := s.page(nil, s.cur, false, notices)
			p.Err = &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "Proofpoint SIEM answer's queryEndTime does not move past the window start; position kept", Detail: detail + " queryEndTime=" + stamp(queryEnd)}
			return p, nil
		}
		queryEnd = queryEnd.Truncate(time.Second)
		if queryEnd.Equal(start) {
			queryEnd = start.Add(time.Second)
		}
		for i := range items {
			// Kept as long as a later window can serve the event again:
			// it was created no later than the window's end.
			items[i].SeenAt = queryEnd
		}
		next := s.advance(start, queryEnd, now, len(items), len(resp.Body))
		s.readTo, s.fresh = queryEnd, false
		_, _, more := s.windowAfter(next, now)
		return s.deliver(items, next, more, notices), nil
	}
}

// clamp moves positions older than TAP serves (7 days before tapNow, less
// margin) forward, with an error event naming the interval that became
// unreachable; a fresh start (the lookback's) is moved without one.
func (s *siemSource) clamp(tapNow time.Time, margin time.Duration, notices []pipeline.Notice) []pipeline.Notice {
	oldest := tapNow.Add(-MaxAge + margin).Truncate(time.Second).Add(time.Second)
	from := s.cur.Start
	if s.readTo.After(from) {
		from = s.readTo
	}
	if !from.Before(oldest) {
		return notices
	}
	s.cur.Start = oldest
	if s.readTo.Before(oldest) {
		s.readTo = time.Time{}
	}
	if s.fresh {
		s.c.cfg.Logger.Info("Proofpoint SIEM lookback reaches past what TAP keeps; starting inside its 7-day limit", "tenant", s.c.tenant, "from", stamp(from), "to", stamp(oldest))
		return notices
	}
	if n := len(notices); n > 0 && notices[n-1].Code == pipeline.CodeCollectionGap {
		// Only clamp adds notices, so the last one moved this very
		// start: one gap, one event.
		from, notices = s.gapFrom, notices[:n-1]
	}
	s.gapFrom = from
	s.c.cfg.Logger.Error("Proofpoint SIEM position older than TAP keeps; events in the gap cannot be collected", "tenant", s.c.tenant, "from", stamp(from), "to", stamp(oldest))
	return append(notices, pipeline.Notice{
		Code:    pipeline.CodeCollectionGap,
		Message: "Proofpoint TAP serves only the last 7 days: events created in this interval can no longer be collected",
		Detail:  "interval=" + stamp(from) + "/" + stamp(oldest) + " endpoint=" + siemPath,
	})
}

// advance returns the position after window [start, queryEnd] was read
// (asked at sent) with n events in an answer of size bytes.
func (s *siemSource) advance(start, queryEnd, sent time.Time, n, size int) SIEMCursor {
	cfg := &s.c.cfg
	next := s.cur
	// The start moves only over what is settled: read at least Overlap
	// after it happened. A window that does not begin at the start (a
	// later window of this run) cannot move it.
	if !start.After(next.Start) {
		settled := queryEnd
		if lim := s.earlierNow(sent).Add(-cfg.Overlap).Truncate(time.Second); lim.Before(settled) {
			settled = lim
		}
		if settled.After(next.Start) {
			next.Start = settled
		}
	}
	if queryEnd.After(next.End) {
		next.End = queryEnd
	}
	// A busy window makes the next ones shorter, so that one answer (one
	// body in memory, one run's output) stays bounded; quiet ones let
	// the windows grow back. After a window TAP failed to return, the
	// bound is what TAP has returned since.
	limit := cfg.WindowEvents
	switch {
	case next.Limit == limitToLearn:
		next.Limit, next.LimitAt = max(n, minLimit), sent
	case next.Limit > 0 && !sent.Before(next.LimitAt.Add(limitLife)):
		next.Limit, next.LimitAt = 0, time.Time{}
	case next.Limit > 0 && n > next.Limit:
		next.Limit = n // TAP returned this many: no need to stay below
	}
	if next.Limit > 0 {
		limit = min(limit, next.Limit)
	}
	span := s.span()
	asked := queryEnd.Sub(start)
	// Answers are kept to half the client's limit on a body.
	bodyBound := s.bodyLimitOr() / 2
	over := max(float64(n)/float64(limit), float64(size)/float64(bodyBound))
	smallBody := 2*int64(size) <= bodyBound
	switch {
	case over > 1:
		span = max(MinWindow, time.Duration(float64(asked)/over))
	case next.Limit > 0 && 2*n <= limit && smallBody && span < cfg.Window:
		// Twice the window should hold no more than TAP has returned.
		span = min(cfg.Window, 2*span)
	case next.Limit == 0 && n < limit/4 && smallBody && span < cfg.Window:
		span = min(cfg.Window, 2*span)
	}
	next.Span = 0
	if span < cfg.Window {
		next.Span = int64(span / time.Second)
	}
	return next
}

// Learning the window size TAP can return: limitToLearn marks a failed
// window; minLimit (events TAP is taken to return in any case) keeps the
// first answer after an outage, from a window halved by every failed run,
// from pinning later windows to its size; limitLife lets windows grow back
// to the full hour after a burst (a window failing again costs one run and
// an error event).
const (
	limitToLearn = -1
	minLimit     = 1000
	limitLife    = 6 * time.Hour
)

// maxTooLargeRetries bounds the smaller windows asked at once after an
// answer over the client's limit: a window ever smaller does not help
// against an endless body.
const maxTooLargeRetries = 3

func (s *siemSource) bodyLimitOr() int64 {
	if s.bodyLimit > 0 {
		return s.bodyLimit
	}
	return httpx.DefaultMaxBody
}

// shrinkForBody makes the next window small enough for an answer of half
// the client's limit, after [start, end] answered more than the limit.
func (s *siemSource) shrinkForBody(big *httpx.BodyTooLargeError, start, end time.Time) {
	s.bodyLimit = big.Limit
	asked := end.Sub(start)
	next := asked / 2
	if big.ContentLength > 0 {
		next = min(next, time.Duration(float64(asked)*float64(big.Limit/2)/float64(big.ContentLength)))
	}
	next = max(MinWindow, next.Truncate(time.Second))
	if next < s.span() {
		s.cur.Span = int64(next / time.Second)
	}
	s.c.cfg.Logger.Warn("Proofpoint answer larger than the client reads; asking a shorter window", "tenant", s.c.tenant, "interval", stamp(start)+"/"+stamp(end), "limit", big.Limit, "next_window", next.String())
}

// sizeMayMatter reports whether a failed call may have failed for the
// window's size: TAP's documented error for results it could not assemble
// in time (500), a gateway giving up waiting for them (504), or our own
// attempt timing out. Resets, 502/503 and proxy pages say nothing about
// the window.
func sizeMayMatter(err error) bool {
	if pipeline.CodeOf(err) == pipeline.CodeTimeout {
		return true
	}
	var se *httpx.StatusError
	return errors.As(err, &se) && (se.Status == http.StatusInternalServerError || se.Status == http.StatusGatewayTimeout)
}

// shrinkAfterFailure halves the window after TAP failed to return
// [start, end], retries included: asking the same window again would fail
// the same way for results TAP cannot assemble in time, and the run after
// would be stuck on it for good.
func (s *siemSource) shrinkAfterFailure(start, end time.Time) {
	if end.Sub(start) <= MinWindow {
		return
	}
	half := max(MinWindow, (end.Sub(start) / 2).Truncate(time.Second))
	if half < s.span() {
		s.cur.Span = int64(half / time.Second)
	}
	s.cur.Limit, s.cur.LimitAt = limitToLearn, time.Time{}
	s.c.cfg.Logger.Warn("Proofpoint did not return a window; the next ones are shorter", "tenant", s.c.tenant, "interval", stamp(start)+"/"+stamp(end), "next_window", half.String())
}

// windowAfter reports whether another window is due right away after the
// one that produced next.
func (s *siemSource) windowAfter(next SIEMCursor, now time.Time) (time.Time, time.Time, bool) {
	saved := s.cur
	s.cur = next
	defer func() { s.cur = saved }()
	return s.window(now)
}

// deliver hands out one answer's items, at most PageEvents per page. Only
// the last page moves the position; every page carries the request count.
func (s *siemSource) deliver(items []pipeline.Item, next SIEMCursor, more bool, notices []pipeline.Notice) *pipeline.Page {
	if len(items) <= s.c.cfg.PageEvents {
		s.cur = next
		return s.page(items, next, more, notices)
	}
	s.pending, s.after, s.afterMore = items, next, more
	p := s.nextPart()
	p.Notices = append(notices, p.Notices...)
	return p
}

func (s *siemSource) nextPart() *pipeline.Page {
	n := min(len(s.pending), s.c.cfg.PageEvents)
	part := s.pending[:n]
	s.pending = s.pending[n:]
	if len(s.pending) > 0 {
		return s.page(part, s.cur, true, nil)
	}
	s.pending = nil
	s.cur = s.after
	return s.page(part, s.after, s.afterMore, nil)
}

// page builds a page at position cur, with the current request count.
func (s *siemSource) page(items []pipeline.Item, cur SIEMCursor, more bool, notices []pipeline.Notice) *pipeline.Page {
	p := &pipeline.Page{Items: items, More: more, SeenSince: cur.Start, Notices: notices}
	if s.backfill {
		return p
	}
	if b, err := json.Marshal(s.budget); err == nil {
		cur.Budget = b
	}
	p.Cursor, _ = json.Marshal(cur) // a struct of times, ints and valid JSON cannot fail
	return p
}

// onAttempt counts every attempt against the pool and refuses what the
// pool cannot afford. A 429 is not retried: the pool will not refill
// within the run.
func (s *siemSource) onAttempt(prev error) error {
	if _, ok := isStatus(prev, http.StatusTooManyRequests); ok {
		return prev
	}
	now := s.c.cfg.Now()
	if s.budget.Left(now) <= s.c.cfg.BudgetReserve {
		return s.budgetError(now)
	}
	s.budget.Spend(now, 1)
	return nil
}

func (s *siemSource) budgetError(now time.Time) error {
	return budgetError("SIEM", "siem", s.budget, s.c.cfg.BudgetReserve, now)
}

func budgetError(what, pool string, b *quota.Rolling, reserve int, now time.Time) error {
	used, left := b.Used(now), b.Left(now)
	refill := b.AvailableAt(now, reserve+1)
	return &pipeline.Error{
		Code: pipeline.CodeRequestBudget,
		Message: fmt.Sprintf("Proofpoint %s request budget nearly used up: %d of %d requests in the last 24 hours, %d left of which %d are kept in reserve; collection resumes at %s",
			what, used, b.Limit(), left, reserve, stamp(refill)),
		Detail: fmt.Sprintf("pool=%s used=%d limit=%d left=%d reserve=%d refill=%s", pool, used, b.Limit(), left, reserve, stamp(refill)),
	}
}

func (s *siemSource) callError(err error, detail string) error {
	var pe *pipeline.Error
	if errors.As(err, &pe) {
		return pe // a budget stop or a credential problem, already explained
	}
	if _, ok := isStatus(err, http.StatusTooManyRequests); ok {
		now := s.c.cfg.Now()
		detail += fmt.Sprintf(" counted=%d limit=%d (another client may share the credential)", s.budget.Used(now), s.budget.Limit())
	}
	return &pipeline.Error{Code: pipeline.CodeOf(err), Message: s.c.httpMessage(err), Detail: detail, Err: err}
}
