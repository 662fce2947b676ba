package procs

import (
	"runtime"
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
