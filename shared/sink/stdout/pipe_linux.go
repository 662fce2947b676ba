package stdout

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errNotQueryable means the file is not a pipe whose unread bytes can be
// counted after all.
var errNotQueryable = errors.New("not a queryable pipe")

// growPipe asks for a larger pipe buffer (failure is harmless) and
// returns the capacity the pipe has, 0 when it cannot tell.
func growPipe(f *os.File, size int) int {
	unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, size)
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// unread returns how many bytes written to the pipe f its reader has not
// taken yet (TIOCINQ, Linux's FIONREAD, works on the write end too).
func unread(f *os.File) (int, error) {
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return 0, errNotQueryable
	}
	return n, err
}

// readerGone reports whether the pipe's read end was closed: whatever it
// did not take will never be taken (poll reports POLLERR on the write end).
func readerGone(f *os.File) bool {
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLOUT}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLERR != 0
}
