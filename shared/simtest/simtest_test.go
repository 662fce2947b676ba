package simtest

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// toy is the smallest simulator: every request is answered {"ok":true}
// unless a queued fault says otherwise; errors are plain text.
type toy struct {
	http   *Server
	faults *Queue[Kind, Fault]
	mu     sync.Mutex
	log    *Log[record]
}

type record struct {
	Path   string
	Status int
	Faults []Kind
}

func newToy(t *testing.T, maxRecords int) *toy {
	t.Helper()
	s := &toy{faults: NewQueue[Kind, Fault]("toy", VendorKinds)}
	s.log = NewLog[record](&s.mu, maxRecords)
	s.http = Start("toy", s, false)
	t.Cleanup(s.http.Close)
	return s
}

func (s *toy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &record{Path: r.URL.Path}
	sw := s.log.Begin(w, rec, &rec.Status)
	if f, ok := s.faults.Take(func(Fault) bool { return true }); ok {
		s.mu.Lock()
		rec.Faults = append(rec.Faults, f.Kind)
		s.mu.Unlock()
		if s.http.Apply(sw, r, f, API{Error: plainError, Messages: map[int]string{429: "slow down"}, Serve: serveOK}) {
			return
		}
	}
	serveOK(sw)
}

func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

func serveOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true,"padding":"0123456789"}`)
}

type answer struct {
	status int
	header http.Header
	body   string
	err    error
}

func get(s *toy, timeout time.Duration) answer {
	// Fresh connections: net/http quietly retries a GET whose reused
	// connection broke, which would hide the connection faults.
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodGet, s.http.URL+"/x", nil)
	req.Header.Set("Authorization", "Bearer SECRET-TOKEN")
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func TestEveryTransportFault(t *testing.T) {
	s := newToy(t, 0)
	for _, k := range Kinds(VendorKinds) {
		f := Fault{Kind: k, Delay: 20 * time.Millisecond}
		if k == RateLimit {
			f.RetryAfter = 1500 * time.Millisecond
		}
		s.faults.Inject(k, 1, f)
		a := get(s, time.Minute)
		var ok bool
		switch k {
		case RateLimit:
			ok = a.status == 429 && a.header.Get("Retry-After") == "2" && a.body == "slow down"
		case RateLimitNoRetryAfter:
			ok = a.status == 429 && a.header.Get("Retry-After") == "" && a.body == "slow down"
		case InternalError:
			ok = a.status == 500 && a.body == "Internal Server Error"
		case BadGateway:
			ok = a.status == 502 && a.body == "Bad Gateway"
		case ServiceUnavailable:
			ok = a.status == 503 && a.header.Get("Retry-After") == ""
		case Slow:
			ok = a.status == 200 && strings.HasPrefix(a.body, `{"ok":true`)
		case Truncated:
			ok = a.status == 200 && a.err == nil && a.body == `{"ok":true,"paddi`
		case ShortBody:
			ok = errors.Is(a.err, io.ErrUnexpectedEOF) && a.body == `{"ok":true,"paddi`
		case HTMLPage:
			ok = a.status == 200 && strings.HasPrefix(a.header.Get("Content-Type"), "text/html")
		case HTMLBadGateway:
			ok = a.status == 502 && strings.Contains(a.body, "<h1>502 Bad Gateway</h1>")
		case ConnectionReset, ConnectionClose:
			ok = a.err != nil && a.status == 0
		case EchoHeaders:
			ok = a.status == 500 && strings.Contains(a.body, "Authorization: Bearer SECRET-TOKEN")
		}
		if !ok {
			t.Errorf("%v: status %d, headers %v, body %q, error %v", k, a.status, a.header, a.body, a.err)
		}
		if s.faults.Fired(k) != 1 {
			t.Errorf("%v fired %d times", k, s.faults.Fired(k))
		}
	}
	// The log has every request with the status the client saw (0 for a
	// dropped connection) and the fault that fired.
	recs := s.log.Records(nil)
	if len(recs) != int(VendorKinds)-1 || s.log.Count() != len(recs) {
		t.Fatalf("%d records, count %d", len(recs), s.log.Count())
	}
	if n := s.log.Matching(func(r *record) bool { return r.Status == 429 }); n != 2 {
		t.Errorf("%d records answered 429, want the 2 rate limits", n)
	}
	for i, r := range recs {
		k := Kind(i + 1)
		want := map[Kind]int{RateLimit: 429, RateLimitNoRetryAfter: 429, InternalError: 500, BadGateway: 502, ServiceUnavailable: 503,
			Slow: 200, Truncated: 200, ShortBody: 200, HTMLPage: 200, HTMLBadGateway: 502, EchoHeaders: 500}[k]
		if r.Status != want || len(r.Faults) != 1 || r.Faults[0] != k {
			t.Errorf("record of %v: %+v, want status %d", k, r, want)
		}
	}
}

