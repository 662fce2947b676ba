package cortexxdr

import (
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

func BenchmarkSkipReply(b *testing.B) {
	page := simReply(b, MaxPageSize, false)
	b.SetBytes(int64(len(page)))
	for i := 0; i < b.N; i++ {
		jsonscan.Skip(page)
	}
}

func BenchmarkStripReply(b *testing.B) {
	page := simReply(b, MaxPageSize, false)
	b.SetBytes(int64(len(page)))
	out := make([]byte, 0, 1<<20)
	opts := Envelope().ScanOptions(EpochMillis())
	for i := 0; i < b.N; i++ {
		out, _, _, _ = jsonscan.Strip(out[:0], page, &opts)
	}
}
