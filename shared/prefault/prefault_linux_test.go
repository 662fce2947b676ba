package prefault

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wazuh-pull/wazuh-pull/shared/procs/vmflags"
)

// mincore fills vec with one byte per page of b, bit 0 set where the page
// is resident (x/sys/unix has no wrapper for it).
func mincore(b, vec []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return errno
	}
	return nil
}

// resident counts the pages of b that are backed by memory.
func resident(t *testing.T, b []byte) int {
	t.Helper()
	vec := make([]byte, (len(b)+4095)/4096)
	if err := mincore(b, vec); err != nil {
		t.Fatalf("mincore: %v", err)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestPopulateBacksEveryPage: on memory never touched (a fresh anonymous
// mapping), Populate backs every page at once and changes no byte.
func TestPopulateBacksEveryPage(t *testing.T) {
	const pages = 512 // 2 MiB
	b, err := unix.Mmap(-1, 0, pages*4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if n := resident(t, b); n != 0 {
		t.Fatalf("a fresh mapping has %d pages resident before any write", n)
	}
	b[0], b[len(b)-1] = 'a', 'z' // two pages touched
	Populate(b)
	if n := resident(t, b); n != pages {
		t.Fatalf("%d of %d pages resident after Populate", n, pages)
	}
	if b[0] != 'a' || b[len(b)-1] != 'z' || b[4096] != 0 {
		t.Fatalf("Populate changed the content")
	}
}

// TestPopulateStaysInsideTheSlice: only the pages wholly inside b are
// asked for, so a slice that starts or ends inside a page never reaches
// memory outside it, and a slice under the threshold is left alone.
func TestPopulateStaysInsideTheSlice(t *testing.T) {
	const pages = 256
	b, err := unix.Mmap(-1, 0, pages*4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	inner := b[4096+100 : (pages-2)*4096+100] // from inside page 1 to inside page 254
	Populate(inner)
	vec := make([]byte, pages)
	if err := mincore(b, vec); err != nil {
		t.Fatal(err)
	}
	for i, v := range vec {
		want := i >= 2 && i <= pages-3 // pages 2 to 253 are wholly inside
		if (v&1 == 1) != want {
			t.Fatalf("page %d resident = %v, want %v", i, v&1 == 1, want)
		}
	}
	small, err := unix.Mmap(-1, 0, Threshold-4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(small)
	Populate(small)
	if n := resident(t, small); n != 0 {
		t.Fatalf("a slice under the threshold had %d pages populated", n)
	}
}

// TestPopulateAdvisesWholeHugeRegions: the 2 MiB regions wholly inside a
// buffer are asked as huge pages before they are populated, nothing
// outside them is, and GODEBUG=disablethp=1 keeps them all to 4 KiB
// pages. (A kernel built without huge pages refuses the advice.)
func TestPopulateAdvisesWholeHugeRegions(t *testing.T) {
	const huge = 2 << 20
	_, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled")
	kernelHasTHP := err == nil
	for _, disabled := range []bool{false, true} {
		if disabled {
			t.Setenv("GODEBUG", "disablethp=1")
		}
		m, err := unix.Mmap(-1, 0, 6*huge, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			t.Fatal(err)
		}
		base := uintptr(unsafe.Pointer(&m[0]))
		// From the middle of the first whole 2 MiB region to the middle
		// of the fourth: the second and third are inside.
		first := int((huge-base%huge)%huge) + huge/2
		b := m[first : first+3*huge]
		Populate(b)
		inside := unsafe.Pointer(&b[huge/2+huge]) // in the third region
		edge := unsafe.Pointer(&b[0])             // the first, half inside
		if got, want := vmflags.Of(t, inside, "hg"), kernelHasTHP && !disabled; got != want {
			t.Errorf("disablethp=%v: a region wholly inside the buffer advised = %v, want %v", disabled, got, want)
		}
		if vmflags.Of(t, edge, "hg") {
			t.Errorf("disablethp=%v: a region only partly inside is advised", disabled)
		}
		if n := resident(t, b[huge/2:huge/2+2*huge]); n != 2*huge/4096 {
			t.Errorf("disablethp=%v: %d of %d pages of the inner regions resident", disabled, n, 2*huge/4096)
		}
		unix.Munmap(m)
	}
}
