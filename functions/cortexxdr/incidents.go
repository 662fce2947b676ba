package cortexxdr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// incidentCursor is the stored position of the incidents stream.
//
// Every change with a modification_time before Watermark has been
// delivered; those at exactly Watermark are in the pipeline's dedup set
// (key incident_id:modification_time). To, when set, is the frozen upper
// bound of a paging run in progress.
//
// Created, when set, steps through a millisecond of modification_time
// (Watermark) that holds a full page of changes, a bulk action say, by
// creation_time: the changes of that millisecond created before Created
// have been read. Skip counts those created at exactly Created already
// read past the first page, for the rarer millisecond of creation that
// also holds a full page.
type incidentCursor struct {
	Watermark int64 `json:"watermark"`
	Skip      int   `json:"skip,omitempty"`
	To        int64 `json:"to,omitempty"`
	Created   int64 `json:"created,omitempty"`
	// SubRescans counts the readings again of the changes created at
	// exactly Created, paged by offset, whose pages overlapped.
	SubRescans int `json:"sub_rescans,omitempty"`
}

func (c *incidentCursor) decode(raw json.RawMessage) error {
	var v incidentCursor
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if v.Skip > 0 && v.Created == 0 && v.To != 0 {
		// An offset into a millisecond of changes, from a version that
		// paged it so: read the millisecond again by creation time
		// (what was delivered is suppressed by its dedup key).
		v.Skip, v.Created = 0, 1
	}
	if v.Watermark <= 0 || v.Skip < 0 || v.Created < 0 || v.SubRescans < 0 || (v.To != 0 && v.To < v.Watermark) || (v.Created > 0 && v.To == 0) || (v.Skip > 0 && v.Created == 0) {
		return errors.New("incidents cursor is inconsistent")
	}
	*c = v
	return nil
}

// fetchIncidents returns the next page of incident changes
// (docs/cortexxdr.md, Traps).
//
// Incidents are filtered and sorted on modification_time, which every
// change moves to the present: an incident changed while a run pages
// leaves the frozen window [Watermark, To] (its new state is read by the
// next run), so offsets into that window would shift and skip. Pages are
// therefore keyed by time instead: each request starts at the newest
// modification_time already read (gte), and the changes at that very
// millisecond, read again, are suppressed by their dedup key.
func (s *Source) fetchIncidents(ctx context.Context) (*pipeline.Page, error) {
	cur := &s.incidents
	if cur.Created > 0 {
		return s.fetchIncidentMillisecond(ctx)
	}
	if cur.To == 0 {
		u := s.upper()
		if cur.Watermark > u {
			return s.page(nil, cur, false, cur.Watermark)
		}
		cur.To = u
	}
	for attempt := 0; ; attempt++ {
		r, err := s.query(ctx, cur.Watermark, cur.To, cur.Skip)
		if err != nil {
			return nil, err
		}
		if u := s.upper(); u < cur.To {
			// Our clock runs ahead of the API's (its Date header says so).
			if u < cur.Watermark {
				cur.To = 0
				return s.page(nil, cur, false, cur.Watermark)
			}
			cur.To = u
			continue
		}
		n := len(r.items)
		newest, perr := s.checkIncidentOrder(r)
		if retry, err := s.unusableIncidents(ctx, attempt, r, cur.Skip, perr); retry {
			continue
		} else if err != nil {
			return nil, err
		}
		done := n == 0 || (r.total >= 0 && cur.Skip+n >= r.total) || (r.total < 0 && n < s.size())
		if done {
			cur.Watermark, cur.Skip, cur.To = cur.To, 0, 0
			return s.page(r.items, cur, false, cur.Watermark)
		}
		if newest == cur.Watermark {
			// A full page of changes in one millisecond: the API does not
			// promise one order for them from page to page, so offsets
			// into it could skip some. Step through it by creation time.
			cur.Created, cur.Skip = 1, 0
		} else {
			cur.Watermark, cur.Skip = newest, 0
		}
		return s.page(r.items, cur, true, cur.Watermark)
	}
}

