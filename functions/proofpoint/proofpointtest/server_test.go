package proofpointtest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	clock *Clock
	srv   *Server
	cred  Credentials
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: NewClock(t0)}
	opts.Now = f.clock.Now
	f.srv = New(opts)
	t.Cleanup(f.srv.Close)
	f.cred = f.srv.AddTenant("acme", Tenant{})
	return f
}

type answer struct {
	status int
	ctype  string
	body   string
	header http.Header
}

func (f *fixture) get(path string, q url.Values, cred *Credentials) answer {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path+"?"+q.Encode(), nil)
	if cred != nil {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred.Principal+":"+cred.Secret)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), string(b), resp.Header}
}

func interval(a, b time.Time) url.Values {
	return url.Values{"format": {"json"}, "interval": {a.Format(time.RFC3339) + "/" + b.Format(time.RFC3339)}}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, Options{})
	q := interval(t0.Add(-time.Hour), t0)
	if a := f.get("/v2/siem/all", q, nil); a.status != 401 {
		t.Fatalf("no credentials: %d", a.status)
	}
	if a := f.get("/v2/siem/all", q, &Credentials{f.cred.Principal, "wrong"}); a.status != 401 {
		t.Fatalf("wrong secret: %d", a.status)
	}
	if a := f.get("/v2/siem/all", q, &f.cred); a.status != 204 {
		t.Fatalf("valid credentials: %d %s", a.status, a.body)
	}
	old := f.cred
	f.cred = f.srv.RotateSecret("acme")
	if a := f.get("/v2/siem/all", q, &old); a.status != 401 {
		t.Fatalf("rotated-out secret: %d", a.status)
	}
	denied := f.srv.AddTenant("denied", Tenant{Forbidden: true})
	if a := f.get("/v2/siem/all", q, &denied); a.status != 403 {
		t.Fatalf("forbidden tenant: %d", a.status)
	}
	if !strings.Contains(f.cred.Secret, SecretCanary) || !strings.Contains(f.cred.Principal, SecretCanary) {
		t.Fatal("generated credentials carry no canary")
	}
}

func TestTimeSelectionRules(t *testing.T) {
	f := newFixture(t, Options{Empty: EmptyArrays})
	cases := []struct {
		q      url.Values
		status int
		msg    string
	}{
		{url.Values{"format": {"json"}}, 400, MsgOneOf},
		{url.Values{"format": {"json"}, "sinceSeconds": {"60"}, "interval": {"PT1M/2026-03-02T12:00:00Z"}}, 400, MsgOneOf},
		{interval(t0.Add(-29*time.Second), t0), 400, MsgTooShort},
		{interval(t0.Add(-61*time.Minute), t0), 400, MsgTooLong},
		{interval(t0.Add(-7*24*time.Hour-time.Minute), t0.Add(-7*24*time.Hour+30*time.Minute)), 400, MsgTooOld},
		{interval(t0.Add(-10*time.Minute), t0.Add(time.Minute)), 400, MsgFuture},
		{url.Values{"format": {"json"}, "interval": {"yesterday/today"}}, 400, MsgBadTime},
		{url.Values{"format": {"xml"}, "sinceSeconds": {"60"}}, 400, MsgBadFormat},
		{interval(t0.Add(-time.Hour), t0), 200, ""},
		{interval(t0.Add(-30*time.Second), t0), 200, ""},
		{url.Values{"format": {"json"}, "interval": {"PT30M/2026-03-02T12:00:00Z"}}, 200, ""},
		{url.Values{"format": {"json"}, "interval": {"2026-03-02T04:00:00-0700/PT30M"}}, 200, ""},
		{url.Values{"format": {"json"}, "interval": {"2026-03-02T12:00:00+01:00/2026-03-02T12:30:00+01:00"}}, 200, ""},
	}
	for _, c := range cases {
		a := f.get("/v2/siem/all", c.q, &f.cred)
		if a.status != c.status || c.msg != "" && (a.body != c.msg || !strings.HasPrefix(a.ctype, "text/plain")) {
			t.Errorf("%s: %d %q (%s)", c.q.Encode(), a.status, a.body, a.ctype)
		}
	}
	// queryEndTime is the requested end, or the server time rounded to
	// the minute for sinceSeconds.
	var v map[string]any
	json.Unmarshal([]byte(f.get("/v2/siem/all", url.Values{"format": {"json"}, "interval": {"PT30M/2026-03-02T12:00:00Z"}}, &f.cred).body), &v)
	if v["queryEndTime"] != "2026-03-02T12:00:00Z" || len(v) != 5 {
		t.Fatalf("answer %v", v)
	}
	f.clock.Set(t0.Add(40 * time.Second))
	json.Unmarshal([]byte(f.get("/v2/siem/all", url.Values{"format": {"json"}, "sinceSeconds": {"600"}}, &f.cred).body), &v)
	if v["queryEndTime"] != "2026-03-02T12:01:00Z" {
		t.Fatalf("sinceSeconds answer %v", v)
	}
}

