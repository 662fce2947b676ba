// Package cortexxdrtest is a simulator of the Cortex XDR public API
// (docs/cortexxdr.md) for tests and the demo, served by net/http/httptest
// on 127.0.0.1.
//
// It serves get_alerts_multi_events v2 and get_incidents with the
// documented request envelope, filters, sort fields and paging (at most
// 100 records per request, total_count capped at 9 999 and, by default,
// nothing served past that offset; ties of the sort value in one stable
// order unless Options.UnstableTies), per-tenant routing by the api-<fqdn>
// host name (another host answers 404, the wrong-FQDN symptom), standard
// and advanced API keys (every request's signature, nonce and timestamp
// are checked, retries included; a replayed nonce or a stale timestamp is
// refused), licences (402) and key roles (403), the tenant-wide limit of
// 10 requests per second ("Too many requests", 429 or Options.ThrottleStatus),
// error envelopes, and injectable faults.
//
// Records become visible some time after they are inserted (Lag), alerts
// carry the time the API inserted them apart from the time the endpoint
// detected them (late uploads), and incidents change over time; all of
// it runs on an injectable clock (Options.Now, e.g. Clock.Now), so a test
// can play hours of schedule in seconds. Where the vendor leaves behaviour
// open the simulator takes the stricter reading; comments say where.
package cortexxdrtest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// Documented limits.
const (
	DefaultRateLimit = 10   // requests per second per tenant
	DefaultResultCap = 9999 // total_count cap
	MaxPageSize      = 100
	// DefaultTimestampTolerance is how far an advanced key's timestamp may
	// be from the API's clock. The vendor does not document it; five
	// minutes is the usual choice for signed requests.
	DefaultTimestampTolerance = 5 * time.Minute
	maxBodyBytes              = 1 << 20
)

// Endpoints.
const (
	PathAlerts    = "/public_api/v2/alerts/get_alerts_multi_events"
	PathIncidents = "/public_api/v1/incidents/get_incidents"
)

// Options configures a Server. The zero value gives the documented API.
type Options struct {
	// Now is the clock (default time.Now): visibility, incident changes,
	// rate-limit windows, signature freshness and Date headers follow it.
	Now func() time.Time
	// Skew is added to Now to make the API's clock, to test a client
	// whose clock is off.
	Skew time.Duration
	// RateLimit is requests per second per tenant (0: the documented 10;
	// negative: unlimited).
	RateLimit int
	// ResultCap caps total_count (0: the documented 9 999).
	ResultCap int
	// ServeBeyondCap serves records past ResultCap, as the vendor's
	// documentation says the API does ("use paging to view the entire
	// set"). Off by default, the stricter reading: a count stopped at the
	// cap and nothing served past it, which a collector must survive too.
	ServeBeyondCap bool
	// RefuseBeyondCap serves records up to offset ResultCap+1 (10 000, the
	// window a search engine pages by default) and answers 400 to a
	// request whose search_to goes past it: another reading of what the
	// documentation leaves open, a maximum reachable offset.
	RefuseBeyondCap bool
	// RefuseStatus is the status of RefuseBeyondCap's refusal (0: 400).
	// 500 ("An internal error occurred") plays an API that answers every
	// error with the status its documentation names for all of them (a
	// bad filter value has come back as 500): the HTTP client retries
	// such a refusal and meets it again on every attempt.
	RefuseStatus int
	// EmptyBeyond, when positive, serves records past ResultCap up to
	// offset EmptyBeyond and empty pages past it, with the capped count
	// and no error: an API whose reach ends there without saying so
	// (10 000, ResultCap+1, is a search engine's default window).
	EmptyBeyond int
	// ThrottleStatus is the HTTP status of the API's own "Too many
	// requests" reply when RateLimit is exceeded (0: 429). The vendor
	// documents the message, not the status.
	ThrottleStatus int
	// UnstableTies orders records with the same sort value differently on
	// every request. By default ties are in id order, the same on every
	// request; the vendor documents neither.
	UnstableTies bool
	// Gzip compresses the replies to requests that accept gzip
	// (Accept-Encoding), which the API documents it does.
	Gzip bool
	// TimestampTolerance bounds an advanced key's timestamp skew (0: 5 min).
	TimestampTolerance time.Duration
	// TLS serves HTTPS with httptest's certificate; use Client().
	TLS bool
	// MaxRequestRecords bounds the request log (default 100 000).
	MaxRequestRecords int
}

