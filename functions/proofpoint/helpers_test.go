package proofpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/quota"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// lineSink records the lines it confirmed; failConfirm makes the n-th
// confirmation fail (1-based), cancel cancels a context on the n-th write.
type lineSink struct {
	mu                 sync.Mutex
	pending, confirmed bytes.Buffer
	confirms, writes   int
	failConfirm        int
	cancelAt           int
	cancel             context.CancelFunc
}

func (m *lineSink) Overhead() int { return 0 }

func (m *lineSink) Write(ctx context.Context, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.cancelAt > 0 && m.writes == m.cancelAt && m.cancel != nil {
		m.cancel()
	}
	m.pending.Write(b)
	return nil
}

func (m *lineSink) Confirm(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.confirms++
	if m.failConfirm > 0 && m.confirms == m.failConfirm {
		m.pending.Reset()
		return fmt.Errorf("peer reset before confirming")
	}
	m.confirmed.Write(m.pending.Bytes())
	m.pending.Reset()
	return nil
}

func (m *lineSink) Close() error { return nil }

// line is one decoded output line.
type line struct {
	raw string
	pp  map[string]any
}

func (m *lineSink) lines(t testing.TB) []line {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []line
	for _, l := range strings.Split(strings.TrimSuffix(m.confirmed.String(), "\n"), "\n") {
		if l == "" {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line is not JSON: %v: %.200s", err, l)
		}
		if v["integration"] != "proofpoint" || len(v) != 2 {
			t.Fatalf("line outside the seed envelope: %.200s", l)
		}
		pp, ok := v["pp"].(map[string]any)
		if !ok {
			t.Fatalf("no pp object: %.200s", l)
		}
		out = append(out, line{raw: l, pp: pp})
	}
	return out
}

// events splits lines into vendor events (by identity) and error codes.
func events(t testing.TB, lines []line) (map[string]int, []string) {
	t.Helper()
	ids := map[string]int{}
	var errs []string
	for _, l := range lines {
		switch l.pp["event_type"] {
		case "error":
			errs = append(errs, fmt.Sprint(l.pp["error_code"]))
		case "run_summary":
		default:
			id := proofpointtest.LineIdentity(l.pp)
			if id == "" {
				t.Fatalf("unexpected line %.200s", l.raw)
			}
			meta, _ := l.pp["wazuh_pull"].(map[string]any)
			if meta == nil || meta["tenant"] == nil || meta["stream"] != StreamSIEM || len(fmt.Sprint(meta["dedup_key"])) != keyLen {
				t.Fatalf("metadata missing from %.300s", l.raw)
			}
			ids[id]++
		}
	}
	return ids, errs
}

// stateDir is a directory for state files: memory-backed when the host has
// /dev/shm. The file store's code path is the same; only its fsyncs, which
// would otherwise dominate a test that runs a hundred scheduled runs on a
// busy disk, return at once.
func stateDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "proofpoint-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// harness is a simulator on a simulated clock and a state file.
type harness struct {
	t     *testing.T
	clock *proofpointtest.Clock
	sim   *proofpointtest.Server
	cred  proofpointtest.Credentials
	store *filestore.Store
	cfg   Config
	red   *redact.Redactor
	runs  int
	pages int64 // pages delivered by poll
	// attemptTimeout bounds one HTTP attempt (default 10 s).
	attemptTimeout time.Duration
	// maxBody bounds a response body (default httpx's).
	maxBody int64
	// creds overrides the credential source.
	creds secrets.Source
	// seenLimit overrides the pipeline's dedup set size.
	seenLimit int
}

func newHarness(t *testing.T, opts proofpointtest.Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: proofpointtest.NewClock(t0), red: redact.New()}
	opts.Now = h.clock.Now
	h.sim = proofpointtest.New(opts)
	t.Cleanup(h.sim.Close)
	h.cred = h.sim.AddTenant("acme", proofpointtest.Tenant{})
	var err error
	if h.store, err = filestore.New(filepath.Join(stateDir(t), "state.json")); err != nil {
		t.Fatal(err)
	}
	h.cfg = Config{BaseURL: h.sim.URL, Now: h.clock.Now}
	return h
}

