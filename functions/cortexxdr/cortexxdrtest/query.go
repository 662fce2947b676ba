package cortexxdrtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// filter is one ANDed condition of request_data.filters.
type filter struct {
	field, op string
	num       int64
	list      []string
	str       string
	boolean   bool
}

type query struct {
	filters  []filter
	from, to int
	sortBy   string
	desc     bool
	empty    bool // FaultEmptyPage
}

// Documented filter fields and operators per endpoint.
var filterFields = map[string]map[string][]string{
	"alerts": {
		"alert_id_list": {"in"}, "alert_source": {"in"}, "severity": {"in"}, "external_id_list": {"in"},
		"creation_time": {"gte", "lte"}, "server_creation_time": {"gte", "lte"},
	},
	"incidents": {
		"incident_id_list": {"in"}, "alert_sources": {"in"}, "description": {"in", "contains"},
		"creation_time": {"gte", "lte"}, "modification_time": {"gte", "lte"}, "status": {"eq", "neq"}, "starred": {"eq"},
	},
}

// Documented sort fields per endpoint (the simulator accepts no other:
// whether the API sorts alerts by server_creation_time is undocumented).
var sortFields = map[string][]string{
	"alerts":    {"creation_time", "severity"},
	"incidents": {"creation_time", "modification_time"},
}

func isTimeField(f string) bool {
	return f == "creation_time" || f == "server_creation_time" || f == "modification_time"
}

// parseQuery validates a request body strictly: the request_data envelope,
// known members only, documented filters, sort fields and paging. It
// returns a status and message for a refused request.
func parseQuery(stream string, body []byte) (*query, int, string) {
	var req struct {
		RequestData *struct {
			Filters []struct {
				Field    string          `json:"field"`
				Operator string          `json:"operator"`
				Value    json.RawMessage `json:"value"`
			} `json:"filters"`
			SearchFrom *int `json:"search_from"`
			SearchTo   *int `json:"search_to"`
			Sort       *struct {
				Field   string `json:"field"`
				Keyword string `json:"keyword"`
			} `json:"sort"`
		} `json:"request_data"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(&req); err != nil {
		return nil, http.StatusBadRequest, "Invalid JSON or request: " + err.Error()
	}
	if req.RequestData == nil {
		return nil, http.StatusBadRequest, "request_data is required"
	}
	rd := req.RequestData
	q := &query{from: 0, to: MaxPageSize}
	for _, f := range rd.Filters {
		ops, ok := filterFields[stream][f.Field]
		if !ok {
			return nil, http.StatusBadRequest, "Invalid filter field: " + f.Field
		}
		op := strings.ToLower(f.Operator)
		if !slices.Contains(ops, op) {
			return nil, http.StatusBadRequest, "Invalid operator " + f.Operator + " for " + f.Field
		}
		fl := filter{field: f.Field, op: op}
		switch {
		case isTimeField(f.Field):
			n, err := strconv.ParseInt(string(f.Value), 10, 64)
			if err != nil {
				return nil, http.StatusBadRequest, "Filter value for " + f.Field + " must be epoch milliseconds"
			}
			if n == 0 {
				// Seen from the real API by the seed wodle's authors.
				return nil, http.StatusInternalServerError, "value param is missing"
			}
			fl.num = n
		case op == "in":
			var list []json.RawMessage
			if err := json.Unmarshal(f.Value, &list); err != nil {
				return nil, http.StatusBadRequest, "Filter value for " + f.Field + " must be a list"
			}
			for _, e := range list {
				fl.list = append(fl.list, strings.Trim(string(e), `"`))
			}
		case f.Field == "starred":
			if err := json.Unmarshal(f.Value, &fl.boolean); err != nil {
				return nil, http.StatusBadRequest, "Filter value for starred must be a boolean"
			}
		default:
			if err := json.Unmarshal(f.Value, &fl.str); err != nil {
				return nil, http.StatusBadRequest, "Filter value for " + f.Field + " must be a string"
			}
		}
		q.filters = append(q.filters, fl)
	}
	if rd.SearchFrom != nil {
		q.from = *rd.SearchFrom
	}
	if rd.SearchTo != nil {
		q.to = *rd.SearchTo
	} else {
		q.to = q.from + MaxPageSize
	}
	if q.from < 0 || q.to < q.from {
		return nil, http.StatusBadRequest, "search_from and search_to must satisfy 0 <= search_from <= search_to"
	}
	if q.to-q.from > MaxPageSize {
		// The vendor documents 100 as the maximum; the simulator refuses
		// more rather than guess how it would be cut.
		return nil, http.StatusBadRequest, "At most 100 results per request (search_to - search_from)"
	}
	if rd.Sort != nil {
		if !slices.Contains(sortFields[stream], rd.Sort.Field) {
			return nil, http.StatusBadRequest, "Invalid sort field: " + rd.Sort.Field
		}
		switch strings.ToLower(rd.Sort.Keyword) {
		case "asc":
		case "desc":
			q.desc = true
		default:
			return nil, http.StatusBadRequest, "Invalid sort keyword: " + rd.Sort.Keyword
		}
		q.sortBy = rd.Sort.Field
	}
	return q, 0, ""
}