// Tenant describes one simulated tenant.
type Tenant struct {
	// Seed selects the synthetic data (0: derived from the FQDN).
	Seed int64
	// Unlicensed lists streams ("alerts", "incidents") whose API the
	// tenant's licence lacks: they answer 402.
	Unlicensed []string
	// Compact alerts carry the 30-odd main fields instead of the ~190
	// members of a real v2 alert (for tests that move many alerts).
	Compact bool
}

// Key describes an API key.
type Key struct {
	// ID is the key id (0: the next free one).
	ID int
	// Secret is the key (""; a generated one containing KeyCanary).
	Secret string
	// Standard makes a standard key; the default is advanced.
	Standard bool
	// Streams the key's role may read (nil: both); others answer 403.
	Streams []string
}

// RequestRecord is what the server saw of one request. No secret is kept:
// Authorization is stored only as whether it verified.
type RequestRecord struct {
	Time      time.Time // API clock
	Path      string
	Host      string
	KeyID     string
	Nonce     string
	Timestamp string
	Body      []byte
	Status    int // 0: the connection was dropped
	ErrMsg    string
	Faults    []FaultKind
	Records   int
	Total     int
	Gzip      bool // the reply was gzip-compressed
}

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port (https with Options.TLS):
	// point the client there and name the tenant as api-<fqdn> in Host.
	URL string

	opts   Options
	http   *simtest.Server
	faults *simtest.Queue[FaultKind, Fault]

	mu      sync.Mutex         // guards the tenants and log
	tenants map[string]*tenant // by fqdn
	log     *simtest.Log[RequestRecord]
	answers uint64 // queries answered, which reorder ties (UnstableTies)
}

type tenant struct {
	fqdn       string
	seed       int64
	compact    bool
	unlicensed map[string]bool
	keys       map[string]*key
	nextKey    int
	alerts     []*alert
	alertByID  map[string]*alert
	nextAlert  int64
	incidents  []*incident
	incByID    map[string]*incident
	nextInc    int64
	second     int64 // current rate-limit window (unix seconds)
	inSecond   int
	nonces     map[string]int64 // nonce → expiry (ms)
}

type key struct {
	id       string
	secret   string
	standard bool
	streams  map[string]bool // nil: all
}

// New starts a simulator on 127.0.0.1.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.ResultCap == 0 {
		opts.ResultCap = DefaultResultCap
	}
	if opts.RefuseStatus == 0 {
		opts.RefuseStatus = http.StatusBadRequest
	}
	if opts.ThrottleStatus == 0 {
		opts.ThrottleStatus = http.StatusTooManyRequests
	}
	if opts.TimestampTolerance == 0 {
		opts.TimestampTolerance = DefaultTimestampTolerance
	}
	s := &Server{opts: opts, faults: simtest.NewQueue[FaultKind, Fault]("cortexxdrtest", numFaultKinds), tenants: map[string]*tenant{}}
	s.log = simtest.NewLog[RequestRecord](&s.mu, opts.MaxRequestRecords)
	s.http = simtest.Start("cortexxdrtest", s, opts.TLS)
	s.URL = s.http.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// Client returns an HTTP client that trusts the server (needed with TLS).
func (s *Server) Client() *http.Client { return s.http.Client() }

func (s *Server) now() time.Time { return s.opts.Now().Add(s.opts.Skew) }

