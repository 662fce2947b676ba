package proofpointtest

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParseInstant parses the ISO 8601 instants TAP accepts: a date and time
// with optional fraction, and a zone "Z", "±hh:mm" or "±hhmm".
func ParseInstant(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700", "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not an ISO 8601 instant with a zone")
}

// parseDuration parses ISO 8601 durations of days and time: P1D, PT30M,
// PT1H30M, PT45S, P0DT1H.
func parseDuration(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" {
		return 0, errors.New("not an ISO 8601 duration")
	}
	var d time.Duration
	inTime := false
	num := ""
	any := false
	for _, c := range rest {
		switch {
		case c >= '0' && c <= '9' || c == '.':
			num += string(c)
		case c == 'T' && !inTime && num == "":
			inTime = true
		default:
			if num == "" {
				return 0, errors.New("not an ISO 8601 duration")
			}
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			var unit time.Duration
			switch {
			case !inTime && c == 'D':
				unit = 24 * time.Hour
			case !inTime && c == 'W':
				unit = 7 * 24 * time.Hour
			case inTime && c == 'H':
				unit = time.Hour
			case inTime && c == 'M':
				unit = time.Minute
			case inTime && c == 'S':
				unit = time.Second
			default:
				return 0, errors.New("unsupported ISO 8601 duration unit")
			}
			d += time.Duration(v * float64(unit))
			num = ""
			any = true
		}
	}
	if num != "" || !any {
		return 0, errors.New("not an ISO 8601 duration")
	}
	return d, nil
}

// ParseInterval parses start/end, duration/end or start/duration.
func ParseInterval(v string) (start, end time.Time, err error) {
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return start, end, errors.New("an interval needs two parts separated by '/'")
	}
	switch {
	case strings.HasPrefix(a, "P"):
		d, err := parseDuration(a)
		if err != nil {
			return start, end, err
		}
		end, err = ParseInstant(b)
		return end.Add(-d), end, err
	case strings.HasPrefix(b, "P"):
		d, err := parseDuration(b)
		if err != nil {
			return start, end, err
		}
		start, err = ParseInstant(a)
		return start, start.Add(d), err
	}
	if start, err = ParseInstant(a); err != nil {
		return start, end, err
	}
	end, err = ParseInstant(b)
	return start, end, err
}

// siemWindow reads the time selection of a SIEM request. It returns the
// window, where its events stop (end, or now for an interval that ends in
// the future and is served), or a 400 message.
func (s *Server) siemWindow(q url.Values, now time.Time) (start, end, upTo time.Time, msg string) {
	start, end, msg = s.timeSelection(q, now)
	if m := end.Truncate(time.Minute); msg == "" && s.opts.QueryEnd == QueryEndMinute && q.Has("interval") && m.After(start) {
		end = m
	}
	upTo = end
	if msg == "" && q.Has("interval") && end.After(now) {
		switch s.opts.FutureEnd {
		case FutureEndClamped:
			end, upTo = now, now
		case FutureEndAsRequested:
			upTo = now
		default:
			msg = MsgFuture
		}
	}
	return start, end, upTo, msg
}

func (s *Server) timeSelection(q url.Values, now time.Time) (start, end time.Time, msg string) {
	n := 0
	for _, k := range []string{"interval", "sinceSeconds", "sinceTime"} {
		n += len(q[k])
	}
	if n != 1 {
		return start, end, MsgOneOf
	}
	rounded := now.Round(time.Minute)
	switch {
	case q.Has("interval"):
		var err error
		if start, end, err = ParseInterval(q.Get("interval")); err != nil {
			return start, end, MsgBadTime
		}
	case q.Has("sinceSeconds"):
		secs, err := strconv.Atoi(q.Get("sinceSeconds"))
		if err != nil || secs < 0 {
			return start, end, MsgBadTime
		}
		start, end = rounded.Add(-time.Duration(secs)*time.Second), rounded
	default:
		var err error
		if start, err = ParseInstant(q.Get("sinceTime")); err != nil {
			return start, end, MsgBadTime
		}
		end = rounded
	}
	switch d := end.Sub(start); {
	case d < MinWindow:
		return start, end, MsgTooShort
	case d > MaxWindow:
		return start, end, MsgTooLong
	}
	if start.Before(now.Add(-MaxAge)) {
		return start, end, MsgTooOld
	}
	return start, end, ""
}

