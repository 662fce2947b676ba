package filestore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// BenchmarkCommit measures one commit of a stream's record, as a run makes
// after every delivered page: the CPU of the whole process per commit
// (user + sys, the fsync calls' share included), with a dedup set the
// size a Cortex XDR window keeps (40 keys) and a busy 1Password stream's
// (1 000). Every commit moves the set on by one key and the cursor, so the
// file's size moves by a few bytes, as a real stream's does.
func BenchmarkCommit(b *testing.B) {
	for _, keys := range []int{40, 1000} {
		b.Run(fmt.Sprintf("seen=%d", keys), func(b *testing.B) {
			s, err := New(filepath.Join(b.TempDir(), "state.json"))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			l, err := s.Lock(ctx, state.Key{Tenant: "default", Vendor: "cortex_xdr", Stream: "alerts"}, state.LockOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Release(ctx)
			at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			seen := make([]state.Seen, keys+b.N)
			for i := range seen {
				seen[i] = state.Seen{Digest: state.KeyDigest(fmt.Sprint(i)), At: at.Add(time.Duration(i) * time.Millisecond)}
			}
			rec := state.Record{}
			var before syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.ResetTimer()
			for i := range b.N {
				// Cursors and keys of varying length, as real ones.
				rec.Cursor = json.RawMessage(fmt.Sprintf(`{"watermark":%d,"offset":%d}`, 1796192837177+i*(i%7), i%1000))
				rec.Seen = seen[i : i+keys]
				if rec.Version, err = l.Commit(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano() - before.Utime.Nano() + after.Stime.Nano() - before.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "CPU-µs/commit")
		})
	}
}
