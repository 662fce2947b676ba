package proofpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

func TestAdoptsTheSeedPositionWithTheOverlap(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	seedEnd := t0.Add(-3 * time.Hour)
	// The seed wodle's state file, in its flat layout.
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"siem_cursor":"`+seedEnd.Format(time.RFC3339)+`","people_last_fetch":"2026-03-01T20:00:00.000000+00:00"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := filestore.New(path)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := StreamByName(StreamSIEM)
	v, ok, err := fs.Legacy(def.LegacyKey)
	if err != nil || !ok {
		t.Fatalf("seed key %s: %v %v", def.LegacyKey, ok, err)
	}
	src, _ := h.collector().NewSource(def, Legacy{Value: v})
	if err := src.Start(context.Background(), state.Record{}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := h.sim.Requests()[0]
	if !r.Start.Equal(seedEnd.Add(-DefaultOverlap)) {
		t.Fatalf("first window starts at %v, want the seed's end less the overlap (%v)", r.Start, seedEnd.Add(-DefaultOverlap))
	}
	// A record of ours wins over the seed's key.
	src, _ = h.collector().NewSource(def, Legacy{Value: v})
	cur, _ := json.Marshal(SIEMCursor{Start: t0.Add(-10 * time.Minute)})
	src.Start(context.Background(), state.Record{Version: 4, Cursor: cur})
	src.Fetch(context.Background())
	if r := h.sim.Requests()[1]; !r.Start.Equal(t0.Add(-10 * time.Minute)) {
		t.Fatalf("window starts at %v", r.Start)
	}
}

// TestUnreadableSeedPositionIsReported: a seed position that is not a
// timestamp cannot be adopted; the run starts from the lookback and says
// so with an error event on its first page, since events between the
// seed's real position and the lookback may be missing.
func TestUnreadableSeedPositionIsReported(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	src, _ := h.collector().NewSource(Streams()[0], Legacy{Value: "yesterday-ish"})
	if err := src.Start(context.Background(), state.Record{}); err != nil {
		t.Fatal(err)
	}
	p, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Notices) != 1 || p.Notices[0].Code != pipeline.CodeStateRead || !strings.Contains(p.Notices[0].Detail, `siem_cursor="yesterday-ish"`) {
		t.Fatalf("first page notices %+v, want one STATE_READ_ERROR naming the seed's value", p.Notices)
	}
	lookback := h.cfg.Lookback
	if lookback == 0 {
		lookback = DefaultLookback
	}
	if r := h.sim.Requests()[0]; !r.Start.Equal(t0.Add(-lookback).Truncate(time.Second)) {
		t.Fatalf("first window starts at %v, want the lookback's start", r.Start)
	}
	if p, err := src.Fetch(context.Background()); err != nil || len(p.Notices) != 0 {
		t.Fatalf("second page: %v, notices %+v: the event goes out once", err, p.Notices)
	}
}

func TestBackfillReadsTheLookbackWithoutTouchingState(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.cfg.Lookback = 5 * time.Hour
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-8 * time.Hour), To: t0, MessagesPerHour: 20, ClicksPerHour: 10, MaxIndexLag: -1, Retroactive: -1})
	h.clock.Set(t0.Add(5 * time.Minute))
	sink := &lineSink{}
	res := h.run(context.Background(), sink, nil, StreamSIEM, StreamPeople)
	if !res[0].Success || res[0].CursorAdvanced {
		t.Fatalf("result %+v", res[0])
	}
	got, _ := events(t, sink.lines(t))
	want := map[string]bool{}
	for _, e := range h.sim.Events("acme") {
		if !e.Created.Before(t0.Add(5*time.Minute - 5*time.Hour)) {
			want[e.Identity] = true
		}
	}
	exactlyOnce(t, got, want)
	if _, err := os.Stat(h.store.Path()); err == nil {
		t.Fatal("backfill wrote the state file")
	}
}

