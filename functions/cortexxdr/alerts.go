package cortexxdr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// alertCursor is the stored position of the alerts stream.
//
// Every alert inserted before Watermark has been delivered; the ids of
// those inserted at exactly Watermark are in the pipeline's dedup set.
// Window, when set, is a paging run in progress: its filter is frozen and
// Offset is where the next page starts, so an interrupted run resumes on
// the exact page it was on.
type alertCursor struct {
	Watermark int64        `json:"watermark"`
	Window    *alertWindow `json:"window,omitempty"`
	// Span is the width (ms) of the last window that had to be narrowed,
	// and SpanTotal how many alerts it held: the next window is sized to
	// hold nine tenths of WindowMax at that density (at most twice Span;
	// twice Span when SpanTotal is unknown), so a catch-up neither halves
	// from scratch every time nor asks for pages it then throws away.
	Span      int64 `json:"span,omitempty"`
	SpanTotal int   `json:"span_total,omitempty"`
}

// alertWindow is one frozen query: server_creation_time from From to To,
// both inclusive.
type alertWindow struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Upper is the bound the window was cut from: To < Upper means the
	// window was narrowed and more alerts may wait after To.
	Upper  int64 `json:"upper"`
	Offset int   `json:"offset"`
	// Total is total_count when paging (re)started (-1: not asked yet);
	// Rescans counts the times the window was read again.
	Total   int `json:"total"`
	Rescans int `json:"rescans,omitempty"`
	// Distinct counts the different alert ids the window's pages gave so
	// far, and Unkeyed says that one of them had no id. A window read
	// whole gave as many ids as its total_count, unless the API ordered
	// alerts with the same sort value differently from one page to the
	// next, which it does not promise not to do: offset paging then reads
	// some twice and skips others (docs/cortexxdr.md, Traps).
	Distinct int  `json:"distinct,omitempty"`
	Unkeyed  bool `json:"unkeyed,omitempty"`
}

// maxRescans bounds how often one window is read again.
const maxRescans = 3

func (c *alertCursor) decode(raw json.RawMessage) error {
	var v alertCursor
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if v.Watermark <= 0 || v.Span < 0 || v.SpanTotal < 0 {
		return errors.New("alerts cursor has no valid watermark")
	}
	if w := v.Window; w != nil && (w.From != v.Watermark || w.To < w.From || w.Upper < w.To || w.Offset < 0 || w.Rescans < 0 || w.Distinct < 0 || w.Total < -1) {
		return errors.New("alerts cursor holds an inconsistent window")
	}
	if w := v.Window; w != nil && w.Offset > 0 && w.Distinct == 0 && !w.Unkeyed {
		// A window in progress stored by the release before Distinct
		// (this one counts at least one id per page read): the ids it
		// read are in the dedup set and would not be counted again, so
		// the window would look overlapped and be read again. That
		// release took its pages as not overlapping; so does this one.
		w.Distinct = w.Offset
	}
	*c = v
	return nil
}

