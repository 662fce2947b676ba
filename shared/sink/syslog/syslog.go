package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// ErrNotConfirmed wraps every error meaning "the lines written since the last
// successful Confirm are not known to have arrived": the cursor must stay.
var ErrNotConfirmed = errors.New("syslog: receipt not confirmed")

// ErrClosed is returned by Write and Confirm after Close.
var ErrClosed = errors.New("syslog: sink is closed")

// bufSize is the write buffer: large enough for the longest line plus its
// prefix, so that a normal page leaves in a few large writes (and full 16 KiB
// TLS records) instead of one syscall per line.
const bufSize = 128 << 10

var _ sink.Sink = (*Sink)(nil)

// Sink sends lines to one syslog destination. See the package documentation
// for the delivery semantics.
type Sink struct {
	cfg      Config
	ep       Endpoint
	tlsConf  *tls.Config // nil unless tls://
	log      *slog.Logger
	overhead int
	now      func() time.Time // the header's clock; a field for tests

	pace   *pacer        // nil without EventsPerSecond
	conn   *conn         // nil between a Confirm and the next Write
	bw     *bufio.Writer // reused across connections
	prefix []byte        // scratch for the per-Write prefix
	failed error         // a Write failed: the window since the last Confirm is lost
	closed bool
}

// New checks cfg (see Config.Validate) and returns a Sink. It does not
// connect: the first Write does.
func New(cfg Config) (*Sink, error) {
	cfg = cfg.withDefaults()
	ep, err := cfg.check()
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:      cfg,
		ep:       ep,
		log:      cfg.Logger.With("sink", "syslog", "url", ep.String()),
		overhead: overhead(cfg),
		now:      time.Now,
		bw:       bufio.NewWriterSize(nil, bufSize),
	}
	if ep.Scheme == "tls" {
		if s.tlsConf, err = cfg.tlsConfig(ep); err != nil {
			return nil, err
		}
		if cfg.InsecureSkipVerify {
			s.warnInsecure()
		}
	}
	if ep.Scheme == "udp" {
		s.log.Warn("syslog over UDP: datagrams can be lost without notice and receipt cannot be confirmed")
	}
	if cfg.EventsPerSecond > 0 {
		s.pace = newPacer(cfg.EventsPerSecond)
		s.log.Debug("syslog pacing", "events_per_second", cfg.EventsPerSecond)
	}
	return s, nil
}

func (s *Sink) warnInsecure() {
	s.log.Warn("TLS SERVER VERIFICATION IS DISABLED (InsecureSkipVerify): anyone on the path can read and alter events; use only in a lab")
}

// Overhead is the number of bytes added in front of every line.
func (s *Sink) Overhead() int { return s.overhead }

// Endpoint is the parsed destination.
func (s *Sink) Endpoint() Endpoint { return s.ep }

// Write sends the '\n'-terminated lines in b, each prefixed. It refuses the
// whole of b, sending nothing, when its last line is unterminated
// (sink.ErrPartialLine) or a line is too long (sink.ErrLineTooLong); those
// errors leave earlier writes intact. Any other error loses the lines written
// since the last Confirm (see the package documentation).
//
// With EventsPerSecond, Write keeps to the limit: it sends at once what the
// token bucket allows and waits for the rest, in steps of at most one
// second's worth of lines. A wait ended by ctx before anything of b was
// sent returns ctx's error and loses nothing; one that ends later loses the
// window like any failed write.
func (s *Sink) Write(ctx context.Context, b []byte) error {
	_, err := s.write(ctx, b, time.Time{})
	return err
}

// PacedWrite is Write for a caller that must be done by a deadline (zero:
// none). When the limit would hold the lines back past by, they are sent
// faster than the limit instead, spread evenly over the time left, and a
// warning is logged: the caller decided these lines must go (see
// PaceDelay), and a run that never sends its first page would never make
// progress. It returns how long the limit held the lines back.
func (s *Sink) PacedWrite(ctx context.Context, b []byte, by time.Time) (time.Duration, error) {
	return s.write(ctx, b, by)
}

// PaceDelay is how long a write of n more lines, started now, would be held
// back by EventsPerSecond in all (0 without a limit, or when the bucket
// holds enough). It reserves nothing.
func (s *Sink) PaceDelay(lines int) time.Duration {
	if s.pace == nil {
		return 0
	}
	return s.pace.delay(lines)
}

// EventsPerSecond is the sink's limit (0: none).
func (s *Sink) EventsPerSecond() float64 { return s.cfg.EventsPerSecond }

