package prefault

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// populate asks the kernel for the whole pages inside b. It is only a
// hint: a kernel without MADV_POPULATE_WRITE refuses it, and the pages
// are then faulted in as they are written, as without it.
func populate(b []byte) {
	const page = 4096
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := int((page - p%page) % page)
	hi := len(b) - int((p+uintptr(len(b)))%page)
	if hi-lo < page {
		return
	}
	_ = unix.Madvise(b[lo:hi], unix.MADV_POPULATE_WRITE)
}