// TestFutureEnds: an interval ending after the server's clock is refused,
// or (the docs do not say) served up to the server's clock with that time
// or the requested end as queryEndTime. Every answer tells the server's
// clock in Date.
func TestFutureEnds(t *testing.T) {
	for _, c := range []struct {
		mode     FutureEndMode
		status   int
		queryEnd string
	}{
		{FutureEndRefused, 400, ""},
		{FutureEndClamped, 200, "2026-03-02T12:00:00Z"},
		{FutureEndAsRequested, 200, "2026-03-02T12:05:00Z"},
	} {
		f := newFixture(t, Options{FutureEnd: c.mode})
		f.srv.Ingest("acme", Event{Type: TypeClicksBlocked, Created: t0.Add(-time.Minute), Identity: "now", Raw: []byte(`{"id":"now"}`)})
		f.srv.Ingest("acme", Event{Type: TypeClicksBlocked, Created: t0.Add(time.Minute), Indexed: t0.Add(-time.Hour), Identity: "later", Raw: []byte(`{"id":"later"}`)})
		a := f.get("/v2/siem/all", interval(t0.Add(-10*time.Minute), t0.Add(5*time.Minute)), &f.cred)
		if d, err := http.ParseTime(a.header.Get("Date")); err != nil || !d.Equal(t0) {
			t.Fatalf("mode %d: Date %q, want the server clock", c.mode, a.header.Get("Date"))
		}
		var v struct {
			QueryEndTime  string            `json:"queryEndTime"`
			ClicksBlocked []json.RawMessage `json:"clicksBlocked"`
		}
		if a.status != c.status || c.status == 400 && a.body != MsgFuture {
			t.Fatalf("mode %d: %d %q", c.mode, a.status, a.body)
		}
		if c.status == 400 {
			continue
		}
		if err := json.Unmarshal([]byte(a.body), &v); err != nil || v.QueryEndTime != c.queryEnd || len(v.ClicksBlocked) != 1 || !strings.Contains(a.body, `"now"`) {
			t.Fatalf("mode %d: %v %s", c.mode, err, a.body)
		}
	}
}

// TestWindowTooLargeToAssemble: with MaxAssembled, a window holding more
// events answers 500 every time; a smaller one is served.
func TestWindowTooLargeToAssemble(t *testing.T) {
	f := newFixture(t, Options{MaxAssembled: 50})
	f.srv.Generate("acme", Traffic{From: t0.Add(-time.Hour), To: t0, MessagesPerHour: 100, ClicksPerHour: 20, MultiRecipient: -1, MaxIndexLag: -1})
	for range 2 {
		if a := f.get("/v2/siem/all", interval(t0.Add(-time.Hour), t0), &f.cred); a.status != 500 || a.body != AssemblyTimeoutMessage {
			t.Fatalf("an hour of 120 events: %d %q", a.status, a.body)
		}
	}
	if a := f.get("/v2/siem/all", interval(t0.Add(-10*time.Minute), t0), &f.cred); a.status != 200 {
		t.Fatalf("ten minutes: %d %q", a.status, a.body)
	}
}