func (h *harness) collector() *Collector {
	h.t.Helper()
	timeout := h.attemptTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	hc, err := httpx.New(httpx.Config{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxAttempts: 3, AttemptTimeout: timeout, Redactor: h.red, MaxBody: h.maxBody})
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := h.cfg
	cfg.HTTP = hc
	var creds secrets.Source = secrets.Static{FieldPrincipal: h.cred.Principal, FieldSecret: h.cred.Secret}
	if h.creds != nil {
		creds = h.creds
	}
	c, err := New(cfg, "acme", creds)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// run is one scheduled run of the given streams, as a new process would
// do it: a new collector, sources and Runner on the same state file.
func (h *harness) run(ctx context.Context, out sink.Sink, store state.Store, names ...string) []pipeline.Result {
	h.t.Helper()
	h.runs++
	c := h.collector()
	r, err := pipeline.New(pipeline.Config{Envelope: Envelope(), RunID: fmt.Sprintf("run-%d", h.runs), Store: store, Sink: out, Now: h.clock.Now, Redactor: h.red, SeenLimit: h.seenLimit})
	if err != nil {
		h.t.Fatal(err)
	}
	var streams []pipeline.Stream
	for _, n := range names {
		def, _ := StreamByName(n)
		var src pipeline.Source
		if store == nil {
			src, err = c.NewBackfill(def)
		} else {
			src, err = c.NewSource(def, Legacy{})
		}
		if err != nil {
			h.t.Fatal(err)
		}
		streams = append(streams, pipeline.Stream{Key: state.Key{Tenant: "acme", Vendor: Vendor, Stream: n}, Name: n, Source: src})
	}
	return r.Run(ctx, streams)
}

// stored returns a stream's record.
func (h *harness) stored(stream string) state.Record {
	h.t.Helper()
	l, err := h.store.Lock(context.Background(), state.Key{Tenant: "acme", Vendor: Vendor, Stream: stream}, state.LockOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer l.Release(context.Background())
	rec, err := l.Load(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

func (h *harness) siemCursor() SIEMCursor {
	h.t.Helper()
	var c SIEMCursor
	if err := json.Unmarshal(h.stored(StreamSIEM).Cursor, &c); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// expected lists the identities of the tenant's events that the API
// serves (not false positives).
func (h *harness) expected() map[string]bool {
	out := map[string]bool{}
	for _, e := range h.sim.Events("acme") {
		if e.Status != "falsePositive" {
			out[e.Identity] = true
		}
	}
	return out
}

// exactlyOnce checks that got holds every expected identity once.
func exactlyOnce(t *testing.T, got map[string]int, want map[string]bool) {
	t.Helper()
	missing, dup, extra := 0, 0, 0
	var example string
	for id := range want {
		switch n := got[id]; {
		case n == 0:
			missing++
			example = "missing " + id
		case n > 1:
			dup++
			example = fmt.Sprintf("%s delivered %d times", id, n)
		}
	}
	for id := range got {
		if !want[id] {
			extra++
			example = "unknown " + id
		}
	}
	if missing+dup+extra > 0 {
		t.Fatalf("%d events expected: %d missing, %d duplicated, %d unknown (e.g. %s)", len(want), missing, dup, extra, example)
	}
}

// budget returns the stored SIEM request count.
func (h *harness) budget() *quota.Rolling {
	h.t.Helper()
	b, err := quota.New(SIEMRequestsPerDay, 24*time.Hour, budgetBucket)
	if err != nil {
		h.t.Fatal(err)
	}
	if raw := h.siemCursor().Budget; len(raw) > 0 {
		if err := b.Load(raw, h.clock.Now()); err != nil {
			h.t.Fatal(err)
		}
	}
	return b
}

func jsonUnmarshal(t testing.TB, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
}
