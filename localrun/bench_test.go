package main

import (
	"bytes"
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
// show whether memory stays flat as the backlog grows. An op is one whole
// catch-up of the backlog (ns/op is its wall time, simulator included).
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
					n, last := countEvents(b, res.lines)
					events += n
					cpu += time.Duration(res.rusage.Utime.Nano() + res.rusage.Stime.Nano())
					if rss := lastPeakRSS(b, logFile); rss > peak {
						peak = rss
					}
					if last == nil {
						b.Fatalf("run %d did not end with its run_summary", run)
					}
					if last["audit_backlog"] == false {
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
		})
	}
}

// countEvents counts the audit events of a run's output and returns its
// final run_summary. Every line must be whole: an audit event line is
// checked cheaply (the envelope prefix and its uuid), any other line is
// decoded and must be an error event or the run_summary, which must come
// last. Anything else fails the benchmark instead of being skipped.
func countEvents(b *testing.B, lines [][]byte) (events int, summary map[string]any) {
	b.Helper()
	const prefix = `{"integration":"1password","op":{"uuid":"`
	for i, l := range lines {
		if len(l) == 0 || l[len(l)-1] != '\n' {
			b.Fatalf("line %d is not a whole line: %.200q", i, l)
		}
		if rest, ok := bytes.CutPrefix(l, []byte(prefix)); ok {
			if end := bytes.IndexByte(rest, '"'); end <= 0 || !bytes.HasSuffix(l, []byte("}}\n")) {
				b.Fatalf("line %d: malformed event line: %.200q", i, l)
			}
			events++
			continue
		}
		m := decode(b, [][]byte{l})[0]
		switch t := op(m)["event_type"]; t {
		case "run_summary":
			if i != len(lines)-1 {
				b.Fatalf("line %d: run_summary before the end of the run", i)
			}
			summary = op(m)
		case "error":
		default:
			b.Fatalf("line %d: unexpected event type %v: %.200q", i, t, l)
		}
	}
	return events, summary
}
