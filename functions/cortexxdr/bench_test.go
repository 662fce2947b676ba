package cortexxdr

import (
	"bytes"
	"regexp"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// simReply builds a get_alerts_multi_events v2 reply of n realistic
// alerts (about 190 members each, half of them null) from the simulator's
// own bytes.
func simReply(tb testing.TB, n int, compact bool) []byte {
	tb.Helper()
	sim := cortexxdrtest.New(cortexxdrtest.Options{})
	defer sim.Close()
	sim.AddTenant(testFQDN, cortexxdrtest.Tenant{Seed: 7, Compact: compact})
	var specs []cortexxdrtest.AlertSpec
	for i := 0; i < n; i++ {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: t0.Add(time.Duration(i) * time.Second)})
	}
	var b bytes.Buffer
	b.WriteString(`{"reply":{"total_count":9999,"result_count":100,"alerts":[`)
	for i, id := range sim.AddAlerts(testFQDN, specs) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(sim.Alert(testFQDN, id))
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

// BenchmarkTransform measures the hot path, reply bytes to Wazuh lines:
// reply decoding (validation and reshaping, once), dedup key and time
// extraction, and line building, on one core, in events per CPU-second.
// Full alerts have the ~190 members of a real v2 alert (about 5 KB, half
// of them null); compact ones the 30-odd main fields (about 1.4 KB).
func BenchmarkTransform(b *testing.B) {
	b.Run("full", func(b *testing.B) { benchTransform(b, simReply(b, MaxPageSize, false)) })
	b.Run("compact", func(b *testing.B) { benchTransform(b, simReply(b, MaxPageSize, true)) })
	b.Run("mixed", func(b *testing.B) { benchTransform(b, mixedReply(b)) })
}

// mixedReply is simReply's full alerts with every other one reshaped the
// way a firewall alert differs from an agent alert: its fw_* members set
// and its actor_* lists null. Consecutive alerts then differ in which
// members are null, which the reshaping's memory of the previous alert
// (jsonscan.Stripper) does not get to reuse.
func mixedReply(tb testing.TB) []byte {
	page := simReply(tb, MaxPageSize, false)
	fwNull := regexp.MustCompile(`("fw_[a-z_]+":)null`)
	actorList := regexp.MustCompile(`("actor_[a-z_]+":)\[[^\]]*\]`)
	start := bytes.Index(page, []byte(`"alerts":[`)) + len(`"alerts":[`)
	var out []byte
	out = append(out, page[:start]...)
	_, err := jsonscan.Elements(page[start-1:], func(alert []byte) error {
		if len(out) > start {
			out = append(out, ',')
		}
		if n := bytes.Count(out, []byte(`"alert_id"`)); n%2 == 1 {
			alert = fwNull.ReplaceAll(alert, []byte(`${1}"fw-value"`))
			alert = actorList.ReplaceAll(alert, []byte(`${1}null`))
		}
		out = append(out, alert...)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, "]}}"...)
}

func benchTransform(b *testing.B, page []byte) {
	d := newDecoder(Streams()[0])
	bld, err := event.NewBuilder(event.Config{Envelope: Envelope(), Meta: event.Meta{Tenant: "default", Stream: "alerts", RunID: "bench"}, MaxLine: sink.DefaultMaxLine, EpochMillis: EpochMillis()})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, 1<<20)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	b.ResetTimer()
	events := 0
	for i := 0; i < b.N; i++ {
		r, err := d.decode(page)
		if err != nil {
			b.Fatal(err)
		}
		out = out[:0]
		for _, it := range r.items {
			if out, _, err = bld.AppendClassified(out, it.Raw, it.Scan, it.Type, it.Key); err != nil {
				b.Fatal(err)
			}
		}
		events += len(r.items)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	// CPU time, not wall time: the figure must not depend on what else the
	// machine is doing.
	b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(len(page))/MaxPageSize, "bytes/event")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
