package onepasswordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

func TestListensOnIPv4Loopback(t *testing.T) {
	s, _, _ := newServer(t, Options{})
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("parse URL: %v", err)
	}
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("URL %s, want http://127.0.0.1:port", s.URL)
	}
}

func TestPagingToTheEnd(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 2500, t0.Add(-50*time.Minute), time.Second)

	body := `{"limit":1000}`
	var got []string
	var sizes []int
	var more []bool
	for range 3 {
		p := fetch(t, s, tok, StreamAuditEvents, body)
		got = append(got, ids(t, p.Items)...)
		sizes = append(sizes, len(p.Items))
		more = append(more, p.HasMore)
		body = cursorBody(p.Cursor)
	}
	if !slices.Equal(sizes, []int{1000, 1000, 500}) || !slices.Equal(more, []bool{true, true, false}) {
		t.Fatalf("pages %v has_more %v, want [1000 1000 500] [true true false]", sizes, more)
	}
	if want := s.EventIDs("acme", StreamAuditEvents); !slices.Equal(got, want) {
		t.Fatal("paged uuids differ from EventIDs (order or content)")
	}
	// Caught up: the cursor still works and returns nothing.
	p := fetch(t, s, tok, StreamAuditEvents, body)
	if len(p.Items) != 0 || p.HasMore {
		t.Fatalf("after the end: %d items, has_more %v", len(p.Items), p.HasMore)
	}
}

func TestItemsOldestFirstInIngestionOrder(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamItemUsages, 300, t0.Add(-40*time.Minute), 3*time.Second)
	items, _ := drain(t, s, tok, StreamItemUsages, `{"limit":77}`)
	hs := heads(t, items)
	for i := 1; i < len(hs); i++ {
		if hs[i].Timestamp < hs[i-1].Timestamp {
			t.Fatalf("item %d older than item %d", i, i-1)
		}
	}
	if len(hs) != 300 {
		t.Fatalf("%d items, want 300", len(hs))
	}
}

func TestCursorReuseAfterCaughtUp(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamSignInAttempts, 120, t0.Add(-30*time.Minute), 10*time.Second)
	first, cur := drain(t, s, tok, StreamSignInAttempts, `{"limit":50}`)
	if len(first) != 120 {
		t.Fatalf("first drain: %d items", len(first))
	}

	// Nothing new: same position, empty page, has_more=false.
	p := fetch(t, s, tok, StreamSignInAttempts, cursorBody(cur))
	if len(p.Items) != 0 || p.HasMore {
		t.Fatalf("idle poll returned %d items, has_more %v", len(p.Items), p.HasMore)
	}

	s.Generate("acme", StreamSignInAttempts, 7, t0.Add(time.Minute), time.Second)
	p = fetch(t, s, tok, StreamSignInAttempts, cursorBody(p.Cursor))
	all := s.EventIDs("acme", StreamSignInAttempts)
	if got := ids(t, p.Items); !slices.Equal(got, all[120:]) || p.HasMore {
		t.Fatalf("reused cursor returned %v (has_more %v), want the 7 new events", got, p.HasMore)
	}
	// The page size stays in the cursor: 130 new events come back 50 at a time.
	s.Generate("acme", StreamSignInAttempts, 130, t0.Add(2*time.Minute), time.Second)
	p = fetch(t, s, tok, StreamSignInAttempts, cursorBody(p.Cursor))
	if len(p.Items) != 50 || !p.HasMore {
		t.Fatalf("page size not remembered: %d items", len(p.Items))
	}
}

