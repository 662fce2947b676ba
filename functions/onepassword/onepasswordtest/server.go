// Package onepasswordtest is a faithful simulator of the 1Password Events
// API v2 (see docs/1password.md), served by net/http/httptest on 127.0.0.1.
//
// It serves /api/v2/auth/introspect and the three data endpoints with the
// documented request bodies (flat ResetCursor or a lone cursor), opaque
// HMAC-protected cursors that remember page size and time filter, exact
// has_more, per-token feature checks and rate limits, and v2 error bodies.
// It is never more lenient than the documentation: where the vendor leaves
// behaviour open, the simulator picks the stricter reading (see the
// comments in request.go).
//
// Events are synthetic and deterministic: event n of a stream is a pure
// function of the account seed, the stream and n, generated on demand, so a
// backlog of a million events costs a few bytes. Explicitly ingested events
// (late arrivals, oversized or unusual events) are stored. Faults are
// injected with Inject and consumed by the next matching requests.
//
// Typical use:
//
//	srv := onepasswordtest.New(onepasswordtest.Options{})
//	defer srv.Close()
//	token := srv.AddAccount("acme", onepasswordtest.Account{Seed: 1})
//	srv.Generate("acme", onepasswordtest.StreamAuditEvents, 5000, time.Now().Add(-50*time.Minute), 500*time.Millisecond)
//	// point the client at srv.URL with token
package onepasswordtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// Documented limits (docs/1password.md, "Requests" and "Limits and errors").
const (
	DefaultLimit              = 100
	maxLimit                  = 1000
	DefaultRateLimitPerMinute = 600
	DefaultRateLimitPerHour   = 30000
	DefaultRetention          = 120 * 24 * time.Hour
	// TokenCanary appears in every generated token (in the signature
	// segment), so a test can grep logs, errors and state files for it to
	// prove that no token leaked, even partially.
	TokenCanary = "OPSIMTOKENCANARY"
	// maxBodyBytes bounds request bodies; real bodies are tiny.
	maxBodyBytes = 1 << 20
)

// Options configures a Server. The zero value gives the documented API.
type Options struct {
	// Now is the server clock (default time.Now). It drives default
	// start_time, retention, rate-limit windows and token issue times, so
	// tests can use a fixed or stepping clock.
	Now func() time.Time
	// RateLimitPerMinute and RateLimitPerHour are per-token request budgets
	// in fixed clock-aligned windows: 0 means the documented 600 and 30 000,
	// a negative value disables that limit.
	RateLimitPerMinute, RateLimitPerHour int
	// RateLimitRetryAfter adds Retry-After (seconds to the window reset) to
	// rate-limit 429s. Off by default because the vendor does not document
	// the header; clients must cope without it.
	RateLimitRetryAfter bool
	// Retention is how far back events are served (0 = documented 120
	// days, negative = unlimited). Older events are silently not returned.
	Retention time.Duration
	// TLS serves HTTPS with httptest's self-signed certificate; use Client().
	TLS bool
	// CursorKey authenticates cursors. The default is a fixed key, so a
	// cursor issued by one Server is valid on another with the same
	// accounts, like a real cursor across a vendor restart.
	CursorKey []byte
	// MaxRequestRecords bounds the request log kept for Requests (default
	// 100 000; the oldest records are dropped first). RequestCount is exact.
	MaxRequestRecords int
}

// Account describes one simulated 1Password account (tenant).
type Account struct {
	// Seed selects the synthetic dataset; 0 derives it from the account
	// name. Two accounts with the same non-zero seed (and UUID) serve
	// byte-identical events.
	Seed int64
	// UUID is the account_uuid; "" derives one from the seed.
	UUID string
	// Features of the first token; nil means all three.
	Features []string
	// Token is the first token's exact string; "" generates a JWT-shaped
	// token containing TokenCanary. Set it to plant your own canary.
	Token string
	// IssuedAt is reported by introspect; zero means Options.Now() at AddAccount.
	IssuedAt time.Time
	// ExpiresAt makes the token answer 401 from then on; zero = never.
	ExpiresAt time.Time
	// Audience is the aud claim of generated tokens. The default
	// ["com.1password.streamingservice"] is the old host-less form, which
	// forces clients to take the base URL from configuration, so a client
	// that auto-detects the host can never reach the real service from a test.
	Audience []string
}

