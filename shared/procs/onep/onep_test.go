package onep

import (
	"os"
	"runtime"
	"strconv"
	"testing"
)

// TestInitRanWithTheProcess: this test binary imports the package, so its
// initialiser has run: with GOMAXPROCS unset, the process runs on one P.
func TestInitRanWithTheProcess(t *testing.T) {
	want := 1
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		// Set: the runtime's reading of it stands (a value it cannot
		// read means its default, at most one P per CPU).
		want = 0
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			want = n
		}
	}
	if got := runtime.GOMAXPROCS(0); want > 0 && got != want || want == 0 && got > runtime.NumCPU() {
		t.Fatalf("%d Ps after the package initialiser (GOMAXPROCS=%q)", got, os.Getenv("GOMAXPROCS"))
	}
}

func TestApply(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	apply(func(string) string { return "2" })
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS set: %d Ps, want the runtime's 2 left alone", got)
	}
	apply(func(string) string { return "" })
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS unset: %d Ps, want 1", got)
	}
}
