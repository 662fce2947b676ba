// Package stdout is the wodle sink: event lines on standard output, nothing
// else, because Wazuh turns every line the command prints (stderr included)
// into an event.
//
// When stdout is a pipe, a line counts as delivered only once the reader has
// taken it out of the pipe: Confirm waits until the kernel reports the pipe
// empty (FIONREAD, TIOCINQ on Linux). Wazuh cancels its reader and sends SIGTERM at the wodle
// timeout, and whatever is still in the pipe then is lost; a cursor
// committed for those lines would skip them forever (docs/wazuh.md, "The
// wodle path").
//
// That query is Linux's (the Wazuh manager runs on Linux). Elsewhere the
// sink writes to terminals and files as usual, but refuses to confirm
// lines written to a pipe, so no cursor moves past lines a reader may
// never have taken.
//
// Taken out of the pipe is not yet forwarded: wazuh-modulesd keeps a
// command's whole output in memory and forwards it to analysisd, paced,
// after the command exited, and loses what it has not forwarded when it
// stops. So a confirmation here proves only that the reader holds the
// lines; under modulesd the host runner keeps the cursor of such a page
// as pending until a later run can tell that the reader forwarded it
// (shared/hostrun, docs/wodle.md). A reader that went away (modulesd
// killed) never takes what is left: Confirm then fails at once, so the
// process ends and frees its streams.
package stdout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// chunk is the most written in one system call: whole lines only, so that
// an interruption between calls never leaves half a line.
const chunk = 256 << 10

// Sink writes lines to a file, normally os.Stdout.
type Sink struct {
	f      *os.File
	isPipe bool
	// capacity is the pipe's buffer size in bytes, 0 when unknown.
	capacity int
	// waiting, when set (by tests), is called each time a write found
	// no room and is about to wait for the reader.
	waiting func()
}

// New returns a sink on f.
func New(f *os.File) (*Sink, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stdout sink: stat: %w", err)
	}
	s := &Sink{f: f, isPipe: fi.Mode()&os.ModeNamedPipe != 0}
	if s.isPipe {
		// A larger pipe lets a page go out in fewer blocking writes and
		// wake-ups of the reader. Best effort: the system limit may refuse.
		s.capacity = growPipe(f, pipeSize)
	}
	return s, nil
}

// pipeSize is the pipe capacity asked for (Linux allows unprivileged
// processes up to /proc/sys/fs/pipe-max-size, 1 MiB by default).
const pipeSize = 1 << 20

// Overhead is zero: wodle lines carry no syslog header.
func (s *Sink) Overhead() int { return 0 }

// Write writes b in chunks of whole lines. When ctx is cancelled it stops
// at the next line boundary and reports the page as not delivered.
func (s *Sink) Write(ctx context.Context, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		return sink.ErrPartialLine
	}
	for len(b) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stdout sink: stopped at a line boundary: %w", err)
		}
		n := len(b)
		if n > chunk {
			n = chunk
			// Extend to the end of the line that crosses the chunk size.
			for n < len(b) && b[n-1] != '\n' {
				n++
			}
		}
		if err := s.waitRoom(ctx, n); err != nil {
			return err
		}
		if _, err := s.f.Write(b[:n]); err != nil {
			return fmt.Errorf("stdout sink: write: %w", err)
		}
		b = b[n:]
	}
	return nil
}

// waitRoom waits, when the pipe has no room for n more bytes, until the
// reader has taken at least half of it (and room for n is free). A write
// into a full pipe would instead sleep until the reader frees one 4 KiB
// slot, write that, and sleep again: with a reader that takes a kilobyte
// at a time, as wazuh-modulesd does, a wake-up and two context switches
// per 4 KiB (docs/testing.md, "Writing into a slow reader's pipe").
func (s *Sink) waitRoom(ctx context.Context, n int) error {
	if s.capacity == 0 || n > s.capacity {
		return nil // never free at once: the write blocks as it must
	}
	need := n // for the first look: room for this write is enough
	wait := 50 * time.Microsecond
	for {
		unread, err := unread(s.f)
		if err != nil || s.capacity-unread >= need || readerGone(s.f) {
			// Room, or the write itself reports what went wrong.
			return nil
		}
		need = max(n, s.capacity/2)
		if s.waiting != nil {
			s.waiting()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stdout sink: stopped at a line boundary: %w", ctx.Err())
		case <-time.After(wait):
		}
		if wait < 5*time.Millisecond {
			wait *= 2
		}
	}
}

// Confirm waits until a pipe reader has consumed everything written. For
// files and terminals a completed write is all there is to know.
func (s *Sink) Confirm(ctx context.Context) error {
	if !s.isPipe {
		return nil
	}
	wait := 20 * time.Microsecond
	for {
		n, err := unread(s.f)
		if errors.Is(err, errNotQueryable) {
			return nil // not a queryable pipe after all
		}
		if err != nil {
			return fmt.Errorf("stdout sink: query pipe: %w", err)
		}
		if n == 0 {
			return nil
		}
		if readerGone(s.f) {
			return fmt.Errorf("stdout sink: the reader closed the pipe with %d bytes unread", n)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stdout sink: %d bytes still unread by the wodle reader: %w", n, ctx.Err())
		case <-time.After(wait):
		}
		if wait < 5*time.Millisecond {
			wait *= 2
		}
	}
}

// Close does nothing: stdout stays open for the process.
func (s *Sink) Close() error { return nil }
