package filestore

import (
	"errors"

	"golang.org/x/sys/unix"
)

// syncData makes a file's data durable with the metadata needed to read it
// back (its size, its blocks), which is what the exchange that follows
// relies on; its times are left to the file system's next write-back.
func syncData(fd int) error {
	for {
		if err := unix.Fdatasync(fd); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
