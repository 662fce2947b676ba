package syslog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// conn is one connection: it carries the lines of one confirmation window.
type conn struct {
	net.Conn              // what we read and write: *tls.Conn, *net.TCPConn or *net.UDPConn
	tcp      *net.TCPConn // the TCP socket under it (nil for UDP)
	tls      *tls.Conn    // nil unless TLS

	// certAsked records that the server requested a client certificate;
	// with haveCert false, a failure is then most likely an mTLS rejection.
	certAsked, haveCert bool

	cw      countingWriter // the bufio.Writer's target, counting what left
	dgram   []byte         // UDP: one datagram being assembled
	written int64          // bytes handed to the kernel, prefix and '\n' included
	lines   int
}

func (c *conn) close() { c.Conn.Close() }

// writeStream frames b into bw and flushes it to the connection: after a nil
// return every byte is in the kernel's send buffer.
func (c *conn) writeStream(ctx context.Context, timeout time.Duration, bw *bufio.Writer, prefix, b []byte) error {
	dl, bound := deadline(ctx, timeout)
	c.SetWriteDeadline(dl)
	defer interruptOnCancel(ctx, c)()
	c.cw = countingWriter{w: c.Conn}
	bw.Reset(&c.cw)
	err := writeFramed(bw, prefix, b)
	if err == nil {
		err = bw.Flush()
	}
	c.written += c.cw.n
	bw.Reset(nil) // drop the reference to the connection
	if err != nil {
		return c.explain(ctxErr(ctx, bound, err))
	}
	return nil
}

// writeDatagrams sends each line of b as one datagram: prefix + line, no '\n'.
func (c *conn) writeDatagrams(ctx context.Context, timeout time.Duration, prefix, b []byte) error {
	dl, bound := deadline(ctx, timeout)
	c.SetWriteDeadline(dl)
	defer interruptOnCancel(ctx, c)()
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i > 0 {
			c.dgram = append(append(c.dgram[:0], prefix...), b[:i]...)
			n, err := c.Write(c.dgram)
			c.written += int64(n)
			if err != nil {
				return ctxErr(ctx, bound, err)
			}
		}
		b = b[i+1:]
	}
	return nil
}

// confirm proves receipt of everything written on c. The peer (remoted,
// rsyslog) closes its side only after reading all we sent, so: half-close,
// read until its EOF, then check that its TCP stack acknowledged every byte
// (a peer that closed without reading, e.g. an mTLS rejection under TLS
// 1.3 racing our data, would otherwise look like success).
func (c *conn) confirm(ctx context.Context, timeout time.Duration, log *slog.Logger) error {
	if c.tcp == nil {
		return c.confirmDatagrams()
	}
	dl, bound := deadline(ctx, timeout)
	c.SetDeadline(dl)
	defer interruptOnCancel(ctx, c)()
	if c.tls != nil {
		// close_notify: rsyslog reads it as the end of the stream.
		if err := c.tls.CloseWrite(); err != nil {
			return c.explain(ctxErr(ctx, bound, fmt.Errorf("sending TLS close_notify: %w", err)))
		}
	}
	// TCP FIN as well: remoted (plain TCP) and TLS terminators that only
	// watch the socket see the end of the stream.
	if err := c.tcp.CloseWrite(); err != nil {
		return c.explain(ctxErr(ctx, bound, fmt.Errorf("half-closing: %w", err)))
	}
	var buf [512]byte
	var unexpected int64
	for {
		n, err := c.Read(buf[:])
		unexpected += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if isTimeout(err) && ctx.Err() == nil && !bound {
				return c.explain(fmt.Errorf("the peer did not close within the confirm timeout (%v): %w", timeout, err))
			}
			return c.explain(ctxErr(ctx, bound, fmt.Errorf("waiting for the peer to close: %w", err)))
		}
	}
	if unexpected > 0 {
		// Syslog receivers never answer; whatever this is, it does not
		// change what the EOF proves.
		log.Warn("syslog peer sent data before closing; discarded", "bytes", unexpected)
	}
	// Our FIN itself may still be unacknowledged (rsyslog closes on
	// close_notify, before it arrives); any data byte may not.
	if left, ok := unackedBytes(c.tcp); ok && left > 1 {
		return c.explain(fmt.Errorf("the peer closed with %d of our bytes unacknowledged: it did not read them", left))
	}
	return nil
}

// confirmDatagrams can only surface an ICMP error (nothing listening) that
// came back for an earlier datagram.
func (c *conn) confirmDatagrams() error {
	if err := pendingError(c.Conn); err != nil {
		return fmt.Errorf("UDP destination reported: %w", err)
	}
	return nil
}

// explain adds the likely cause when the server dropped a TLS connection
// that had asked for a client certificate: a refused certificate shows up
// only after the handshake (TLS 1.3; rsyslog checks it late under 1.2 too).
// rsyslog asks even where it does not require one, so this is a hint.
func (c *conn) explain(err error) error {
	if c.tls == nil || !c.certAsked || isTimeout(err) {
		return err
	}
	if !c.haveCert {
		return fmt.Errorf("%w (the server asked for a client certificate and none is configured: if it requires one, that is the cause)", err)
	}
	return fmt.Errorf("%w (the server asked for a client certificate: if it refused ours, that is the cause)", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.n += int64(n)
	return n, err
}

// unackedBytes is unacked, as a variable so that a test can play a peer that
// closed without reading (hard to stage on loopback, where the reset for the
// unread bytes comes back at once).
var unackedBytes = unacked