// TestQueryEndTimeForms: the requested end, with milliseconds, or the
// end rounded down to the minute (then the window stops there).
func TestQueryEndTimeForms(t *testing.T) {
	for _, c := range []struct {
		mode   QueryEndMode
		want   string
		served bool
	}{
		{QueryEndRequested, "2026-03-02T11:58:30Z", true},
		{QueryEndMillis, "2026-03-02T11:58:30.000Z", true},
		{QueryEndMinute, "2026-03-02T11:58:00Z", false},
	} {
		f := newFixture(t, Options{QueryEnd: c.mode, Empty: EmptyArrays})
		f.srv.Ingest("acme", Event{Type: TypeClicksBlocked, Created: t0.Add(-110 * time.Second), Identity: "edge", Raw: []byte(`{"id":"edge"}`)})
		var v struct {
			QueryEndTime string `json:"queryEndTime"`
		}
		a := f.get("/v2/siem/all", interval(t0.Add(-10*time.Minute), t0.Add(-90*time.Second)), &f.cred)
		if err := json.Unmarshal([]byte(a.body), &v); err != nil || v.QueryEndTime != c.want || strings.Contains(a.body, `"edge"`) != c.served {
			t.Fatalf("mode %d: %v %s", c.mode, err, a.body)
		}
	}
}

func TestEmptyWindowsAndFormats(t *testing.T) {
	f := newFixture(t, Options{})
	q := interval(t0.Add(-time.Hour), t0)
	if a := f.get("/v2/siem/all", q, &f.cred); a.status != 204 || a.body != "" {
		t.Fatalf("empty window: %d %q", a.status, a.body)
	}
	f.srv.Generate("acme", Traffic{From: t0.Add(-time.Hour), To: t0, MessagesPerHour: 10, ClicksPerHour: 5, MaxIndexLag: -1})
	if a := f.get("/v2/siem/all", url.Values{"interval": q["interval"]}, &f.cred); a.status != 200 || json.Valid([]byte(a.body)) || !strings.Contains(a.body, " tap type=") {
		t.Fatalf("without format=json the answer must be syslog text: %d %q", a.status, a.body)
	}
	mixed := newFixture(t, Options{Empty: EmptyMixed})
	var kinds []string
	for range 3 {
		a := mixed.get("/v2/siem/all", q, &mixed.cred)
		kinds = append(kinds, fmt.Sprint(a.status, len(a.body) > 0, strings.Contains(a.body, "clicksBlocked")))
	}
	if strings.Join(kinds, ",") != "204 false false,200 true true,200 true false" {
		t.Fatalf("mixed empty answers %v", kinds)
	}
}

func TestWindowsSelectByCreationOnceIndexed(t *testing.T) {
	f := newFixture(t, Options{})
	created := t0.Add(-20 * time.Minute)
	f.srv.Ingest("acme", Event{Type: TypeClicksPermitted, Created: created, Indexed: created.Add(25 * time.Minute), Identity: "late", Raw: []byte(`{"id":"late","clickTime":"2026-03-01T00:00:00.000Z"}`)})
	f.srv.Ingest("acme", Event{Type: TypeClicksBlocked, Created: t0.Add(-10 * time.Minute), Identity: "edge", Raw: []byte(`{"id":"edge"}`)})
	q := interval(t0.Add(-30*time.Minute), t0.Add(-10*time.Minute))
	a := f.get("/v2/siem/all", q, &f.cred)
	if strings.Contains(a.body, `"late"`) || !strings.Contains(a.body, `"edge"`) {
		t.Fatalf("before indexing: %s", a.body)
	}
	f.clock.Set(created.Add(25 * time.Minute))
	a = f.get("/v2/siem/all", q, &f.cred)
	if !strings.Contains(a.body, `"late"`) {
		t.Fatalf("once indexed, the old window serves the event: %s", a.body)
	}
	// The boundary is in both windows that touch it.
	a = f.get("/v2/siem/all", interval(t0.Add(-10*time.Minute), t0.Add(-9*time.Minute)), &f.cred)
	if !strings.Contains(a.body, `"edge"`) {
		t.Fatalf("an event at a window's end must also be in the next window: %s", a.body)
	}
	// Endpoint filters: clicks/permitted has its own pool and type.
	a = f.get("/v2/siem/clicks/permitted", q, &f.cred)
	if !strings.Contains(a.body, `"late"`) || strings.Contains(a.body, `"edge"`) || f.srv.PoolUsed("acme", "clicks-permitted") != 1 {
		t.Fatalf("clicks/permitted: %s", a.body)
	}
}

