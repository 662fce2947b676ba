package onepasswordtest

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// serveAPI handles an authenticated API request after transport faults.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, ep string, body []byte, rec *RequestRecord) {
	now := s.opts.Now()
	tok, status, msg, retry := s.authorize(r, ep, now, rec)
	if status != 0 {
		if retry > 0 {
			simtest.SetRetryAfter(w.Header(), retry)
		}
		writeError(w, status, msg)
		return
	}
	if ep == "introspect" {
		s.serveIntrospect(w, tok)
		return
	}
	id, _ := parseStream(ep)

	// The documentation requires Content-Type: application/json on every
	// POST. Rejecting its absence is stricter than some servers, but a
	// client that omits it is outside the documented contract.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusBadRequest, "Content-Type must be application/json")
		return
	}
	req, errMsg := parsePageRequest(body, now)
	if errMsg != "" {
		writeError(w, http.StatusBadRequest, errMsg)
		return
	}
	if f := s.takeFault(ep, true, req.hasCursor, rec); f != nil && f.Kind == FaultInvalidCursor {
		writeError(w, http.StatusBadRequest, "invalid cursor")
		return
	} else if f != nil && f.Kind == FaultEmptyPage {
		req.emptyPage = true
	}

	var c cursorState
	if req.hasCursor {
		var err error
		c, err = decodeCursor(s.opts.CursorKey, req.cursor)
		if err != nil || c.stream != id || c.account != tok.acct.bind {
			// A cursor from another endpoint or tenant is as invalid as
			// garbage: the real cursor is bound to its stream position.
			writeError(w, http.StatusBadRequest, "invalid cursor")
			return
		}
	} else {
		c = cursorState{stream: id, limit: req.limit, lo: req.lo, hi: req.hi, account: tok.acct.bind}
	}
	s.servePage(w, tok.acct, id, c, now, req.emptyPage, rec)
}

// authorize checks the bearer token, its expiry, the rate limits and the
// endpoint's feature. It returns a non-zero status on refusal.
func (s *Server) authorize(r *http.Request, ep string, now time.Time, rec *RequestRecord) (*tokenState, int, string, time.Duration) {
	h := r.Header.Get("Authorization")
	value, ok := strings.CutPrefix(h, "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.tokens[value]
	if !ok || value == "" || tok == nil {
		return nil, http.StatusUnauthorized, "Unauthorized", 0
	}
	rec.Account = tok.acct.name
	if tok.revoked || (!tok.expiresAt.IsZero() && !now.Before(tok.expiresAt)) {
		return nil, http.StatusUnauthorized, "Unauthorized", 0
	}
	if limited, retry := s.rateLimitLocked(tok, now); limited {
		return nil, http.StatusTooManyRequests, "Too Many Requests", retry
	}
	if id, isData := parseStream(ep); isData && !tok.features[id] {
		return nil, http.StatusUnauthorized, "Unauthorized: token does not have access to " + ep, 0
	}
	return tok, 0, "", 0
}

// rateLimitLocked admits a request in clock-aligned minute and hour
// windows, as the vendor describes ("wait for the per-minute or per-hour
// window to reset"). Refused requests do not consume budget. The returned
// duration is the time to the reset, sent only with RateLimitRetryAfter.
func (s *Server) rateLimitLocked(t *tokenState, now time.Time) (bool, time.Duration) {
	perMin, perHr := s.opts.RateLimitPerMinute, s.opts.RateLimitPerHour
	sec := now.Unix()
	minute, hour := sec/60, sec/3600
	if t.minute != minute {
		t.minute, t.perMin = minute, 0
	}
	if t.hour != hour {
		t.hour, t.perHrs = hour, 0
	}
	var retry time.Duration
	if perHr > 0 && t.perHrs >= perHr {
		retry = time.Unix((hour+1)*3600, 0).Sub(now)
	} else if perMin > 0 && t.perMin >= perMin {
		retry = time.Unix((minute+1)*60, 0).Sub(now)
	}
	if retry > 0 {
		if !s.opts.RateLimitRetryAfter {
			retry = 0
		}
		return true, retry
	}
	t.perMin++
	t.perHrs++
	return false, 0
}

func (s *Server) serveIntrospect(w http.ResponseWriter, t *tokenState) {
	var feats []string
	for i, ok := range t.features {
		if ok {
			feats = append(feats, streamNames[i])
		}
	}
	b, err := json.Marshal(struct {
		UUID        string   `json:"uuid"`
		IssuedAt    string   `json:"issued_at"`
		Features    []string `json:"features"`
		AccountUUID string   `json:"account_uuid"`
	}{t.uuid, t.issuedAt.Format(time.RFC3339), feats, t.acct.uuid})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "marshal introspect: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b) // a failed write means the client left
}

type pageRequest struct {
	hasCursor bool
	cursor    string
	limit     int
	lo, hi    int64
	emptyPage bool
}

// parsePageRequest validates a POST body against §1.4. It returns an error
// message for a 400, or "" on success.
//
// Choices where the documentation is silent, always the strict reading:
//   - unknown top-level keys are ignored (so the old {"ResetCursor":{...}}
//     wrapper silently yields the defaults, as the spec warns);
//   - a cursor must come alone: any other key next to it is a 400;
//   - limit must be an integer JSON number in 1..1000 (null = absent);
//   - start_time/end_time must be RFC 3339 strings, start before end;
//   - the window is [start_time, end_time); an omitted end_time leaves it
//     open, so a continuing cursor keeps returning newly ingested events;
//   - an empty or non-object body is malformed.
func parsePageRequest(body []byte, now time.Time) (pageRequest, string) {
	var req pageRequest
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return req, "malformed request body: expected a JSON object"
	}
	if raw, ok := fields["cursor"]; ok {
		if len(fields) > 1 {
			return req, "cursor cannot be combined with other fields"
		}
		var c string
		if err := json.Unmarshal(raw, &c); err != nil || c == "" {
			return req, "invalid cursor"
		}
		req.hasCursor, req.cursor = true, c
		return req, ""
	}

	req.limit = DefaultLimit
	if raw, ok := fields["limit"]; ok && !isNull(raw) {
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return req, "limit must be an integer between 1 and 1000"
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || n < 1 || n > maxLimit {
			return req, "limit must be an integer between 1 and 1000"
		}
		req.limit = int(n)
	}
	start, hasStart, msg := parseTime(fields, "start_time")
	if msg != "" {
		return req, msg
	}
	end, hasEnd, msg := parseTime(fields, "end_time")
	if msg != "" {
		return req, msg
	}
	if !hasStart {
		if hasEnd {
			start = end.Add(-time.Hour)
		} else {
			start = now.Add(-time.Hour)
		}
	}
	req.lo, req.hi = start.UnixNano(), noUpperBound
	if hasEnd {
		if !start.Before(end) {
			return req, "start_time must be before end_time"
		}
		req.hi = end.UnixNano()
	}
	return req, ""
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(raw, []byte("null")) }

