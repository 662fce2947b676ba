//go:build !linux

package procs

import (
	"errors"
	"time"
)

// CoarseTimers does nothing where the kernel has no per-thread timer
// slack to set.
func CoarseTimers(time.Duration) (int, error) { return 0, errors.ErrUnsupported }
