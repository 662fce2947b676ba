// Package prefault backs a large buffer with memory before it is written.
//
// A collector is a short process: every buffer it fills is memory it
// touches for the first time, and on a virtual machine each 4 KiB page
// touched first costs a fault that traps to the kernel one page at a
// time (12-17 µs of CPU each on the development VM, a fifth of a
// Proofpoint run). Asking the kernel for the pages at once
// (MADV_POPULATE_WRITE, Linux 5.14) costs about 40 % less per page
// (docs/testing.md, "Profiling a run"), and asking for the 2 MiB regions a
// buffer covers whole as transparent huge pages (MADV_HUGEPAGE) takes one
// page for 512 where the kernel leaves huge pages to each process
// (docs/testing.md, "Huge pages").
package prefault

// Threshold is the smallest buffer worth a system call: smaller ones are
// mostly carved from memory the process has already touched, where the
// call would only cost.
const Threshold = 256 << 10

// Populate backs b's pages with memory before b is written, when b is
// large enough to be worth it. b's content is unchanged.
func Populate(b []byte) {
	if len(b) >= Threshold {
		populate(b)
	}
}
