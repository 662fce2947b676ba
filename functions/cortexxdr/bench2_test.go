package cortexxdr

import (
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

// BenchmarkSkipReply validates a page of full alerts without reshaping it:
// the floor under any transform built on jsonscan.
func BenchmarkSkipReply(b *testing.B) {
	page := simReply(b, MaxPageSize, false)
	b.SetBytes(int64(len(page)))
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := jsonscan.Skip(page); err != nil {
			b.Fatal(err)
		}
	}
	reportPerCPU(b, len(page), cpuTime()-cpu0)
}

// BenchmarkStripReply reshapes a page of full alerts in one call.
func BenchmarkStripReply(b *testing.B) {
	page := simReply(b, MaxPageSize, false)
	b.SetBytes(int64(len(page)))
	out := make([]byte, 0, 1<<20)
	opts := Envelope().ScanOptions(EpochMillis())
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		var err error
		if out, _, _, err = jsonscan.Strip(out[:0], page, &opts); err != nil {
			b.Fatal(err)
		}
	}
	reportPerCPU(b, len(page), cpuTime()-cpu0)
}

func reportPerCPU(b *testing.B, pageBytes int, cpu time.Duration) {
	b.ReportMetric(float64(b.N)*float64(pageBytes)/cpu.Seconds()/1e6, "MB/CPU-s")
	b.ReportMetric(float64(b.N)*MaxPageSize/cpu.Seconds(), "alerts/CPU-s")
}