func TestGeneratedTrafficHasTheDocumentedTraps(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Generate("acme", Traffic{From: t0.Add(-6 * time.Hour), To: t0, MessagesPerHour: 100, ClicksPerHour: 60, TimeForms: true})
	evs := f.srv.Events("acme")
	guidTimes := map[string]map[string]bool{}
	var retro, late, stringRecipient, boolRewritten, strRewritten, lowerThreatID int
	timeForms := map[string]int{}
	for _, e := range evs {
		var v map[string]any
		if err := json.Unmarshal(e.Raw, &v); err != nil {
			t.Fatalf("%v: %s", err, e.Raw)
		}
		// messageTime and clickTime come with and without milliseconds,
		// in "Z" or a numeric zone, and always tell the event's own time.
		own, _ := v["messageTime"].(string)
		if click, ok := v["clickTime"].(string); ok {
			own = click
		}
		if at, err := time.Parse(time.RFC3339Nano, own); err != nil || !at.Equal(e.Own) {
			t.Fatalf("own time %q (%v), want %v", own, err, e.Own)
		}
		switch {
		case strings.HasSuffix(own, "+00:00"):
			timeForms["zone"]++
		case strings.Contains(own, "."):
			timeForms["ms"]++
		default:
			timeForms["seconds"]++
		}
		if strings.HasPrefix(e.Type, "messages") {
			g := fmt.Sprint(v["GUID"])
			if guidTimes[g] == nil {
				guidTimes[g] = map[string]bool{}
			}
			guidTimes[g][fmt.Sprint(v["messageTime"])] = true
			if _, ok := v["recipient"].(string); ok {
				stringRecipient++
			}
			switch v["completelyRewritten"].(type) {
			case bool:
				boolRewritten++
			case string:
				strRewritten++
			}
			if strings.Contains(string(e.Raw), `"threatId"`) {
				lowerThreatID++
			}
		} else if e.Created.Sub(e.Own) >= time.Hour {
			retro++
		}
		if e.Indexed.Sub(e.Created) > 10*time.Minute {
			late++
		}
		if e.Indexed.Sub(e.Created) > 30*time.Minute || e.Indexed.Before(e.Created) {
			t.Fatalf("lag %v", e.Indexed.Sub(e.Created))
		}
	}
	shared := 0
	for g, times := range guidTimes {
		if len(times) != 1 {
			t.Fatalf("message %s has several messageTimes", g)
		}
	}
	for _, e := range evs {
		if strings.HasPrefix(e.Type, "messages") && strings.Count(e.Identity, "/") == 2 {
			shared++
		}
	}
	counts := []int{retro, late, stringRecipient, boolRewritten, strRewritten, lowerThreatID, timeForms["zone"], timeForms["ms"], timeForms["seconds"]}
	for i, n := range counts {
		if n == 0 {
			t.Fatalf("trap %d never generated (counts %v)", i, counts)
		}
	}
	// Unordered: the same window twice comes back in another order.
	q := interval(t0.Add(-time.Hour), t0)
	if a, b := f.get("/v2/siem/all", q, &f.cred), f.get("/v2/siem/all", q, &f.cred); a.body == b.body || len(a.body) != len(b.body) {
		t.Fatal("two answers for the same window are identical or differ in content")
	}
}

