package cortexxdr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Legacy is a position adopted from the seed wodle's state file, whose
// "alerts_cursor" and "incidents_cursor" hold epoch milliseconds (a JSON
// integer): one more than the newest creation_time (alerts, detection
// time on the endpoint) or modification_time (incidents) the seed
// delivered, or the time of a run that found nothing newer.
//
// Every alert the seed has not delivered was either detected at or after
// that cursor, and so inserted at or after it, or detected earlier and
// inserted after the seed's last run (a late upload, which the seed would
// never have read). Both are at or after the cursor in insertion time,
// except for what a skewed endpoint clock, the API's visibility lag or the
// length of the seed's last run put slightly before it. So an adopted
// stream starts AdoptOverlap (1 h) before the cursor, in insertion time
// for alerts and modification time for incidents: nothing is lost, and
// what the seed delivered in that hour is delivered once more (the seed
// kept no ids to suppress it with).
type Legacy struct {
	// CursorMillis is the seed's cursor (0: none).
	CursorMillis int64
}

// ParseLegacy reads a seed cursor value as the state file stores it: a
// JSON integer (a numeric string or null are accepted too).
func ParseLegacy(raw json.RawMessage) (Legacy, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		return Legacy{}, nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int64(f)) {
		if ms := int64(f); ms >= minLegacyMillis {
			return Legacy{CursorMillis: ms}, nil
		}
	}
	return Legacy{}, fmt.Errorf("cortexxdr: seed cursor %.40q is not epoch milliseconds since 2000", s)
}

// minLegacyMillis (2000-01-01) is the oldest seed cursor taken: the seed
// wrote the time of its runs or of records it read. A smaller value is
// not one it wrote (epoch seconds, say), and would start the stream
// within AdoptOverlap of 1970, or before it, a watermark the API refuses
// (a time filter of 0 fails) and the state cannot hold.
const minLegacyMillis = 946684800000

// Source reads one stream of one tenant.
type Source struct {
	c        *Collector
	def      StreamDef
	legacy   Legacy
	backfill bool

	alerts    alertCursor
	incidents incidentCursor
	dec       *decoder
	// winSeen holds the digests of the alert ids read in the current
	// window, with their insertion time in ms (alertWindow.Distinct counts
	// them). After a restart it starts with every id the pipeline
	// remembers, which holds those the window delivered, so that none is
	// counted twice; their time is unknown (-1), and they are forgotten
	// (not counted) when the window changes.
	winSeen map[state.Digest]int64
	// sub holds the dedup keys of the incident changes created at exactly
	// incidentCursor.Created while they are paged by offset; nil when not
	// counted (none paged so, or a run resumed mid-way).
	sub      map[string]struct{}
	pageSize int    // 0: Config.PageSize
	body     []byte // request body scratch
	buf      []byte // response body, reused
}

// NewSource returns the pipeline source of stream def. legacy is the
// seed's position, adopted when the stream has no record of ours yet.
func (c *Collector) NewSource(def StreamDef, legacy Legacy) *Source {
	return &Source{c: c, def: def, legacy: legacy, dec: newDecoder(def)}
}

// NewBackfill returns a source that reads the lookback window up to now
// and keeps no position (--all): nothing is read from or committed to the
// store, so the normal collection is not disturbed.
func (c *Collector) NewBackfill(def StreamDef) *Source {
	return &Source{c: c, def: def, backfill: true, dec: newDecoder(def)}
}

