package proofpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/quota"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// peopleEndpoint is one People API endpoint, with its own rolling pool.
type peopleEndpoint struct {
	path, pool, eventType string
	// maxSize is the largest page the endpoint documents: a page shorter
	// than the size asked for is the last one, so asking for more than
	// TAP serves would end the snapshot after its first page (or be
	// refused).
	maxSize int
}

var peopleEndpoints = []peopleEndpoint{
	{"/v2/people/vap", "vap", TypeVAP, DefaultPeoplePageSize},
	{"/v2/people/top-clickers", "top-clickers", TypeTopClicker, TopClickersMaxPageSize},
}

// pageSize is the size asked of ep: the configured one within the
// endpoint's documented maximum.
func (ep peopleEndpoint) pageSize(configured int) int { return min(configured, ep.maxSize) }

// PeopleCursor is the stored position of the People stream. The People
// API returns rolling aggregates, not events: the stream takes a snapshot
// every PeopleInterval, one event per user, and a snapshot interrupted
// part way goes on at the next page.
type PeopleCursor struct {
	// LastFetch is when the last complete snapshot started (the seed's
	// people_last_fetch).
	LastFetch time.Time `json:"last_fetch,omitzero"`
	// Snapshot is when the snapshot in progress started; Endpoint and
	// Page say what it reads next.
	Snapshot time.Time `json:"snapshot,omitzero"`
	Endpoint int       `json:"endpoint,omitempty"`
	Page     int       `json:"page,omitempty"`
	// Budget counts each endpoint's requests over the last 24 hours.
	Budget map[string]json.RawMessage `json:"budget,omitempty"`
}

// validate rejects what Fetch never stores: an endpoint outside
// peopleEndpoints (a finished snapshot is stored as endpoint 0 without a
// snapshot time, never as len(peopleEndpoints)), and a snapshot in
// progress at a page before the first, which TAP would refuse on every
// run.
func (c *PeopleCursor) validate() error {
	if c.Endpoint < 0 || c.Endpoint >= len(peopleEndpoints) {
		return fmt.Errorf("endpoint %d outside 0..%d", c.Endpoint, len(peopleEndpoints)-1)
	}
	if c.Page < 0 {
		return fmt.Errorf("page %d is negative", c.Page)
	}
	if !c.Snapshot.IsZero() && c.Page < 1 {
		return fmt.Errorf("page %d of the snapshot started %s: pages count from 1", c.Page, stamp(c.Snapshot))
	}
	return nil
}

type peopleSource struct {
	c        *Collector
	legacy   Legacy
	backfill bool
	done     bool // backfill: the snapshot is complete

	cur     PeopleCursor
	budgets map[string]*quota.Rolling
	keyer   keyer
	buf     []byte
	events  []byte
	items   []pipeline.Item
	offsets [][2]int
}

// Start positions the source at the stored snapshot state, else the
// seed's people_last_fetch, else "due now".
func (s *peopleSource) Start(ctx context.Context, rec state.Record) error {
	cfg := &s.c.cfg
	now := cfg.Now().UTC()
	s.cur, s.done = PeopleCursor{}, false
	s.budgets = map[string]*quota.Rolling{}
	for _, ep := range peopleEndpoints {
		b, err := quota.New(cfg.PeopleRequestsPerDay, 24*time.Hour, budgetBucket)
		if err != nil {
			return &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid People request budget", Err: err}
		}
		s.budgets[ep.pool] = b
	}
	switch {
	case s.backfill:
	case len(rec.Cursor) > 0:
		err := json.Unmarshal(rec.Cursor, &s.cur)
		if err == nil {
			err = s.cur.validate()
		}
		if err != nil {
			return &pipeline.Error{Code: pipeline.CodeStateRead, Message: "stored Proofpoint People position is unreadable; fix or remove the state record", Err: err}
		}
		for pool, raw := range s.cur.Budget {
			if b := s.budgets[pool]; b != nil {
				if err := b.Load(raw, now); err != nil {
					return &pipeline.Error{Code: pipeline.CodeStateRead, Message: "stored Proofpoint People request budget is unreadable; fix or remove the state record", Err: err}
				}
			}
		}
	case rec.Version == 0 && s.legacy.Value != "":
		if t, ok := parseTime(strings.TrimSpace(s.legacy.Value)); ok {
			s.cur.LastFetch = t
			cfg.Logger.Info("adopting the seed wodle's people_last_fetch", "tenant", s.c.tenant, "last_fetch", stamp(t))
		} else {
			cfg.Logger.Warn("unreadable seed people_last_fetch ignored; the snapshot is due now", "tenant", s.c.tenant)
		}
	}
	return nil
}