func parseTime(fields map[string]json.RawMessage, key string) (time.Time, bool, string) {
	raw, ok := fields[key]
	if !ok || isNull(raw) {
		return time.Time{}, false, ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, false, key + " must be an RFC 3339 string"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false, key + " must be an RFC 3339 timestamp"
	}
	return t, true, ""
}

// servePage renders one page. Generation happens outside the server lock on
// an immutable snapshot of the stream, so concurrent Generate/Ingest calls
// and requests do not serialise on page rendering.
func (s *Server) servePage(w http.ResponseWriter, a *account, id streamID, c cursorState, now time.Time, empty bool, rec *RequestRecord) {
	s.mu.Lock()
	st := a.streams[id]
	s.mu.Unlock()

	lo := c.lo
	if s.opts.Retention > 0 {
		lo = max(lo, truncNanos(now.Add(-s.opts.Retention).UnixNano(), streamPrecision[id]))
	}
	var sel selection
	if empty {
		// The fault promises more data but delivers none; the cursor stays
		// put, so pending events are not skipped.
		sel = selection{next: c.pos, hasMore: true}
	} else {
		sel = selectPage(st.segs, st.total, c.pos, c.limit, lo, c.hi, streamPrecision[id])
	}
	next := c
	next.pos = sel.next

	bp := s.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"cursor":"`...)
	b = append(b, encodeCursor(s.opts.CursorKey, next)...)
	if sel.hasMore {
		b = append(b, `","has_more":true,"items":[`...)
	} else {
		b = append(b, `","has_more":false,"items":[`...)
	}
	digits := streamPrecision[id]
	first := true
	for _, sp := range sel.spans {
		for i := sp.from; i < sp.to; i++ {
			if !first {
				b = append(b, ',')
			}
			first = false
			if sp.seg.explicit() {
				b = append(b, sp.seg.raw...)
			} else {
				b = a.gen.appendEvent(b, id, sp.seg.first+i, sp.seg.tsAt(i, digits))
			}
		}
	}
	b = append(b, "]}"...)

	s.mu.Lock()
	rec.Items, rec.HasMore = sel.count, sel.hasMore
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b) // a failed write means the client left
	*bp = b
	if cap(b) <= 4<<20 { // do not pin the buffers of oversized pages
		s.bufs.Put(bp)
	}
}