func TestBusyWindowsShrinkAndLargeAnswersArePaged(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.cfg.WindowEvents, h.cfg.PageEvents = 60, 25
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-6 * time.Hour), To: t0.Add(2 * time.Hour), MessagesPerHour: 80, ClicksPerHour: 40})
	sink := &lineSink{}
	h.clock.Set(t0)
	h.poll(sink, t0.Add(2*time.Hour+40*time.Minute), 5*time.Minute)
	got, _ := events(t, sink.lines(t))
	exactlyOnce(t, got, h.expected())
	shrunk, maxEvents := false, 0
	for _, r := range h.sim.Requests() {
		if r.End.Sub(r.Start) < 20*time.Minute {
			shrunk = true
		}
		maxEvents = max(maxEvents, r.Events)
	}
	if !shrunk {
		t.Fatal("windows never shrank below 20 minutes for a tenant with 180 events an hour")
	}
	if maxEvents > 3*60 {
		t.Fatalf("a window returned %d events; the target is 60", maxEvents)
	}
	if reqs := int64(len(h.sim.Requests())); h.pages <= reqs {
		t.Fatalf("%d pages for %d requests: answers over 25 events must be split", h.pages, reqs)
	}
}

// Beyond the dedup set's size the overlap's oldest events may come out
// twice; none is lost.
func TestDedupSetOverflowDuplicatesButNeverLoses(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.seenLimit = 20
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0.Add(2 * time.Hour), MessagesPerHour: 60, ClicksPerHour: 30})
	sink := &lineSink{}
	h.poll(sink, t0.Add(2*time.Hour+40*time.Minute), 5*time.Minute)
	got, _ := events(t, sink.lines(t))
	dups := 0
	for id, n := range got {
		if n > 1 {
			dups += n - 1
			got[id] = 1
		}
	}
	exactlyOnce(t, got, h.expected())
	if dups == 0 {
		t.Fatal("a dedup set of 20 keys for ~120 events per overlap produced no duplicates: the test proves nothing")
	}
	t.Logf("%d duplicates with a dedup set of 20", dups)
	rec := h.stored(StreamSIEM)
	if len(rec.Seen) > 20 {
		t.Fatalf("%d keys stored", len(rec.Seen))
	}
}

func TestStoredPositionIsValidated(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	src, _ := h.collector().NewSource(Streams()[0], Legacy{})
	for _, cur := range []string{`{"start":"soon"}`, `{}`, `{"start":"2026-03-09T00:00:00Z"}`, `{"start":"2026-03-01T00:00:00Z","budget":{"b":600,"from":1,"n":[-3]}}`} {
		err := src.Start(context.Background(), state.Record{Version: 2, Cursor: json.RawMessage(cur)})
		if err == nil || !strings.Contains(err.Error(), "STATE_READ_ERROR") {
			t.Errorf("cursor %s: %v", cur, err)
		}
	}
}

