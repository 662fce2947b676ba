package onepassword

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/utctime"
)

// Cursor is the stored position of a stream.
type Cursor struct {
	// Cursor is the API's opaque cursor.
	Cursor string `json:"cursor,omitempty"`
	// LastTS is the newest event timestamp delivered, the restart point if
	// the API ever refuses Cursor.
	LastTS time.Time `json:"last_ts,omitzero"`
}

// Legacy is a position adopted from the seed wodle's state file.
type Legacy struct {
	Cursor   string    // "<stream>_cursor"
	LastPoll time.Time // "<stream>_last_poll"
}

// maxEmptyPages stops a run that keeps getting empty pages with has_more:
// the cursor is committed and the next run goes on.
const maxEmptyPages = 20

// invalidBodyRetries re-asks a page whose body was not valid JSON, which a
// proxy glitch can cause; a persistent fault becomes an error event.
const invalidBodyRetries = 2

// Source reads one stream of one tenant.
type Source struct {
	c      *Collector
	def    StreamDef
	legacy Legacy
	// backfill starts from the lookback and ignores stored positions.
	backfill bool

	cur        Cursor
	resetFrom  time.Time // restart time when there is no cursor
	reset      bool      // a refused cursor was already replaced this run
	emptyPages int
	buf        []byte
	items      []pipeline.Item
	scan       jsonscan.ArrayScanner
	scanOpts   *jsonscan.Options // the stream's, from pipeline.ScanOptions
}

// NewSource returns the pipeline source for stream def. legacy is the seed
// position to adopt when the stream has no record of ours yet.
func (c *Collector) NewSource(def StreamDef, legacy Legacy) *Source {
	return &Source{c: c, def: def, legacy: legacy}
}

// NewBackfill returns a source that reads the lookback window from scratch
// and reports no position worth keeping (--all).
func (c *Collector) NewBackfill(def StreamDef) *Source {
	return &Source{c: c, def: def, backfill: true}
}

// Start positions the source. A stored cursor is reused as is; a seed
// cursor is adopted; otherwise collection starts Lookback ago.
func (s *Source) Start(ctx context.Context, rec state.Record) error {
	now := s.c.cfg.Now()
	s.resetFrom = now.Add(-s.c.cfg.Lookback)
	if s.backfill {
		s.clamp(now)
		return nil
	}
	if len(rec.Cursor) > 0 {
		if err := json.Unmarshal(rec.Cursor, &s.cur); err != nil {
			return &pipeline.Error{Code: pipeline.CodeStateRead, Message: "stored 1Password cursor is unreadable; fix or remove the state record", Err: err}
		}
		// A far-future time stored before times were clamped would make a
		// refused cursor restart after events not yet collected.
		if limit := now.Add(pipeline.MaxFutureSkew); s.cur.LastTS.After(limit) {
			s.cur.LastTS = limit
		}
	} else if rec.Version == 0 && s.legacy.Cursor != "" {
		s.cur = Cursor{Cursor: s.legacy.Cursor}
		s.c.cfg.Logger.Info("adopting the seed wodle's cursor", "stream", s.def.Name, "tenant", s.c.tenant)
	}
	s.clamp(now)
	return nil
}

func (s *Source) clamp(now time.Time) {
	if oldest := now.Add(-MaxLookback); s.resetFrom.Before(oldest) {
		s.resetFrom = oldest
	}
}

// restartPoint is where a refused cursor restarts: the newest delivered
// event minus the overlap, else the seed's last poll minus the overlap,
// else the lookback.
func (s *Source) restartPoint() (time.Time, string) {
	switch {
	case !s.cur.LastTS.IsZero():
		return s.cur.LastTS.Add(-s.c.cfg.Overlap), "newest delivered event"
	case !s.legacy.LastPoll.IsZero():
		return s.legacy.LastPoll.Add(-s.c.cfg.Overlap), "seed wodle's last poll"
	}
	return s.resetFrom, "lookback (no delivered event known; events may be missing)"
}

func (s *Source) requestBody() ([]byte, bool) {
	if s.cur.Cursor != "" {
		b, _ := json.Marshal(struct {
			Cursor string `json:"cursor"`
		}{s.cur.Cursor})
		return b, true
	}
	start := s.resetFrom
	if oldest := s.c.cfg.Now().Add(-MaxLookback); start.Before(oldest) {
		start = oldest
	}
	// ResetCursor fields are top-level in the published API, not wrapped.
	b, _ := json.Marshal(struct {
		Limit     int    `json:"limit"`
		StartTime string `json:"start_time"`
	}{s.c.cfg.PageLimit, start.UTC().Format(time.RFC3339Nano)})
	return b, false
}