func TestResetCursorTimeFilter(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	// 180 events, one a minute, from t0-3h to t0-1min.
	s.Generate("acme", StreamAuditEvents, 180, t0.Add(-3*time.Hour), time.Minute)
	all := s.EventIDs("acme", StreamAuditEvents)
	cases := []struct {
		name string
		body string
		want []string
	}{
		{"defaults to the last hour", `{}`, all[120:]},
		{"start_time inclusive", fmt.Sprintf(`{"start_time":%q}`, ts(t0.Add(-90*time.Minute))), all[90:]},
		{"end_time exclusive", fmt.Sprintf(`{"start_time":%q,"end_time":%q}`, ts(t0.Add(-90*time.Minute)), ts(t0.Add(-30*time.Minute))), all[90:150]},
		{"start defaults to an hour before end", fmt.Sprintf(`{"end_time":%q}`, ts(t0.Add(-100*time.Minute))), all[20:80]},
		{"offset timestamps", `{"start_time":"2025-03-02T10:30:00+01:00"}`, all[30:]},
		{"null fields mean absent", `{"limit":null,"start_time":null,"end_time":null}`, all[120:]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, _ := drain(t, s, tok, StreamAuditEvents, c.body)
			if got := ids(t, items); !slices.Equal(got, c.want) {
				t.Fatalf("got %d events, want %d", len(got), len(c.want))
			}
		})
	}

	// The continuing cursor keeps the window: a late event inside it is
	// returned, one after end_time is not.
	body := fmt.Sprintf(`{"start_time":%q,"end_time":%q}`, ts(t0.Add(-3*time.Hour)), ts(t0.Add(-2*time.Hour)))
	_, cur := drain(t, s, tok, StreamAuditEvents, body)
	s.Generate("acme", StreamAuditEvents, 1, t0.Add(-150*time.Minute), 0)
	s.Generate("acme", StreamAuditEvents, 1, t0.Add(-time.Minute), 0)
	p := fetch(t, s, tok, StreamAuditEvents, cursorBody(cur))
	if got := ids(t, p.Items); len(got) != 1 || got[0] != s.EventIDs("acme", StreamAuditEvents)[180] {
		t.Fatalf("bounded cursor returned %v, want only the late in-window event", got)
	}

	for _, bad := range []string{
		`{"start_time":"yesterday"}`,
		`{"start_time":"2025-03-02 10:00:00"}`,
		`{"start_time":1740909600}`,
		fmt.Sprintf(`{"start_time":%q,"end_time":%q}`, ts(t0), ts(t0)),
		fmt.Sprintf(`{"start_time":%q,"end_time":%q}`, ts(t0), ts(t0.Add(-time.Hour))),
	} {
		expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents", bad, http.StatusBadRequest)
	}
}

func TestRetentionIs120Days(t *testing.T) {
	s, c, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 10, t0.Add(-121*24*time.Hour), time.Minute)
	s.Generate("acme", StreamAuditEvents, 10, t0.Add(-119*24*time.Hour), time.Minute)
	items, cur := drain(t, s, tok, StreamAuditEvents, fmt.Sprintf(`{"start_time":%q}`, ts(t0.Add(-200*24*time.Hour))))
	if len(items) != 10 {
		t.Fatalf("%d items, want only the 10 within 120 days", len(items))
	}
	// Events age out of a continuing cursor too.
	s.Generate("acme", StreamAuditEvents, 5, t0.Add(-119*24*time.Hour), time.Minute)
	c.Advance(2 * 24 * time.Hour)
	if p := fetch(t, s, tok, StreamAuditEvents, cursorBody(cur)); len(p.Items) != 0 {
		t.Fatalf("%d expired events served", len(p.Items))
	}
}