// Now is the API's clock (Options.Now plus Options.Skew).
func (s *Server) Now() time.Time { return s.now() }

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// AddTenant creates a tenant reached as api-<fqdn>. It panics on a
// duplicate: that is a mistake in the test.
func (s *Server) AddTenant(fqdn string, t Tenant) {
	fqdn = strings.ToLower(fqdn)
	if t.Seed == 0 {
		t.Seed = int64(fnv(fqdn) >> 1)
	}
	tn := &tenant{fqdn: fqdn, seed: t.Seed, compact: t.Compact, unlicensed: map[string]bool{}, keys: map[string]*key{},
		nextKey: 1, alertByID: map[string]*alert{}, incByID: map[string]*incident{}, nonces: map[string]int64{},
		nextAlert: 1000 + int64(mix(uint64(t.Seed))%1000), nextInc: 100}
	for _, st := range t.Unlicensed {
		tn.unlicensed[mustStream(st)] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tenants[fqdn]; dup {
		panic(fmt.Sprintf("cortexxdrtest: tenant %q already exists", fqdn))
	}
	s.tenants[fqdn] = tn
}

func mustStream(name string) string {
	if name != "alerts" && name != "incidents" {
		panic(fmt.Sprintf("cortexxdrtest: unknown stream %q (want alerts or incidents)", name))
	}
	return name
}

func (s *Server) tenantLocked(fqdn string) *tenant {
	t, ok := s.tenants[strings.ToLower(fqdn)]
	if !ok {
		panic(fmt.Sprintf("cortexxdrtest: unknown tenant %q", fqdn))
	}
	return t
}

// AddKey creates an API key on a tenant and returns its id and secret.
func (s *Server) AddKey(fqdn string, k Key) (id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenantLocked(fqdn)
	if k.ID == 0 {
		k.ID = t.nextKey
	}
	t.nextKey = max(t.nextKey, k.ID+1)
	id = strconv.Itoa(k.ID)
	if _, dup := t.keys[id]; dup {
		panic(fmt.Sprintf("cortexxdrtest: key %s already exists", id))
	}
	if k.Secret == "" {
		k.Secret = KeyCanary + hexString(mix(uint64(t.seed)^uint64(k.ID)), 48)
	}
	kk := &key{id: id, secret: k.Secret, standard: k.Standard}
	if k.Streams != nil {
		kk.streams = map[string]bool{}
		for _, st := range k.Streams {
			kk.streams[mustStream(st)] = true
		}
	}
	t.keys[id] = kk
	return id, k.Secret
}

// DeleteKey removes a key: it answers 401 from now on.
func (s *Server) DeleteKey(fqdn, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tenantLocked(fqdn).keys, id)
}

// AddAlert inserts an alert and returns its alert_id.
func (s *Server) AddAlert(fqdn string, a AlertSpec) string {
	return s.AddAlerts(fqdn, []AlertSpec{a})[0]
}

// AddAlerts inserts alerts and returns their alert_ids.
func (s *Server) AddAlerts(fqdn string, specs []AlertSpec) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenantLocked(fqdn)
	ids := make([]string, 0, len(specs))
	for _, sp := range specs {
		a := &alert{id: t.nextAlert, inserted: sp.Inserted.UnixMilli(), severity: sp.Severity, tactic: sp.Tactic, wide: sp.Wide, oversize: sp.Oversize}
		t.nextAlert++
		h := mix(uint64(t.seed) ^ uint64(a.id))
		a.detected = a.inserted - 1000 - int64(h%5000)
		if !sp.Detected.IsZero() {
			a.detected = sp.Detected.UnixMilli()
		}
		a.visible = a.inserted + sp.Lag.Milliseconds()
		if !sp.Excluded.IsZero() {
			a.excluded = sp.Excluded.UnixMilli()
		}
		if a.severity == "" {
			a.severity = pick(h>>7, severities)
		}
		a.source = pick(h>>9, alertSources)
		id := strconv.FormatInt(a.id, 10)
		if sp.Raw != nil {
			a.raw = append([]byte(nil), sp.Raw...)
			var v struct {
				ID json.RawMessage `json:"alert_id"`
			}
			if err := json.Unmarshal(sp.Raw, &v); err != nil || len(v.ID) == 0 {
				panic(fmt.Sprintf("cortexxdrtest: raw alert is not an object with an alert_id: %v", err))
			}
			id = strings.Trim(string(v.ID), `"`)
		}
		a.sid = id
		if _, dup := t.alertByID[id]; dup {
			panic(fmt.Sprintf("cortexxdrtest: alert_id %s already exists", id))
		}
		t.alerts = append(t.alerts, a)
		t.alertByID[id] = a
		ids = append(ids, id)
	}
	// Kept in insertion-time order, so a server_creation_time filter is a
	// binary search.
	if !slices.IsSortedFunc(t.alerts, byInserted) {
		slices.SortStableFunc(t.alerts, byInserted)
	}
	return ids
}

func byInserted(x, y *alert) int {
	switch {
	case x.inserted < y.inserted:
		return -1
	case x.inserted > y.inserted:
		return 1
	}
	return 0
}

// Alert returns the JSON of an alert as the API serves it.
func (s *Server) Alert(fqdn, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenantLocked(fqdn)
	a, ok := t.alertByID[id]
	if !ok {
		panic(fmt.Sprintf("cortexxdrtest: unknown alert %s", id))
	}
	return appendAlert(nil, t.seed, a, t.compact)
}