// Fetch requests the next page.
func (s *Source) Fetch(ctx context.Context) (*pipeline.Page, error) {
	s.scanOpts = pipeline.ScanOptions(ctx)
	shared := pipeline.BodyBuffer(ctx)
	if shared != nil {
		s.buf = *shared
	}
	sharedItems := pipeline.ItemsBuffer(ctx)
	if sharedItems != nil {
		s.items = *sharedItems
	}
	var notices []pipeline.Notice
	for attempt := 0; ; attempt++ {
		body, withCursor := s.requestBody()
		resp, err := s.c.call(ctx, http.MethodPost, s.def.Path, body, s.buf)
		var se *httpx.StatusError
		if withCursor && !s.reset && errors.As(err, &se) && se.Status == http.StatusBadRequest {
			from, basis := s.restartPoint()
			s.reset = true
			s.cur.Cursor = ""
			s.resetFrom = from
			notices = append(notices, pipeline.Notice{
				Code:    pipeline.CodeHTTP400,
				Message: "Cursor rejected — restarting from a timestamp with overlap; events already delivered are suppressed by uuid",
				Detail:  fmt.Sprintf("endpoint=%s status=400 restart=%s basis=%s", s.def.Path, from.UTC().Format(time.RFC3339Nano), basis),
			})
			s.c.cfg.Logger.Warn("1Password refused the cursor; restarting from a timestamp", "stream", s.def.Name, "tenant", s.c.tenant, "restart", from)
			continue
		}
		if err != nil {
			return nil, &pipeline.Error{Code: pipeline.CodeOf(err), Message: s.c.httpMessage(err), Detail: "endpoint=" + s.def.Path, Err: err}
		}
		s.buf = resp.Body[:0]
		if shared != nil {
			*shared = s.buf
		}
		page, perr := s.decode(resp.Body)
		if sharedItems != nil {
			*sharedItems = s.items[:0]
		}
		if perr != nil {
			if attempt < invalidBodyRetries && ctx.Err() == nil {
				s.c.cfg.Logger.Warn("invalid 1Password page; asking again", "stream", s.def.Name, "error", perr)
				continue
			}
			return nil, &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: s.def.Name + " response is not a valid events page", Detail: "endpoint=" + s.def.Path, Err: perr}
		}
		page.Notices = append(notices, page.Notices...)
		return page, nil
	}
}

func (c *Collector) httpMessage(err error) string {
	switch pipeline.CodeOf(err) {
	case pipeline.CodeHTTP400:
		return "Bad request — the request body or cursor was refused"
	case pipeline.CodeHTTP401:
		return "Authentication failed — verify " + c.cfg.Where(FieldBearerToken) + " is correct, not expired, and has this feature"
	case pipeline.CodeHTTP429:
		return "1Password Events API rate limit reached — retries exhausted"
	case pipeline.CodeHTTP500:
		return "1Password Events API returned an internal server error"
	case pipeline.CodeTimeout:
		return "1Password Events API request timed out"
	case pipeline.CodeConnection:
		return "1Password Events API unreachable — verify network connectivity"
	case pipeline.CodeResponseTooLarge:
		return "1Password Events API response is larger than any valid page — not read (a proxy or server fault)"
	}
	return "1Password Events API returned an unexpected response"
}

