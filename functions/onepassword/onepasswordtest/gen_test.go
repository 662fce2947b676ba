package onepasswordtest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var uuidRE = regexp.MustCompile(`^[A-Z2-7]{26}$`)

// required lists the fields every generated event of a stream carries
// (docs/1password.md, "Events"); values may still be null or empty.
var required = map[string][]string{
	StreamAuditEvents: {"uuid", "timestamp", "actor_uuid", "actor_details", "actor_type", "account_uuid",
		"action", "object_type", "object_uuid", "session", "location"},
	StreamSignInAttempts: {"uuid", "session_uuid", "timestamp", "category", "type", "country", "details",
		"target_user", "client", "location"},
	StreamItemUsages: {"uuid", "timestamp", "used_version", "vault_uuid", "item_uuid", "action", "user",
		"client", "location"},
}

// allowed is the documented field set per stream; generated events use no other.
var allowed = map[string][]string{
	StreamAuditEvents: {"uuid", "timestamp", "actor_uuid", "actor_details", "actor_type", "actor_account_uuid",
		"account_uuid", "action", "object_type", "object_uuid", "object_details", "aux_id", "aux_uuid",
		"aux_info", "aux_details", "session", "location"},
	StreamSignInAttempts: {"uuid", "session_uuid", "timestamp", "category", "type", "country", "details",
		"target_user", "client", "location", "account_uuid"},
	StreamItemUsages: {"uuid", "timestamp", "used_version", "vault_uuid", "item_uuid", "action", "user",
		"client", "location", "account_uuid"},
}

func TestGeneratedEventsFollowTheSchemas(t *testing.T) {
	s, _, _ := newServer(t, Options{})
	const n = 3000
	start := time.Date(2025, 3, 2, 8, 0, 0, 123456789, time.UTC)
	step := 1234567891 * time.Nanosecond
	for _, stream := range []string{StreamAuditEvents, StreamSignInAttempts, StreamItemUsages} {
		t.Run(stream, func(t *testing.T) {
			s.Generate("acme", stream, n, start, step)
			id, _ := parseStream(stream)
			var nulls, empties, emptyObjects, nonASCII, total int
			seen := make(map[string]bool, n)
			for i := range n {
				raw := s.Event("acme", stream, i)
				total += len(raw)
				if !json.Valid(raw) || !utf8.Valid(raw) {
					t.Fatalf("event %d is not valid JSON/UTF-8: %s", i, raw)
				}
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				for _, f := range required[stream] {
					if _, ok := m[f]; !ok {
						t.Fatalf("event %d lacks %s: %s", i, f, raw)
					}
				}
				for f := range m {
					if !slices.Contains(allowed[stream], f) {
						t.Fatalf("event %d has undocumented field %s", i, f)
					}
				}
				u, _ := m["uuid"].(string)
				if !uuidRE.MatchString(u) || seen[u] {
					t.Fatalf("event %d uuid %q invalid or duplicate", i, u)
				}
				seen[u] = true
				tsStr, _ := m["timestamp"].(string)
				got, err := time.Parse(time.RFC3339Nano, tsStr)
				want := start.Add(time.Duration(i) * step).Truncate(precisionUnit(id))
				if err != nil || !got.Equal(want) || tsStr != want.Format(time.RFC3339Nano) {
					t.Fatalf("event %d timestamp %q, want %s", i, tsStr, want.Format(time.RFC3339Nano))
				}
				if bytes.Contains(raw, []byte(":null")) {
					nulls++
				}
				if bytes.Contains(raw, []byte(`:""`)) {
					empties++
				}
				if bytes.Contains(raw, []byte(`:{}`)) {
					emptyObjects++
				}
				if bytes.ContainsFunc(raw, func(r rune) bool { return r > 127 }) {
					nonASCII++
				}
			}
			avg := total / n
			t.Logf("%s: avg %d bytes; with null %d, empty string %d, {} %d, non-ASCII %d of %d",
				stream, avg, nulls, empties, emptyObjects, nonASCII, n)
			if stream == StreamAuditEvents && (avg < 700 || avg > 800) {
				t.Errorf("audit events average %d bytes, want 700–800", avg)
			}
			for name, c := range map[string]int{"null": nulls, "empty string": empties, "{}": emptyObjects, "non-ASCII": nonASCII} {
				if name == "null" && stream == StreamSignInAttempts {
					// details is null for every non-firewall sign-in, as documented.
					continue
				}
				if c == 0 || c > n/4 {
					t.Errorf("%d of %d events contain %s; want some, at a low rate", c, n, name)
				}
			}
		})
	}
}

func precisionUnit(id streamID) time.Duration {
	switch streamPrecision[id] {
	case 0:
		return time.Second
	case 3:
		return time.Millisecond
	}
	return time.Nanosecond
}