// peopleSlack is how much earlier than PeopleInterval after the last
// snapshot the next one is already due: a schedule of the same period
// (a daily one for the default day) starts a run a little earlier or later
// from one day to the next, and without slack a run a few seconds early
// would find nothing due and the snapshot would wait a whole period more.
// A tenth of the interval, at most 15 minutes.
func peopleSlack(interval time.Duration) time.Duration {
	return min(interval/10, 15*time.Minute)
}

// Fetch returns the next page of the snapshot in progress, starting one
// when it is due.
func (s *peopleSource) Fetch(ctx context.Context) (*pipeline.Page, error) {
	cfg := &s.c.cfg
	now := cfg.Now().UTC()
	if s.cur.Snapshot.IsZero() {
		// A last fetch in the future (a clock stepped back, a seed's
		// value) would hold snapshots back until then: take one now.
		due := s.cur.LastFetch.IsZero() || s.cur.LastFetch.After(now) ||
			!now.Before(s.cur.LastFetch.Add(cfg.PeopleInterval-peopleSlack(cfg.PeopleInterval)))
		if s.done || (!s.backfill && !due) {
			return s.page(nil, false), nil
		}
		s.cur.Snapshot, s.cur.Endpoint, s.cur.Page = now.Truncate(time.Second), 0, 1
	}
	ep := peopleEndpoints[s.cur.Endpoint]
	b := s.budgets[ep.pool]
	if b.Left(now) <= cfg.PeopleReserve {
		p := s.page(nil, false)
		p.Err = budgetError("People "+ep.pool, ep.pool, b, cfg.PeopleReserve, now)
		return p, nil
	}
	size := ep.pageSize(cfg.PeoplePageSize)
	q := url.Values{"window": {strconv.Itoa(cfg.PeopleWindow)}, "size": {strconv.Itoa(size)}, "page": {strconv.Itoa(s.cur.Page)}}
	detail := "endpoint=" + ep.path + " page=" + q.Get("page")
	onAttempt := func(prev error) error {
		if _, ok := isStatus(prev, http.StatusTooManyRequests); ok {
			return prev
		}
		t := cfg.Now()
		if b.Left(t) <= cfg.PeopleReserve {
			return budgetError("People "+ep.pool, ep.pool, b, cfg.PeopleReserve, t)
		}
		b.Spend(t, 1)
		return nil
	}
	for attempt := 0; ; attempt++ {
		r, err := s.c.get(ctx, ep.path, q, onAttempt, s.buf)
		if err != nil && s.cur.Page > 1 && pastLastPage(err) {
			// The same request was answered for the page before, which
			// was full: TAP refuses a page past the last one.
			cfg.Logger.Info("Proofpoint People page past the last one refused; the endpoint is read", "tenant", s.c.tenant, "endpoint", ep.path, "page", s.cur.Page)
			s.items = s.items[:0]
			break
		}
		if err != nil {
			p := s.page(nil, false)
			var pe *pipeline.Error
			if errors.As(err, &pe) {
				p.Err = pe
			} else {
				p.Err = &pipeline.Error{Code: pipeline.CodeOf(err), Message: s.c.httpMessage(err), Detail: detail, Err: err}
			}
			return p, nil
		}
		s.buf = r.Body[:0]
		if r.Status == http.StatusNoContent {
			s.items = s.items[:0]
			break
		}
		derr := s.decode(r.Body, ep)
		if derr == nil {
			break
		}
		if attempt >= invalidBodyRetries || ctx.Err() != nil {
			p := s.page(nil, false)
			p.Err = &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "Proofpoint People answer is not a valid users object", Detail: detail, Err: derr}
			return p, nil
		}
		cfg.Logger.Warn("invalid Proofpoint People answer; asking again", "tenant", s.c.tenant, "error", derr)
	}
	users := len(s.items)
	snapshot := s.cur.Snapshot
	if users < size {
		s.cur.Endpoint, s.cur.Page = s.cur.Endpoint+1, 1
	} else {
		s.cur.Page++
	}
	items := s.items
	if s.cur.Endpoint >= len(peopleEndpoints) {
		s.cur.LastFetch, s.cur.Snapshot, s.cur.Endpoint, s.cur.Page = snapshot, time.Time{}, 0, 0
		s.done = true
		p := s.page(items, false)
		p.SeenSince = time.Time{} // the snapshot is complete: forget its keys
		return p, nil
	}
	return s.page(items, true), nil
}