// decode reads {"cursor","has_more","items"} without building maps; item
// bytes point into body, which stays untouched until the next Fetch.
func (s *Source) decode(body []byte) (*pipeline.Page, error) {
	var (
		cursor         string
		hasMore        bool
		haveCursor     bool
		haveItems      bool
		newest         = s.cur.LastTS
		sawHasMoreType = true
		// last_ts is where a refused cursor restarts: an event stamped
		// in the future must not move it past now (plus a small skew),
		// or the restart would skip every event until that time.
		limit = s.c.cfg.Now().Add(pipeline.MaxFutureSkew)
	)
	s.items = s.items[:0]
	s.scan.Reset()
	n, err := jsonscan.MembersFunc(body, func(name, rest []byte) (int, error) {
		if !jsonscan.Name(name, "items") {
			n, err := jsonscan.Skip(rest)
			if err != nil {
				return 0, err
			}
			value := rest[:n]
			switch {
			case jsonscan.Name(name, "cursor"):
				v, ok := jsonscan.String(value)
				if !ok {
					return 0, errors.New(`"cursor" is not a string`)
				}
				cursor, haveCursor = v, v != ""
			case jsonscan.Name(name, "has_more"):
				switch string(value) {
				case "true":
					hasMore = true
				case "false":
				default:
					sawHasMoreType = false
				}
			}
			return n, nil
		}
		haveItems = true
		if len(rest) >= 4 && string(rest[:4]) == "null" {
			return 4, nil
		}
		// One validating pass finds and classifies the items; clean ones
		// are then copied into their lines instead of rebuilt.
		return s.scan.Scan(rest, s.scanOpts, func(raw []byte, class jsonscan.Class) error {
			it := pipeline.Item{Raw: raw, Type: s.def.EventType, Scan: class}
			if raw[0] == '{' {
				it.Key, it.Time = itemKeyTime(raw)
				if ts := it.Time; ts.After(newest) {
					if ts.After(limit) {
						ts = limit
					}
					newest = ts
				}
			}
			s.items = append(s.items, it)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, c := range body[n:] {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return nil, errors.New("data after the response object")
		}
	}
	switch {
	case !haveCursor:
		return nil, errors.New(`response is missing the "cursor" field`)
	case !haveItems:
		return nil, errors.New(`response is missing the "items" array`)
	case !sawHasMoreType:
		return nil, errors.New(`"has_more" is not a boolean`)
	}
	s.cur.Cursor = cursor
	s.cur.LastTS = newest
	if len(s.items) == 0 && hasMore {
		s.emptyPages++
		if s.emptyPages >= maxEmptyPages {
			s.c.cfg.Logger.Info("many empty pages in a row; leaving the rest for the next run", "stream", s.def.Name)
			hasMore = false
		}
	} else {
		s.emptyPages = 0
	}
	next, err := json.Marshal(s.cur)
	if err != nil {
		return nil, fmt.Errorf("encode cursor: %w", err)
	}
	page := &pipeline.Page{Items: s.items, Cursor: next, More: hasMore}
	if !s.cur.LastTS.IsZero() {
		page.SeenSince = s.cur.LastTS.Add(-s.c.cfg.Overlap)
	}
	if s.backfill {
		page.Cursor = nil
	}
	return page, nil
}

var errFound = errors.New("found")

// itemKeyTime extracts the uuid and timestamp of an event object (already
// validated), stopping as soon as both are seen.
func itemKeyTime(raw []byte) (string, time.Time) {
	if key, ts, ok := leadingKeyTime(raw); ok {
		return key, ts
	}
	var key string
	var ts time.Time
	var haveKey, haveTS bool
	jsonscan.Members(raw, func(name, value []byte) error {
		switch {
		case jsonscan.Name(name, "uuid"):
			key, haveKey = jsonscan.String(value)
		case jsonscan.Name(name, "timestamp"):
			if v, ok := jsonscan.String(value); ok {
				ts, _ = time.Parse(time.RFC3339Nano, v)
			}
			haveTS = true
		}
		if haveKey && haveTS {
			return errFound
		}
		return nil
	})
	return key, ts
}

// leadingKeyTime is itemKeyTime for the layouts 1Password serves, uuid
// first and timestamp after at most a few plain string members (sign-in
// attempts put session_uuid between them), read without walking the
// event: this runs for every event of a catch-up.
func leadingKeyTime(raw []byte) (string, time.Time, bool) {
	const keyPrefix, tsMember = `{"uuid":"`, `"timestamp":"`
	rest, ok := bytes.CutPrefix(raw, []byte(keyPrefix))
	if !ok {
		return "", time.Time{}, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", time.Time{}, false
	}
	key := rest[:end]
	rest = rest[end+1:]
	for skipped := 0; ; skipped++ {
		// rest starts after a string value: a member must follow.
		if len(rest) < 2 || rest[0] != ',' || rest[1] != '"' || skipped > 3 {
			return "", time.Time{}, false
		}
		if after, ok := bytes.CutPrefix(rest[1:], []byte(tsMember)); ok {
			rest = after
			break
		}
		// Skip `,"name":"plain value"`: no escapes, so the quotes found
		// are the tokens' own.
		name := bytes.IndexByte(rest[2:], '"')
		if name < 0 || bytes.IndexByte(rest[2:2+name], '\\') >= 0 {
			return "", time.Time{}, false
		}
		v := rest[2+name+1:]
		if len(v) < 2 || v[0] != ':' || v[1] != '"' {
			return "", time.Time{}, false
		}
		end := bytes.IndexByte(v[2:], '"')
		if end < 0 || bytes.IndexByte(v[2:2+end], '\\') >= 0 {
			return "", time.Time{}, false
		}
		rest = v[2+end+1:]
	}
	end = bytes.IndexByte(rest, '"')
	if end < 0 {
		return "", time.Time{}, false
	}
	ts, ok := utctime.Parse(rest[:end])
	if !ok {
		return "", time.Time{}, false
	}
	return string(key), ts, true
}
