package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const targets = `
# package benchmark metric op value
example.com/p  BenchmarkFast          events/s   >= 100   # the fast path
example.com/p  BenchmarkSize          zip-bytes  <  1000
example.com/q  BenchmarkCatchUp/*     events/s   >= 50
`

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCheck(t *testing.T, bench string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run([]string{"-targets", write(t, "targets.txt", targets), write(t, "bench.out", bench)}, &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

const passing = `goos: linux
pkg: example.com/p
BenchmarkFast-2   	     100	     12345 ns/op	       150.5 events/s
BenchmarkSize-2   	       1	  99999999 ns/op	       999 zip-bytes
--- BENCH: BenchmarkSize-2
    bench_test.go:1: a log line
PASS
ok  	example.com/p	1.0s
pkg: example.com/q
BenchmarkCatchUp/backlog=10-2   	1	 5 ns/op	  60 events/s
BenchmarkCatchUp/backlog=100-2  	1	 5 ns/op	  55 events/s
PASS
`

func TestAllTargetsMet(t *testing.T) {
	code, out := runCheck(t, passing)
	if code != 0 || !strings.Contains(out, "all 4 targets met") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestMissedTargetFails(t *testing.T) {
	// One sub-benchmark below its target is enough.
	code, out := runCheck(t, strings.Replace(passing, "  55 events/s", "  49.9 events/s", 1))
	if code != 1 || !strings.Contains(out, "MISSED") || !strings.Contains(out, "BenchmarkCatchUp/backlog=100") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// An upper bound: equal to a strict bound misses it.
	code, out = runCheck(t, strings.Replace(passing, "999 zip-bytes", "1000 zip-bytes", 1))
	if code != 1 || !strings.Contains(out, "MISSED") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestMissingBenchmarkOrMetricFails(t *testing.T) {
	code, out := runCheck(t, strings.Replace(passing, "BenchmarkFast-2", "BenchmarkRenamed-2", 1))
	if code != 1 || !strings.Contains(out, "MISSING (the benchmark did not report)") {
		t.Fatalf("renamed benchmark: exit %d:\n%s", code, out)
	}
	code, out = runCheck(t, strings.Replace(passing, "150.5 events/s", "150.5 other/s", 1))
	if code != 1 || !strings.Contains(out, "MISSING (the metric was not reported)") {
		t.Fatalf("missing metric: exit %d:\n%s", code, out)
	}
	code, out = runCheck(t, strings.Split(passing, "pkg: example.com/q")[0])
	if code != 1 || !strings.Contains(out, "BenchmarkCatchUp/*") {
		t.Fatalf("no sub-benchmark ran: exit %d:\n%s", code, out)
	}
}

func TestFailedBenchmarkRunFails(t *testing.T) {
	code, out := runCheck(t, passing+"--- FAIL: BenchmarkOther-2\nFAIL\texample.com/r\t1.0s\n")
	if code != 1 || !strings.Contains(out, "benchmark run failed: --- FAIL: BenchmarkOther-2") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// A sub-benchmark that fails gets its FAIL on its own name's line; the
// table is still printed and the run fails.
func TestFailedSubBenchmarkOnItsNameLine(t *testing.T) {
	code, out := runCheck(t, passing+"pkg: example.com/r\nBenchmarkIdle/limit=1e+06-2            \t--- FAIL: BenchmarkIdle/limit=1e+06-2\n    bench_test.go:146: held back\n--- FAIL: BenchmarkIdle\nFAIL\n")
	if code != 1 || !strings.Contains(out, "benchmark run failed: --- FAIL: BenchmarkIdle/limit=1e+06-2") || !strings.Contains(out, "BenchmarkFast") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestUnreadableInputIsAnError(t *testing.T) {
	for name, bench := range map[string]string{
		"odd fields":     "pkg: example.com/p\nBenchmarkFast-2  100  12345 ns/op  150.5\n",
		"bad number":     "pkg: example.com/p\nBenchmarkFast-2  100  12345 ns/op  1,5 events/s\n",
		"bad iterations": "pkg: example.com/p\nBenchmarkFast-2  many  12345 ns/op\n",
		"no package":     "BenchmarkFast-2  100  12345 ns/op  150 events/s\n",
	} {
		if code, out := runCheck(t, bench); code != 2 {
			t.Errorf("%s: exit %d, want 2:\n%s", name, code, out)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-targets", write(t, "t.txt", "example.com/p BenchmarkFast events/s => 1\n"), write(t, "b.out", passing)}, &stdout, &stderr); code != 2 {
		t.Errorf("bad operator: exit %d", code)
	}
}

// Whatever go test prints, parsing never panics, and what it accepts has a
// package and a name.
func FuzzParseBench(f *testing.F) {
	f.Add(passing)
	f.Add("pkg: p\nBenchmarkX 1 2 ns/op\n")
	f.Add("BenchmarkX-2\n--- FAIL: BenchmarkX-2\n")
	f.Fuzz(func(t *testing.T, s string) {
		res, _, err := parseBench(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, r := range res {
			if r.Pkg == "" || !strings.HasPrefix(r.Bench, "Benchmark") {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}