// A small tenant: every recipient is one of Mailboxes; campaign clicks
// share their threat (URL, threatID, classification) across users.
func TestMailboxesAndCampaigns(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Generate("acme", Traffic{From: t0.Add(-3 * time.Hour), To: t0, MessagesPerHour: 40, ClicksPerHour: 60, Mailboxes: 8, Campaigns: 0.5})
	recipients := map[string]bool{}
	byURL := map[string]map[string]bool{}
	threatOf := map[string]string{}
	for _, e := range f.srv.Events("acme") {
		var v map[string]any
		if err := json.Unmarshal(e.Raw, &v); err != nil {
			t.Fatal(err)
		}
		r := fmt.Sprint(v["recipient"])
		r = strings.Trim(r, "[]")
		recipients[r] = true
		if strings.HasPrefix(e.Type, "clicks") {
			u := fmt.Sprint(v["url"])
			if byURL[u] == nil {
				byURL[u] = map[string]bool{}
			}
			byURL[u][r] = true
			id, _ := v["threatID"].(string)
			if id == "" {
				id, _ = v["threatId"].(string) // key case drift
			}
			if prev, ok := threatOf[u]; ok && prev != id {
				t.Fatalf("clicks on %s name threats %s and %s", u, prev, id)
			}
			threatOf[u] = id
		}
	}
	if len(recipients) > 8 || len(recipients) < 4 {
		t.Fatalf("%d distinct recipients, want at most 8: %v", len(recipients), recipients)
	}
	shared := 0
	for u, rs := range byURL {
		if len(rs) >= 3 {
			shared++
			if !strings.Contains(u, "-campaign.test/") {
				t.Fatalf("users share a URL that is no campaign's: %s", u)
			}
		}
	}
	if shared == 0 || shared > 3 {
		t.Fatalf("%d URLs reached by three users or more, want 1 to 3 campaigns", shared)
	}
}

// An ingested event of a type TAP does not serve today comes back from
// /v2/siem/all in an array of its own, as an array TAP adds would.
func TestFutureArrayIsServedByAll(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Ingest("acme", Event{Type: "messagesQuarantined", Created: t0.Add(-5 * time.Minute), Identity: "q", Raw: []byte(`{"GUID":"q"}`)})
	f.srv.Ingest("acme", Event{Type: TypeMessagesBlocked, Created: t0.Add(-5 * time.Minute), Identity: "b", Raw: []byte(`{"GUID":"b"}`)})
	q := interval(t0.Add(-10*time.Minute), t0)
	var v map[string]json.RawMessage
	if err := json.Unmarshal([]byte(f.get("/v2/siem/all", q, &f.cred).body), &v); err != nil {
		t.Fatal(err)
	}
	if string(v["messagesQuarantined"]) != `[{"GUID":"q"}]` || string(v[TypeMessagesBlocked]) != `[{"GUID":"b"}]` {
		t.Fatalf("/v2/siem/all: %v", v)
	}
	if a := f.get("/v2/siem/messages/blocked", q, &f.cred); strings.Contains(a.body, "messagesQuarantined") {
		t.Fatalf("a narrower endpoint serves the new array: %s", a.body)
	}
}

