// Package proofpointtest is a simulator of the Proofpoint TAP SIEM API v2
// and People API (see docs/proofpoint.md), served by net/http/httptest on
// 127.0.0.1.
//
// It follows the documented behaviour rather than convenience: HTTP Basic
// authentication; exactly one of interval, sinceSeconds or sinceTime;
// windows of 30 s to 1 h whose start is at most 7 days old, refused with
// the vendor's plain-text 400 messages; format=syslog unless format=json
// is asked for; 204 without a body for an empty window; events selected by
// the time they were created (the later of message or click time and the
// verdict), visible only once indexed (up to 30 minutes later), so events
// with old timestamps turn up in new windows; one event per recipient
// sharing GUID and messageTime; arrays in no particular order; the
// documented type drift; rolling 24-hour request pools per credential
// answered with 429 when used up; and injectable transport faults.
//
// Time is Options.Now, so a test can run days of schedule in seconds with
// a Clock.
//
// Typical use:
//
//	clock := proofpointtest.NewClock(start)
//	srv := proofpointtest.New(proofpointtest.Options{Now: clock.Now})
//	defer srv.Close()
//	cred := srv.AddTenant("acme", proofpointtest.Tenant{})
//	srv.Generate("acme", proofpointtest.Traffic{From: start.Add(-time.Hour), To: start.Add(6 * time.Hour), MessagesPerHour: 200, ClicksPerHour: 40})
//	// point the client at srv.URL with cred.Principal and cred.Secret
package proofpointtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// Documented limits (docs/proofpoint.md).
const (
	// RequestsPerDay is the size of each rolling 24-hour SIEM pool.
	RequestsPerDay = 1800
	// PeopleRequestsPerDay is the rolling 24-hour limit of each People endpoint.
	PeopleRequestsPerDay = 50
	// MaxWindow and MinWindow bound an interval.
	MaxWindow = time.Hour
	MinWindow = 30 * time.Second
	// MaxAge is how far back a window may start.
	MaxAge = 7 * 24 * time.Hour
	// SecretCanary appears in every generated secret and principal, so a
	// test can grep output, logs and state for it.
	SecretCanary = "PPSIMSECRETCANARY"
)

// Messages of the documented 400 answers (plain text).
const (
	MsgTooShort  = "The requested interval is too short. Requests must be for at least 30.00s of data"
	MsgTooOld    = "The requested start time is too far into the past. Requests for information up to 7.00d are accepted"
	MsgTooLong   = "The requested interval is too long. Requests must be for at most 1.00h of data"
	MsgFuture    = "The requested end time is in the future"
	MsgOneOf     = "Exactly one of interval, sinceSeconds or sinceTime must be specified"
	MsgBadTime   = "The time selection could not be parsed"
	MsgBadFormat = "format must be json or syslog"
	MsgBadWindow = "window must be one of 14, 30 or 90"
	// MsgNoSuchPage refuses a People page past the last one
	// (PastEndRefused); the wording is not documented.
	MsgNoSuchPage = "The requested page does not exist"
	// MsgSizeTooLarge (with the endpoint's limit) refuses a People page
	// larger than documented; the wording is not documented.
	MsgSizeTooLarge = "size must be at most %d"
)

// Documented People API page sizes of /v2/people/top-clickers (VAP pages
// default to 1 000 users and have no documented maximum; the simulator
// takes 1 000 as theirs).
const (
	TopClickersDefaultSize = 100
	TopClickersMaxSize     = 200
)

// OversizeMode chooses what the People API does with a size above the
// endpoint's maximum, which the vendor does not document.
type OversizeMode int

const (
	// OversizeRefused answers 400 (MsgSizeTooLarge).
	OversizeRefused OversizeMode = iota
	// OversizeClamp serves pages of the maximum size instead, silently.
	OversizeClamp
)

// EmptyMode chooses how a window without events is answered; the vendor
// has been seen doing each.
type EmptyMode int

const (
	// Empty204 answers 204 No Content with an empty body and no queryEndTime.
	Empty204 EmptyMode = iota
	// EmptyArrays answers 200 with queryEndTime and four empty arrays.
	EmptyArrays
	// EmptyAbsent answers 200 with queryEndTime only.
	EmptyAbsent
	// EmptyMixed cycles through the three above, request by request.
	EmptyMixed
)

