package proofpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// benchBody is one /v2/siem/all answer of about n events from the
// simulator, in its shuffled order.
func benchBody(tb testing.TB, n int) []byte {
	tb.Helper()
	sim := proofpointtest.New(proofpointtest.Options{})
	defer sim.Close()
	sim.AddTenant("bench", proofpointtest.Tenant{})
	// Two thirds messages (a fifth to several recipients), a third clicks.
	sim.Generate("bench", proofpointtest.Traffic{From: t0, To: t0.Add(time.Hour), MessagesPerHour: float64(n) * 0.55, ClicksPerHour: float64(n) / 3, MaxIndexLag: -1, Seed: 7})
	return sim.Body("bench", t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
}

// seedPage is an array of the first dozen events of a simulator answer,
// a realistic seed for the fuzz targets.
func seedPage(tb testing.TB) []byte {
	tb.Helper()
	d := newSIEMDecoder()
	if _, err := d.decode(benchBody(tb, 40)); err != nil {
		tb.Fatal(err)
	}
	var page [][]byte
	for _, it := range d.items[:min(len(d.items), 12)] {
		page = append(page, it.Raw)
	}
	return []byte("[" + string(bytes.Join(page, []byte(","))) + "]")
}

// BenchmarkTransform measures the hot path, a TAP answer to Wazuh lines:
// validation and classification of the page, the canonical-content dedup
// key and time of every event, and line building, on one core.
func BenchmarkTransform(b *testing.B) {
	body := benchBody(b, 2000)
	dec := newSIEMDecoder()
	bld, err := event.NewBuilder(event.Config{Envelope: Envelope(), Meta: event.Meta{Tenant: "default", Stream: StreamSIEM, RunID: "bench"}, MaxLine: sink.DefaultMaxLine})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, 8<<20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	b.ResetTimer()
	events := 0
	for range b.N {
		if _, err := dec.decode(body); err != nil {
			b.Fatal(err)
		}
		out = out[:0]
		for _, it := range dec.items {
			out, _, err = bld.AppendClassified(out, it.Raw, it.Scan, it.Type, it.Key)
			if err != nil {
				b.Fatal(err)
			}
		}
		events += len(dec.items)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	// CPU time, not wall time: the figure must not depend on what else
	// the machine is doing.
	b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(len(body))/float64(len(dec.items)), "bytes/event")
}

// BenchmarkKey measures the canonical-content key alone.
func BenchmarkKey(b *testing.B) {
	body := benchBody(b, 2000)
	dec := newSIEMDecoder()
	if _, err := dec.decode(body); err != nil {
		b.Fatal(err)
	}
	var k keyer
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		it := dec.items[i%len(dec.items)]
		k.key(it.Type, it.Raw)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "keys/CPU-s")
}

// BenchmarkTransformParts splits BenchmarkTransform's time per event
// between its steps, each run alone over the same answer: the one pass
// that validates, classifies and builds the canonical form (fused), and
// SHA-256 over the canonical forms (sha256); and, for the events the
// fused walker declines, the reference way: the validating pass that
// records the tokens (scan), the canonical form built from them
// (canonical).
func BenchmarkTransformParts(b *testing.B) {
	body := benchBody(b, 2000)
	opts := Envelope().ScanOptions(nil)
	type event struct {
		typ  string
		raw  []byte
		toks []jsonscan.Token
	}
	var scan jsonscan.TokenScanner
	eachArray := func(fn func(elem []byte, c jsonscan.Class, toks []jsonscan.Token) error) {
		if _, err := jsonscan.MembersFunc(body, func(name, rest []byte) (int, error) {
			if rest[0] != '[' {
				return jsonscan.Skip(rest)
			}
			scan.Reset()
			return scan.ScanTokens(rest, &opts, fn)
		}); err != nil {
			b.Fatal(err)
		}
	}
	var events []event
	eachArray(func(elem []byte, c jsonscan.Class, toks []jsonscan.Token) error {
		events = append(events, event{TypeMessagesDelivered, elem, slices.Clone(toks)})
		return nil
	})
	var k keyer
	var forms [][]byte
	for _, e := range events {
		if _, ok := k.canonTokens(e.typ, e.raw, e.toks, &scan); !ok {
			b.Fatalf("%s: not canonicalised from its tokens", e.raw)
		}
		forms = append(forms, slices.Clone(k.final))
	}
	perEvent := func(b *testing.B, step func()) {
		cpu0 := cpuTime()
		b.ResetTimer()
		for range b.N {
			step()
		}
		b.StopTimer()
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*len(events)), "ns/event")
	}
	b.Run("fused", func(b *testing.B) {
		var kf keyer
		f := fused{k: &kf, drop: opts.DropTopLevel}
		perEvent(b, func() {
			f.holes = f.holes[:0]
			for _, e := range events {
				if _, _, ok := f.event(e.raw, 0, e.typ, &opts); !ok {
					b.Fatalf("%s: declined by the fused walker", e.raw)
				}
			}
		})
	})
	b.Run("scan", func(b *testing.B) {
		perEvent(b, func() { eachArray(func([]byte, jsonscan.Class, []jsonscan.Token) error { return nil }) })
	})
	b.Run("canonical", func(b *testing.B) {
		perEvent(b, func() {
			for _, e := range events {
				k.canonTokens(e.typ, e.raw, e.toks, &scan)
			}
		})
	})
	b.Run("sha256", func(b *testing.B) {
		perEvent(b, func() {
			for _, f := range forms {
				sha256.Sum256(f)
			}
		})
	})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStateAfterCatchUp catches up 7 days of a tenant with about 200
// events an hour through the real pipeline and file store, then polls it
// every 5 minutes for a day while events keep coming, and reports the
// stored record of the SIEM stream: its size is bounded whatever the
// backlog (position, budget counts, dedup keys of about an hour).
func BenchmarkStateAfterCatchUp(b *testing.B) {
	for range b.N {
		t := &testing.T{}
		h := newHarness(t, proofpointtest.Options{})
		h.cfg.Lookback = MaxAge
		h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-MaxAge), To: t0.Add(24 * time.Hour), MessagesPerHour: 100, ClicksPerHour: 40})
		h.clock.Set(t0.Add(5 * time.Minute))
		res := h.run(context.Background(), &lineSink{}, h.store, StreamSIEM)
		if !res[0].Success {
			b.Fatalf("catch-up %+v", res[0])
		}
		caughtUp := h.stored(StreamSIEM)
		// Then a day of polling every 5 minutes, the steady state.
		for range 288 {
			h.clock.Advance(5 * time.Minute)
			h.run(context.Background(), &lineSink{}, h.store, StreamSIEM)
		}
		rec := h.stored(StreamSIEM)
		fi, err := os.Stat(h.store.Path())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res[0].Events), "catch-up-events")
		b.ReportMetric(float64(len(caughtUp.Cursor)), "catch-up-cursor-bytes")
		b.ReportMetric(float64(len(caughtUp.Seen)), "catch-up-seen-keys")
		b.ReportMetric(float64(len(rec.Cursor)), "cursor-bytes")
		b.ReportMetric(float64(len(rec.Seen)), "seen-keys")
		b.ReportMetric(float64(fi.Size()), "state-file-bytes")
		h.sim.Close()
	}
}