func (s *Server) serveSIEM(w http.ResponseWriter, r *http.Request, tn *tenant, ep endpoint, rec *RequestRecord) {
	q := r.URL.Query()
	now := s.opts.Now()
	format := q.Get("format")
	if format != "" && format != "json" && format != "syslog" {
		writeText(w, http.StatusBadRequest, MsgBadFormat)
		return
	}
	start, end, upTo, msg := s.siemWindow(q, now)
	if msg != "" {
		writeText(w, http.StatusBadRequest, msg)
		return
	}
	f := filter{statuses: map[string]bool{"active": true, "cleared": true}}
	if v := q["threatStatus"]; len(v) > 0 {
		f.statuses = map[string]bool{}
		for _, st := range v {
			f.statuses[st] = true
		}
	}
	if v := q["threatType"]; len(v) > 0 {
		f.threatTypes = map[string]bool{}
		for _, tt := range v {
			f.threatTypes[strings.ToLower(tt)] = true
		}
	}
	s.mu.Lock()
	f.types = ep.types
	if ep.path == "/v2/siem/all" {
		f.types = append(slices.Clone(ep.types), tn.futureTypes...)
	}
	got := s.selectLocked(tn, f, start, upTo, now)
	total := 0
	for _, evs := range got {
		total += len(evs)
	}
	rec.Start, rec.End, rec.Events = start, end, total
	if s.opts.MaxAssembled > 0 && total > s.opts.MaxAssembled {
		s.mu.Unlock()
		writeText(w, http.StatusInternalServerError, AssemblyTimeoutMessage)
		return
	}
	mode := s.opts.Empty
	if mode == EmptyMixed {
		mode = EmptyMode(s.empties % 3)
		s.empties++
	}
	var body []byte
	if format == "json" && (total > 0 || mode != Empty204) {
		body = s.renderLocked(got, f.types, end, total == 0 && mode == EmptyAbsent)
	} else if total > 0 {
		body = renderSyslog(got)
	}
	s.mu.Unlock()
	if body == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if format == "json" {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

type filter struct {
	types       []string
	statuses    map[string]bool
	threatTypes map[string]bool
}

func (f *filter) match(e *Event) bool {
	typeOK := false
	for _, t := range f.types {
		if t == e.Type {
			typeOK = true
		}
	}
	if !typeOK || !f.statuses[e.Status] {
		return false
	}
	if f.threatTypes == nil {
		return true
	}
	for _, tt := range e.ThreatTypes {
		if f.threatTypes[strings.ToLower(tt)] {
			return true
		}
	}
	return false
}

func (tn *tenant) sortLocked() {
	if !tn.sorted {
		sort.SliceStable(tn.events, func(i, j int) bool { return tn.events[i].Created.Before(tn.events[j].Created) })
		tn.sorted = true
	}
}

// selectLocked returns the events created in [start, end] (both ends
// included) and indexed by now, per type.
func (s *Server) selectLocked(tn *tenant, f filter, start, end, now time.Time) map[string][]*Event {
	tn.sortLocked()
	evs := tn.events
	lo := sort.Search(len(evs), func(i int) bool { return !evs[i].Created.Before(start) })
	out := map[string][]*Event{}
	for _, e := range evs[lo:] {
		if e.Created.After(end) {
			break
		}
		if e.Indexed.After(now) || !f.match(e) {
			continue
		}
		out[e.Type] = append(out[e.Type], e)
	}
	return out
}

// renderLocked builds the JSON body: queryEndTime, then each array in no
// particular order.
func (s *Server) renderLocked(got map[string][]*Event, types []string, end time.Time, omitEmpty bool) []byte {
	size := 64
	for _, evs := range got {
		for _, e := range evs {
			size += len(e.Raw) + 1
		}
	}
	b := make([]byte, 0, size+64)
	b = append(b, `{"queryEndTime":"`...)
	if s.opts.QueryEnd == QueryEndMillis {
		b = end.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	} else {
		b = end.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, '"')
	for _, t := range types {
		evs := got[t]
		if len(evs) == 0 && omitEmpty {
			continue
		}
		order := s.rng.Perm(len(evs))
		b = append(b, ',', '"')
		b = append(b, t...)
		b = append(b, `":[`...)
		for i, k := range order {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, evs[k].Raw...)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// renderSyslog is the default format=syslog answer: one key=value line
// per event, which a JSON client cannot read.
func renderSyslog(got map[string][]*Event) []byte {
	var b []byte
	for _, t := range AllTypes() {
		for _, e := range got[t] {
			b = append(b, e.Created.UTC().Format(time.RFC3339)...)
			b = append(b, " tap type="...)
			b = append(b, t...)
			b = append(b, " identity="...)
			b = append(b, e.Identity...)
			b = append(b, '\n')
		}
	}
	return b
}

// Body returns the JSON body /v2/siem/all would serve for [start, end] at
// now (for benchmarks and tests that drive a decoder without HTTP).
func (s *Server) Body(tenantName string, start, end, now time.Time) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenantLocked(tenantName)
	f := filter{types: AllTypes(), statuses: map[string]bool{"active": true, "cleared": true}}
	return s.renderLocked(s.selectLocked(tn, f, start, end, now), AllTypes(), end, false)
}
