package rsyslogtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// maxRemotedLine mirrors wazuh-remoted's OS_MAXSTR: 64 KiB without a '\n'
// makes remoted drop the connection and everything after it.
const maxRemotedLine = 65536

// Downstream stands in for wazuh-remoted's syslog TCP input: newline framing
// only, an unterminated last line is dropped at close, a 64 KiB line kills
// the connection, and a connection is closed only after the peer's EOF (so a
// sink confirming against it sees what it would see against remoted).
type Downstream struct {
	addr string
	keep bool

	mu      sync.Mutex
	ln      net.Listener  // nil while paused
	changed chan struct{} // closed and replaced on every change
	lines   []string
	count   int
	dropped int // unterminated last lines and connections killed by a long line
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// StartDownstream listens on a free loopback port until t ends. With keep
// false it only counts lines (for benchmarks: no memory growth).
func StartDownstream(t testing.TB, keep bool) *Downstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rsyslogtest: downstream listen: %v", err)
	}
	d := &Downstream{addr: ln.Addr().String(), ln: ln, keep: keep, changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	d.wg.Add(1)
	go d.accept(ln)
	t.Cleanup(d.Close)
	return d
}

// Addr is the host:port to send to.
func (d *Downstream) Addr() string { return d.addr }

// Port is the listening port.
func (d *Downstream) Port() int {
	_, p, _ := net.SplitHostPort(d.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Pause stops accepting connections, as if remoted were down; connections
// already open are still read to the end, so nothing they carry is lost.
func (d *Downstream) Pause() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ln != nil {
		d.ln.Close()
		d.ln = nil
	}
}

// Resume listens again on the same address.
func (d *Downstream) Resume() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", d.addr)
	if err != nil {
		return fmt.Errorf("rsyslogtest: downstream resume: %w", err)
	}
	d.ln = ln
	d.wg.Add(1)
	go d.accept(ln)
	return nil
}

// Close stops listening and ends open connections.
func (d *Downstream) Close() {
	d.Pause()
	d.mu.Lock()
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
}

func (d *Downstream) accept(ln net.Listener) {
	defer d.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		d.conns[c] = struct{}{}
		d.mu.Unlock()
		d.wg.Add(1)
		go d.serve(c)
	}
}

func (d *Downstream) serve(c net.Conn) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		delete(d.conns, c)
		d.mu.Unlock()
		c.Close()
	}()
	if d.keep {
		d.keepLines(c)
	} else {
		d.countLines(c)
	}
}

// keepLines records every complete line, like remoted splits them.
func (d *Downstream) keepLines(c net.Conn) {
	r := bufio.NewReaderSize(c, maxRemotedLine)
	batch := make([]string, 0, 256)
	for {
		line, err := r.ReadSlice('\n')
		switch {
		case err == nil:
			batch = append(batch, string(line[:len(line)-1]))
			if r.Buffered() == 0 || len(batch) == cap(batch) {
				d.add(batch, 0)
				batch = batch[:0]
			}
			continue
		case errors.Is(err, bufio.ErrBufferFull):
			// remoted closes here: this line and the rest are lost.
			d.add(batch, 1)
			return
		default:
			// EOF or error: an unterminated last line is dropped.
			dropped := 0
			if len(line) > 0 {
				dropped = 1
			}
			d.add(batch, dropped)
			return
		}
	}
}

// countLines only counts, cheaply enough not to distort a benchmark that
// measures the sender's CPU in the same process.
func (d *Downstream) countLines(c net.Conn) {
	buf := make([]byte, 256<<10)
	partial := 0 // bytes of the current, unterminated line
	for {
		n, err := c.Read(buf)
		chunk := buf[:n]
		lines := 0
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				partial += len(chunk)
				break
			}
			if partial+i >= maxRemotedLine {
				d.addCount(lines, 1)
				return
			}
			lines++
			partial = 0
			chunk = chunk[i+1:]
		}
		if partial >= maxRemotedLine {
			d.addCount(lines, 1)
			return
		}
		if err != nil {
			dropped := 0
			if partial > 0 {
				dropped = 1
			}
			d.addCount(lines, dropped)
			return
		}
		if lines > 0 {
			d.addCount(lines, 0)
		}
	}
}

func (d *Downstream) addCount(n, dropped int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.count += n
	d.dropped += dropped
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *Downstream) add(batch []string, dropped int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keep {
		d.lines = append(d.lines, batch...)
	}
	d.count += len(batch)
	d.dropped += dropped
	close(d.changed)
	d.changed = make(chan struct{})
}

// Lines returns a copy of every complete line received so far, in arrival
// order, without the '\n'. It is empty when lines are only counted.
func (d *Downstream) Lines() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.lines...)
}

// Count is the number of complete lines received so far.
func (d *Downstream) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.count
}

// Dropped counts unterminated last lines and connections ended by an
// over-long line, both of which remoted would lose.
func (d *Downstream) Dropped() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// WaitLines waits until at least n lines arrived and returns them (see
// Lines), or returns what arrived with an error after timeout.
func (d *Downstream) WaitLines(n int, timeout time.Duration) ([]string, error) {
	if err := d.WaitCount(n, timeout); err != nil {
		return d.Lines(), err
	}
	return d.Lines(), nil
}

// WaitCount waits until at least n lines arrived.
func (d *Downstream) WaitCount(n int, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		d.mu.Lock()
		count, ch := d.count, d.changed
		d.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return fmt.Errorf("rsyslogtest: %d of %d lines arrived within %v", count, n, timeout)
		}
	}
}