// fetchAlerts returns the next page of alerts (the API's traps it avoids
// are listed in docs/cortexxdr.md).
//
// A paging run freezes its filter, server_creation_time from the
// watermark to a bound a couple of minutes behind the API's clock (Lag):
// insertion times never change and nothing newer is inserted below that
// bound, so the result set cannot move while it is paged and
// search_from += len(page) reads every alert of the window once. A window
// that matches more than WindowMax alerts is halved until it does not, so
// no window approaches the API's 9 999 cap. When the window is read, the
// watermark becomes its upper bound; the next window starts at that same
// millisecond (gte) and the alerts already delivered there are suppressed
// by alert_id, rather than skipped by a "+1 ms" that could lose some.
// Only a window of a single millisecond, read whole, moves the watermark
// past its bound: that millisecond holds more alerts than a window may,
// and starting there again would read it forever.
func (s *Source) fetchAlerts(ctx context.Context) (*pipeline.Page, error) {
	cur := &s.alerts
	w := cur.Window
	var r *reply
	if w == nil {
		var err error
		if w, r, err = s.openAlertWindow(ctx); err != nil {
			return nil, err
		}
		if w == nil {
			return s.page(nil, cur, false, cur.Watermark)
		}
	}
	var notices []pipeline.Notice
	refused := 0 // the status that declined a request past the cap
	for attempt := 0; ; attempt++ {
		if r == nil {
			var err error
			if r, err = s.query(ctx, w.From, w.To, w.Offset); err != nil {
				status := unservedPastCap(err)
				if w.Offset < ResultCap || status == 0 {
					return nil, err
				}
				// Past the cap, the documentation does not say how far
				// offsets reach: a refusal there ends the millisecond
				// (reported below) instead of failing on it every run,
				// which would never move the stream again.
				s.c.cfg.Logger.Warn("the API would not serve alerts past its result cap", "tenant", s.c.tenant,
					"server_creation_time", time.UnixMilli(w.From).UTC(), "search_from", w.Offset, "status", status)
				r, refused = &reply{total: ResultCap}, status
			}
		}
		if w.Total < 0 {
			w.Total = r.total // the first page of a narrowed window
		}
		if len(r.items) == 0 && r.total > w.Offset {
			// A page that contradicts its own count: asking again is
			// cheap, ending the window here could lose the rest.
			if attempt < invalidReplyRetries && ctx.Err() == nil {
				r = nil
				continue
			}
			return nil, &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "alerts reply is empty before the end of its own total_count",
				Detail: fmt.Sprintf("endpoint=%s offset=%d total_count=%d", s.def.Path, w.Offset, r.total)}
		}
		break
	}
	n := len(r.items)
	w.Offset += n
	s.countDistinct(w, r.items)
	// total_count stops at ResultCap, but the API serves the records past
	// it to a client that keeps paging: a capped count ends the window
	// only on a short page, like a missing one.
	capped := r.total >= ResultCap
	done := n == 0 || (r.total >= 0 && !capped && w.Offset >= r.total) || ((r.total < 0 || capped) && n < s.size())
	if !done {
		return s.pageWith(r.items, notices, cur, true, w.From)
	}
	if r.total != w.Total && r.total >= 0 && w.Rescans < maxRescans {
		// Alerts of this window became visible while it was paged (later
		// than Lag allows for), or were hidden (an alert exclusion made
		// meanwhile): the alerts after them moved, and one that moved
		// across the offset reached would be skipped. Read the window
		// again; the pipeline's dedup set holds every alert id of the
		// window, so only the ones not yet delivered are.
		s.c.cfg.Logger.Warn("the count of a window changed while it was read; reading it again", "tenant", s.c.tenant,
			"from", time.UnixMilli(w.From).UTC(), "to", time.UnixMilli(w.To).UTC(), "count_was", w.Total, "count_now", r.total)
		w.Offset, w.Total = 0, r.total
		w.Rescans++
		return s.pageWith(r.items, notices, cur, true, w.From)
	}
	// The read ended where the API may have stopped serving (a refusal,
	// or a capped count or none and an offset the cap explains), not
	// necessarily where the window's alerts end. A window of several
	// milliseconds (one sized without a count) is read again narrower
	// rather than passed with the alerts past the cap.
	atCap := refused != 0 || (capped && (w.Offset <= ResultCap || stoppedPastCap(w.Offset, n))) || (r.total < 0 && stoppedPastCap(w.Offset, n))
	if atCap && w.To > w.From {
		s.c.cfg.Logger.Warn("an alerts window reached the API's result cap; reading it again, narrower", "tenant", s.c.tenant,
			"from", time.UnixMilli(w.From).UTC(), "to", time.UnixMilli(w.To).UTC(), "read", w.Offset)
		to := s.splitAt(w)
		cur.Span, cur.SpanTotal = max(to-w.From, 1), 0
		cur.Window = &alertWindow{From: w.From, To: to, Upper: w.Upper, Total: -1}
		s.keepWindowIDs(cur.Window)
		return s.pageWith(r.items, notices, cur, true, w.From)
	}
	// The window holds total_count alerts, or, when that count stopped at
	// the cap, at least as many as the offsets read.
	expected := w.Offset
	if r.total >= 0 && !capped {
		expected = max(expected, r.total)
	}
	if !w.Unkeyed && w.Distinct < expected {
		// Fewer different alerts than the window holds: pages overlapped,
		// so some alerts were skipped. A narrower window needs fewer pages
		// (one page cannot overlap itself); a window of one millisecond is
		// read again, the ids already delivered suppressed by the pipeline.
		s.c.cfg.Logger.Warn("the pages of an alerts window overlapped (alerts with the same creation_time in another order on each page); reading it again, narrower", "tenant", s.c.tenant,
			"from", time.UnixMilli(w.From).UTC(), "to", time.UnixMilli(w.To).UTC(), "expected", expected, "distinct", w.Distinct)
		if w.To > w.From {
			to := s.splitAt(w)
			cur.Span, cur.SpanTotal = max(to-w.From, 1), 0
			cur.Window = &alertWindow{From: w.From, To: to, Upper: w.Upper, Total: -1}
			s.keepWindowIDs(cur.Window)
			return s.pageWith(r.items, notices, cur, true, w.From)
		}
		if w.Rescans < maxRescans {
			w.Offset, w.Total = 0, r.total
			w.Rescans++
			return s.pageWith(r.items, notices, cur, true, w.From)
		}
		notices = append(notices, pipeline.Notice{
			Code:    pipeline.CodeCollectionGap,
			Message: "The API ordered one millisecond's alerts differently on each page; some of them may be missing",
			Detail:  fmt.Sprintf("server_creation_time=%s expected=%d distinct_read=%d", time.UnixMilli(w.From).UTC().Format(time.RFC3339Nano), expected, w.Distinct),
		})
	}
	if atCap {
		// The message is the one Wazuh's rule tests pin; the detail says
		// which alerts could not be read and why the read stopped.
		stop := fmt.Sprintf("a short page at offset %d", w.Offset)
		switch {
		case refused != 0:
			stop = fmt.Sprintf("HTTP %d at search_from=%d", refused, w.Offset)
		case n == 0:
			stop = fmt.Sprintf("an empty page at search_from=%d", w.Offset)
		}
		notices = append(notices, pipeline.Notice{
			Code:    pipeline.CodeCollectionGap,
			Message: "A single millisecond of alert insertions reached the API's 9 999-result cap; alerts past it may be missing",
			Detail: fmt.Sprintf("server_creation_time=%s read=%d stopped_by=%q: the alerts of that millisecond past its first %d were not read",
				time.UnixMilli(w.From).UTC().Format(time.RFC3339Nano), w.Offset, stop, w.Offset),
		})
	}
	cur.Watermark = w.To
	if w.From == w.To {
		// A window of one millisecond, read whole: the next starts after
		// it. (Starting at it again would find the same alerts, too many
		// for any window but this one.)
		cur.Watermark++
	}
	cur.Window = nil
	return s.pageWith(r.items, notices, cur, w.To < w.Upper, cur.Watermark)
}

