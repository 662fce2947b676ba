package procs

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCoarseTimers: the calling thread always takes the slack; with
// CAP_SYS_NICE (root) every other thread of the process does too, the
// runtime's monitor thread included, and without it the error names the
// refusal.
func TestCoarseTimers(t *testing.T) {
	runtime.LockOSThread() // CoarseTimers then runs on this very thread
	defer runtime.UnlockOSThread()
	defer CoarseTimers(0) // 0: back to each thread's default
	n, err := CoarseTimers(3 * time.Millisecond)
	if own, perr := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); perr != nil || own != 3_000_000 {
		t.Fatalf("calling thread's slack: %d ns (%v), want 3 ms", own, perr)
	}
	if os.Geteuid() != 0 {
		if !errors.Is(err, unix.EPERM) || n != 1 {
			t.Fatalf("without CAP_SYS_NICE: %d threads set, err %v; want 1 and EPERM", n, err)
		}
		return
	}
	tasks, rerr := os.ReadDir("/proc/self/task")
	if rerr != nil {
		t.Fatal(rerr)
	}
	got := map[string]string{}
	for _, task := range tasks {
		// A thread's slack is in its own /proc/<tid> entry.
		b, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns")
		if errors.Is(err, os.ErrNotExist) {
			continue // exited since
		}
		if err != nil {
			t.Fatal(err)
		}
		got[task.Name()] = strings.TrimSpace(string(b))
	}
	if len(got) < 2 {
		t.Fatalf("the test process has %d threads; the runtime's monitor thread at least should be there", len(got))
	}
	for tid, v := range got {
		if v != "3000000" {
			t.Fatalf("as root: %d threads set (err %v), thread %s has slack %s ns; all: %v", n, err, tid, v, got)
		}
	}
	if err != nil || n < len(got) {
		t.Fatalf("as root: %d threads set, err %v, for %d threads", n, err, len(got))
	}
}
