package prefault

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wazuh-pull/wazuh-pull/shared/procs"
)

// populate asks the kernel for the whole pages inside b, as huge pages
// where b holds whole 2 MiB regions. It is only a hint: a kernel without
// MADV_POPULATE_WRITE refuses it, and the pages are then faulted in as they
// are written, as without it.
func populate(b []byte) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo, hi := whole(p, len(b), 4096)
	if hi-lo < 4096 {
		return
	}
	adviseHuge(b, p)
	_ = unix.Madvise(b[lo:hi], unix.MADV_POPULATE_WRITE)
}

// whole returns the part b[lo:hi] of an n-byte buffer at address p made of
// whole units (aligned unit-sized blocks); hi-lo < unit when there is none.
func whole(p uintptr, n int, unit uintptr) (lo, hi int) {
	lo = int((unit - p%unit) % unit)
	hi = n - int((p+uintptr(n))%unit)
	return lo, hi
}

// adviseHuge marks the 2 MiB regions wholly inside b (at address p)
// MADV_HUGEPAGE, so that populating them takes a huge page each instead
// of 512 pages (on the development VM a quarter of a Proofpoint run's
// faults; docs/testing.md, "Huge pages"). Only regions b covers whole: b
// fills them, so the advice costs no memory b would not use, and none
// outside b. Not under GODEBUG=disablethp=1, the runtime's setting against
// huge pages for the heap.
func adviseHuge(b []byte, p uintptr) {
	const huge = 2 << 20
	lo, hi := whole(p, len(b), huge)
	if hi-lo < huge || procs.THPDisabled(os.Getenv("GODEBUG")) {
		return
	}
	_ = unix.Madvise(b[lo:hi], unix.MADV_HUGEPAGE)
}
