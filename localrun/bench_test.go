package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// BenchmarkProcessCatchUp measures the whole localrun process catching up
// a backlog through stdout in wodle-sized runs (--max-bytes 32 MiB): events
// per CPU-second of the process (user + system, from the kernel's
// accounting of the child; the simulator runs in the test process and is
// not counted), and the peak RSS the process reports. Two backlog sizes
// show whether memory stays flat as the backlog grows.
func BenchmarkProcessCatchUp(b *testing.B) {
	for _, total := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("backlog=%d", total), func(b *testing.B) {
			var events int
			var cpu time.Duration
			var peak int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				h := newHarness(b, onepasswordtest.Options{})
				h.env["OP_LOOKBACK_HOURS"] = "200"
				h.sim.Generate("acme", onepasswordtest.StreamAuditEvents, total, time.Now().Add(-100*time.Hour), 100*time.Hour/time.Duration(total))
				logFile := filepath.Join(h.dir, "run.log")
				b.StartTimer()
				for run := 0; ; run++ {
					res := h.run("--source", "audit", "--rate-limit", "-1", "--debug", "1", "--log-file", logFile)
					if res.exit != 0 {
						b.Fatalf("exit %d: %s", res.exit, res.stderr)
					}
					for _, l := range res.lines {
						if uuidOf(l) != "" {
							events++
						}
					}
					cpu += time.Duration(res.rusage.Utime.Nano() + res.rusage.Stime.Nano())
					if rss := lastPeakRSS(b, logFile); rss > peak {
						peak = rss
					}
					if eventType(res.lines[len(res.lines)-1]) == "run_summary" && summaries(b, res.lines[len(res.lines)-1:])[0]["audit_backlog"] == false {
						break
					}
					if run > 100 {
						b.Fatal("did not catch up")
					}
				}
			}
			if events < total*b.N {
				b.Fatalf("delivered %d of %d events", events, total*b.N)
			}
			b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}
