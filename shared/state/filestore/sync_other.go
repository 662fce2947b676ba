//go:build !linux

package filestore

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncData makes a file durable the way os.File.Sync does on this system
// (on macOS, F_FULLFSYNC), through a duplicate of the descriptor.
func syncData(fd int) error {
	dup, err := unix.Dup(fd)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(dup), "")
	defer f.Close()
	return f.Sync()
}