func matchTime(f filter, v int64) bool {
	if f.op == "gte" {
		return v >= f.num
	}
	return v <= f.num
}

// answer runs q on the records visible at now and renders the reply.
func (s *Server) answer(t *tenant, stream string, q *query, now time.Time) ([]byte, int, int) {
	nowMs := now.UnixMilli()
	s.mu.Lock()
	type row struct {
		a   *alert
		inc *incident
		v   *incidentVersion
	}
	var rows []row
	if stream == "alerts" {
		lo, hi := 0, len(t.alerts)
		for _, f := range q.filters {
			if f.field != "server_creation_time" {
				continue
			}
			if f.op == "gte" {
				lo = max(lo, sort.Search(len(t.alerts), func(i int) bool { return t.alerts[i].inserted >= f.num }))
			} else {
				hi = min(hi, sort.Search(len(t.alerts), func(i int) bool { return t.alerts[i].inserted > f.num }))
			}
		}
		for _, a := range t.alerts[lo:max(lo, hi)] {
			if a.visible > nowMs || a.excluded != 0 && a.excluded <= nowMs || !s.alertMatches(t, a, q) {
				continue
			}
			rows = append(rows, row{a: a})
		}
	} else {
		for _, inc := range t.incidents {
			var v *incidentVersion
			for i := len(inc.versions) - 1; i >= 0; i-- {
				if inc.versions[i].visible <= nowMs {
					v = &inc.versions[i]
					break
				}
			}
			if v == nil || !incidentMatches(inc, v, q) {
				continue
			}
			rows = append(rows, row{inc: inc, v: v})
		}
	}
	key := func(r row) (int64, int64) {
		if r.a != nil {
			switch q.sortBy {
			case "severity":
				return int64(severityRank(r.a.severity)), r.a.id
			case "creation_time":
				return r.a.detected, r.a.id
			}
			return r.a.id, 0 // unsorted requests get id order
		}
		switch q.sortBy {
		case "creation_time":
			return r.inc.created, r.inc.id
		case "modification_time":
			return r.v.modified, r.inc.id
		}
		return r.inc.id, 0
	}
	// Ties are broken by id, ascending: a stable order, which offset
	// paging needs (the vendor does not document its tie order). With
	// UnstableTies they are broken by a hash of the id that changes with
	// every query.
	s.answers++
	salt := s.answers
	tie := func(id int64) int64 {
		if !s.opts.UnstableTies || q.sortBy == "" {
			return id
		}
		return int64(mix(uint64(id)^salt*0x9e3779b97f4a7c15) >> 1)
	}
	cmp := func(x, y row) int {
		kx, ix := key(x)
		ky, iy := key(y)
		ix, iy = tie(ix), tie(iy)
		if kx != ky {
			if (kx < ky) != q.desc {
				return -1
			}
			return 1
		}
		if ix < iy {
			return -1
		}
		if ix > iy {
			return 1
		}
		return 0
	}
	total := min(len(rows), s.opts.ResultCap)
	limit := len(rows)
	if !s.opts.ServeBeyondCap && !s.opts.RefuseBeyondCap && s.opts.EmptyBeyond <= 0 {
		limit = total
	}
	if s.opts.EmptyBeyond > 0 {
		limit = min(limit, max(s.opts.EmptyBeyond, total))
	}
	from, to := min(q.from, limit), min(q.to, limit)
	// Only the first `to` rows in order are needed.
	rows = smallest(rows, to, cmp)
	if q.empty {
		to = from
	}
	b := make([]byte, 0, 4096)
	b = append(b, `{"reply":{"total_count":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"result_count":`...)
	b = strconv.AppendInt(b, int64(to-from), 10)
	if stream == "alerts" {
		b = append(b, `,"alerts":[`...)
	} else {
		b = append(b, `,"incidents":[`...)
	}
	for i := from; i < to; i++ {
		if i > from {
			b = append(b, ',')
		}
		if rows[i].a != nil {
			b = appendAlert(b, t.seed, rows[i].a, t.compact)
		} else {
			b = appendIncident(b, t.fqdn, rows[i].inc, rows[i].v)
		}
	}
	b = append(b, ']')
	if stream == "incidents" {
		b = append(b, `,"restricted_incident_ids":[]`...)
	}
	b = append(b, "}}"...)
	s.mu.Unlock()
	return b, to - from, total
}