func TestLimitValidation(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 1500, t0.Add(-50*time.Minute), time.Second)
	for _, bad := range []string{`0`, `-1`, `1001`, `1.5`, `1e2`, `"10"`, `true`, `[]`, `{}`} {
		e := expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{"limit":`+bad+`}`, http.StatusBadRequest)
		if !strings.Contains(e.Message, "limit") {
			t.Errorf("limit %s: message %q does not name the field", bad, e.Message)
		}
	}
	for body, want := range map[string]int{
		`{"limit":1}`:    1,
		`{"limit":1000}`: 1000,
		`{}`:             DefaultLimit,
		`{"limit":null}`: DefaultLimit,
	} {
		if p := fetch(t, s, tok, StreamAuditEvents, body); len(p.Items) != want {
			t.Errorf("%s: %d items, want %d", body, len(p.Items), want)
		}
	}
}

func TestCursorMustComeAlone(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 10, t0.Add(-5*time.Minute), time.Second)
	p := fetch(t, s, tok, StreamAuditEvents, `{"limit":5}`)
	for _, extra := range []string{`"limit":5`, `"start_time":"2025-03-02T11:00:00Z"`, `"end_time":"2025-03-02T11:00:00Z"`, `"ResetCursor":{}`} {
		body := fmt.Sprintf(`{"cursor":%q,%s}`, p.Cursor, extra)
		expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents", body, http.StatusBadRequest)
	}
	// Alone it works.
	if q := fetch(t, s, tok, StreamAuditEvents, cursorBody(p.Cursor)); len(q.Items) != 5 {
		t.Fatalf("lone cursor: %d items", len(q.Items))
	}
}

func TestInvalidCursors(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	other := s.AddAccount("other", Account{Seed: 7})
	s.Generate("acme", StreamAuditEvents, 10, t0.Add(-5*time.Minute), time.Second)
	audit := fetch(t, s, tok, StreamAuditEvents, `{}`).Cursor
	signin := fetch(t, s, tok, StreamSignInAttempts, `{}`).Cursor
	foreign := fetch(t, s, other, StreamAuditEvents, `{}`).Cursor

	flip := []byte(audit)
	flip[10] ^= 1
	for name, body := range map[string]string{
		"garbage":              cursorBody("aGVsbG8tc3ludGhldGljLWN1cnNvci0wMDE"),
		"tampered":             cursorBody(string(flip)),
		"empty":                `{"cursor":""}`,
		"null":                 `{"cursor":null}`,
		"number":               `{"cursor":5}`,
		"other stream":         cursorBody(signin),
		"other account":        cursorBody(foreign),
		"truncated":            cursorBody(audit[:len(audit)-3]),
		"not base64":           cursorBody("!!!!"),
		"padded or whitespace": cursorBody(audit + "=="),
	} {
		e := expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents", body, http.StatusBadRequest)
		if e.Message != "invalid cursor" {
			t.Errorf("%s: message %q", name, e.Message)
		}
	}
}

func TestUnknownWrapperIsIgnored(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	// 600 events over the last 3 hours: 200 fall in the default 1-hour window.
	s.Generate("acme", StreamAuditEvents, 600, t0.Add(-3*time.Hour), 18*time.Second)
	body := fmt.Sprintf(`{"ResetCursor":{"limit":5,"start_time":%q}}`, ts(t0.Add(-3*time.Hour)))
	p := fetch(t, s, tok, StreamAuditEvents, body)
	if len(p.Items) != DefaultLimit || !p.HasMore {
		t.Fatalf("wrapper: %d items, want the default limit %d", len(p.Items), DefaultLimit)
	}
	if h := heads(t, p.Items)[0]; h.UUID != s.EventIDs("acme", StreamAuditEvents)[400] {
		t.Fatalf("wrapper: first event %s at %s, want the first of the default last hour", h.UUID, h.Timestamp)
	}
}

func TestMalformedRequests(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	for _, body := range []string{`{"limit":`, `[]`, `null`, `"x"`, `{"limit":5}{}`, ` `} {
		expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents", body, http.StatusBadRequest)
	}
	expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents", "", http.StatusBadRequest)
	expectError(t, s, tok, http.MethodGet, "/api/v2/auditevents", "", http.StatusMethodNotAllowed)
	expectError(t, s, tok, http.MethodPut, "/api/v2/itemusages", `{}`, http.StatusMethodNotAllowed)
	expectError(t, s, tok, http.MethodPost, "/api/v2/auth/introspect", `{}`, http.StatusMethodNotAllowed)
	expectError(t, s, tok, http.MethodPost, "/api/v1/auditevents", `{}`, http.StatusNotFound)
	expectError(t, s, tok, http.MethodPost, "/api/v2/auditevents/", `{}`, http.StatusNotFound)

	// Content-Type is documented as required on every POST.
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v2/auditevents", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("missing Content-Type: status %d", resp.StatusCode)
	}
}

func TestAuthentication(t *testing.T) {
	s, c, tok := newServer(t, Options{})
	auditOnly := s.AddToken("acme", Token{Features: []string{StreamAuditEvents}})
	expectError(t, s, "", http.MethodPost, "/api/v2/auditevents", `{}`, http.StatusUnauthorized)
	expectError(t, s, "", http.MethodGet, "/api/v2/auth/introspect", "", http.StatusUnauthorized)
	expectError(t, s, "not-a-token", http.MethodPost, "/api/v2/auditevents", `{}`, http.StatusUnauthorized)
	expectError(t, s, tok+"x", http.MethodPost, "/api/v2/auditevents", `{}`, http.StatusUnauthorized)

	// Only the Bearer scheme is accepted.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v2/auth/introspect", nil)
	req.Header.Set("Authorization", "Token "+tok)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("non-Bearer scheme: %d", resp.StatusCode)
	}

	fetch(t, s, auditOnly, StreamAuditEvents, `{}`)
	expectError(t, s, auditOnly, http.MethodPost, "/api/v2/signinattempts", `{}`, http.StatusUnauthorized)
	expectError(t, s, auditOnly, http.MethodPost, "/api/v2/itemusages", `{}`, http.StatusUnauthorized)

	expiring := s.AddToken("acme", Token{ExpiresAt: t0.Add(time.Hour)})
	fetch(t, s, expiring, StreamItemUsages, `{}`)
	c.Advance(time.Hour)
	expectError(t, s, expiring, http.MethodPost, "/api/v2/itemusages", `{}`, http.StatusUnauthorized)

	s.RevokeToken(tok)
	expectError(t, s, tok, http.MethodGet, "/api/v2/auth/introspect", "", http.StatusUnauthorized)
}

func TestIntrospect(t *testing.T) {
	s, _, _ := newServer(t, Options{})
	issued := time.Date(2025, 1, 14, 9, 12, 44, 0, time.UTC)
	tok := s.AddAccount("msp", Account{Features: []string{StreamSignInAttempts, StreamAuditEvents}, IssuedAt: issued})
	status, h, b := do(t, s, tok, http.MethodGet, "/api/v2/auth/introspect", "")
	if status != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Fatalf("introspect: %d %s", status, b)
	}
	var got struct {
		UUID        string   `json:"uuid"`
		IssuedAt    string   `json:"issued_at"`
		Features    []string `json:"features"`
		AccountUUID string   `json:"account_uuid"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decode introspect: %v", err)
	}
	if len(got.UUID) != 26 || got.IssuedAt != "2025-01-14T09:12:44Z" || got.AccountUUID != s.AccountUUID("msp") ||
		!slices.Equal(got.Features, []string{StreamAuditEvents, StreamSignInAttempts}) {
		t.Fatalf("introspect = %s", b)
	}
}