// AlertIDs returns every alert_id ever inserted, in insertion order.
func (s *Server) AlertIDs(fqdn string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenantLocked(fqdn)
	out := make([]string, 0, len(t.alerts))
	for id := range t.alertByID {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool {
		return t.alertByID[out[i]].inserted < t.alertByID[out[j]].inserted ||
			t.alertByID[out[i]].inserted == t.alertByID[out[j]].inserted && t.alertByID[out[i]].id < t.alertByID[out[j]].id
	})
	return out
}

// AddIncident creates an incident (status new) and returns its id.
func (s *Server) AddIncident(fqdn string, sp IncidentSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenantLocked(fqdn)
	inc := &incident{id: t.nextInc, created: sp.Created.UnixMilli(), severity: sp.Severity, description: sp.Description, tactic: sp.Tactic, unmapped: sp.Unmapped}
	t.nextInc++
	h := mix(uint64(t.seed) ^ uint64(inc.id)*31)
	if inc.severity == "" {
		inc.severity = pick(h, severities)
	}
	inc.host, inc.user = pick(h>>5, hostNames), pick(h>>9, userNames)
	if inc.description == "" {
		inc.description = "'" + pick(h>>13, alertNames) + "' generated by XDR Agent detected on host " + inc.host + " involving user " + inc.user
	}
	n := max(sp.AlertCount, 1)
	inc.versions = []incidentVersion{{modified: inc.created, visible: inc.created + sp.Lag.Milliseconds(), status: "new", alerts: n}}
	id := strconv.FormatInt(inc.id, 10)
	t.incidents = append(t.incidents, inc)
	t.incByID[id] = inc
	return id
}

// ChangeIncident records a change at ch.At (which may be in the future:
// the change happens when the clock gets there).
func (s *Server) ChangeIncident(fqdn, id string, ch IncidentChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.tenantLocked(fqdn).incByID[id]
	if !ok {
		panic(fmt.Sprintf("cortexxdrtest: unknown incident %s", id))
	}
	last := inc.versions[len(inc.versions)-1]
	v := last
	v.modified = ch.At.UnixMilli()
	if v.modified <= last.modified {
		panic("cortexxdrtest: incident changes must come in increasing time order")
	}
	v.visible = v.modified + ch.Lag.Milliseconds()
	if ch.Status != "" {
		v.status = ch.Status
		if strings.HasPrefix(ch.Status, "resolved") {
			v.resolvedT = v.modified
		}
	}
	v.alerts += ch.AddAlerts
	if ch.AssignTo != "" {
		v.assignee = ch.AssignTo
	}
	if ch.ResolveComment != "" {
		v.comment = ch.ResolveComment
	}
	inc.versions = append(inc.versions, v)
}

// IncidentVersion is one state an incident had.
type IncidentVersion struct {
	ID       string
	Modified int64 // modification_time, ms
	Visible  time.Time
	Status   string
	// Raw is the JSON the API serves for this state.
	Raw []byte
}

// Key is the dedup key a collector gives this state.
func (v IncidentVersion) Key() string { return v.ID + ":" + strconv.FormatInt(v.Modified, 10) }

// IncidentVersions returns every state of every incident, in order.
func (s *Server) IncidentVersions(fqdn string) []IncidentVersion {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenantLocked(fqdn)
	var out []IncidentVersion
	for _, inc := range t.incidents {
		for i := range inc.versions {
			v := &inc.versions[i]
			out = append(out, IncidentVersion{ID: strconv.FormatInt(inc.id, 10), Modified: v.modified, Visible: time.UnixMilli(v.visible),
				Status: v.status, Raw: appendIncident(nil, t.fqdn, inc, v)})
		}
	}
	return out
}

// Requests returns a copy of the request log, in arrival order.
func (s *Server) Requests() []RequestRecord {
	return s.log.Records(func(r RequestRecord) RequestRecord {
		r.Body, r.Faults = slices.Clone(r.Body), slices.Clone(r.Faults)
		return r
	})
}

// RequestCount returns how many requests the server has received.
func (s *Server) RequestCount() int { return s.log.Count() }

// ResetRequests clears the request log and count.
func (s *Server) ResetRequests() { s.log.Reset() }

