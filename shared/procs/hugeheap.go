package procs

import "strings"

// HugeHeap asks the kernel to back the Go heap with transparent huge pages
// where the system leaves that to each process (THP "madvise" mode, the
// default of many distributions): the heap grows into fresh memory page
// after page during a run that lives for seconds, and on a virtual machine
// the first touch of each 4 KiB page is a fault of about 12 µs, where a
// 2 MiB huge page takes one. The heap's address range is advised now and
// again after every garbage collection (the heap grows between them), as
// the runtime maps more of it. It does nothing when GODEBUG has
// disablethp=1 (the runtime's own setting against huge pages for the
// heap), when the system already backs every process with huge pages
// ("always") or never does ("never"), or on a system without them. It
// reports whether the heap is advised. See docs/testing.md, "Huge pages".
//
// Only for a short process that owns its machine's choice (localrun): the
// advice costs a process up to 2 MiB of memory per region it touches a
// little of.
func HugeHeap(getenv func(string) string) bool {
	if THPDisabled(getenv("GODEBUG")) {
		return false
	}
	return adviseHeap()
}

// THPDisabled reports whether a GODEBUG value sets disablethp=1, the Go
// runtime's setting against transparent huge pages for the heap, which
// whatever else asks for huge pages respects too (the last setting of a
// name wins, as for the runtime).
func THPDisabled(godebug string) bool {
	on := false
	for godebug != "" {
		var kv string
		kv, godebug, _ = strings.Cut(godebug, ",")
		if k, v, ok := strings.Cut(kv, "="); ok && k == "disablethp" {
			on = v == "1"
		}
	}
	return on
}