func (s *Server) alertMatches(t *tenant, a *alert, q *query) bool {
	for _, f := range q.filters {
		switch f.field {
		case "creation_time":
			if !matchTime(f, a.detected) {
				return false
			}
		case "server_creation_time":
			if !matchTime(f, a.inserted) {
				return false
			}
		case "severity":
			if !slices.Contains(f.list, a.severity) {
				return false
			}
		case "alert_source":
			if !slices.Contains(f.list, a.source) {
				return false
			}
		case "alert_id_list":
			if !slices.Contains(f.list, a.sid) {
				return false
			}
		case "external_id_list":
			if a.raw != nil || !slices.Contains(f.list, externalID(t.seed, a)) {
				return false
			}
		}
	}
	return true
}

func incidentMatches(inc *incident, v *incidentVersion, q *query) bool {
	for _, f := range q.filters {
		switch f.field {
		case "creation_time":
			if !matchTime(f, inc.created) {
				return false
			}
		case "modification_time":
			if !matchTime(f, v.modified) {
				return false
			}
		case "status":
			if (v.status == f.str) != (f.op == "eq") {
				return false
			}
		case "incident_id_list":
			if !slices.Contains(f.list, strconv.FormatInt(inc.id, 10)) {
				return false
			}
		case "description":
			if f.op == "contains" && !strings.Contains(inc.description, f.str) || f.op == "in" && !slices.Contains(f.list, inc.description) {
				return false
			}
		case "alert_sources":
			if !slices.Contains(f.list, "XDR Agent") {
				return false
			}
		case "starred":
			if f.boolean {
				return false
			}
		}
	}
	return true
}

// smallest orders the k smallest rows under cmp at the front of rows and
// returns them: a bounded max-heap, so a query matching many records costs
// little more than scanning them.
func smallest[T any](rows []T, k int, cmp func(a, b T) int) []T {
	if k >= len(rows)/2 {
		slices.SortFunc(rows, cmp)
		return rows[:min(k, len(rows))]
	}
	if k <= 0 {
		return rows[:0]
	}
	h := slices.Clone(rows[:k])
	down := func(i int) {
		for {
			l, big := 2*i+1, i
			if l < len(h) && cmp(h[l], h[big]) > 0 {
				big = l
			}
			if r := l + 1; r < len(h) && cmp(h[r], h[big]) > 0 {
				big = r
			}
			if big == i {
				return
			}
			h[i], h[big] = h[big], h[i]
			i = big
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, r := range rows[k:] {
		if cmp(r, h[0]) < 0 {
			h[0] = r
			down(0)
		}
	}
	slices.SortFunc(h, cmp)
	return h
}
