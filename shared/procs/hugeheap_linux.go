package procs

import (
	"bytes"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// thpMode is the kernel's transparent huge page setting, the bracketed
// word of /sys/kernel/mm/transparent_hugepage/enabled ("" when unknown).
func thpMode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	i := bytes.IndexByte(b, '[')
	j := bytes.IndexByte(b, ']')
	if i < 0 || j < i {
		return ""
	}
	return string(b[i+1 : j])
}

// heapSpan is how much address space from the heap's first chunk on each
// advice covers: far more than a collector's heap (under 50 MiB), and
// only the parts the runtime has mapped take it.
const heapSpan = 1 << 30

// heapAdvice is the advised range, from the 4 MiB chunk (the unit the
// runtime maps the heap in) that holds an object allocated when HugeHeap
// is called, at the start of main: the heap's first chunk.
type heapAdvice struct{ lo uintptr }

func adviseHeap() bool {
	if thpMode() != "madvise" {
		return false
	}
	a := &heapAdvice{lo: uintptr(unsafe.Pointer(new([64]byte))) &^ (4<<20 - 1)}
	if !a.advise() {
		return false
	}
	a.collapseFirstChunk()
	a.afterNextGC()
	return true
}

// advise marks the mapped part of the range MADV_HUGEPAGE. The kernel
// applies it to every mapping in the range and reports ENOMEM for the
// gaps (address space the runtime has not mapped yet), which is expected.
func (a *heapAdvice) advise() bool {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, a.lo, heapSpan, unix.MADV_HUGEPAGE)
	return errno == 0 || errno == unix.ENOMEM
}

// collapseFirstChunk backs the heap's first chunk with huge pages now:
// the runtime and the package initialisers have touched parts of it
// already, and a region that holds some 4 KiB pages takes no huge page
// on a later fault (each of its untouched pages would fault on its own).
// MADV_COLLAPSE (Linux 6.1) copies the touched pages into huge pages;
// best effort, as the kernel's own collapse is: an older kernel or a
// region it cannot collapse leaves things as they were.
func (a *heapAdvice) collapseFirstChunk() {
	unix.Syscall(unix.SYS_MADVISE, a.lo, 4<<20, unix.MADV_COLLAPSE)
}

// afterNextGC advises the range again once the next collection has run:
// the runtime maps the heap's new chunks with a fresh mmap, which does not
// inherit the advice. A finalizer on an object nothing references runs
// after the collection that finds it unreachable, and arms the next one.
func (a *heapAdvice) afterNextGC() {
	runtime.SetFinalizer(new(gcTick), func(*gcTick) {
		a.advise()
		a.afterNextGC()
	})
}

// gcTick is the object whose collection marks a garbage collection. It
// holds a pointer so that the runtime allocates it on its own: a small
// object without pointers may share a block with others (the tiny
// allocator) and then outlive its collection.
type gcTick struct{ _ *byte }
