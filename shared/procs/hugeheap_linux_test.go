package procs

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
	"unsafe"

	"github.com/wazuh-pull/wazuh-pull/shared/procs/vmflags"
)

// TestHugeHeap: where the kernel leaves huge pages to each process
// ("madvise"), the heap's mapping takes the advice at once, and a chunk
// the runtime maps later takes it after the next collection; where the
// kernel decides alone, nothing is advised. The checks run in a process
// of their own (this test binary, run again), whose heap is as fresh as
// localrun's: in this one, earlier tests have grown it already.
func TestHugeHeap(t *testing.T) {
	if os.Getenv(hugeHeapChild) != "" {
		checkHugeHeap(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHugeHeap$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), hugeHeapChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the check in a fresh process failed: %v", err)
	}
}

const hugeHeapChild = "WAZUH_PULL_TEST_HUGEHEAP_CHILD"

func checkHugeHeap(t *testing.T) {
	mode := thpMode()
	advised := HugeHeap(func(string) string { return "" })
	early := new([64]byte)
	if mode != "madvise" {
		if advised || vmflags.Of(t, unsafe.Pointer(early), "hg") {
			t.Fatalf("transparent huge pages %q: the heap was advised", mode)
		}
		t.Logf("transparent huge pages %q: nothing advised, as documented", mode)
		return
	}
	if !advised || !vmflags.Of(t, unsafe.Pointer(early), "hg") {
		t.Fatalf("the heap's first mapping is not advised (HugeHeap reported %v)", advised)
	}
	// More than the heap has mapped: the runtime maps a new chunk with a
	// fresh mmap, which does not carry the advice. (No collection yet: the
	// allocation would start one.)
	gcPercent := debug.SetGCPercent(-1)
	big := make([]byte, 64<<20)
	at := unsafe.Pointer(&big[len(big)-1]) // its start may share the first mapping
	fresh := vmflags.Of(t, at, "hg")
	debug.SetGCPercent(gcPercent)
	if fresh {
		t.Fatal("a chunk mapped after the advice has it already: this test no longer shows that the advice must be renewed")
	}
	// The advice follows the next collection, from the finalizer
	// goroutine: each collection gives it another chance to run. The
	// bound is only for a renewal that never comes; a busy machine may
	// keep the finalizer goroutine waiting for a while.
	for start := time.Now(); !vmflags.Of(t, at, "hg"); {
		if time.Since(start) > time.Minute {
			t.Fatal("the heap's new chunk was not advised after its collections")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	runtime.KeepAlive(big)
	t.Logf("first mapping and a later chunk advised")
}