// Answered counts the logged requests answered with status.
func (s *Server) Answered(status int) int {
	return s.log.Matching(func(r *RequestRecord) bool { return r.Status == status })
}

// writeReply writes a JSON body with the API's clock in Date, compressed
// when the request accepted gzip and Options.Gzip is set.
func (s *Server) writeReply(w http.ResponseWriter, rec *RequestRecord, status int, body []byte) {
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	compress := rec.Gzip
	s.mu.Unlock()
	if compress {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(body) // a bytes.Buffer does not fail
		_ = zw.Close()
		body = zb.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the client left
}

// writeError writes the error envelope {"reply":{"err_code","err_msg","err_extra"}}.
func (s *Server) writeError(w http.ResponseWriter, rec *RequestRecord, status int, msg string, extra any) {
	b, _ := json.Marshal(struct {
		Reply struct {
			Code  int    `json:"err_code"`
			Msg   string `json:"err_msg"`
			Extra any    `json:"err_extra"`
		} `json:"reply"`
	}{Reply: struct {
		Code  int    `json:"err_code"`
		Msg   string `json:"err_msg"`
		Extra any    `json:"err_extra"`
	}{status, msg, extra}})
	s.mu.Lock()
	rec.ErrMsg = msg
	s.mu.Unlock()
	s.writeReply(w, rec, status, b)
}

func route(path string) (string, bool) {
	switch strings.TrimSuffix(path, "/") {
	case PathAlerts:
		return "alerts", true
	case PathIncidents:
		return "incidents", true
	}
	return "", false
}

// ServeHTTP implements the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &RequestRecord{Time: s.now(), Path: r.URL.Path, Host: r.Host, KeyID: r.Header.Get("x-xdr-auth-id"),
		Nonce: r.Header.Get("x-xdr-nonce"), Timestamp: r.Header.Get("x-xdr-timestamp"),
		Gzip: s.opts.Gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")}
	sw := s.log.Begin(w, rec, &rec.Status)

	stream, ok := route(r.URL.Path)
	if !ok {
		s.writeError(sw, rec, http.StatusNotFound, "Not Found", nil)
		return
	}
	if r.Method != http.MethodPost {
		sw.Header().Set("Allow", http.MethodPost)
		s.writeError(sw, rec, http.StatusMethodNotAllowed, "Method Not Allowed", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return // the client left mid-body
	}
	s.mu.Lock()
	rec.Body = body
	s.mu.Unlock()
	if len(body) > maxBodyBytes {
		s.writeError(sw, rec, http.StatusRequestEntityTooLarge, "Request Entity Too Large", nil)
		return
	}
	if f := s.takeFault(stream, phaseTransport, rec); f != nil {
		if f.Kind == FaultSlowBody {
			s.serveSlowBody(sw, w, r, f.Delay, func(w http.ResponseWriter) { s.serveAPI(w, r, stream, body, rec) })
			return
		}
		if s.applyTransportFault(sw, r, f, stream, body, rec) {
			return
		}
	}
	s.serveAPI(sw, r, stream, body, rec)
}

// serveSlowBody sends the answer serve writes, its headers (the Date
// among them, stamped when serve ran) and the first half of its body at
// once, and the rest delay later (real time), or never if the client
// leaves or the server closes first. raw is the connection's own writer,
// which sw wraps, to push the first half out.
func (s *Server) serveSlowBody(sw *simtest.StatusWriter, raw http.ResponseWriter, r *http.Request, delay time.Duration, serve func(http.ResponseWriter)) {
	rr := httptest.NewRecorder()
	serve(rr)
	for k, v := range rr.Header() {
		sw.Header()[k] = v
	}
	sw.WriteHeader(rr.Code)
	b := rr.Body.Bytes()
	half := len(b) / 2
	if _, err := sw.Write(b[:half]); err != nil {
		return // the client left
	}
	if f, ok := raw.(http.Flusher); ok {
		f.Flush()
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		_, _ = sw.Write(b[half:]) // a failed write means the client left
	case <-r.Context().Done():
	case <-s.http.Closing():
	}
}

// tenantFor finds the tenant named by the Host header (api-<fqdn>).
func (s *Server) tenantFor(host string) *tenant {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if !strings.HasPrefix(host, "api-") {
		return nil
	}
	return s.tenants[host[4:]]
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, stream string, body []byte, rec *RequestRecord) {
	now := s.now()
	s.mu.Lock()
	t := s.tenantFor(r.Host)
	if t == nil {
		s.mu.Unlock()
		// Not an active tenant host: what a wrong FQDN meets.
		s.writeError(w, rec, http.StatusNotFound, "Not Found", nil)
		return
	}
	if s.opts.RateLimit > 0 {
		if sec := now.Unix(); sec != t.second {
			t.second, t.inSecond = sec, 0
		}
		t.inSecond++
		if t.inSecond > s.opts.RateLimit {
			s.mu.Unlock()
			s.writeError(w, rec, s.opts.ThrottleStatus, "Too many requests", nil)
			return
		}
	}
	k, authMsg := s.authenticate(t, r, now)
	if k == nil {
		s.mu.Unlock()
		s.writeError(w, rec, http.StatusUnauthorized, "Public API request unauthorized", authMsg)
		return
	}
	if t.unlicensed[stream] {
		s.mu.Unlock()
		s.writeError(w, rec, http.StatusPaymentRequired, "Invalid license", nil)
		return
	}
	if k.streams != nil && !k.streams[stream] {
		s.mu.Unlock()
		s.writeError(w, rec, http.StatusForbidden, "Forbidden: the API key's role lacks permission for this API", nil)
		return
	}
	s.mu.Unlock()
	if sw, ok := w.(*simtest.StatusWriter); ok {
		if f := s.takeFault(stream, phaseAfterAuth, rec); f != nil && s.applyTransportFault(sw, r, f, stream, body, rec) {
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.writeError(w, rec, http.StatusBadRequest, "Content-Type must be application/json", nil)
		return
	}
	q, status, msg := parseQuery(stream, body)
	if status == 0 && s.opts.RefuseBeyondCap && q.to > s.opts.ResultCap+1 {
		status, msg = s.opts.RefuseStatus, "search_to must be at most "+strconv.Itoa(s.opts.ResultCap+1)
		if status >= http.StatusInternalServerError {
			msg = "An internal error occurred" // the API's wording of a 500, which says nothing of the cause
		}
	}
	if status != 0 {
		s.writeError(w, rec, status, msg, nil)
		return
	}
	if f := s.takeFault(stream, phaseAPI, rec); f != nil && f.Kind == FaultErrorIn200 {
		s.writeError(w, rec, http.StatusOK, "An internal error occurred", nil)
		return
	} else if f != nil {
		q.empty = true // FaultEmptyPage
	}
	out, n, total := s.answer(t, stream, q, now)
	s.mu.Lock()
	rec.Records, rec.Total = n, total
	s.mu.Unlock()
	s.writeReply(w, rec, http.StatusOK, out)
}

// authenticate checks a request's key (with s.mu held). An advanced key's
// Authorization must be the hex SHA-256 of key, nonce and timestamp; the
// timestamp must be within the tolerance of the API's clock and the nonce
// must not have been seen while such a timestamp is accepted.
func (s *Server) authenticate(t *tenant, r *http.Request, now time.Time) (*key, string) {
	k, ok := t.keys[r.Header.Get("x-xdr-auth-id")]
	auth := r.Header.Get("Authorization")
	if !ok || auth == "" {
		return nil, "unknown key id or no Authorization"
	}
	if k.standard {
		if subtle.ConstantTimeCompare([]byte(auth), []byte(k.secret)) != 1 {
			return nil, "wrong key"
		}
		return k, ""
	}
	nonce, ts := r.Header.Get("x-xdr-nonce"), r.Header.Get("x-xdr-timestamp")
	if len(nonce) != 64 || strings.Trim(nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return nil, "nonce must be 64 letters and digits"
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, "timestamp must be epoch milliseconds"
	}
	if d := now.Sub(time.UnixMilli(ms)); d > s.opts.TimestampTolerance || d < -s.opts.TimestampTolerance {
		return nil, "timestamp is too far from the server's clock"
	}
	sum := sha256.Sum256([]byte(k.secret + nonce + ts))
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(auth)), []byte(hex.EncodeToString(sum[:]))) != 1 {
		return nil, "signature does not match"
	}
	nowMs := now.UnixMilli()
	for n, exp := range t.nonces {
		if exp < nowMs {
			delete(t.nonces, n)
		}
	}
	if _, replay := t.nonces[nonce]; replay {
		return nil, "nonce was already used"
	}
	t.nonces[nonce] = nowMs + 2*s.opts.TimestampTolerance.Milliseconds()
	return k, ""
}
