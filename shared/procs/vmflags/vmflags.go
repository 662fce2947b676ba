// Package vmflags tells the kernel's flags of the memory mapping that
// holds an address (Linux, /proc/self/smaps), for tests of what the
// collectors ask of the kernel for their memory, such as huge pages ("hg").
package vmflags

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// Has reports whether the mapping holding addr has flag among its
// VmFlags; an error when no mapping holds it or smaps cannot be read.
func Has(addr uintptr, flag string) (bool, error) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return false, err
	}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		// A mapping's header: "lo-hi perms offset dev inode [path]".
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.Contains(" "+flags+" ", " "+flag+" "), nil
		}
	}
	return false, fmt.Errorf("vmflags: no mapping holds %#x", addr)
}

// Of is Has for tests: the flag for the mapping holding p, failing t when
// it cannot be told.
func Of(t testing.TB, p unsafe.Pointer, flag string) bool {
	t.Helper()
	has, err := Has(uintptr(p), flag)
	if err != nil {
		t.Fatal(err)
	}
	return has
}