// PastEndMode chooses the People API's answer to a page past the last
// one, which the vendor does not document.
type PastEndMode int

const (
	// PastEndEmpty answers 200 with no users (and the totals).
	PastEndEmpty PastEndMode = iota
	// PastEndRefused answers 400 (MsgNoSuchPage).
	PastEndRefused
)

// FutureEndMode chooses how an interval ending after the server's clock is
// answered, which the vendor does not document.
type FutureEndMode int

const (
	// FutureEndRefused answers 400 (MsgFuture).
	FutureEndRefused FutureEndMode = iota
	// FutureEndClamped serves the window up to the server's clock and
	// says so in queryEndTime.
	FutureEndClamped
	// FutureEndAsRequested serves the window up to the server's clock
	// (later events do not exist yet) but reports the requested end as
	// queryEndTime.
	FutureEndAsRequested
)

// QueryEndMode chooses how queryEndTime answers an interval. Observed
// answers report the requested end, written with or without milliseconds;
// the docs do not promise either.
type QueryEndMode int

const (
	// QueryEndRequested reports the requested end ("…T12:30:00Z").
	QueryEndRequested QueryEndMode = iota
	// QueryEndMillis reports it with milliseconds ("…T12:30:00.000Z").
	QueryEndMillis
	// QueryEndMinute serves the window only up to its end rounded down to
	// the minute, and reports that (an interval within one minute is
	// served as asked).
	QueryEndMinute
)

// Options configures a Server. The zero value is the documented API.
type Options struct {
	// Now is the server clock (default time.Now).
	Now func() time.Time
	// RequestsPerDay and PeopleRequestsPerDay size the rolling pools (0:
	// documented values, negative: unlimited).
	RequestsPerDay, PeopleRequestsPerDay int
	// RetryAfter adds Retry-After (seconds until a request frees up) to
	// 429 answers; off by default because the vendor documents none.
	RetryAfter bool
	// Empty chooses the answer to an empty window (default Empty204).
	Empty EmptyMode
	// PeopleOversize chooses the answer to a People page size above the
	// endpoint's maximum (default OversizeRefused).
	PeopleOversize OversizeMode
	// PeoplePastEnd chooses the answer to a People page past the last one
	// (default PastEndEmpty).
	PeoplePastEnd PastEndMode
	// FutureEnd chooses the answer to an interval that ends after the
	// server's clock (default FutureEndRefused).
	FutureEnd FutureEndMode
	// QueryEnd chooses queryEndTime for an interval (default
	// QueryEndRequested).
	QueryEnd QueryEndMode
	// MaxAssembled, when positive, makes a SIEM window holding more
	// events than this answer 500 with AssemblyTimeoutMessage, every
	// time it is asked: the documented error for results that cannot be
	// assembled within the service's timeout.
	MaxAssembled int
	// Seed drives the order of arrays in responses.
	Seed uint64
	// TLS serves HTTPS with httptest's certificate; use Client().
	TLS bool
	// MaxRequestRecords bounds the request log (default 100 000).
	MaxRequestRecords int
}

// Tenant describes one TAP customer.
type Tenant struct {
	// Principal and Secret are the credential; "" generates values
	// containing SecretCanary.
	Principal, Secret string
	// Forbidden makes every data request answer 403: authenticated, but
	// not allowed to read this customer's data.
	Forbidden bool
}

// Credentials is what a client needs.
type Credentials struct {
	Principal, Secret string
}

// RequestRecord is what the server saw of one request. Credentials are
// never stored, only whether a Basic header was present.
type RequestRecord struct {
	Time    time.Time
	Path    string
	Query   string
	HasAuth bool
	Tenant  string
	Status  int // 0 when the connection was dropped
	Faults  []FaultKind
	// Start and End are the window served (SIEM).
	Start, End time.Time
	Events     int
}

// Server is a running simulator, safe for concurrent use.
type Server struct {
	URL string

	opts   Options
	http   *simtest.Server
	faults *simtest.Queue[FaultKind, Fault]

	mu      sync.Mutex // guards all below
	tenants map[string]*tenant
	byCred  map[string]*tenant // principal + "\x00" + secret
	log     *simtest.Log[RequestRecord]
	rng     *rand.Rand
	empties int
}

