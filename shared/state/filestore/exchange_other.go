//go:build !linux

package filestore

import "errors"

// errNoExchange says this platform cannot exchange two names atomically.
var errNoExchange = errors.New("atomic exchange not supported")

// exchange is not available here: commits rename the scratch file over
// the state file instead.
func exchange(dirfd int, a, b string) error { return errNoExchange }
