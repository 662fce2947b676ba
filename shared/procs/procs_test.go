package procs

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestOneUnlessSet(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	OneUnlessSet(func(string) string { return "2" })
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS set: %d Ps, want the runtime's 2 left alone", got)
	}
	OneUnlessSet(func(string) string { return "" })
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS unset: %d Ps, want 1", got)
	}
}

func TestLeanHeapUnlessSet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	LeanHeapUnlessSet(func(string) string { return "100" })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: GC percent %d, want the runtime's 100 left alone", got)
	}
	LeanHeapUnlessSet(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Fatalf("GOGC unset: GC percent %d, want %d", got, GCPercent)
	}
}