func TestRollingPoolsAnd429(t *testing.T) {
	f := newFixture(t, Options{RequestsPerDay: 5, RetryAfter: true})
	q := interval(t0.Add(-time.Hour), t0)
	for i := range 5 {
		f.clock.Set(t0.Add(time.Duration(i) * time.Hour))
		q = interval(f.clock.Now().Add(-time.Hour), f.clock.Now())
		if i == 2 {
			q = interval(f.clock.Now().Add(-10*time.Second), f.clock.Now()) // a refused request counts too
		}
		f.get("/v2/siem/all", q, &f.cred)
	}
	f.get("/v2/siem/all", q, &Credentials{"x", "y"}) // unauthenticated: not counted
	a := f.get("/v2/siem/all", q, &f.cred)
	if a.status != 429 || a.header.Get("Retry-After") != fmt.Sprint(int((20*time.Hour).Seconds())) {
		t.Fatalf("sixth request: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	f.clock.Set(t0.Add(24 * time.Hour))
	if a := f.get("/v2/siem/all", interval(f.clock.Now().Add(-time.Hour), f.clock.Now()), &f.cred); a.status != 204 {
		t.Fatalf("24 h after the oldest request: %d", a.status)
	}
	// The People endpoints have a pool each.
	p := newFixture(t, Options{PeopleRequestsPerDay: 2})
	for range 2 {
		p.get("/v2/people/vap", url.Values{"window": {"14"}}, &p.cred)
	}
	if a := p.get("/v2/people/vap", url.Values{"window": {"14"}}, &p.cred); a.status != 429 {
		t.Fatalf("third VAP request: %d", a.status)
	}
	if a := p.get("/v2/people/top-clickers", url.Values{"window": {"14"}}, &p.cred); a.status != 200 {
		t.Fatalf("top clickers: %d", a.status)
	}
}

func TestPeopleAPI(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.GeneratePeople("acme", 5, 2, 1)
	if a := f.get("/v2/people/vap", url.Values{"window": {"7"}}, &f.cred); a.status != 400 || a.body != MsgBadWindow {
		t.Fatalf("bad window: %d %q", a.status, a.body)
	}
	var v struct {
		Users []struct {
			Identity struct {
				GUID   string   `json:"guid"`
				Emails []string `json:"emails"`
			} `json:"identity"`
			ThreatStatistics struct {
				AttackIndex int `json:"attackIndex"`
			} `json:"threatStatistics"`
		} `json:"users"`
		Total    int    `json:"totalVapUsers"`
		Interval string `json:"interval"`
	}
	a := f.get("/v2/people/vap", url.Values{"window": {"30"}, "size": {"2"}, "page": {"3"}}, &f.cred)
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || len(v.Users) != 1 || v.Total != 5 || v.Users[0].Identity.GUID == "" || v.Users[0].ThreatStatistics.AttackIndex == 0 {
		t.Fatalf("%v: %s", err, a.body)
	}
	if !strings.HasPrefix(v.Interval, "2026-01-31T12:00:00Z/") {
		t.Fatalf("interval %q for a 30-day window", v.Interval)
	}
	a = f.get("/v2/people/top-clickers", url.Values{"window": {"14"}}, &f.cred)
	if !strings.Contains(a.body, `"clickStatistics"`) || !strings.Contains(a.body, `"totalTopClickers":2`) {
		t.Fatalf("top clickers %s", a.body)
	}
}

// TestTopClickersPageSizes: top-clicker pages hold 100 users unless asked
// otherwise and at most 200; a larger size is refused or, in the other
// mode, served as 200. A page past the last is empty or, in the other
// mode, refused.
func TestTopClickersPageSizes(t *testing.T) {
	users := func(a answer) int {
		t.Helper()
		var v struct {
			Users []json.RawMessage `json:"users"`
			Total int               `json:"totalTopClickers"`
		}
		if err := json.Unmarshal([]byte(a.body), &v); err != nil || a.status != 200 || v.Total != 250 {
			t.Fatalf("%d %v: %.200s", a.status, err, a.body)
		}
		return len(v.Users)
	}
	f := newFixture(t, Options{})
	f.srv.GeneratePeople("acme", 1200, 250, 1)
	if n := users(f.get("/v2/people/top-clickers", url.Values{"window": {"14"}}, &f.cred)); n != TopClickersDefaultSize {
		t.Fatalf("default top-clicker page: %d users", n)
	}
	if n := users(f.get("/v2/people/top-clickers", url.Values{"window": {"14"}, "size": {"200"}, "page": {"2"}}, &f.cred)); n != 50 {
		t.Fatalf("second page of 200: %d users", n)
	}
	if a := f.get("/v2/people/top-clickers", url.Values{"window": {"14"}, "size": {"201"}}, &f.cred); a.status != 400 || a.body != fmt.Sprintf(MsgSizeTooLarge, TopClickersMaxSize) {
		t.Fatalf("size 201: %d %q", a.status, a.body)
	}
	if a := f.get("/v2/people/vap", url.Values{"window": {"14"}}, &f.cred); !strings.Contains(a.body, `"totalVapUsers":1200`) || strings.Count(a.body, `"guid"`) != 1000 {
		t.Fatalf("default VAP page: %.200s", a.body)
	}
	if a := f.get("/v2/people/top-clickers", url.Values{"window": {"14"}, "size": {"200"}, "page": {"3"}}, &f.cred); a.status != 200 || !strings.Contains(a.body, `"users":[]`) {
		t.Fatalf("past the last page: %d %q", a.status, a.body)
	}
	r := newFixture(t, Options{PeoplePastEnd: PastEndRefused})
	r.srv.GeneratePeople("acme", 1, 250, 1)
	if a := r.get("/v2/people/top-clickers", url.Values{"window": {"14"}, "size": {"200"}, "page": {"3"}}, &r.cred); a.status != 400 || a.body != MsgNoSuchPage {
		t.Fatalf("past the last page, refused: %d %q", a.status, a.body)
	}
	c := newFixture(t, Options{PeopleOversize: OversizeClamp})
	c.srv.GeneratePeople("acme", 1, 250, 1)
	if n := users(c.get("/v2/people/top-clickers", url.Values{"window": {"14"}, "size": {"1000"}}, &c.cred)); n != TopClickersMaxSize {
		t.Fatalf("clamped page: %d users", n)
	}
}

func TestFaultsFireOnceEach(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Generate("acme", Traffic{From: t0.Add(-time.Hour), To: t0, MessagesPerHour: 20, ClicksPerHour: 5, MaxIndexLag: -1})
	q := interval(t0.Add(-time.Hour), t0)
	// Fresh connections: net/http quietly retries a GET whose reused
	// connection broke, which would hide the connection faults.
	client := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, kind := range FaultKinds() {
		f.srv.Inject(Fault{Endpoint: "/v2/siem/all", Kind: kind, Delay: 2 * time.Second})
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v2/siem/all?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(f.cred.Principal+":"+f.cred.Secret)))
		resp, err := client.Do(req)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		var status int
		if resp != nil {
			status = resp.StatusCode
		}
		ok := false
		switch kind {
		case FaultRateLimit, FaultRateLimitNoRetryAfter:
			ok = status == 429 && (kind == FaultRateLimitNoRetryAfter) == (resp.Header.Get("Retry-After") == "")
		case FaultInternalError, FaultAssemblyTimeout, FaultEchoHeaders:
			ok = status == 500 && (kind != FaultEchoHeaders || strings.Contains(string(body), "Authorization: Basic"))
		case FaultBadGateway, FaultHTMLBadGateway:
			ok = status == 502
		case FaultServiceUnavailable:
			ok = status == 503
		case FaultSlow:
			var ne interface{ Timeout() bool }
			ok = errors.As(err, &ne) && ne.Timeout()
		case FaultTruncated:
			ok = status == 200 && !json.Valid(body)
		case FaultShortBody, FaultConnectionReset, FaultConnectionClose:
			ok = err != nil
		case FaultHTMLPage:
			ok = status == 200 && strings.Contains(string(body), "<html>")
		}
		if !ok {
			t.Errorf("%v: status %d err %v body %.80q", kind, status, err, body)
		}
		if f.srv.FaultsFired(kind) != 1 {
			t.Errorf("%v fired %d times", kind, f.srv.FaultsFired(kind))
		}
		if a := f.get("/v2/siem/all", q, &f.cred); a.status != 200 {
			t.Errorf("after %v: %d", kind, a.status)
		}
	}
}