type tenant struct {
	name      string
	cred      Credentials
	forbidden bool
	events    []*Event // by Created
	sorted    bool
	people    [2][]User // vap, top clickers
	pools     map[string][]time.Time
	seq       uint64
	// futureTypes are ingested event types other than the four arrays,
	// served by /v2/siem/all after them (see Ingest).
	futureTypes []string
}

// New starts a simulator on 127.0.0.1.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RequestsPerDay == 0 {
		opts.RequestsPerDay = RequestsPerDay
	}
	if opts.PeopleRequestsPerDay == 0 {
		opts.PeopleRequestsPerDay = PeopleRequestsPerDay
	}
	s := &Server{
		opts:    opts,
		faults:  simtest.NewQueue[FaultKind, Fault]("proofpointtest", numFaultKinds),
		tenants: map[string]*tenant{},
		byCred:  map[string]*tenant{},
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x7a9)),
	}
	s.log = simtest.NewLog[RequestRecord](&s.mu, opts.MaxRequestRecords)
	s.http = simtest.Start("proofpointtest", s, opts.TLS)
	s.URL = s.http.URL
	return s
}

// Close stops the server; requests held by FaultSlow are dropped.
func (s *Server) Close() { s.http.Close() }

// Client returns an HTTP client that trusts the server (needed with TLS).
func (s *Server) Client() *http.Client { return s.http.Client() }

func credKey(c Credentials) string { return c.Principal + "\x00" + c.Secret }

func generated(kind, name string, n int) string {
	sum := sha256.Sum256([]byte(kind + "/" + name + "/" + strconv.Itoa(n)))
	return kind + "-" + SecretCanary + "-" + hex.EncodeToString(sum[:8])
}

// AddTenant creates a tenant and returns its credentials. It panics on a
// duplicate name or credential: a mistake in the test.
func (s *Server) AddTenant(name string, t Tenant) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tenants[name]; dup {
		panic(fmt.Sprintf("proofpointtest: tenant %q already exists", name))
	}
	c := Credentials{Principal: t.Principal, Secret: t.Secret}
	if c.Principal == "" {
		c.Principal = generated("principal", name, 0)
	}
	if c.Secret == "" {
		c.Secret = generated("secret", name, 0)
	}
	if _, dup := s.byCred[credKey(c)]; dup {
		panic("proofpointtest: credentials already in use")
	}
	tn := &tenant{name: name, cred: c, forbidden: t.Forbidden, pools: map[string][]time.Time{}, sorted: true}
	s.tenants[name] = tn
	s.byCred[credKey(c)] = tn
	return c
}

// RotateSecret gives the tenant a new secret; the old one answers 401
// from now on. It returns the new credentials.
func (s *Server) RotateSecret(name string) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenantLocked(name)
	delete(s.byCred, credKey(tn.cred))
	tn.seq++
	tn.cred.Secret = generated("secret", name, int(tn.seq))
	s.byCred[credKey(tn.cred)] = tn
	return tn.cred
}

func (s *Server) tenantLocked(name string) *tenant {
	tn, ok := s.tenants[name]
	if !ok {
		panic(fmt.Sprintf("proofpointtest: no tenant %q", name))
	}
	return tn
}

// PoolUsed returns how many requests of a pool ("siem", "clicks-permitted",
// "vap", "top-clickers") the tenant made in the last 24 hours.
func (s *Server) PoolUsed(name, pool string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenantLocked(name)
	return s.poolUsedLocked(tn, pool)
}

func (s *Server) poolUsedLocked(tn *tenant, pool string) int {
	now := s.opts.Now()
	times := tn.pools[pool]
	cut := sort.Search(len(times), func(i int) bool { return times[i].Add(24 * time.Hour).After(now) })
	tn.pools[pool] = times[cut:]
	return len(times) - cut
}