// openAlertWindow chooses the next window and returns it with its first
// page, or nil when no time is old enough to read yet.
func (s *Source) openAlertWindow(ctx context.Context) (*alertWindow, *reply, error) {
	cur := &s.alerts
	from := cur.Watermark
	upper := s.upper()
	if from > upper {
		return nil, nil, nil
	}
	to := upper
	if span := cur.nextSpan(s.c.cfg.WindowMax); span > 0 && from+span < upper {
		to = from + span
	}
	for {
		r, err := s.query(ctx, from, to, 0)
		if err != nil {
			return nil, nil, err
		}
		if u := s.upper(); u < to {
			// This reply's Date says our clock runs ahead of the API's:
			// the bound would pass alerts not inserted yet.
			if u < from {
				return nil, nil, nil
			}
			to, upper = u, u
			continue
		}
		if r.total > s.c.cfg.WindowMax && to > from {
			to = from + (to-from)/2
			continue
		}
		if to < upper {
			cur.Span, cur.SpanTotal = max(to-from, 1), max(r.total, 0)
		} else {
			cur.Span, cur.SpanTotal = 0, 0
		}
		w := &alertWindow{From: from, To: to, Upper: upper, Total: r.total}
		cur.Window = w
		s.keepWindowIDs(w)
		return w, r, nil
	}
}

