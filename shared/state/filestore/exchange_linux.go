package filestore

import "golang.org/x/sys/unix"

// exchange swaps the files named a and b in the directory dirfd in one
// atomic step.
func exchange(dirfd int, a, b string) error {
	return unix.Renameat2(dirfd, a, dirfd, b, unix.RENAME_EXCHANGE)
}
