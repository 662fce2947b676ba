package cortexxdr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

const testFQDN = "acme.xdr.eu.paloaltonetworks.com"

// recordingSink keeps the lines it confirmed. failConfirm, when set, is
// asked before each confirmation whether it fails (the lines are then
// lost, as on a broken connection).
type recordingSink struct {
	mu          sync.Mutex
	pending     bytes.Buffer
	confirmed   [][]byte
	confirms    int
	failConfirm func(n int) bool
}

func (m *recordingSink) Overhead() int { return 0 }
func (m *recordingSink) Write(ctx context.Context, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending.Write(b)
	return nil
}
func (m *recordingSink) Confirm(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.confirms++
	if m.failConfirm != nil && m.failConfirm(m.confirms) {
		m.pending.Reset()
		return errors.New("connection reset by peer")
	}
	for _, l := range bytes.SplitAfter(m.pending.Bytes(), []byte{'\n'}) {
		if len(l) > 0 {
			m.confirmed = append(m.confirmed, bytes.Clone(l))
		}
	}
	m.pending.Reset()
	return nil
}
func (m *recordingSink) Close() error { return nil }

// line is a decoded event line.
type line struct {
	raw  []byte
	xdr  map[string]any
	meta map[string]any
}

func (l line) typ() string { s, _ := l.xdr["type"].(string); return s }
func (l line) key() string { s, _ := l.meta["dedup_key"].(string); return s }

func (m *recordingSink) lines(t testing.TB) []line {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []line
	for _, raw := range m.confirmed {
		var v map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("line is not JSON: %v: %s", err, raw)
		}
		if v["integration"] != "cortex_xdr" || len(v) != 2 {
			t.Fatalf("envelope is not {integration, xdr}: %s", raw)
		}
		x, ok := v["xdr"].(map[string]any)
		if !ok {
			t.Fatalf("no xdr object: %s", raw)
		}
		meta, _ := x["wazuh_pull"].(map[string]any)
		out = append(out, line{raw: raw, xdr: x, meta: meta})
	}
	return out
}

// env is a simulated tenant with a collector on a shared simulated clock.
type env struct {
	t     testing.TB
	clock *cortexxdrtest.Clock
	sim   *cortexxdrtest.Server
	keyID string
	key   string
	store *filestore.Store
	path  string
	sink  *recordingSink
	red   *redact.Redactor
	cfg   Config
	creds secrets.Credentials
	// confirmPages is the pipeline's ConfirmPages (0: every page, as on
	// stdout; a syslog sink confirms several pages at once).
	confirmPages int
}

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func newEnv(t testing.TB, simOpts cortexxdrtest.Options, tenant cortexxdrtest.Tenant, key cortexxdrtest.Key) *env {
	t.Helper()
	e := &env{t: t, clock: cortexxdrtest.NewClock(t0), sink: &recordingSink{}, red: redact.New()}
	if simOpts.Now == nil {
		simOpts.Now = e.clock.Now
	}
	e.sim = cortexxdrtest.New(simOpts)
	t.Cleanup(e.sim.Close)
	e.sim.AddTenant(testFQDN, tenant)
	e.keyID, e.key = e.sim.AddKey(testFQDN, key)
	e.red.Add(e.key)
	level := SecurityAdvanced
	if key.Standard {
		level = SecurityStandard
	}
	e.creds = secrets.Credentials{FieldFQDN: testFQDN, FieldAPIKeyID: e.keyID, FieldAPIKey: e.key, FieldSecurityLevel: level}
	e.path = filepath.Join(t.TempDir(), "state.json")
	var err error
	if e.store, err = filestore.New(e.path); err != nil {
		t.Fatal(err)
	}
	hc, err := httpx.New(httpx.Config{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxAttempts: 4, Redactor: e.red})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = Config{BaseURL: e.sim.URL, HTTP: hc, Now: e.clock.Now, Sleep: e.clock.Sleep}
	return e
}

func (e *env) collector() *Collector {
	e.t.Helper()
	c, err := New(e.cfg, "default", secrets.Static(e.creds))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) streams(c *Collector, legacy map[string]Legacy, names ...string) []pipeline.Stream {
	if len(names) == 0 {
		names = StreamNames()
	}
	var out []pipeline.Stream
	for _, n := range names {
		def, _ := StreamByName(n)
		out = append(out, pipeline.Stream{Key: state.Key{Tenant: "default", Vendor: Vendor, Stream: n}, Name: n, Source: c.NewSource(def, legacy[n])})
	}
	return out
}