func TestTokens(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || !strings.HasPrefix(tok, "eyJ") || !strings.Contains(parts[2], TokenCanary) {
		t.Fatalf("generated token %q is not JWT-shaped with the canary in the signature", tok)
	}
	other := s.AddAccount("beta", Account{})
	if other == tok {
		t.Fatal("two accounts share a token")
	}
	const mine = "eyJhbGciOiJFUzI1NiJ9.eyJjYW5hcnkiOiJNWUNBTkFSWSJ9.MYCANARY-sig"
	if got := s.AddAccount("gamma", Account{Token: mine}); got != mine {
		t.Fatalf("explicit token replaced by %q", got)
	}
	fetch(t, s, mine, StreamAuditEvents, `{}`)
}

func TestAccountsAreIsolated(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	tokB := s.AddAccount("beta", Account{Seed: 99, Features: []string{StreamItemUsages}})
	s.Generate("acme", StreamItemUsages, 30, t0.Add(-10*time.Minute), time.Second)
	s.Generate("beta", StreamItemUsages, 5, t0.Add(-10*time.Minute), time.Second)
	a, _ := drain(t, s, tok, StreamItemUsages, `{}`)
	b, _ := drain(t, s, tokB, StreamItemUsages, `{}`)
	if len(a) != 30 || len(b) != 5 {
		t.Fatalf("acme %d events, beta %d", len(a), len(b))
	}
	if !slices.Equal(ids(t, b), s.EventIDs("beta", StreamItemUsages)) {
		t.Fatal("beta served someone else's events")
	}
	if s.AccountUUID("acme") == s.AccountUUID("beta") {
		t.Fatal("accounts share a uuid")
	}
}

func TestLateArrival(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 100, t0.Add(-50*time.Minute), 20*time.Second)

	// Client A persists the cursor; client B remembers the newest timestamp.
	served, cur := drain(t, s, tok, StreamAuditEvents, `{"limit":1000}`)
	hs := heads(t, served)
	lastTS := hs[len(hs)-1].Timestamp

	// An event becomes visible late: higher sequence, older timestamp.
	late := s.GenerateOne("acme", StreamAuditEvents, t0.Add(-45*time.Minute))
	if late != s.EventIDs("acme", StreamAuditEvents)[100] {
		t.Fatal("GenerateOne returned the wrong uuid")
	}

	gotA := ids(t, fetch(t, s, tok, StreamAuditEvents, cursorBody(cur)).Items)
	if !slices.Equal(gotA, []string{late}) {
		t.Fatalf("cursor client got %v, want the late event %s", gotA, late)
	}
	itemsB, _ := drain(t, s, tok, StreamAuditEvents, fmt.Sprintf(`{"start_time":%q}`, lastTS))
	gotB := ids(t, itemsB)
	if slices.Contains(gotB, late) {
		t.Fatal("timestamp-restart client saw the late event; the simulation is too kind")
	}
	if !slices.Equal(gotB, []string{hs[len(hs)-1].UUID}) {
		t.Fatalf("timestamp restart got %v, want just the boundary duplicate", gotB)
	}
}

