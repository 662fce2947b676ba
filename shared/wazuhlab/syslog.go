package wazuhlab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// SendOptions shape a send to remoted.
type SendOptions struct {
	// PerSecond paces the lines (0: as fast as the socket takes them).
	// analysisd archives through a bounded queue (16 384 events); a burst
	// larger than it loses records in archives.json, so tests that count
	// archived events pace.
	PerSecond int
}

// SendSyslog sends lines over one TCP connection to remoted, each followed
// by '\n' (remoted's only framing), and closes the connection cleanly. A
// line must not contain '\n'.
func (l *Lab) SendSyslog(ctx context.Context, lines [][]byte, opts SendOptions) error {
	for i, ln := range lines {
		if bytes.IndexByte(ln, '\n') >= 0 {
			return fmt.Errorf("wazuhlab: line %d contains a newline", i)
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Port)))
	if err != nil {
		return fmt.Errorf("wazuhlab: connect to remoted: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	var tick *time.Ticker
	if opts.PerSecond > 0 {
		tick = time.NewTicker(time.Second / time.Duration(opts.PerSecond))
		defer tick.Stop()
	}
	buf := make([]byte, 0, 64<<10)
	for _, ln := range lines {
		buf = append(append(buf[:0], ln...), '\n')
		if _, err := c.Write(buf); err != nil {
			return fmt.Errorf("wazuhlab: send to remoted: %w", err)
		}
		if tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	// A clean close: remoted reads to EOF and keeps every complete line.
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			return fmt.Errorf("wazuhlab: close: %w", err)
		}
		// remoted never writes; it closes once it has read everything.
		var one [1]byte
		c.Read(one[:])
	}
	return ctx.Err()
}