func TestDeterminism(t *testing.T) {
	pageOf := func(seed int64) []byte {
		s, _, _ := newServer(t, Options{})
		tok := s.AddAccount("tenant", Account{Seed: seed})
		for _, st := range []string{StreamAuditEvents, StreamSignInAttempts, StreamItemUsages} {
			s.Generate("tenant", st, 2000, t0.Add(-50*time.Minute), time.Second)
		}
		s.IngestSpecial("tenant", StreamAuditEvents, t0.Add(-time.Minute))
		s.IngestOversized("tenant", StreamAuditEvents, t0.Add(-time.Minute), 0)
		var all []byte
		for _, st := range []string{StreamAuditEvents, StreamSignInAttempts, StreamItemUsages} {
			_, _, b := do(t, s, tok, http.MethodPost, "/api/v2/"+st, `{"limit":1000,"start_time":"2025-03-02T11:00:00Z"}`)
			all = append(all, b...)
			_, _, b = do(t, s, tok, http.MethodPost, "/api/v2/"+st, `{"limit":1000,"start_time":"2025-03-02T11:30:00Z"}`)
			all = append(all, b...)
		}
		return all
	}
	a, b, c := pageOf(7), pageOf(7), pageOf(8)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed produced different bytes")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds produced the same bytes")
	}
}

func TestAppendTimeMatchesRFC3339Nano(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	hi := time.Date(2200, 12, 31, 23, 59, 59, 999999999, time.UTC).UnixNano()
	cases := []int64{0, 1, 999999999, 1e9, time.Date(2000, 2, 29, 23, 59, 59, 5e8, time.UTC).UnixNano(),
		time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC).UnixNano()}
	for range 50000 {
		cases = append(cases, lo+r.Int64N(hi-lo))
	}
	for _, ns := range cases {
		for _, digits := range []int{0, 3, 9} {
			tr := truncNanos(ns, digits)
			want := time.Unix(0, tr).UTC().Format(time.RFC3339Nano)
			if got := string(appendTime(nil, tr, digits)); got != want {
				t.Fatalf("appendTime(%d, %d) = %s, want %s", tr, digits, got, want)
			}
		}
	}
}

func TestIDsAreUniqueAndWellFormed(t *testing.T) {
	g := newGenerator(3, "ACCT")
	seen := make(map[string]bool, 300000)
	for id := range numStreams {
		for seq := range uint64(100000) {
			u := g.eventID(id, seq)
			if !uuidRE.MatchString(u) || seen[u] {
				t.Fatalf("uuid %q (stream %d seq %d) malformed or duplicate", u, id, seq)
			}
			seen[u] = true
		}
	}
}