func TestDescendingTimestamps(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 100, t0.Add(-10*time.Minute), -time.Second)
	items, _ := drain(t, s, tok, StreamAuditEvents, fmt.Sprintf(`{"limit":20,"start_time":%q}`, ts(t0.Add(-10*time.Minute-50*time.Second))))
	if got, want := ids(t, items), s.EventIDs("acme", StreamAuditEvents)[:51]; !slices.Equal(got, want) {
		t.Fatalf("descending run: got %d events, want the first 51 in ingestion order", len(got))
	}
}

func TestSameTimestampBurst(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamSignInAttempts, 2500, t0.Add(-10*time.Minute), 0)
	items, _ := drain(t, s, tok, StreamSignInAttempts, `{"limit":1000}`)
	hs := heads(t, items)
	seen := map[string]bool{}
	for _, h := range hs {
		if h.Timestamp != "2025-03-02T11:50:00Z" {
			t.Fatalf("burst timestamp %s", h.Timestamp)
		}
		seen[h.UUID] = true
	}
	if len(seen) != 2500 {
		t.Fatalf("%d distinct uuids in a burst of 2500", len(seen))
	}
}

func TestRateLimitDefaults(t *testing.T) {
	c := simtest.NewClock(t0)
	s := New(Options{Now: c.Now})
	t.Cleanup(s.Close)
	tok := s.AddAccount("acme", Account{})
	tok2 := s.AddToken("acme", Token{})
	for i := range DefaultRateLimitPerMinute {
		if st := serveDirect(s, tok, http.MethodGet, "/api/v2/auth/introspect", ""); st != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, st)
		}
	}
	status, h, b := do(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{}`)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "" {
		t.Fatalf("request 601: %d Retry-After %q", status, h.Get("Retry-After"))
	}
	mustContain(t, b, `"status":429`)
	// Limits are per token.
	if st := serveDirect(s, tok2, http.MethodGet, "/api/v2/auth/introspect", ""); st != http.StatusOK {
		t.Fatalf("second token limited: %d", st)
	}
	c.Advance(time.Minute)
	if st := serveDirect(s, tok, http.MethodGet, "/api/v2/auth/introspect", ""); st != http.StatusOK {
		t.Fatalf("after the minute window: %d", st)
	}
	// The hourly budget: 30 000 requests over 50 minutes at 600/min.
	for m := 1; m < 50; m++ {
		sent := 0
		if m == 1 {
			sent = 1
		}
		for ; sent < DefaultRateLimitPerMinute; sent++ {
			serveDirect(s, tok, http.MethodGet, "/api/v2/auth/introspect", "")
		}
		c.Advance(time.Minute)
	}
	if st := serveDirect(s, tok, http.MethodGet, "/api/v2/auth/introspect", ""); st != http.StatusTooManyRequests {
		t.Fatalf("request 30 001 in the hour: %d", st)
	}
	c.Advance(10 * time.Minute) // into the next clock hour
	if st := serveDirect(s, tok, http.MethodGet, "/api/v2/auth/introspect", ""); st != http.StatusOK {
		t.Fatalf("next hour: %d", st)
	}
}

func TestRateLimitConfigurable(t *testing.T) {
	c := simtest.NewClock(t0.Add(30 * time.Minute))
	s := New(Options{Now: c.Now, RateLimitPerMinute: -1, RateLimitPerHour: 5, RateLimitRetryAfter: true})
	t.Cleanup(s.Close)
	tok := s.AddAccount("acme", Account{})
	for range 5 {
		fetch(t, s, tok, StreamAuditEvents, `{}`)
	}
	status, h, _ := do(t, s, tok, http.MethodPost, "/api/v2/auditevents", `{}`)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "1800" {
		t.Fatalf("hour limit: %d Retry-After %q, want 429 and 1800", status, h.Get("Retry-After"))
	}

	off := New(Options{Now: c.Now, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	t.Cleanup(off.Close)
	tok = off.AddAccount("acme", Account{})
	for i := range 2000 {
		if st := serveDirect(off, tok, http.MethodGet, "/api/v2/auth/introspect", ""); st != http.StatusOK {
			t.Fatalf("disabled limits: request %d got %d", i, st)
		}
	}
}

func TestRequestLogNeverHoldsTheToken(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	fetch(t, s, tok, StreamAuditEvents, `{"limit":3}`)
	do(t, s, "", http.MethodGet, "/api/v2/auth/introspect", "")
	recs := s.Requests()
	if len(recs) != 2 || s.RequestCount() != 2 {
		t.Fatalf("%d records, count %d", len(recs), s.RequestCount())
	}
	r := recs[0]
	if r.Method != http.MethodPost || r.Path != "/api/v2/auditevents" || string(r.Body) != `{"limit":3}` ||
		!r.HasAuth || r.Status != http.StatusOK || r.Account != "acme" {
		t.Fatalf("record %+v", r)
	}
	if recs[1].HasAuth || recs[1].Status != http.StatusUnauthorized {
		t.Fatalf("record %+v", recs[1])
	}
	if strings.Contains(fmt.Sprintf("%#v", recs), tok) || strings.Contains(fmt.Sprintf("%#v", recs), TokenCanary) {
		t.Fatal("request log contains the token")
	}
	s.ResetRequests()
	if s.RequestCount() != 0 || len(s.Requests()) != 0 {
		t.Fatal("ResetRequests left records")
	}
}

func TestTLS(t *testing.T) {
	s, _, _ := newServer(t, Options{TLS: true})
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL)
	}
	tok := s.AddAccount("tls", Account{})
	s.Generate("tls", StreamAuditEvents, 3, t0.Add(-time.Minute), time.Second)
	if p := fetch(t, s, tok, StreamAuditEvents, `{}`); len(p.Items) != 3 {
		t.Fatalf("%d items over TLS", len(p.Items))
	}
}

func TestCursorSurvivesServerRestart(t *testing.T) {
	s1, _, tok := newServer(t, Options{})
	s1.Generate("acme", StreamAuditEvents, 50, t0.Add(-10*time.Minute), time.Second)
	p := fetch(t, s1, tok, StreamAuditEvents, `{"limit":20}`)
	s1.Close()

	s2, _, tok2 := newServer(t, Options{})
	s2.Generate("acme", StreamAuditEvents, 50, t0.Add(-10*time.Minute), time.Second)
	q := fetch(t, s2, tok2, StreamAuditEvents, cursorBody(p.Cursor))
	if got, want := ids(t, q.Items), s2.EventIDs("acme", StreamAuditEvents)[20:40]; !slices.Equal(got, want) {
		t.Fatal("a cursor from a previous server instance did not resume")
	}
}

func TestConcurrentUse(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	s.Generate("acme", StreamAuditEvents, 1000, t0.Add(-50*time.Minute), 500*time.Millisecond)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items, _ := drain(t, s, tok, StreamAuditEvents, `{"limit":250}`)
			if len(items) < 1000 {
				t.Errorf("reader %d: %d items", g, len(items))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 30 {
			s.Generate("acme", StreamAuditEvents, 10, t0.Add(-time.Minute), time.Millisecond)
			s.IngestSpecial("acme", StreamAuditEvents, t0.Add(-time.Second))
			s.Inject(Fault{Endpoint: StreamSignInAttempts, Kind: FaultInternalError})
			_ = s.Requests()
			_ = s.EventCount("acme", StreamAuditEvents)
			_ = s.FaultsPending()
			if i%10 == 0 {
				_ = s.EventIDs("acme", StreamAuditEvents)
			}
		}
	}()
	wg.Wait()
}

// serveDirect drives the handler without a network round trip, for tests
// that need thousands of requests.
func serveDirect(s *Server, token, method, path, body string) int {
	w := &discardWriter{h: make(http.Header)}
	r, _ := http.NewRequest(method, "http://127.0.0.1"+path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	r.Header.Set("Content-Type", "application/json")
	s.ServeHTTP(w, r)
	return w.status
}

type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