// Start positions the source: at the stored cursor, at the seed's cursor
// less AdoptOverlap, or Lookback ago.
func (s *Source) Start(ctx context.Context, rec state.Record) error {
	start := s.c.cfg.Now().Add(-s.c.cfg.Lookback).UnixMilli()
	switch {
	case s.backfill:
	case len(rec.Cursor) > 0:
		var err error
		if s.def.Name == StreamAlerts {
			err = s.alerts.decode(rec.Cursor)
			if err == nil && s.alerts.Window != nil {
				s.winSeen = make(map[state.Digest]int64, len(rec.Seen))
				for _, k := range rec.Seen {
					s.winSeen[k.Digest] = -1
				}
			} else if err == nil {
				// Between windows the dedup set holds the alerts inserted
				// at exactly the watermark, which the next window starts
				// at and reads again: counted from its start, as when one
				// run reads both windows, not taken for overlapping pages
				// once a restart has put them in the dedup set.
				s.winSeen = make(map[state.Digest]int64, len(rec.Seen))
				for _, k := range rec.Seen {
					s.winSeen[k.Digest] = s.alerts.Watermark
				}
			}
		} else {
			err = s.incidents.decode(rec.Cursor)
		}
		if err != nil {
			return &pipeline.Error{Code: pipeline.CodeStateRead, Message: "stored Cortex XDR cursor is unreadable; it was not reset, fix or remove the state record", Err: err}
		}
		return nil
	case rec.Version == 0 && s.legacy.CursorMillis > 0:
		start = s.legacy.CursorMillis - s.c.cfg.AdoptOverlap.Milliseconds()
		s.c.cfg.Logger.Info("adopting the seed wodle's cursor", "stream", s.def.Name, "tenant", s.c.tenant,
			"seed_cursor", time.UnixMilli(s.legacy.CursorMillis).UTC(), "start", time.UnixMilli(start).UTC())
	}
	s.alerts = alertCursor{Watermark: start}
	s.incidents = incidentCursor{Watermark: start}
	return nil
}

// Fetch returns the next page.
func (s *Source) Fetch(ctx context.Context) (*pipeline.Page, error) {
	s.dec.use(pipeline.ScanOptions(ctx))
	if s.def.Name == StreamAlerts {
		return s.fetchAlerts(ctx)
	}
	return s.fetchIncidents(ctx)
}

// upper is the newest time a window may reach: the API's clock less the
// lag (backfills read up to the API's clock: they keep no position that a
// late-visible record could fall behind).
func (s *Source) upper() int64 {
	now := s.c.serverNow()
	if !s.backfill {
		now = now.Add(-s.c.cfg.Lag)
	}
	return now.UnixMilli()
}

// invalidReplyRetries re-asks a request whose reply could not be used (a
// proxy glitch, a page that contradicts its own count) before the run
// fails; a failed run commits nothing and the next one asks again.
const invalidReplyRetries = 2

// query sends one request for [from, to] of the stream's time field at
// offset and decodes the reply.
func (s *Source) query(ctx context.Context, from, to int64, offset int) (*reply, error) {
	return s.request(ctx, func(b []byte) []byte { return s.requestBody(b, from, to, offset) })
}

// request sends the body build writes for the current page size and
// decodes the reply. A reply over the HTTP client's body limit (the API
// bounds a page's records, not its bytes: an alert carries one value per
// contributing event in each of its per-event lists) is asked for again
// with half as many records, down to one, for the rest of the run; offset
// paging does not depend on the page size. A single record over the limit
// fails the stream with API_RESPONSE_TOO_LARGE, its position kept.
func (s *Source) request(ctx context.Context, build func([]byte) []byte) (*reply, error) {
	for {
		s.body = build(s.body[:0])
		r, err := s.send(ctx)
		var big *httpx.BodyTooLargeError
		if err == nil || !errors.As(err, &big) || ctx.Err() != nil {
			return r, err
		}
		if s.size() == 1 {
			if pe, ok := err.(*pipeline.Error); ok {
				pe.Message = "One Cortex XDR record, asked for alone, is larger than the reply limit; the stream cannot move past it"
			}
			return r, err
		}
		s.pageSize = s.size() / 2
		s.c.cfg.Logger.Warn("Cortex XDR reply over the size limit; asking for fewer records per request", "stream", s.def.Name, "tenant", s.c.tenant,
			"limit_bytes", big.Limit, "page_size", s.pageSize)
	}
}