// Token describes an additional token for an existing account.
type Token struct {
	Value     string   // exact token string; "" generates one
	Features  []string // nil means all three
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// RequestRecord is what the server saw of one request. The Authorization
// value is never stored, only whether it was present.
type RequestRecord struct {
	Time    time.Time
	Method  string
	Path    string
	Body    []byte // the JSON body as sent (nil for GET)
	HasAuth bool
	Account string      // account of a recognised token, else ""
	Status  int         // 0 when the connection was dropped without a response
	Faults  []FaultKind // faults that fired on this request
	Items   int         // items returned in a page
	HasMore bool
}

// Server is a running simulator. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port (https with Options.TLS).
	URL string

	opts   Options
	http   *simtest.Server
	bufs   sync.Pool // *[]byte page buffers, so large pages do not churn the GC
	faults *simtest.Queue[FaultKind, pendingFault]

	mu       sync.Mutex // guards the accounts, tokens and log
	accounts map[string]*account
	tokens   map[string]*tokenState
	log      *simtest.Log[RequestRecord]
}

type account struct {
	name    string
	uuid    string
	seed    int64
	bind    uint64 // cursor binding
	gen     *generator
	streams [numStreams]stream
	ntokens int
}

type tokenState struct {
	value     string
	acct      *account
	uuid      string // the Events Reporting integration uuid
	features  [numStreams]bool
	issuedAt  time.Time
	expiresAt time.Time
	revoked   bool

	minute, hour   int64 // current window index
	perMin, perHrs int   // requests admitted in the current windows
}

// defaultCursorKey is a constant so that cursors stay valid across Server
// instances (and nothing package-level is mutable).
const defaultCursorKey = "onepasswordtest cursor key v1"

// New starts a simulator on 127.0.0.1.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RateLimitPerMinute == 0 {
		opts.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if opts.RateLimitPerHour == 0 {
		opts.RateLimitPerHour = DefaultRateLimitPerHour
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if len(opts.CursorKey) == 0 {
		opts.CursorKey = []byte(defaultCursorKey)
	}
	s := &Server{
		opts:     opts,
		faults:   simtest.NewQueue[FaultKind, pendingFault]("onepasswordtest", numFaultKinds),
		accounts: make(map[string]*account),
		tokens:   make(map[string]*tokenState),
	}
	s.log = simtest.NewLog[RequestRecord](&s.mu, opts.MaxRequestRecords)
	s.bufs.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	s.http = simtest.Start("onepasswordtest", s, opts.TLS)
	s.URL = s.http.URL
	return s
}

// Close stops the server. Requests delayed by FaultSlow are aborted so
// Close never waits for them.
func (s *Server) Close() { s.http.Close() }

// Client returns an HTTP client that trusts the server (needed with TLS).
func (s *Server) Client() *http.Client { return s.http.Client() }

// Certificate is the server's self-signed certificate with TLS (nil
// without): the CA a client must trust.
func (s *Server) Certificate() *x509.Certificate { return s.http.Certificate() }

func allFeatures() []string { return slices.Clone(streamNames[:]) }

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// AddAccount creates an account and its first token, which it returns.
// It panics on a duplicate name or token, or an unknown feature: those are
// mistakes in the test, not conditions to handle.
func (s *Server) AddAccount(name string, a Account) (token string) {
	if a.Seed == 0 {
		a.Seed = int64(fnv64(name) >> 1)
	}
	if a.UUID == "" {
		a.UUID = idString(mix(uint64(a.Seed)^0x0ddba11), mix(uint64(a.Seed)+0xacc0), upperB32)
	}
	acct := &account{
		name: name,
		uuid: a.UUID,
		seed: a.Seed,
		bind: mix(fnv64(name) ^ fnv64(a.UUID)),
		gen:  newGenerator(a.Seed, a.UUID),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.accounts[name]; dup {
		panic(fmt.Sprintf("onepasswordtest: account %q already exists", name))
	}
	s.accounts[name] = acct
	return s.addTokenLocked(acct, Token{
		Value: a.Token, Features: a.Features, IssuedAt: a.IssuedAt, ExpiresAt: a.ExpiresAt,
	}, a.Audience)
}

// AddToken adds another token (for example one with fewer features) to an
// existing account and returns it.
func (s *Server) AddToken(accountName string, t Token) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addTokenLocked(s.accountLocked(accountName), t, nil)
}

