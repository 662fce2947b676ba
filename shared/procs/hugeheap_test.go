package procs

import "testing"

func TestDisableTHP(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                              false,
		"disablethp=1":                  true,
		"gctrace=1,disablethp=1":        true,
		"disablethp=1,gctrace=1":        true,
		"disablethp=0":                  false,
		"disablethp=1,disablethp=0":     false, // the last setting wins
		"xdisablethp=1":                 false,
		"disablethp":                    false,
		"madvdontneed=1,disablethp=1,x": true,
	} {
		if got := THPDisabled(godebug); got != want {
			t.Errorf("GODEBUG=%q: disablethp %v, want %v", godebug, got, want)
		}
	}
	if HugeHeap(func(name string) string {
		if name == "GODEBUG" {
			return "disablethp=1"
		}
		return ""
	}) {
		t.Fatal("GODEBUG=disablethp=1: the heap was advised")
	}
}