func TestOversizedEvents(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	fields := map[string]func(map[string]any) string{
		StreamAuditEvents: func(m map[string]any) string { s, _ := m["aux_info"].(string); return s },
		StreamSignInAttempts: func(m map[string]any) string {
			d, _ := m["details"].(map[string]any)
			s, _ := d["value"].(string)
			return s
		},
		StreamItemUsages: func(m map[string]any) string {
			u, _ := m["user"].(map[string]any)
			s, _ := u["name"].(string)
			return s
		},
	}
	for stream, field := range fields {
		s.Generate("acme", stream, 3, t0.Add(-3*time.Minute), time.Second)
		u := s.IngestOversized("acme", stream, t0.Add(-2*time.Minute), 0)
		big := s.IngestOversized("acme", stream, t0.Add(-time.Minute), 300<<10)
		items, _ := drain(t, s, tok, stream, `{}`)
		if len(items) != 5 {
			t.Fatalf("%s: %d items", stream, len(items))
		}
		for i, want := range map[int]int{3: 64<<10 + 1, 4: 300 << 10} {
			raw := items[i]
			if len(raw) < want || !json.Valid(raw) {
				t.Fatalf("%s: oversized event is %d bytes (want ≥ %d) or invalid", stream, len(raw), want)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if f := field(m); len(f) < want/2 || !strings.Contains(f, "李雷 🙂") {
				t.Fatalf("%s: bulk field has %d bytes", stream, len(f))
			}
			if id := m["uuid"]; id != []string{u, big}[i-3] {
				t.Fatalf("%s: uuid %v", stream, id)
			}
		}
	}
}

func TestSpecialEvents(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	for _, stream := range []string{StreamAuditEvents, StreamSignInAttempts, StreamItemUsages} {
		u := s.IngestSpecial("acme", stream, t0.Add(-time.Minute))
		p := fetch(t, s, tok, stream, `{}`)
		if len(p.Items) != 1 {
			t.Fatalf("%s: %d items", stream, len(p.Items))
		}
		raw := []byte(p.Items[0])
		if !bytes.Equal(raw, s.Event("acme", stream, 0)) {
			t.Fatalf("%s: page bytes differ from Event", stream)
		}
		for _, want := range []string{`\n`, `\u0000`, `\u001b`, `\u2028`, `\u003c`, `\"`, `\\`, `:null`, `:""`, `:{}`, `:[]`, "李雷", "🙂"} {
			mustContain(t, raw, want)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", stream, err)
		}
		if m["uuid"] != u {
			t.Fatalf("%s: uuid %v want %s", stream, m["uuid"], u)
		}
	}
}

func TestIngestExplicitEvents(t *testing.T) {
	s, c, tok := newServer(t, Options{})
	s.Ingest("acme", StreamSignInAttempts, []byte(`{
		"uuid": "HG3F4OEWXDTVWKEQDIWTKV26HU", "session_uuid": "UED4KFZ5BH37IQWTJ7LG4VPWK7",
		"timestamp": "2025-03-02T11:44:03Z", "country": "NL", "category": "firewall_failed",
		"type": "country_blocked", "details": {"value": "NL"}}`))
	c.Advance(-10 * time.Minute)
	s.Ingest("acme", StreamSignInAttempts, []byte(`{"uuid":"NOTIMESTAMPXXXXXXXXXXXXXXX"}`)) // filtered at ingestion time
	c.Advance(10 * time.Minute)
	p := fetch(t, s, tok, StreamSignInAttempts, `{}`)
	if got := ids(t, p.Items); !slices.Equal(got, []string{"HG3F4OEWXDTVWKEQDIWTKV26HU", "NOTIMESTAMPXXXXXXXXXXXXXXX"}) {
		t.Fatalf("got %v", got)
	}
	if !bytes.HasPrefix(p.Items[0], []byte(`{"uuid":"HG3F4OEWXDTVWKEQDIWTKV26HU","session_uuid"`)) {
		t.Fatalf("explicit event not compacted verbatim: %s", p.Items[0])
	}
	for _, bad := range []string{`[1]`, `{"uuid":`, ``} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Ingest accepted %q", bad)
				}
			}()
			s.Ingest("acme", StreamSignInAttempts, []byte(bad))
		}()
	}
}

func TestMillionEventBacklogIsCheap(t *testing.T) {
	s, _, tok := newServer(t, Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const step = 360 * time.Millisecond
	start := t0.Add(-1_000_000 * step) // the backlog ends just before t0
	for _, st := range []string{StreamAuditEvents, StreamSignInAttempts, StreamItemUsages} {
		s.Generate("acme", st, 1_000_000, start, step)
	}
	// Serve the last minute: the time filter must not walk the backlog.
	p := fetch(t, s, tok, StreamAuditEvents, `{"limit":1000,"start_time":"2025-03-02T11:59:00Z"}`)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(p.Items) != 166 || p.HasMore {
		t.Fatalf("last minute of the backlog: %d items", len(p.Items))
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d bytes for 3M events", grew)
	if after.HeapAlloc > 50<<20 || grew > 10<<20 {
		t.Fatalf("heap %d bytes (grew %d) after generating 3M events", after.HeapAlloc, grew)
	}
	if n := s.EventCount("acme", StreamAuditEvents); n != 1_000_000 {
		t.Fatalf("EventCount %d", n)
	}
	ids := s.EventIDs("acme", StreamAuditEvents)
	if len(ids) != 1_000_000 || ids[len(ids)-1] != heads(t, p.Items)[len(p.Items)-1].UUID {
		t.Fatal("EventIDs of the backlog disagree with the served page")
	}
	if !bytes.Contains(s.Event("acme", StreamAuditEvents, 999_999), []byte(ids[999_999])) {
		t.Fatal("Event and EventIDs disagree")
	}
}

// BenchmarkServePage measures the server side of one 1000-item audit page
// from the middle of a million-event backlog (generation, cursor, JSON),
// without the network.
func BenchmarkServePage(b *testing.B) {
	s, _, tok := newServer(b, Options{MaxRequestRecords: 1})
	s.Generate("acme", StreamAuditEvents, 1_000_000, t0.Add(-100*time.Hour), 300*time.Millisecond)
	p := fetch(b, s, tok, StreamAuditEvents, `{"limit":1000,"start_time":"2025-03-01T00:00:00Z"}`)
	body := cursorBody(p.Cursor)
	w := &discardWriter{h: make(http.Header)}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/api/v2/auditevents", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req.Body = readCloser{strings.NewReader(body)}
		w.status, w.n = 0, 0
		s.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	b.SetBytes(int64(w.n))
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
