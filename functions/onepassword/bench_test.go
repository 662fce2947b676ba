package onepassword

import (
	"bytes"
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordbench"
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// simPage builds a 1000-event audit page from the simulator's own bytes.
func simPage(tb testing.TB, n int) []byte {
	tb.Helper()
	sim := onepasswordtest.New(onepasswordtest.Options{})
	defer sim.Close()
	sim.AddAccount("bench", onepasswordtest.Account{Seed: 7})
	sim.Generate("bench", onepasswordtest.StreamAuditEvents, n, time.Now().Add(-time.Hour), time.Millisecond)
	var b bytes.Buffer
	b.WriteString(`{"cursor":"aGVsbG8tc3ludGhldGljLWN1cnNvci0wMDE","has_more":true,"items":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(sim.Event("bench", onepasswordtest.StreamAuditEvents, i))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// BenchmarkTransform measures the hot path, page bytes to Wazuh lines:
// page decoding, dedup-key extraction and line building, on one core.
func BenchmarkTransform(b *testing.B) {
	page := simPage(b, 1000)
	bld, err := event.NewBuilder(event.Config{Envelope: Envelope(), Meta: event.Meta{Tenant: "default", Stream: "audit", RunID: "bench"}, MaxLine: sink.DefaultMaxLine})
	if err != nil {
		b.Fatal(err)
	}
	// What the pipeline hands the source in Fetch (pipeline.ScanOptions).
	src := &Source{def: Streams()[0], c: &Collector{cfg: Config{Overlap: 5 * time.Minute, Now: time.Now}}, scanOpts: bld.ScanOptions()}
	out := make([]byte, 0, 2<<20)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	var ru0, ru1 runtime.MemStats
	runtime.ReadMemStats(&ru0)
	cpu0 := cpuTime()
	b.ResetTimer()
	events, copied := 0, 0
	for i := 0; i < b.N; i++ {
		p, err := src.decode(page)
		if err != nil {
			b.Fatal(err)
		}
		out = out[:0]
		for _, it := range p.Items {
			var info event.Info
			out, info, err = bld.AppendClassified(out, it.Raw, it.Scan, it.Type, it.Key)
			if err != nil {
				b.Fatal(err)
			}
			if it.Scan.Copyable() != info.Copied {
				// Otherwise the figure measures the slow path.
				b.Fatalf("clean=%v but copied=%v: %s", it.Scan.Clean, info.Copied, it.Raw)
			}
			if info.Copied {
				copied++
			}
		}
		events += len(p.Items)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ru1)
	// CPU time, not wall time: the figure must not depend on what else the
	// machine is doing.
	b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
	b.ReportMetric(float64(ru1.Mallocs-ru0.Mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(copied)/float64(events), "copied/event")
	if copied == 0 {
		b.Fatal("no event took the copy path")
	}
	_ = context.Background
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// realisticPage is a 1000-event page of stream s of the realistic
// benchmark tenant (onepasswordbench), as opbenchd serves it.
func realisticPage(s int) []byte {
	g := onepasswordbench.NewGen(1, time.Now().Add(-24*time.Hour), 300*time.Millisecond, 3000)
	b := []byte(`{"cursor":"b3BiMTowOjEwMDA6MTAwMA","has_more":true,"items":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = g.Append(b, s, i)
	}
	return append(b, "]}"...)
}

// BenchmarkTransformRealistic is BenchmarkTransform on the realistic
// events of the whole-process benchmark, per stream: sign-ins carry
// "details":null and take the rebuilding path.
func BenchmarkTransformRealistic(b *testing.B) {
	for s, def := range Streams() {
		b.Run(def.Name, func(b *testing.B) {
			page := realisticPage(s)
			bld, err := event.NewBuilder(event.Config{Envelope: Envelope(), Meta: event.Meta{Tenant: "default", Stream: def.Name, RunID: "20261202T011406Z-4ffe416a"}, MaxLine: sink.DefaultMaxLine})
			if err != nil {
				b.Fatal(err)
			}
			src := &Source{def: def, c: &Collector{cfg: Config{Overlap: 5 * time.Minute, Now: time.Now}}, scanOpts: bld.ScanOptions()}
			out := make([]byte, 0, 2<<20)
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			events, copied := 0, 0
			for b.Loop() {
				p, err := src.decode(page)
				if err != nil {
					b.Fatal(err)
				}
				out = out[:0]
				for _, it := range p.Items {
					var info event.Info
					out, info, err = bld.AppendClassified(out, it.Raw, it.Scan, it.Type, it.Key)
					if err != nil {
						b.Fatal(err)
					}
					if info.Copied {
						copied++
					}
				}
				events += len(p.Items)
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
			b.ReportMetric(float64(copied)/float64(events), "copied/event")
		})
	}
}