func TestSlowFaultEndsWhenTheServerCloses(t *testing.T) {
	s := newToy(t, 0)
	s.faults.Inject(Slow, 1, Fault{Kind: Slow, Delay: time.Hour})
	done := make(chan answer, 1)
	go func() { done <- get(s, 0) }()
	for s.log.Count() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.http.Close()
	// Without the abort, the request would be held for the fault's hour.
	select {
	case a := <-done:
		if a.err == nil {
			t.Fatalf("a request held by a Slow fault was answered %d after Close", a.status)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close did not end a request held by a Slow fault")
	}
}

func TestQueueOrderCountsAndMatching(t *testing.T) {
	type f struct {
		kind Kind
		to   string
	}
	q := NewQueue[Kind, f]("q", VendorKinds)
	q.Inject(BadGateway, 2, f{BadGateway, "a"})
	q.Inject(Slow, 0, f{Slow, "b"}) // 0 means once
	q.Inject(InternalError, 1, f{InternalError, "a"})
	if q.Pending() != 4 {
		t.Fatalf("pending %d, want 4", q.Pending())
	}
	to := func(ep string) func(f) bool { return func(x f) bool { return x.to == ep } }
	var got []Kind
	for _, ep := range []string{"b", "b", "a", "a", "a", "a"} {
		if x, ok := q.Take(to(ep)); ok {
			got = append(got, x.kind)
		}
	}
	if want := []Kind{Slow, BadGateway, BadGateway, InternalError}; !slicesEqual(got, want) {
		t.Fatalf("took %v, want %v", got, want)
	}
	if q.Pending() != 0 || q.Fired(BadGateway) != 2 || q.Fired(Slow) != 1 || q.Fired(RateLimit) != 0 || q.Fired(Kind(99)) != 0 {
		t.Fatalf("pending %d, fired %d/%d/%d", q.Pending(), q.Fired(BadGateway), q.Fired(Slow), q.Fired(RateLimit))
	}
	q.Inject(RateLimit, 5, f{RateLimit, "a"})
	q.Clear()
	if _, ok := q.Take(to("a")); ok || q.Pending() != 0 {
		t.Fatal("a cleared fault fired")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Inject accepted an unknown kind")
		}
	}()
	q.Inject(VendorKinds, 1, f{})
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLogKeepsTheLatestRecordsAndAnExactCount(t *testing.T) {
	s := newToy(t, 2)
	for range 5 {
		if a := get(s, time.Minute); a.status != 200 {
			t.Fatalf("answer %+v", a)
		}
	}
	if recs := s.log.Records(nil); len(recs) != 2 || s.log.Count() != 5 {
		t.Fatalf("%d records, count %d; want the latest 2 of 5", len(recs), s.log.Count())
	}
	s.log.Reset()
	if len(s.log.Records(nil)) != 0 || s.log.Count() != 0 {
		t.Fatal("Reset kept records")
	}
}

func TestNames(t *testing.T) {
	type own int
	ownNames := []string{"own-a", "own-b"}
	for k, want := range map[own]string{0: "none", own(RateLimit): "rate-limit", own(EchoHeaders): "echo-headers",
		own(VendorKinds): "own-a", own(VendorKinds) + 1: "own-b", own(VendorKinds) + 2: "FaultKind(16)"} {
		if got := Name(k, ownNames); got != want {
			t.Errorf("Name(%d) = %q, want %q", int(k), got, want)
		}
	}
	if ks := Kinds(own(VendorKinds) + 2); len(ks) != int(VendorKinds)+1 || ks[0] != 1 {
		t.Errorf("Kinds = %v", ks)
	}
}
