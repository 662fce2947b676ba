package syslog

import (
	"net"
	"syscall"
	"unsafe"
)

// unacked returns how many bytes we sent on c that the peer's TCP stack has
// not acknowledged (SIOCOUTQ, which Linux spells TIOCOUTQ). A peer closing
// after reading everything acknowledges everything in its FIN; a peer that
// closed before our data arrived never does.
func unacked(c *net.TCPConn) (n int, ok bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var v int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(syscall.TIOCOUTQ), uintptr(unsafe.Pointer(&v)))
	}); err != nil || errno != 0 {
		return 0, false
	}
	return int(v), true
}

// pendingError returns (and clears) an error the kernel recorded on c, such
// as ECONNREFUSED from an ICMP port-unreachable for an earlier datagram.
func pendingError(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var soErr int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		soErr, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
	}); err != nil || gerr != nil || soErr == 0 {
		return nil
	}
	return syscall.Errno(soErr)
}
