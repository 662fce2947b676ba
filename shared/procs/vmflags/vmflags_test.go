package vmflags

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestHas: a mapping's own flags are found, one it lacks is not, and an
// address no mapping holds is an error.
func TestHas(t *testing.T) {
	b, err := unix.Mmap(-1, 0, 3*4096, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	addr := uintptr(unsafe.Pointer(&b[0]))
	if has, err := Has(addr+4096, "rd"); err != nil || !has {
		t.Fatalf("read-only mapping: rd %v, %v", has, err)
	}
	if has, err := Has(addr, "wr"); err != nil || has {
		t.Fatalf("read-only mapping: wr %v, %v", has, err)
	}
	if err := unix.Munmap(b); err != nil {
		t.Fatal(err)
	}
	if has, err := Has(addr, "rd"); err == nil {
		t.Fatalf("unmapped address: rd %v, no error", has)
	}
}