// RevokeToken makes a token answer 401 from now on, as if deleted in the
// admin console.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[token]; ok {
		t.revoked = true
	}
}

func (s *Server) addTokenLocked(acct *account, t Token, aud []string) string {
	feats := t.Features
	if feats == nil {
		feats = allFeatures()
	}
	ts := &tokenState{acct: acct, issuedAt: t.IssuedAt, expiresAt: t.ExpiresAt}
	for _, f := range feats {
		id, ok := parseStream(f)
		if !ok {
			panic(fmt.Sprintf("onepasswordtest: unknown feature %q", f))
		}
		ts.features[id] = true
	}
	if ts.issuedAt.IsZero() {
		ts.issuedAt = s.opts.Now()
	}
	ts.issuedAt = ts.issuedAt.UTC().Truncate(time.Second)
	n := uint64(acct.ntokens)
	acct.ntokens++
	ts.uuid = idString(mix(acct.bind^n^0x1e7e), mix(acct.bind+n+0x5e11), upperB32)
	ts.value = t.Value
	if ts.value == "" {
		ts.value = s.makeJWT(acct, ts, aud)
	}
	if _, dup := s.tokens[ts.value]; dup {
		panic("onepasswordtest: duplicate token")
	}
	s.tokens[ts.value] = ts
	return ts.value
}

// makeJWT builds a token shaped like a 1Password Events token: an ES256
// JWT whose payload names the account, features and audience. It is not
// a verifiable signature; the simulator looks tokens up by value.
func (s *Server) makeJWT(acct *account, ts *tokenState, aud []string) string {
	if aud == nil {
		aud = []string{"com.1password.streamingservice"}
	}
	var feats []string
	for i, ok := range ts.features {
		if ok {
			feats = append(feats, streamNames[i])
		}
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"ES256", idString(mix(acct.bind^0xc1d), mix(acct.bind), lowerB32), "JWT"})
	if err != nil {
		panic(fmt.Sprintf("onepasswordtest: marshal token header: %v", err))
	}
	payload, err := json.Marshal(struct {
		Account  string   `json:"1password.com/auuid"`
		TokenID  string   `json:"1password.com/token"`
		Features []string `json:"1password.com/fts"`
		Aud      []string `json:"aud"`
		Sub      string   `json:"sub"`
		Iat      int64    `json:"iat"`
		Iss      string   `json:"iss"`
		Jti      string   `json:"jti"`
	}{acct.uuid, ts.uuid, feats, aud, ts.uuid + "@1password.example", ts.issuedAt.Unix(), "com.1password.b5",
		idString(mix(acct.bind^uint64(acct.ntokens)), mix(uint64(acct.ntokens)^0x7a), lowerB32)})
	if err != nil {
		panic(fmt.Sprintf("onepasswordtest: marshal token payload: %v", err))
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	m := hmac.New(sha256.New, s.opts.CursorKey)
	m.Write([]byte(signed))
	return signed + "." + TokenCanary + enc.EncodeToString(m.Sum(nil))
}

func (s *Server) accountLocked(name string) *account {
	a, ok := s.accounts[name]
	if !ok {
		panic(fmt.Sprintf("onepasswordtest: unknown account %q", name))
	}
	return a
}

func mustStream(name string) streamID {
	id, ok := parseStream(name)
	if !ok {
		panic(fmt.Sprintf("onepasswordtest: unknown stream %q (want auditevents, signinattempts or itemusages)", name))
	}
	return id
}