// nextSpan is the width (ms) the next window tries, 0 for all that is
// readable: a query whose count exceeds windowMax costs a page that is
// thrown away, so the width aims below it at the last narrowed window's
// density.
func (c *alertCursor) nextSpan(windowMax int) int64 {
	if c.Span <= 0 {
		return 0
	}
	if c.SpanTotal <= 0 {
		return 2 * c.Span
	}
	return min(max(c.Span*int64(windowMax*9/10)/int64(c.SpanTotal), 1), 2*c.Span)
}

// splitAt returns the upper bound of the narrower window that replaces w,
// whose pages overlapped: the median insertion time of the alerts it gave
// (where they crowd, which a halving would approach one step at a time),
// kept inside [From, To-1]; the middle when no time is known.
func (s *Source) splitAt(w *alertWindow) int64 {
	to := w.From + (w.To-w.From)/2
	times := make([]int64, 0, len(s.winSeen))
	for _, ms := range s.winSeen {
		if ms >= w.From && ms <= w.To {
			times = append(times, ms)
		}
	}
	if len(times) > 0 {
		slices.Sort(times)
		to = times[len(times)/2]
	}
	return min(max(to, w.From), w.To-1)
}

// keepWindowIDs starts the count of different ids of a new window w: the
// ids already read that it holds (a narrower window, or the millisecond
// it shares with the window before) count from the start. Those read past
// its end are kept for the windows after it; those before it, and those
// of unknown time, are forgotten.
func (s *Source) keepWindowIDs(w *alertWindow) {
	w.Distinct = 0
	for d, ms := range s.winSeen {
		switch {
		case ms < w.From:
			delete(s.winSeen, d)
		case ms <= w.To:
			w.Distinct++
		}
	}
}

// unservedPastCap returns the status of err when it is the API declining
// a request past the result cap, 0 otherwise: a refusal (400, 416 or
// 422), or a server error the HTTP client's retries met on every attempt
// (the documentation names 500 as the status of every API error, a bad
// paging value's too; a gateway in front may time out on a deep offset),
// but not a throttle, whatever its status, which says nothing about the
// offset.
func unservedPastCap(err error) int {
	var se *httpx.StatusError
	if !errors.As(err, &se) {
		return 0
	}
	if env, ok := parseXDRError(se.Body); ok && isThrottle(env.Msg) {
		return 0
	}
	switch {
	case se.Status == http.StatusBadRequest || se.Status == http.StatusRequestedRangeNotSatisfiable || se.Status == http.StatusUnprocessableEntity,
		se.Status >= 500 && se.Status <= 599:
		return se.Status
	}
	return 0
}

// stoppedPastCap reports whether a read that ended at offset, on a page
// of n alerts, may have been stopped by the API's reach rather than by
// the end of the alerts: at the count's cap (9 999) or at 10 000 (a
// search engine's default window, which the count never reaches), or on
// an empty page anywhere past them, which is how an API that stops
// serving without an error ends a read. An empty page there may also be
// the true end (the alerts a multiple of the page size): reported all the
// same, as it cannot be told apart.
func stoppedPastCap(offset, n int) bool {
	return offset >= ResultCap && (offset <= ResultCap+1 || n == 0)
}

// countDistinct adds the ids of a page of window w to its count of
// different ids (Distinct), with their insertion time.
func (s *Source) countDistinct(w *alertWindow, items []pipeline.Item) {
	if s.winSeen == nil {
		s.winSeen = make(map[state.Digest]int64, len(items))
	}
	for i := range items {
		if items[i].Key == "" {
			w.Unkeyed = true
			continue
		}
		d := state.KeyDigest(items[i].Key)
		if _, ok := s.winSeen[d]; !ok {
			ms := int64(-1)
			if !items[i].Time.IsZero() {
				ms = items[i].Time.UnixMilli()
			}
			s.winSeen[d] = ms
			w.Distinct++
		}
	}
}

func (s *Source) pageWith(items []pipeline.Item, notices []pipeline.Notice, cursor any, more bool, seenSince int64) (*pipeline.Page, error) {
	p, err := s.page(items, cursor, more, seenSince)
	if err != nil {
		return nil, err
	}
	p.Notices = notices
	return p, nil
}