// send posts the request body in s.body and decodes the reply.
func (s *Source) send(ctx context.Context) (*reply, error) {
	throttles := 0
	for attempt := 0; ; attempt++ {
		resp, err := s.c.post(ctx, s.def.Path, s.body, s.buf)
		if err != nil {
			return nil, err
		}
		s.buf = resp.Body[:0]
		r, derr := s.dec.decode(resp.Body)
		if derr == nil {
			return r, nil
		}
		if errors.Is(derr, errEnvelopeIn200) && throttles < throttleRetries && ctx.Err() == nil {
			// A throttle is known by its message, whatever the status,
			// 200 included: retried after the tenant's pause, like any.
			if env, ok := parseXDRError(string(resp.Body)); ok && isThrottle(env.Msg) {
				throttles++
				attempt--
				s.c.pacer.failed()
				s.c.cfg.Logger.Warn("Cortex XDR throttled a request", "tenant", s.c.tenant, "status", resp.Status, "retry", throttles)
				continue
			}
		}
		if attempt < invalidReplyRetries && ctx.Err() == nil {
			s.c.cfg.Logger.Warn("invalid Cortex XDR reply; asking again", "stream", s.def.Name, "tenant", s.c.tenant, "error", derr)
			continue
		}
		if errors.Is(derr, errEnvelopeIn200) {
			cr, _ := s.c.credentials(ctx)
			err := s.c.apiError(envelopeError(resp.Body), s.def.Path, cr)
			// The status above is the envelope's err_code (500 when it is
			// not an error status): say the reply itself was a success.
			if pe, ok := err.(*pipeline.Error); ok {
				pe.Detail += " (an error envelope in an HTTP 200 reply)"
			}
			return nil, err
		}
		return nil, &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: s.def.Name + " reply is not a valid Cortex XDR reply", Detail: "endpoint=" + s.def.Path, Err: derr}
	}
}

// requestBody writes {"request_data":{filters, search_from, search_to, sort}}.
// Alerts are sorted by creation_time, the sort field the API documents;
// their window is frozen, so the order only has to be stable. Incidents
// are sorted by the field they are filtered on.
func (s *Source) requestBody(b []byte, from, to int64, offset int) []byte {
	sortField := "creation_time"
	if s.def.Name == StreamIncidents {
		sortField = "modification_time"
	}
	b = append(b, `{"request_data":{"filters":[{"field":"`...)
	b = append(b, s.def.TimeField...)
	b = append(b, `","operator":"gte","value":`...)
	b = strconv.AppendInt(b, from, 10)
	b = append(b, `},{"field":"`...)
	b = append(b, s.def.TimeField...)
	b = append(b, `","operator":"lte","value":`...)
	b = strconv.AppendInt(b, to, 10)
	b = append(b, `}],"search_from":`...)
	b = strconv.AppendInt(b, int64(offset), 10)
	b = append(b, `,"search_to":`...)
	b = strconv.AppendInt(b, int64(offset+s.size()), 10)
	b = append(b, `,"sort":{"field":"`...)
	b = append(b, sortField...)
	b = append(b, `","keyword":"asc"}}}`...)
	return b
}

// size is the number of records one request asks for.
func (s *Source) size() int {
	if s.pageSize > 0 {
		return s.pageSize
	}
	return s.c.cfg.PageSize
}

func (s *Source) page(items []pipeline.Item, cursor any, more bool, seenSince int64) (*pipeline.Page, error) {
	p := &pipeline.Page{Items: items, More: more}
	if seenSince > 0 {
		p.SeenSince = time.UnixMilli(seenSince).UTC()
	}
	if !s.backfill {
		c, err := json.Marshal(cursor)
		if err != nil {
			return nil, fmt.Errorf("cortexxdr: encode cursor: %w", err)
		}
		p.Cursor = c
	}
	return p, nil
}