// SpendPool records n requests of another client on the tenant's pool at
// the current time (a second tool sharing the credential).
func (s *Server) SpendPool(name, pool string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenantLocked(name)
	now := s.opts.Now()
	for range n {
		tn.pools[pool] = append(tn.pools[pool], now)
	}
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []RequestRecord {
	return s.log.Records(func(r RequestRecord) RequestRecord {
		r.Faults = slices.Clone(r.Faults)
		return r
	})
}

// RequestCount is how many requests arrived.
func (s *Server) RequestCount() int { return s.log.Count() }

// ResetRequests clears the request log and count.
func (s *Server) ResetRequests() { s.log.Reset() }

// Answered counts the logged requests answered with status.
func (s *Server) Answered(status int) int {
	return s.log.Matching(func(r *RequestRecord) bool { return r.Status == status })
}

// endpoint describes a route.
type endpoint struct {
	path  string
	pool  string
	types []string // SIEM arrays served
	// people: 0 vap, 1 top clickers; -1 for SIEM
	people int
}

func route(path string) (endpoint, bool) {
	switch path {
	case "/v2/siem/all":
		return endpoint{path, "siem", AllTypes(), -1}, true
	case "/v2/siem/messages/blocked":
		return endpoint{path, "siem", []string{TypeMessagesBlocked}, -1}, true
	case "/v2/siem/messages/delivered":
		return endpoint{path, "siem", []string{TypeMessagesDelivered}, -1}, true
	case "/v2/siem/clicks/blocked":
		return endpoint{path, "siem", []string{TypeClicksBlocked}, -1}, true
	case "/v2/siem/clicks/permitted":
		return endpoint{path, "clicks-permitted", []string{TypeClicksPermitted}, -1}, true
	case "/v2/siem/issues":
		return endpoint{path, "siem", []string{TypeClicksPermitted, TypeMessagesDelivered}, -1}, true
	case "/v2/people/vap":
		return endpoint{path, "vap", nil, 0}, true
	case "/v2/people/top-clickers":
		return endpoint{path, "top-clickers", nil, 1}, true
	}
	return endpoint{}, false
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

// ServeHTTP implements the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &RequestRecord{Time: s.opts.Now(), Path: r.URL.Path, Query: r.URL.RawQuery, HasAuth: r.Header.Get("Authorization") != ""}
	// The server's clock, as every web server tells it (net/http would
	// tell the real one, not Options.Now).
	w.Header().Set("Date", rec.Time.UTC().Format(http.TimeFormat))
	sw := s.log.Begin(w, rec, &rec.Status)

	ep, ok := route(r.URL.Path)
	if !ok {
		writeText(sw, http.StatusNotFound, "Not Found")
		return
	}
	if r.Method != http.MethodGet {
		sw.Header().Set("Allow", http.MethodGet)
		writeText(sw, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if f := s.takeFault(ep.path, rec); f != nil {
		if s.applyFault(sw, r, f, rec) {
			return
		}
	}
	s.serveAPI(sw, r, ep, rec)
}

// serveAPI answers after faults: authentication, quota, then the endpoint.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, ep endpoint, rec *RequestRecord) {
	tn := s.authenticate(r)
	if tn == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="TAP"`)
		writeText(w, http.StatusUnauthorized, "The credentials provided are not valid or not authorized")
		return
	}
	s.mu.Lock()
	rec.Tenant = tn.name
	if tn.forbidden {
		s.mu.Unlock()
		writeText(w, http.StatusForbidden, "The credentials are not allowed to access this customer's data")
		return
	}
	limit := s.opts.RequestsPerDay
	if ep.people >= 0 {
		limit = s.opts.PeopleRequestsPerDay
	}
	if limit > 0 && s.poolUsedLocked(tn, ep.pool) >= limit {
		retry := tn.pools[ep.pool][0].Add(24 * time.Hour).Sub(s.opts.Now())
		s.mu.Unlock()
		if s.opts.RetryAfter {
			simtest.SetRetryAfter(w.Header(), retry)
		}
		writeText(w, http.StatusTooManyRequests, "Too many requests: the rolling 24-hour limit was reached")
		return
	}
	// Every authenticated request counts, a refused one (400) included.
	tn.pools[ep.pool] = append(tn.pools[ep.pool], s.opts.Now())
	s.mu.Unlock()
	if ep.people >= 0 {
		s.servePeople(w, r, tn, ep, rec)
		return
	}
	s.serveSIEM(w, r, tn, ep, rec)
}

func (s *Server) authenticate(r *http.Request) *tenant {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return nil
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil {
		return nil
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byCred[credKey(Credentials{user, pass})]
}
