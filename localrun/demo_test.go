package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestDemoRuns keeps the README's first command working: two runs against
// the built-in simulator, the second picking up only what arrived since,
// including a late-arriving event.
func TestDemoRuns(t *testing.T) {
	cmd := exec.Command(binary, "demo")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	var lines [][]byte
	for _, l := range strings.SplitAfter(string(out), "\n") {
		if l != "" {
			lines = append(lines, []byte(l))
		}
	}
	sums := summaries(t, lines)
	if len(sums) != 2 {
		t.Fatalf("%d run summaries, want 2", len(sums))
	}
	if fmt.Sprint(sums[1]["audit_events"]) != "1" || fmt.Sprint(sums[1]["signin_events"]) != "3" {
		t.Fatalf("second run: %v, want exactly the late audit event", sums[1])
	}
	events := 0
	for _, l := range lines {
		if uuidOf(l) != "" {
			events++
		}
	}
	if events < 150 {
		t.Fatalf("only %d events", events)
	}
}