// fetchIncidentMillisecond returns the next page of the changes made in
// the millisecond Watermark, keyed by creation time as fetchIncidents
// keys pages by modification time: each request starts at the newest
// creation_time read, the changes there read again and suppressed by
// their dedup key. When the millisecond is read, collection goes on after
// it.
func (s *Source) fetchIncidentMillisecond(ctx context.Context) (*pipeline.Page, error) {
	cur := &s.incidents
	for attempt := 0; ; attempt++ {
		r, err := s.request(ctx, func(b []byte) []byte { return s.incidentMillisecondBody(b, cur.Watermark, cur.Created, cur.Skip) })
		if err != nil {
			return nil, err
		}
		n := len(r.items)
		newest, atCreated, perr := s.checkMillisecondOrder(r)
		if retry, err := s.unusableIncidents(ctx, attempt, r, cur.Skip, perr); retry {
			continue
		} else if err != nil {
			return nil, err
		}
		done := n == 0 || n < s.size() || (r.total >= 0 && r.total < ResultCap && cur.Skip+n >= r.total)
		var notices []pipeline.Notice
		if cur.Skip > 0 && (done || newest != cur.Created) && s.sub != nil && len(s.sub) < cur.Skip+len(atCreated) {
			// The changes created in one millisecond were paged by offset
			// and the pages overlapped (another order on each): some
			// were skipped. Read them again, the delivered ones
			// suppressed by their dedup key, or report them.
			if cur.SubRescans < maxRescans {
				s.c.cfg.Logger.Warn("the pages of a millisecond of incident changes overlapped; reading it again", "tenant", s.c.tenant,
					"modification_time", time.UnixMilli(cur.Watermark).UTC(), "creation_time", time.UnixMilli(cur.Created).UTC())
				cur.Skip = 0
				cur.SubRescans++
				return s.page(r.items, cur, true, cur.Watermark)
			}
			notices = append(notices, pipeline.Notice{
				Code:    pipeline.CodeCollectionGap,
				Message: "The API ordered one millisecond's incident changes differently on each page; some of them may be missing",
				Detail:  fmt.Sprintf("modification_time=%d creation_time=%d expected=%d distinct_read=%d", cur.Watermark, cur.Created, cur.Skip+len(atCreated), len(s.sub)),
			})
		}
		if done {
			seen := cur.Watermark
			cur.Watermark, cur.Created, cur.Skip, cur.SubRescans, s.sub = cur.Watermark+1, 0, 0, 0, nil
			if cur.Watermark > cur.To {
				cur.To = 0 // the run's window is read
				return s.pageWith(r.items, notices, cur, false, seen)
			}
			return s.pageWith(r.items, notices, cur, true, seen)
		}
		if newest == cur.Created {
			// A full page created in one millisecond too: paged by
			// offset, its ids counted to see whether pages overlap
			// (from its first page only: a run resumed mid-way cannot).
			if cur.Skip == 0 && s.sub == nil {
				s.sub = make(map[string]struct{}, len(atCreated))
				for _, k := range atCreated {
					if k != "" {
						s.sub[k] = struct{}{}
					}
				}
			}
			cur.Skip += n
		} else {
			cur.Created, cur.Skip, cur.SubRescans, s.sub = newest, 0, 0, nil
		}
		return s.pageWith(r.items, notices, cur, true, cur.Watermark)
	}
}

// incidentMillisecondBody asks for the changes of modification_time ms
// created at or after created, by creation_time, from offset.
func (s *Source) incidentMillisecondBody(b []byte, ms, created int64, offset int) []byte {
	b = append(b, `{"request_data":{"filters":[{"field":"modification_time","operator":"gte","value":`...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, `},{"field":"modification_time","operator":"lte","value":`...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, `},{"field":"creation_time","operator":"gte","value":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `}],"search_from":`...)
	b = strconv.AppendInt(b, int64(offset), 10)
	b = append(b, `,"search_to":`...)
	b = strconv.AppendInt(b, int64(offset+s.size()), 10)
	b = append(b, `,"sort":{"field":"creation_time","keyword":"asc"}}}`...)
	return b
}

// checkMillisecondOrder verifies that a page of the millisecond Watermark
// holds only its changes, sorted by creation_time from Created, and
// returns the newest creation_time and the dedup keys of the changes
// created at exactly Created, which it adds to s.sub when that is kept.
func (s *Source) checkMillisecondOrder(r *reply) (int64, []string, error) {
	cur := &s.incidents
	prev := cur.Created
	var atCreated []string
	defer func() {
		for _, k := range atCreated {
			if s.sub != nil && k != "" {
				s.sub[k] = struct{}{}
			}
		}
	}()
	for i, it := range r.items {
		if len(it.Raw) == 0 || it.Raw[0] != '{' {
			continue
		}
		if r.times[i] != cur.Watermark {
			return 0, nil, fmt.Errorf("modification_time %d outside the millisecond %d", r.times[i], cur.Watermark)
		}
		v, _ := topLevel(it.Raw, "creation_time", "")
		ms, ok := millis(v)
		if !ok {
			continue // matched by the API's filter, but unreadable here
		}
		if ms < prev {
			return 0, nil, fmt.Errorf("creation_time %d out of order (after %d)", ms, prev)
		}
		if ms == cur.Created {
			atCreated = append(atCreated, it.Key)
		}
		prev = ms
	}
	return prev, atCreated, nil
}

// checkIncidentOrder verifies that the page is sorted by
// modification_time within the window, which time-keyed paging relies
// on, and returns its newest modification_time.
func (s *Source) checkIncidentOrder(r *reply) (int64, error) {
	cur := &s.incidents
	prev := cur.Watermark
	for i, ms := range r.times {
		if ms < 0 {
			if len(r.items[i].Raw) > 0 && r.items[i].Raw[0] == '{' {
				return 0, errors.New("an incident has no modification_time")
			}
			continue
		}
		if ms < prev || ms > cur.To {
			return 0, fmt.Errorf("modification_time %d out of order or outside [%d, %d]", ms, cur.Watermark, cur.To)
		}
		prev = ms
	}
	return prev, nil
}

// unusableIncidents checks a page of incidents read at offset skip, whose
// order check gave perr: a page out of order, or empty before the end of
// its own total_count, is asked again while retries last (retry), then
// fails the run (err); a usable page gives neither.
func (s *Source) unusableIncidents(ctx context.Context, attempt int, r *reply, skip int, perr error) (retry bool, err error) {
	if perr == nil && len(r.items) == 0 && r.total > skip {
		perr = fmt.Errorf("empty page at offset %d though total_count is %d", skip, r.total)
	}
	if perr == nil {
		return false, nil
	}
	if attempt < invalidReplyRetries && ctx.Err() == nil {
		s.c.cfg.Logger.Warn("inconsistent incidents reply; asking again", "tenant", s.c.tenant, "error", perr)
		return true, nil
	}
	return false, &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "incidents reply is not ordered as requested",
		Detail: "endpoint=" + s.def.Path, Err: perr}
}
