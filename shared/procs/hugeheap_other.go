//go:build !linux

package procs

// adviseHeap does nothing where there are no transparent huge pages.
func adviseHeap() bool { return false }