// AccountUUID returns the account_uuid of an account.
func (s *Server) AccountUUID(accountName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountLocked(accountName).uuid
}

// Generate appends n deterministic events to a stream, with timestamps
// start, start+step, … (step may be 0 for a same-timestamp burst, or
// negative). Events are created on demand, so n may be in the millions.
// Generating with a start older than events already served simulates late
// arrival: the new events get higher sequence numbers but older timestamps.
func (s *Server) Generate(accountName, streamName string, n int, start time.Time, step time.Duration) {
	if n <= 0 {
		return
	}
	id := mustStream(streamName)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.accountLocked(accountName).streams[id]
	st.segs = append(st.segs, segment{first: st.total, n: uint64(n), start: start.UnixNano(), step: int64(step)})
	st.total += uint64(n)
}

// GenerateOne appends one deterministic event with timestamp ts and returns
// its uuid. With ts older than events already served it is the late
// arrival described in docs/1password.md ("The cursor is the position"): a client that persisted its cursor gets
// it on the next poll, a client that restarts from the newest timestamp it
// saw never does.
func (s *Server) GenerateOne(accountName, streamName string, ts time.Time) (uuid string) {
	id := mustStream(streamName)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(accountName)
	st := &a.streams[id]
	uuid = a.gen.eventID(id, st.total)
	st.segs = append(st.segs, segment{first: st.total, n: 1, start: ts.UnixNano()})
	st.total++
	return uuid
}