// run is one scheduled run: a fresh collector and Runner on the same state.
func (e *env) run(ctx context.Context, names ...string) []pipeline.Result {
	e.t.Helper()
	return e.runWith(ctx, e.store, pipeline.Budget{}, nil, names...)
}

func (e *env) runWith(ctx context.Context, store state.Store, b pipeline.Budget, legacy map[string]Legacy, names ...string) []pipeline.Result {
	e.t.Helper()
	r, err := pipeline.New(pipeline.Config{
		Envelope: Envelope(), EpochMillis: EpochMillis(), RunID: "run", Store: store, Sink: e.sink,
		Budget: b, Redactor: e.red, Now: e.clock.Now, ConfirmPages: e.confirmPages,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Run(ctx, e.streams(e.collector(), legacy, names...))
}

func mustSucceed(t testing.TB, res []pipeline.Result) {
	t.Helper()
	for _, r := range res {
		if !r.Success {
			t.Fatalf("stream %s failed: stop %s, errors %v", r.Name, r.Stop, r.Errors)
		}
	}
}

// delivered counts event lines by dedup key, per type. It reads only
// those two members (with the validating scanner), so that tests moving
// tens of thousands of events stay fast; the shape of lines is checked by
// the tests that decode them fully.
func delivered(t testing.TB, s *recordingSink) map[string]map[string]int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]int{}
	for _, raw := range s.confirmed {
		typ, key := "", ""
		_, err := jsonscan.Members(raw, func(name, v []byte) error {
			if !jsonscan.Name(name, "xdr") {
				return nil
			}
			_, err := jsonscan.Members(v, func(name, v []byte) error {
				switch {
				case jsonscan.Name(name, "type"):
					typ, _ = jsonscan.String(v)
				case jsonscan.Name(name, "wazuh_pull"):
					if k, ok := jsonField(v, "dedup_key"); ok {
						key, _ = jsonscan.String(k)
					}
				}
				return nil
			})
			return err
		})
		if err != nil || typ == "" {
			t.Fatalf("line without xdr.type: %v: %s", err, raw)
		}
		if out[typ] == nil {
			out[typ] = map[string]int{}
		}
		out[typ][key]++
	}
	return out
}

func errorLines(t testing.TB, s *recordingSink) []line {
	t.Helper()
	only := &recordingSink{}
	s.mu.Lock()
	for _, raw := range s.confirmed {
		if bytes.Contains(raw, []byte(`"type":"error"`)) {
			only.confirmed = append(only.confirmed, raw)
		}
	}
	s.mu.Unlock()
	var out []line
	for _, l := range only.lines(t) {
		if l.typ() == "error" {
			out = append(out, l)
		}
	}
	return out
}

func noSecret(t testing.TB, what string, b []byte, secret string) {
	t.Helper()
	if strings.Contains(string(b), secret) || strings.Contains(string(b), cortexxdrtest.KeyCanary) {
		t.Fatalf("%s contains the API key", what)
	}
}

var PathAlertsForTest = Streams()[0].Path

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// jsonField returns a top-level member's raw value.
func jsonField(obj []byte, name string) ([]byte, bool) {
	var out []byte
	found := false
	jsonscan.Members(obj, func(n, v []byte) error {
		if !found && jsonscan.Name(n, name) {
			out, found = v, true
		}
		return nil
	})
	return out, found
}

// staticCreds are the tenant's credentials with the simulator as base URL,
// for collectors built without env's Config (tests never leave loopback).
func staticCreds(e *env) secrets.Static {
	cr := secrets.Credentials{FieldBaseURL: e.sim.URL}
	for k, v := range e.creds {
		cr[k] = v
	}
	return secrets.Static(cr)
}

// alertsOnceWithoutErrors fails unless every alert of ids was delivered
// exactly once and no error event was.
func alertsOnceWithoutErrors(t testing.TB, e *env, ids []string) {
	t.Helper()
	d := delivered(t, e.sink)
	for _, id := range ids {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times; %d of %d delivered", id, d["alert"][id], len(d["alert"]), len(ids))
		}
	}
	if errs := errorLines(t, e.sink); len(errs) != 0 {
		t.Fatalf("error events %v, want none", errs[0].xdr)
	}
}

// crowdedMillisecond is n alerts inserted at one instant, at, and one more
// a second later, which shows whether collection went on past it.
func crowdedMillisecond(at time.Time, n int) []cortexxdrtest.AlertSpec {
	specs := make([]cortexxdrtest.AlertSpec, n, n+1)
	for i := range specs {
		specs[i] = cortexxdrtest.AlertSpec{Inserted: at}
	}
	return append(specs, cortexxdrtest.AlertSpec{Inserted: at.Add(time.Second)})
}