func TestDescriptorSettingsAndConfigValidation(t *testing.T) {
	d := Descriptor()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvOverlapMinutes: "45", EnvSafetyLag: "90", EnvPeopleInterval: "3600", EnvPeopleWindow: "30", EnvDailyRequests: "900", EnvBudgetReserve: "50"}
	lookup := func(env map[string]string) func(s *spec.Setting) (string, string) {
		return func(s *spec.Setting) (string, string) { return env[s.Env], s.Env }
	}
	vals, err := d.Resolve(lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := httpx.New(httpx.Config{})
	col, err := d.New(spec.Params{Tenant: "acme", Credentials: secrets.Static{}, HTTP: hc, Settings: vals, Lookback: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := col.(adapter).c.Config()
	if c.Lookback != 48*time.Hour || c.Overlap != 45*time.Minute || c.SafetyLag != 90*time.Second || c.PeopleInterval != time.Hour || c.PeopleWindow != 30 || c.SIEMRequestsPerDay != 900 || c.BudgetReserve != 50 {
		t.Fatalf("config %+v", c)
	}
	if vals, _ = d.Resolve(lookup(nil)); vals.Float(settingOverlap) != 30 || vals.Int(settingSafetyLag) != 120 || vals.Int(settingPeopleEvery) != 86400 {
		t.Fatalf("defaults %v", vals)
	}
	for k, v := range map[string]string{EnvPeopleWindow: "20", EnvOverlapMinutes: "0", EnvSafetyLag: "-1", EnvDailyRequests: "x"} {
		if _, err := d.Resolve(lookup(map[string]string{k: v})); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	if _, err := d.New(spec.Params{Tenant: "acme", Credentials: secrets.Static{}, HTTP: hc, Settings: resolveSettings(t, d, map[string]string{EnvDailyRequests: "100", EnvBudgetReserve: "100"}), Lookback: time.Hour}); err == nil {
		t.Error("a reserve as large as the pool was accepted")
	}
	h := newHarness(t, proofpointtest.Options{})
	for _, bad := range []func(*Config){
		func(c *Config) { c.Window = 2 * time.Hour },
		func(c *Config) { c.Window = 10 * time.Second },
		func(c *Config) { c.BudgetReserve = 1800 },
		func(c *Config) { c.PeopleWindow = 7 },
		func(c *Config) { c.HTTP = nil },
	} {
		cfg := h.collector().Config()
		bad(&cfg)
		if _, err := New(cfg, "acme", secrets.Static{}); err == nil {
			t.Errorf("invalid config accepted: %+v", cfg)
		}
	}
}

func TestCheckReportsCredentialsEndpointsAndBudget(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	sink := &lineSink{}
	h.run(context.Background(), sink, h.store, StreamSIEM) // 25 requests counted
	rep := h.collector().Check(context.Background(), CheckOptions{Stored: map[string]state.Record{StreamSIEM: h.stored(StreamSIEM)}})
	if !rep.OK() || rep.BaseURL != h.sim.URL || len(rep.Streams) != 3 {
		t.Fatalf("report %+v", rep)
	}
	if b := rep.Budgets[0]; b.Pool != "siem" || b.Used != 25 || b.Left != SIEMRequestsPerDay-25 || !b.Refill.Equal(t0) {
		t.Fatalf("budget %+v", b)
	}
	if strings.Contains(fmt.Sprintf("%+v", rep), proofpointtest.SecretCanary) {
		t.Fatal("the report holds a secret")
	}
	h.cred.Secret = "wrong-" + proofpointtest.SecretCanary
	rep = h.collector().Check(context.Background(), CheckOptions{SkipPeople: true})
	if rep.OK() || !strings.Contains(rep.Credentials, "401") || len(rep.Streams) != 1 || strings.Contains(fmt.Sprintf("%+v", rep), proofpointtest.SecretCanary) {
		t.Fatalf("report %+v", rep)
	}
}

func TestTokensFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string, mode os.FileMode) string {
		p := filepath.Join(dir, fmt.Sprint(len(body), mode))
		os.WriteFile(p, []byte(body), mode)
		os.Chmod(p, mode)
		return p
	}
	list, err := ReadTokensFile(write(`{"tenants":[{"name":"client-a","principal":"p","secret":"s"},{"name":"b","principal":"p2","secret":"s2","base_url":"https://x"}]}`, 0o600))
	if err != nil || len(list) != 2 || list[1].Credentials()[FieldBaseURL] != "https://x" {
		t.Fatalf("%+v %v", list, err)
	}
	for _, bad := range []string{`{"tenants":[]}`, `{"tenants":[{"name":"a","principal":"p"}]}`, `{"tenants":[{"name":"a b","principal":"p","secret":"s"}]}`, `{"tenants":[{"name":"a","principal":"p","secret":"TOPSECRET"},{"name":"a","principal":"p","secret":"s"}]}`, `{"tenants":`} {
		_, err := ReadTokensFile(write(bad, 0o600))
		if err == nil || strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := ReadTokensFile(write(`{"tenants":[{"name":"a","principal":"p","secret":"s"}]}`, 0o666)); err == nil {
		t.Error("a world-writable tokens file was accepted")
	}
}

// resolveSettings resolves a descriptor's settings from env.
func resolveSettings(t *testing.T, d spec.Descriptor, env map[string]string) spec.Values {
	t.Helper()
	v, err := d.Resolve(func(s *spec.Setting) (string, string) { return env[s.Env], s.Env })
	if err != nil {
		t.Fatal(err)
	}
	return v
}
