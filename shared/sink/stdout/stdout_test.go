package stdout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// pipeSink returns a pipe, closed when the test ends, and a sink on its
// write end.
func pipeSink(t *testing.T) (r, w *os.File, s *Sink) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	s, err = New(w)
	if err != nil {
		t.Fatal(err)
	}
	return r, w, s
}

func TestConfirmWaitsForTheReader(t *testing.T) {
	r, _, s := pipeSink(t)
	if !s.isPipe {
		t.Fatal("pipe not detected")
	}
	line := []byte(`{"integration":"1password","op":{"uuid":"a"}}` + "\n")
	if err := s.Write(context.Background(), line); err != nil {
		t.Fatal(err)
	}
	// Nobody reads: Confirm must not succeed.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Confirm(ctx); err == nil {
		t.Fatal("Confirm succeeded while the line sat unread in the pipe")
	}
	got := make([]byte, len(line))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(context.Background()); err != nil {
		t.Fatalf("Confirm after the reader drained the pipe: %v", err)
	}
	if !bytes.Equal(got, line) {
		t.Fatalf("read %q", got)
	}
}

func TestWriteStopsAtLineBoundaryWhenCancelled(t *testing.T) {
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	s, _ := New(w)
	var page []byte
	for i := 0; i < 3000; i++ { // several times the pipe's capacity
		page = append(page, []byte(`{"k":"`+strings.Repeat("x", 1000)+`"}`+"\n")...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Write(ctx, page) }()
	// The page is far larger than the pipe: the writer blocks until we
	// read. Read one piece, cancel, then drain.
	buf := make([]byte, 1024)
	n, _ := r.Read(buf)
	cancel()
	rest := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		rest <- b
	}()
	err := <-done
	w.Close()
	all := append(buf[:n:n], <-rest...)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(all) == 0 || all[len(all)-1] != '\n' {
		t.Fatalf("output does not end at a line boundary (%d bytes)", len(all))
	}
	if len(all) >= len(page) {
		t.Fatalf("cancellation did not stop the write")
	}
}

func TestRejectsPartialLine(t *testing.T) {
	f, _ := os.CreateTemp(t.TempDir(), "out")
	defer f.Close()
	s, _ := New(f)
	if err := s.Write(context.Background(), []byte(`{"a":1}`)); !errors.Is(err, sink.ErrPartialLine) {
		t.Fatalf("err = %v", err)
	}
	if err := s.Write(context.Background(), []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(context.Background()); err != nil {
		t.Fatalf("Confirm on a regular file: %v", err)
	}
}

// A reader that went away (`localrun demo | head -c 600`) never takes what
// is left in the pipe: Confirm fails at once instead of waiting forever,
// and nothing is confirmed.
func TestConfirmFailsWhenTheReaderIsGone(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := New(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), []byte("{\"a\":1}\n")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	// No deadline: only the closed read end can end Confirm.
	done := make(chan error, 1)
	go func() { done <- s.Confirm(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "reader closed the pipe") {
			t.Fatalf("Confirm = %v, want the closed reader reported", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Confirm still waits for a reader that is gone")
	}
}

// A write that does not fit in the pipe waits until the reader has taken
// half of it and then goes in whole, instead of going in slot by slot as
// the reader frees them: with a reader that takes a kilobyte at a time,
// as wazuh-modulesd's does, that was a wake-up of the writer per 4 KiB.
func TestWriteWaitsForRoomInsteadOfTricklingIn(t *testing.T) {
	r, w, s := pipeSink(t)
	c := s.capacity
	if c < 64<<10 {
		t.Fatalf("pipe capacity %d: expected at least Linux's default 64 KiB", c)
	}
	lines := func(size int, tag string) []byte {
		var b []byte
		for i := 0; len(b) < size; i++ {
			b = fmt.Appendf(b, `{"%s":%d,"pad":"%s"}`+"\n", tag, i, strings.Repeat("p", 200))
		}
		return b
	}
	ctx := context.Background()
	// The pipe filled to within an eighth of its capacity.
	fill := lines(c-c/8-300, "fill")
	if err := s.Write(ctx, fill); err != nil {
		t.Fatal(err)
	}
	page := lines(c/4, "page")
	done := make(chan error, 1)
	waits := make(chan struct{}, 1)
	s.waiting = func() {
		select {
		case waits <- struct{}{}:
		default:
		}
	}
	// seesWait returns once the writer has looked at the pipe again
	// (and found too little room) after everything before the call.
	seesWait := func() {
		t.Helper()
		select {
		case <-waits:
		default:
		}
		select {
		case <-waits:
		case err := <-done:
			t.Fatalf("the page was written (%v) with less than half the pipe free", err)
		case <-time.After(time.Minute):
			t.Fatal("the writer does not wait for room")
		}
	}
	go func() { done <- s.Write(ctx, page) }()
	var got []byte
	take := func(n int) {
		buf := make([]byte, 1024)
		for n > 0 {
			k, err := r.Read(buf[:min(n, len(buf))])
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:k]...)
			n -= k
		}
	}
	wantUnread := func(want int, why string) {
		t.Helper()
		if n, err := unread(w); err != nil || n != want {
			t.Fatalf("unread = %d (%v), want %d: %s", n, err, want, why)
		}
	}
	seesWait()
	wantUnread(len(fill), "part of the page went into a pipe without room for it")
	// The reader takes a quarter of the pipe, a kilobyte at a time: the
	// page would fit now, but less than half the pipe is free, so none
	// of it may go in yet.
	take(c / 4)
	seesWait()
	wantUnread(len(fill)-c/4, "the page went in before half the pipe was free")
	// Another quarter: more than half is free, and the page goes in whole.
	take(c / 4)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the write still waits with more than half the pipe free")
	}
	take(len(fill) + len(page) - len(got))
	if want := append(fill, page...); !bytes.Equal(got, want) {
		t.Fatalf("the reader got %d bytes, not the %d written in order", len(got), len(want))
	}
}