func (s *Sink) write(ctx context.Context, b []byte, by time.Time) (time.Duration, error) {
	if s.closed {
		return 0, ErrClosed
	}
	lines, err := checkLines(b, s.cfg.MaxLine-s.overhead, s.overhead)
	if err != nil || lines == 0 {
		return 0, err
	}
	if s.failed != nil {
		return 0, fmt.Errorf("%w: an earlier write to %s failed (call Confirm to start over): %v", ErrNotConfirmed, s.ep, s.failed)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if s.conn == nil {
		c, err := s.dial(ctx)
		if err != nil {
			// Nothing of this window was sent on a dead connection, so
			// nothing is lost yet: no need to poison the window.
			return 0, err
		}
		s.conn = c
	}
	if s.pace == nil {
		return 0, s.send(ctx, b, lines)
	}
	return s.paced(ctx, b, lines, by)
}

// paced sends b's lines in steps the pacer allows (see Write, PacedWrite).
func (s *Sink) paced(ctx context.Context, b []byte, lines int, by time.Time) (time.Duration, error) {
	p := s.pace
	if lines <= p.burst && p.lim.AllowN(p.now(), lines) {
		return 0, s.send(ctx, b, lines) // the bucket has them all: at once, in one piece
	}
	spacing, hurry := p.plan(lines, by)
	if hurry {
		s.log.Warn("syslog pacing: these lines cannot go at the events-per-second limit before the deadline; sending them faster, spread over the time left",
			"lines", lines, "limit", p.limit, "held_back", p.delay(lines).String(), "time_left", time.Until(by).Round(time.Millisecond).String())
		defer p.drain()
	}
	start := p.now()
	var waited time.Duration
	sent := 0
	for len(b) > 0 {
		chunk, n, rest := nextLines(b, p.burst)
		b = rest
		if n == 0 {
			continue // only empty lines left: nothing to send
		}
		var err error
		if hurry {
			if d := start.Add(spacing * time.Duration(sent)).Sub(p.now()); d > 0 {
				err = p.sleep(ctx, d)
				waited += d
			}
		} else {
			var d time.Duration
			d, err = p.take(ctx, n)
			waited += d
		}
		if err != nil {
			if sent == 0 {
				return waited, err // nothing of b went out
			}
			s.failed = err
			s.drop()
			return waited, fmt.Errorf("%w: waiting to send to %s at %g events/s: %w", ErrNotConfirmed, s.ep, p.limit, err)
		}
		if err := s.send(ctx, chunk, n); err != nil {
			return waited, err
		}
		sent += n
	}
	return waited, nil
}

// send writes whole lines on the current connection; a failure loses the
// window since the last Confirm.
func (s *Sink) send(ctx context.Context, b []byte, lines int) error {
	s.prefix = appendPrefix(s.prefix[:0], s.cfg, s.now())
	var err error
	if s.ep.Scheme == "udp" {
		err = s.conn.writeDatagrams(ctx, s.cfg.WriteTimeout, s.prefix, b)
	} else {
		err = s.conn.writeStream(ctx, s.cfg.WriteTimeout, s.bw, s.prefix, b)
	}
	if err != nil {
		s.failed = err
		s.drop()
		return fmt.Errorf("%w: writing to %s: %w", ErrNotConfirmed, s.ep, err)
	}
	s.conn.lines += lines
	return nil
}

// Confirm returns nil when every line written since the previous Confirm is
// known to have been received, and an error wrapping ErrNotConfirmed
// otherwise. Either way the connection ends; the next Write opens a new one.
func (s *Sink) Confirm(ctx context.Context) error {
	if s.closed {
		return ErrClosed
	}
	if s.failed != nil {
		err := s.failed
		s.failed = nil
		return fmt.Errorf("%w: a write to %s failed: %w", ErrNotConfirmed, s.ep, err)
	}
	if s.conn == nil {
		return nil // nothing written since the last Confirm
	}
	c := s.conn
	s.conn = nil
	start := time.Now()
	err := c.confirm(ctx, s.cfg.ConfirmTimeout, s.log)
	c.close()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNotConfirmed, s.ep, err)
	}
	s.log.Debug("syslog receipt confirmed", "lines", c.lines, "bytes", c.written, "confirm_ms", time.Since(start).Milliseconds())
	return nil
}

// Close ends the current connection without confirming it; lines written
// since the last Confirm are not delivered (some may still arrive, which the
// pipeline's at-least-once design tolerates).
func (s *Sink) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.drop()
	return nil
}

func (s *Sink) drop() {
	if s.conn != nil {
		s.conn.close()
		s.conn = nil
	}
}

// deadline is now+d, or ctx's deadline when that comes first (bound).
func deadline(ctx context.Context, d time.Duration) (t time.Time, bound bool) {
	t = time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		return dl, true
	}
	return t, false
}

// interruptOnCancel makes blocked I/O on c return as soon as ctx is done.
// The returned stop waits for an interruption already under way, so that it
// cannot land on the connection's next operation.
func interruptOnCancel(ctx context.Context, c net.Conn) (stop func()) {
	done := make(chan struct{})
	cancel := context.AfterFunc(ctx, func() {
		defer close(done)
		c.SetDeadline(time.Unix(1, 0))
	})
	return func() {
		if !cancel() {
			<-done
		}
	}
}

// ctxErr reports an I/O error caused by ctx as ctx's error: cancelled, or
// timed out at a deadline that was ctx's (bound) even if ctx's own timer has
// not fired yet.
func ctxErr(ctx context.Context, bound bool, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if bound && isTimeout(err) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}
