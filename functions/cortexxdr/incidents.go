package cortexxdr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// incidentCursor is the stored position of the incidents stream.
//
// Every change with a modification_time before Watermark has been
// delivered; those at exactly Watermark are in the pipeline's dedup set
// (key incident_id:modification_time). To, when set, is the frozen upper
// bound of a paging run in progress. Skip counts changes at exactly
// Watermark already read past the first page, for the rare millisecond
// that holds a full page of them.
type incidentCursor struct {
	Watermark int64 `json:"watermark"`
	Skip      int   `json:"skip,omitempty"`
	To        int64 `json:"to,omitempty"`
}

func (c *incidentCursor) decode(raw json.RawMessage) error {
	var v incidentCursor
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if v.Watermark <= 0 || v.Skip < 0 || (v.To != 0 && v.To < v.Watermark) {
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
		if perr == nil && n == 0 && r.total > cur.Skip {
			perr = fmt.Errorf("empty page at offset %d though total_count is %d", cur.Skip, r.total)
		}
		if perr != nil {
			if attempt < invalidReplyRetries && ctx.Err() == nil {
				s.c.cfg.Logger.Warn("inconsistent incidents reply; asking again", "tenant", s.c.tenant, "error", perr)
				continue
			}
			return nil, &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "incidents reply is not ordered as requested",
				Detail: "endpoint=" + s.def.Path, Err: perr}
		}
		done := n == 0 || (r.total >= 0 && cur.Skip+n >= r.total) || (r.total < 0 && n < s.c.cfg.PageSize)
		if done {
			cur.Watermark, cur.Skip, cur.To = cur.To, 0, 0
			return s.page(r.items, cur, false, cur.Watermark)
		}
		if newest == cur.Watermark {
			cur.Skip += n
		} else {
			cur.Watermark, cur.Skip = newest, 0
		}
		return s.page(r.items, cur, true, cur.Watermark)
	}
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
