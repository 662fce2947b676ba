//go:build !linux

package stdout

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errNotQueryable means the file is not a pipe whose unread bytes can be
// counted after all.
var errNotQueryable = errors.New("not a queryable pipe")

func growPipe(*os.File, int) int { return 0 }

// unread cannot tell, outside Linux, whether a pipe's reader took what was
// written; confirming anyway could move a cursor past lines that were
// lost, so it says so instead.
func unread(*os.File) (int, error) {
	return 0, fmt.Errorf("confirming that a pipe's reader took the lines needs Linux (this is %s): run the Wazuh wodle on Linux, or write to a terminal, a file or a syslog sink", runtime.GOOS)
}

func readerGone(*os.File) bool { return false }