func TestDemo(t *testing.T) {
	d := StartDemo(150)
	defer d.Close()
	f := &fixture{t: t, srv: d.Server, cred: Credentials{d.Principal, d.Secret}}
	if d.Env["PP_BASE_URL"] != d.URL || d.Env["PP_PRINCIPAL"] != d.Principal || d.Env["PP_SECRET"] != d.Secret {
		t.Fatalf("demo env %v", d.Env)
	}
	n := len(d.Server.Events("demo"))
	if n < 100 || n > 250 {
		t.Fatalf("%d events for a demo of about 150", n)
	}
	now := time.Now().UTC().Truncate(time.Second)
	a := f.get("/v2/siem/all", interval(now.Add(-time.Hour), now.Add(-time.Minute)), &f.cred)
	if a.status != 200 || !strings.Contains(a.body, "queryEndTime") {
		t.Fatalf("demo answer %d %.200s", a.status, a.body)
	}
	// Between adds events of the last minutes, visible only now.
	q := interval(now.Add(-15*time.Minute), now.Add(-time.Minute))
	before := f.get("/v2/siem/all", q, &f.cred)
	d.Between()
	after := f.get("/v2/siem/all", q, &f.cred)
	if len(after.body) <= len(before.body) || len(d.Server.Events("demo")) <= n {
		t.Fatal("Between added no late events to a recent window")
	}
}
