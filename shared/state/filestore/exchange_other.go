//go:build !linux

package filestore

// exchange is not available here: commits rename the scratch file over
// the state file instead.
func exchange(dirfd int, a, b string) error { return errNoExchange }
