package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// scanSource serves pages of clean events the way vendor sources read
// them: one jsonscan.ScanArray pass over the page's items. opts picks the
// classification options: the pipeline's (nil func), fixed ones, or none.
type scanSource struct {
	pages, perPage int
	opts           func(ctx context.Context) *jsonscan.Options
	classify       bool
	page           []byte
	served         int
	items          []Item
}

func newScanSource(pages, perPage int) *scanSource {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range perPage {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"uuid":"E%06d","timestamp":"2026-01-01T00:00:00Z","actor":{"name":"Zoë","id":%d},"tags":["a","b"]}`, i, i)
	}
	b.WriteByte(']')
	return &scanSource{pages: pages, perPage: perPage, classify: true, page: b.Bytes()}
}

func (s *scanSource) Start(context.Context, state.Record) error { return nil }

func (s *scanSource) Fetch(ctx context.Context) (*Page, error) {
	opts := ScanOptions(ctx)
	if s.opts != nil {
		opts = s.opts(ctx)
	}
	s.items = s.items[:0]
	if _, err := jsonscan.ScanArray(s.page, opts, func(raw []byte, c jsonscan.Class) error {
		it := Item{Raw: raw, Type: "alert"}
		if s.classify {
			it.Scan = c
		}
		s.items = append(s.items, it)
		return nil
	}); err != nil {
		return nil, err
	}
	s.served++
	cur, _ := json.Marshal(s.served)
	return &Page{Items: s.items, Cursor: cur, More: s.served < s.pages}, nil
}

// An XDR-like envelope (type member "type", an epoch field): options a
// source could easily get wrong.
var xdrEnvelope = event.Envelope{Integration: "cortex_xdr", Namespace: "xdr", TypeKey: "type"}

func runScan(t testing.TB, src *scanSource, logs *strings.Builder) (Result, *memSink) {
	t.Helper()
	sink := &memSink{}
	cfg := Config{Envelope: xdrEnvelope, EpochMillis: []string{"detection_timestamp"}, RunID: "run-1", Sink: sink}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r.Run(context.Background(), []Stream{{Key: state.Key{Tenant: "t", Vendor: "xdr", Stream: "alerts"}, Name: "alerts", Source: src}})[0], sink
}

// A source that takes its options from the pipeline gets the copy path
// whatever the envelope and epoch fields of the run.
func TestSourcesClassifyWithThePipelinesOptions(t *testing.T) {
	res, sink := runScan(t, newScanSource(3, 50), nil)
	if !res.Success || res.Events != 150 || res.Copied != 150 || res.Unclassified != 0 {
		t.Fatalf("result %+v", res)
	}
	checkXDRLines(t, sink, 150)
}

// A source that classifies under its own options (here the default
// envelope's, as the 1Password source used to hard-code), or not at all,
// loses the copy path: its events are still right, and the loss is counted
// and logged once instead of passing unnoticed.
func TestMisclassifiedItemsAreCountedAndLogged(t *testing.T) {
	own := event.ScanOptions(nil)
	for name, src := range map[string]*scanSource{
		"other options":  {opts: func(context.Context) *jsonscan.Options { return &own }, classify: true},
		"no options":     {opts: func(context.Context) *jsonscan.Options { return nil }, classify: true},
		"not classified": {classify: false},
	} {
		t.Run(name, func(t *testing.T) {
			fresh := newScanSource(2, 40)
			fresh.opts, fresh.classify = src.opts, src.classify
			var logs strings.Builder
			res, sink := runScan(t, fresh, &logs)
			if !res.Success || res.Events != 80 || res.Copied != 0 || res.Unclassified != 80 {
				t.Fatalf("result %+v", res)
			}
			if n := strings.Count(logs.String(), "rebuilt instead of copied"); n != 1 {
				t.Fatalf("want one warning, got %d:\n%s", n, logs.String())
			}
			checkXDRLines(t, sink, 80)
		})
	}
}

// checkXDRLines: the vendor's own "type" member is replaced by ours on
// every path.
func checkXDRLines(t *testing.T, sink *memSink, n int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(sink.confirmed.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for _, l := range lines {
		var v struct {
			XDR map[string]any `json:"xdr"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil || v.XDR["type"] != "alert" || strings.Count(l, `"type"`) != 1 {
			t.Fatalf("bad line %s (%v)", l, err)
		}
	}
}

// BenchmarkCopyPath runs clean events through the pipeline and fails when
// they are not copied into their lines: a change that silently turns the
// fast path off (a source classifying under other options, a builder
// refusing the classification) fails here, not only in a slower figure.
func BenchmarkCopyPath(b *testing.B) {
	const perPage = 1000
	src := newScanSource(0, perPage)
	sink := &discardSink{}
	r, err := New(Config{Envelope: xdrEnvelope, EpochMillis: []string{"detection_timestamp"}, RunID: "bench", Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	src.pages = b.N
	b.SetBytes(int64(len(src.page)))
	b.ReportAllocs()
	b.ResetTimer()
	res := r.Run(context.Background(), []Stream{{Key: state.Key{Tenant: "t", Vendor: "xdr", Stream: "alerts"}, Name: "alerts", Source: src}})[0]
	b.StopTimer()
	if want := int64(b.N) * perPage; res.Events != want || res.Copied != want || res.Unclassified != 0 {
		b.Fatalf("clean events were not all copied: %+v", res)
	}
	b.ReportMetric(float64(res.Events)/b.Elapsed().Seconds(), "events/s")
}

// discardSink confirms everything and keeps nothing.
type discardSink struct{}

func (discardSink) Overhead() int                       { return 0 }
func (discardSink) Write(context.Context, []byte) error { return nil }
func (discardSink) Confirm(context.Context) error       { return nil }
func (discardSink) Close() error                        { return nil }
