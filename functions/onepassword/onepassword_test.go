package onepassword

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

func newCollector(t *testing.T, sim *onepasswordtest.Server, token string, now func() time.Time) *Collector {
	t.Helper()
	hc, err := httpx.New(httpx.Config{BaseBackoff: time.Millisecond, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{BaseURL: sim.URL, HTTP: hc, PageLimit: 100, Now: now}, "default", secrets.Static{FieldBearerToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResetCursorIsSentFlat(t *testing.T) {
	sim := onepasswordtest.New(onepasswordtest.Options{})
	defer sim.Close()
	tok := sim.AddAccount("a", onepasswordtest.Account{Seed: 1})
	sim.Generate("a", onepasswordtest.StreamAuditEvents, 5, time.Now().Add(-3*time.Hour), time.Second)
	c := newCollector(t, sim, tok, nil)
	src := c.NewSource(Streams()[0], Legacy{})
	if err := src.Start(context.Background(), state.Record{}); err != nil {
		t.Fatal(err)
	}
	page, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 5 {
		t.Fatalf("first run of a 24 h lookback got %d of 5 events", len(page.Items))
	}
	var body map[string]any
	json.Unmarshal(sim.Requests()[len(sim.Requests())-1].Body, &body)
	if _, wrapped := body["ResetCursor"]; wrapped || body["limit"] != float64(100) || body["start_time"] == nil {
		t.Fatalf("request body %v: want the documented flat ResetCursor", body)
	}
	// The committed cursor is reused, even though has_more was false.
	var cur Cursor
	json.Unmarshal(page.Cursor, &cur)
	if cur.Cursor == "" || cur.LastTS.IsZero() || page.More {
		t.Fatalf("cursor %+v more %v", cur, page.More)
	}
	src2 := c.NewSource(Streams()[0], Legacy{})
	src2.Start(context.Background(), state.Record{Version: 1, Cursor: page.Cursor})
	sim.Generate("a", onepasswordtest.StreamAuditEvents, 2, time.Now(), time.Second)
	page2, err := src2.Fetch(context.Background())
	if err != nil || len(page2.Items) != 2 {
		t.Fatalf("continuing cursor: %v, %d items", err, len(page2.Items))
	}
	body = nil
	json.Unmarshal(sim.Requests()[len(sim.Requests())-1].Body, &body)
	if len(body) != 1 || body["cursor"] != cur.Cursor {
		t.Fatalf("continuing request body %v", body)
	}
}

func TestLookbackIsClampedTo120Days(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	hc, _ := httpx.New(httpx.Config{})
	c, _ := New(Config{HTTP: hc, Lookback: 400 * 24 * time.Hour, Now: func() time.Time { return now }}, "d", secrets.Static{})
	src := c.NewSource(Streams()[0], Legacy{})
	src.Start(context.Background(), state.Record{})
	body, withCursor := src.requestBody()
	var b struct {
		StartTime time.Time `json:"start_time"`
	}
	json.Unmarshal(body, &b)
	if withCursor || now.Sub(b.StartTime) > MaxLookback {
		t.Fatalf("start_time %v is beyond the API's history", b.StartTime)
	}
}

func TestRestartPointPrefersDeliveredEvents(t *testing.T) {
	hc, _ := httpx.New(httpx.Config{})
	c, _ := New(Config{HTTP: hc}, "d", secrets.Static{})
	last := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	src := c.NewSource(Streams()[0], Legacy{LastPoll: last.Add(time.Hour)})
	src.Start(context.Background(), state.Record{Version: 2, Cursor: json.RawMessage(`{"cursor":"x","last_ts":"2026-03-02T08:00:00Z"}`)})
	if at, _ := src.restartPoint(); !at.Equal(last.Add(-5 * time.Minute)) {
		t.Fatalf("restart at %v", at)
	}
	src = c.NewSource(Streams()[0], Legacy{Cursor: "seed", LastPoll: last})
	src.Start(context.Background(), state.Record{})
	if at, basis := src.restartPoint(); !at.Equal(last.Add(-5*time.Minute)) || !strings.Contains(basis, "seed") {
		t.Fatalf("restart at %v (%s)", at, basis)
	}
	if src.cur.Cursor != "seed" {
		t.Fatal("seed cursor not adopted")
	}
}

func TestAudienceURL(t *testing.T) {
	tok := func(aud string) string {
		return "h." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":`+aud+`}`)) + ".s"
	}
	cases := map[string]string{
		`["events.1password.eu"]`:            "https://events.1password.eu",
		`"https://events.ent.1password.com"`: "https://events.ent.1password.com",
		`["com.1password.streamingservice"]`: "",
		`["events.evil.example"]`:            "",
		`["x","EVENTS.1PASSWORD.CA"]`:        "https://events.1password.ca",
	}
	for aud, want := range cases {
		if got := AudienceURL(tok(aud)); got != want {
			t.Errorf("aud %s: %q, want %q", aud, got, want)
		}
	}
	if AudienceURL("not-a-jwt") != "" {
		t.Error("garbage token")
	}
}

// FuzzDecodePage feeds arbitrary bytes to the page decoder and builds the
// lines of every item it yields. Whatever the input: no panic; every line
// is one valid JSON object within the size and field limits, free of raw
// newlines; and the same input gives the same output.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"cursor":"c1","has_more":true,"items":[{"uuid":"A","timestamp":"2026-03-02T08:15:41.118273645Z","n":null,"s":"","o":{"x":null},"arr":[null,""]},{"uuid":"B"},"notanobject",{"uuid":"C","big":12345678901}]}`))
	f.Add([]byte(`{"cursor":"c","has_more":false,"items":[]}`))
	f.Add([]byte(`{"cursor":"c","has_more":"yes","items":[{}]}`))
	f.Add([]byte(`{"cursor":"c","items":[{"a":"` + strings.Repeat("ü\\n", 300) + `"}]}`))
	f.Add([]byte(`{"items":[{"uuid":"A"}],"cursor":"c"} trailing`))
	// Escaped and NUL-bearing names, invalid UTF-8 keys, a lone surrogate.
	f.Add([]byte(`{"c\u0075rsor":"c","\u0069tems":[{"uuid":"A","event_\u0074ype":"run_summary","wazuh_pul\u006c":{"tenant":"x"},"k\u0000":"v\u0000","s":"\udfff"}],"has_more":false}`))
	f.Add([]byte("{\"cursor\":\"c\",\"items\":[{\"uuid\":\"A\",\"\xff\xfe\":1,\"n\x00\":\"\x00\"}]}"))
	hc, _ := httpx.New(httpx.Config{})
	c, _ := New(Config{HTTP: hc}, "d", secrets.Static{})
	f.Fuzz(func(t *testing.T, body []byte) {
		run := func() ([]byte, error) {
			src := c.NewSource(Streams()[0], Legacy{})
			b, _ := event.NewBuilder(event.Config{Envelope: Envelope(), Meta: event.Meta{Tenant: "d", Stream: "audit", RunID: "r"}, MaxLine: 2048})
			src.scanOpts = b.ScanOptions() // as the pipeline's Fetch context gives them
			page, err := src.decode(append([]byte(nil), body...))
			if err != nil {
				return nil, err
			}
			var out []byte
			for _, it := range page.Items {
				var full []byte
				out, _, _ = b.AppendClassified(out, it.Raw, it.Scan, it.Type, it.Key)
				// The copy path must equal the rebuild path.
				full, _, _ = b.Append(nil, it.Raw, it.Type, it.Key)
				if !bytes.HasSuffix(out, full) {
					t.Fatalf("classified line differs from the rebuilt one:\n%s\n%s", out, full)
				}
			}
			if !json.Valid(page.Cursor) {
				t.Fatalf("cursor to commit is not JSON: %s", page.Cursor)
			}
			return out, nil
		}
		out, err := run()
		if err != nil {
			return
		}
		again, _ := run()
		if !bytes.Equal(out, again) {
			t.Fatal("not deterministic")
		}
		for _, line := range bytes.SplitAfter(out, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			if line[len(line)-1] != '\n' || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("not one whole line: %q", line)
			}
			if len(line)-1 > 2048 {
				t.Fatalf("line of %d bytes", len(line)-1)
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("line is not JSON: %v", err)
			}
			if n := countFields(m); n > event.MaxFields {
				t.Fatalf("%d fields", n)
			}
		}
	})
}

func countFields(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range x {
			n += countFields(e)
		}
		return n
	}
	return 1
}

var _ pipeline.Source = (*Source)(nil)

// Sign-in attempts (session_uuid between uuid and timestamp) take the
// fast path too; a string value that could hide a member does not.
func TestLeadingKeyTime(t *testing.T) {
	for raw, fast := range map[string]bool{
		`{"uuid":"A","timestamp":"2025-03-02T08:15:41.5Z"}`:                                          true,
		`{"uuid":"A","session_uuid":"S","timestamp":"2025-03-02T08:15:41.5Z"}`:                       true,
		`{"uuid":"A","session_uuid":"S\"","timestamp":"2025-03-02T08:15:41.5Z"}`:                     false,
		`{"uuid":"A","s":{"timestamp":"2024-01-01T00:00:00Z"},"timestamp":"2025-03-02T08:15:41.5Z"}`: false,
		`{"uuid":"A","a":"1","b":"2","c":"3","d":"4","e":"5","timestamp":"2025-03-02T08:15:41.5Z"}`:  false,
	} {
		key, ts, ok := leadingKeyTime([]byte(raw))
		if ok != fast {
			t.Errorf("%s: fast path %v, want %v", raw, ok, fast)
		}
		if ok && (key != "A" || !ts.Equal(time.Date(2025, 3, 2, 8, 15, 41, 5e8, time.UTC))) {
			t.Errorf("%s: %q %v", raw, key, ts)
		}
		if k, ts := itemKeyTime([]byte(raw)); k != "A" || ts.Year() != 2025 {
			t.Errorf("%s: itemKeyTime %q %v", raw, k, ts)
		}
	}
}

func FuzzItemKeyTime(f *testing.F) {
	f.Add([]byte(`{"uuid":"A","timestamp":"2025-03-02T08:15:41.118273645Z","x":1}`))
	f.Add([]byte(`{"timestamp":"2025-03-02T08:15:41+02:00","uuid":"B"}`))
	f.Add([]byte(`{"uuid":"A\"B","timestamp":"2025-03-02T08:15:41Z"}`))
	f.Add([]byte(`{"uuid":"A","session_uuid":"S","timestamp":"2025-03-02T07:44:03Z","category":"success"}`))
	f.Add([]byte(`{"uuid":"A","x":"\",\"timestamp\":\"2024-01-01T00:00:00Z","timestamp":"2025-03-02T07:44:03Z"}`))
	f.Add([]byte(`{"uuid":"A","s":{"timestamp":"2024-01-01T00:00:00Z"},"timestamp":"2025-03-02T07:44:03Z"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := jsonscan.Skip(raw); err != nil || len(raw) == 0 || raw[0] != '{' {
			return
		}
		key, ts := itemKeyTime(raw)
		var v struct {
			UUID      string `json:"uuid"`
			Timestamp string `json:"timestamp"`
		}
		if json.Unmarshal(raw, &v) != nil || hasDup(raw) {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, v.Timestamp)
		if key != v.UUID || (err == nil && !ts.Equal(want)) {
			t.Fatalf("%s: key %q ts %v; encoding/json says %q %q", raw, key, ts, v.UUID, v.Timestamp)
		}
	})
}

// hasDup reports a repeated uuid or timestamp member, where the first
// (ours) and the last (encoding/json's) would legitimately differ, or one
// spelled in other case ("timestAmp"), which encoding/json matches and
// 1Password's exact names do not.
func hasDup(raw []byte) bool {
	lower := bytes.ToLower(raw)
	for _, name := range []string{`"uuid"`, `"timestamp"`} {
		if n := bytes.Count(raw, []byte(name)); n > 1 || bytes.Count(lower, []byte(name)) != n {
			return true
		}
	}
	return false
}

// TestUnauthorizedNamesWhereTheTokenComesFrom: the error event of a 401
// tells the operator what to fix in this deployment, the seed's variable
// on a host and the secret's field in Lambda, never the token.
func TestUnauthorizedNamesWhereTheTokenComesFrom(t *testing.T) {
	sim := onepasswordtest.New(onepasswordtest.Options{})
	defer sim.Close()
	sim.AddAccount("a", onepasswordtest.Account{Seed: 1})
	for _, c := range []struct {
		where func(string) string
		want  string
	}{
		{nil, "verify OP_BEARER_TOKEN is correct"},
		{func(f string) string { return `field "` + f + `" of the Secrets Manager secret wp/1password/acme` }, `verify field "bearer_token" of the Secrets Manager secret wp/1password/acme is correct`},
	} {
		hc, _ := httpx.New(httpx.Config{BaseBackoff: time.Millisecond, MaxAttempts: 1})
		coll, err := New(Config{BaseURL: sim.URL, HTTP: hc, Where: c.where}, "acme", secrets.Static{FieldBearerToken: "WRONG-TOKEN-123"})
		if err != nil {
			t.Fatal(err)
		}
		src := coll.NewSource(Streams()[0], Legacy{})
		src.Start(context.Background(), state.Record{})
		_, err = src.Fetch(context.Background())
		if pipeline.CodeOf(err) != pipeline.CodeHTTP401 || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "WRONG-TOKEN") {
			t.Errorf("error %v, want %s saying %q", err, pipeline.CodeHTTP401, c.want)
		}
	}
}

// The source classifies with the options the pipeline gives it, so its
// clean events are copied whatever envelope and epoch fields the run uses
// (it used to hard-code the default envelope's).
func TestPipelineCopiesCleanEvents(t *testing.T) {
	sim := onepasswordtest.New(onepasswordtest.Options{})
	defer sim.Close()
	tok := sim.AddAccount("a", onepasswordtest.Account{Seed: 5})
	sim.Generate("a", onepasswordtest.StreamAuditEvents, 300, time.Now().Add(-2*time.Hour), time.Second)
	for _, env := range []event.Envelope{Envelope(), {Integration: "1password", Namespace: "op", TypeKey: "kind"}} {
		c := newCollector(t, sim, tok, nil)
		var out bytes.Buffer
		r, err := pipeline.New(pipeline.Config{Envelope: env, EpochMillis: []string{"epoch_ms"}, RunID: "r", Sink: &bufSink{buf: &out}})
		if err != nil {
			t.Fatal(err)
		}
		res := r.Run(context.Background(), []pipeline.Stream{{Key: state.Key{Tenant: "default", Vendor: Vendor, Stream: "audit"}, Name: "audit", Source: c.NewBackfill(Streams()[0])}})[0]
		if !res.Success || res.Events != 300 || res.Unclassified != 0 || res.Copied < 100 {
			t.Fatalf("envelope %+v: %+v", env, res)
		}
		if n := strings.Count(out.String(), `"`+env.Type()+`":"audit_event"`); n != 300 {
			t.Fatalf("%d lines carry the event type", n)
		}
	}
}

// bufSink confirms everything into buf.
type bufSink struct{ buf *bytes.Buffer }

func (s *bufSink) Overhead() int                           { return 0 }
func (s *bufSink) Write(_ context.Context, b []byte) error { s.buf.Write(b); return nil }
func (s *bufSink) Confirm(context.Context) error           { return nil }
func (s *bufSink) Close() error                            { return nil }

// A body that never ends (a broken proxy, a hostile server) fails the
// page at MaxResponseBytes with its own error code, after one request.
func TestEndlessResponseFailsAtThePageLimit(t *testing.T) {
	var requests, written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(200)
		w.Write([]byte(`{"cursor":"c","has_more":true,"items":[`))
		event := []byte(`{"uuid":"X","timestamp":"2026-01-01T00:00:00Z","action":"grant"},`)
		for range 4 * MaxResponseBytes / len(event) { // bounded, far past the limit
			n, err := w.Write(event)
			if written.Add(int64(n)); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	hc, err := httpx.New(httpx.Config{BaseBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{BaseURL: srv.URL, HTTP: hc}, "default", secrets.Static{FieldBearerToken: "tok-1234567890"})
	if err != nil {
		t.Fatal(err)
	}
	src := c.NewSource(Streams()[0], Legacy{})
	src.Start(context.Background(), state.Record{})
	_, err = src.Fetch(context.Background())
	var pe *pipeline.Error
	if !errors.As(err, &pe) || pe.Code != pipeline.CodeResponseTooLarge || !strings.Contains(pe.Message, "larger than any valid page") {
		t.Fatalf("err = %v", err)
	}
	if requests.Load() != 1 {
		t.Fatalf("%d requests", requests.Load())
	}
}