// Ingest appends one explicit event (a JSON object) to a stream. Its
// "timestamp" (RFC 3339) is what time filters compare; without a parsable
// timestamp the ingestion time is used. Its "uuid" is reported by EventIDs.
// It panics if rawEvent is not a JSON object.
func (s *Server) Ingest(accountName, streamName string, rawEvent []byte) {
	id := mustStream(streamName)
	raw, uuid, ts, err := parseExplicit(rawEvent)
	if err != nil {
		panic(fmt.Sprintf("onepasswordtest: ingest into %s/%s: %v", accountName, streamName, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts == nil {
		now := s.opts.Now().UnixNano()
		ts = &now
	}
	s.appendExplicitLocked(s.accountLocked(accountName), id, raw, uuid, *ts)
}

func (s *Server) appendExplicitLocked(a *account, id streamID, raw []byte, uuid string, ts int64) {
	st := &a.streams[id]
	st.segs = append(st.segs, segment{first: st.total, n: 1, raw: raw, ts: ts, uuid: uuid})
	st.total++
}

// IngestOversized appends an event of at least size bytes (default and
// minimum 65 537, i.e. over 64 KiB) and returns its uuid. The bulk is one
// string field (aux_info, details.value or user.name depending on the
// stream) mixing ASCII with multi-byte characters, so truncation code must
// cut on rune boundaries.
func (s *Server) IngestOversized(accountName, streamName string, ts time.Time, size int) (uuid string) {
	id := mustStream(streamName)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(accountName)
	seq := a.streams[id].total
	uuid = a.gen.eventID(id, seq)
	raw := a.gen.oversizedEvent(id, seq, ts.UnixNano(), size)
	s.appendExplicitLocked(a, id, raw, uuid, truncNanos(ts.UnixNano(), streamPrecision[id]))
	return uuid
}

// IngestSpecial appends an event full of awkward but valid JSON (nulls,
// empty strings, empty objects and arrays, unknown fields, unicode,
// escaped control characters, newlines and HTML characters) and returns
// its uuid.
func (s *Server) IngestSpecial(accountName, streamName string, ts time.Time) (uuid string) {
	id := mustStream(streamName)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(accountName)
	seq := a.streams[id].total
	uuid = a.gen.eventID(id, seq)
	raw := a.gen.specialEvent(id, seq, ts.UnixNano())
	s.appendExplicitLocked(a, id, raw, uuid, truncNanos(ts.UnixNano(), streamPrecision[id]))
	return uuid
}

func (s *Server) snapshot(accountName, streamName string) (*generator, streamID, []segment, uint64) {
	id := mustStream(streamName)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(accountName)
	st := a.streams[id]
	return a.gen, id, st.segs, st.total
}

// EventCount returns how many events were ever ingested into a stream.
func (s *Server) EventCount(accountName, streamName string) int {
	_, _, _, total := s.snapshot(accountName, streamName)
	return int(total)
}

// EventIDs returns the uuid of every event ever ingested into a stream, in
// ingestion order. Generated uuids are computed now, into one shared
// string, so a million ids cost about 42 MB only while the caller holds them.
func (s *Server) EventIDs(accountName, streamName string) []string {
	g, id, segs, total := s.snapshot(accountName, streamName)
	buf := make([]byte, 0, total*26)
	for i := range segs {
		sg := &segs[i]
		if sg.explicit() {
			continue
		}
		for j := uint64(0); j < sg.n; j++ {
			hi, lo := g.idParts(id, sg.first+j)
			buf = appendID(buf, hi, lo, upperB32)
		}
	}
	all := string(buf)
	out := make([]string, 0, total)
	off := 0
	for i := range segs {
		sg := &segs[i]
		if sg.explicit() {
			out = append(out, sg.uuid)
			continue
		}
		for j := uint64(0); j < sg.n; j++ {
			out = append(out, all[off:off+26])
			off += 26
		}
	}
	return out
}

// Event returns the exact JSON of event seq (0-based ingestion order), as
// it appears inside a page.
func (s *Server) Event(accountName, streamName string, seq int) []byte {
	g, id, segs, total := s.snapshot(accountName, streamName)
	if seq < 0 || uint64(seq) >= total {
		panic(fmt.Sprintf("onepasswordtest: event %d out of range [0,%d)", seq, total))
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first+segs[i].n > uint64(seq) })
	sg := &segs[i]
	if sg.explicit() {
		return slices.Clone(sg.raw)
	}
	local := uint64(seq) - sg.first
	return g.appendEvent(nil, id, uint64(seq), sg.tsAt(local, streamPrecision[id]))
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

// ServeHTTP implements the API. Server is an http.Handler so that it can
// also be mounted elsewhere or driven directly by benchmarks.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &RequestRecord{
		Time:    s.opts.Now(),
		Method:  r.Method,
		Path:    r.URL.Path,
		HasAuth: r.Header.Get("Authorization") != "",
	}
	sw := s.log.Begin(w, rec, &rec.Status)

	ep, method, ok := route(r.URL.Path)
	if !ok {
		writeError(sw, http.StatusNotFound, "Not Found")
		return
	}
	if r.Method != method {
		sw.Header().Set("Allow", method)
		writeError(sw, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			return // the client went away mid-body; nothing to answer
		}
		if len(b) > 0 {
			body = b
		}
	}
	s.mu.Lock()
	rec.Body = body
	s.mu.Unlock()
	if len(body) > maxBodyBytes {
		writeError(sw, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}

	if f := s.takeFault(ep, false, false, rec); f != nil {
		if done := s.applyTransportFault(sw, r, f, ep, body, rec); done {
			return
		}
	}
	s.serveAPI(sw, r, ep, body, rec)
}

func route(path string) (endpoint, method string, ok bool) {
	switch path {
	case "/api/v2/auth/introspect":
		return "introspect", http.MethodGet, true
	case "/api/v2/auditevents":
		return StreamAuditEvents, http.MethodPost, true
	case "/api/v2/signinattempts":
		return StreamSignInAttempts, http.MethodPost, true
	case "/api/v2/itemusages":
		return StreamItemUsages, http.MethodPost, true
	}
	return "", "", false
}

type errorBody struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// writeError writes the v2 error shape {"status":N,"message":"..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, err := json.Marshal(errorBody{status, msg})
	if err != nil { // cannot happen for a struct of an int and a string
		b = []byte(`{"status":500,"message":"error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // a failed write means the client left; nothing to do
}