// pastLastPage reports whether err is how TAP may refuse a People page
// past the last one (the docs do not say): 400 or 404.
func pastLastPage(err error) bool {
	_, bad := isStatus(err, http.StatusBadRequest)
	_, missing := isStatus(err, http.StatusNotFound)
	return bad || missing
}

// decode turns {"users":[…],…} into one event per user: the user's
// members plus the answer's other members (interval, totals, averages),
// under TAP's own names.
func (s *peopleSource) decode(body []byte, ep peopleEndpoint) error {
	var users [][]byte
	var extra []byte
	n, err := jsonscan.MembersFunc(body, func(name, rest []byte) (int, error) {
		if jsonscan.Name(name, "users") {
			if len(rest) >= 4 && string(rest[:4]) == "null" {
				return 4, nil
			}
			return jsonscan.Elements(rest, func(v []byte) error {
				if v[0] != '{' {
					return errors.New("a user is not an object")
				}
				users = append(users, v)
				return nil
			})
		}
		n, err := jsonscan.Skip(rest)
		if err != nil {
			return n, err
		}
		if rest[0] != '{' && rest[0] != '[' {
			extra = append(extra, ',')
			extra = append(extra, name...)
			extra = append(extra, ':')
			extra = append(extra, rest[:n]...)
		}
		return n, nil
	})
	if err != nil {
		return err
	}
	for _, c := range body[n:] {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return errors.New("data after the response object")
		}
	}
	s.events, s.offsets = s.events[:0], s.offsets[:0]
	for _, u := range users {
		start := len(s.events)
		inner := strings.TrimSpace(string(u[1 : len(u)-1]))
		s.events = append(s.events, '{')
		s.events = append(s.events, inner...)
		if inner == "" && len(extra) > 0 {
			s.events = append(s.events, extra[1:]...)
		} else {
			s.events = append(s.events, extra...)
		}
		s.events = append(s.events, '}')
		s.offsets = append(s.offsets, [2]int{start, len(s.events)})
	}
	s.items = s.items[:0]
	keyType := ep.eventType + "@" + stamp(s.cur.Snapshot)
	for _, o := range s.offsets {
		raw := s.events[o[0]:o[1]]
		key, _ := s.keyer.key(keyType, raw)
		s.items = append(s.items, pipeline.Item{Raw: raw, Type: ep.eventType, Key: key, Time: s.cur.Snapshot, SeenAt: s.cur.Snapshot})
	}
	return nil
}

func (s *peopleSource) page(items []pipeline.Item, more bool) *pipeline.Page {
	p := &pipeline.Page{Items: items, More: more, SeenSince: s.cur.Snapshot}
	if s.backfill {
		return p
	}
	cur := s.cur
	cur.Budget = map[string]json.RawMessage{}
	for pool, b := range s.budgets {
		if raw, err := json.Marshal(b); err == nil && b.Used(s.c.cfg.Now()) > 0 {
			cur.Budget[pool] = raw
		}
	}
	var err error
	if p.Cursor, err = json.Marshal(cur); err != nil {
		p.Err = fmt.Errorf("proofpoint: encode People position: %w", err)
	}
	return p
}
