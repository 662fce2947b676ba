package syslog

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

// Plain TCP goes straight to wazuh-remoted; the downstream stand-in frames
// and closes like remoted does.
func TestTCPDelivery(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s := mustNew(t, Config{URL: "tcp://" + d.Addr()})
	ctx := testCtx(t, 20*time.Second)

	var want []string
	for run := range 3 { // each Confirm ends a connection; the next Write dials anew
		p := page(run*100, 100, 300)
		if err := s.Write(ctx, p[:len(p)/2+strings.IndexByte(string(p[len(p)/2:]), '\n')+1]); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, p[len(p)/2+strings.IndexByte(string(p[len(p)/2:]), '\n')+1:]); err != nil {
			t.Fatal(err)
		}
		if err := s.Confirm(ctx); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		want = append(want, withPrefix("<134>", p)...)
		// Confirmed means already received: no waiting needed.
		equalLines(t, d.Lines(), want)
	}
	if d.Dropped() != 0 {
		t.Fatalf("the receiver dropped %d partial lines", d.Dropped())
	}
	if err := s.Confirm(ctx); err != nil {
		t.Fatalf("Confirm with nothing written: %v", err)
	}
}

// A refused batch sends nothing, not even its valid lines, and leaves the
// window intact.
func TestRefusedBatchSendsNothing(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s := mustNew(t, Config{URL: "tcp://" + d.Addr(), MaxLine: 100})
	ctx := testCtx(t, 20*time.Second)
	good := []byte(`{"ok":1}` + "\n")
	if err := s.Write(ctx, good); err != nil {
		t.Fatal(err)
	}
	long := append([]byte(`{"fits":true}`+"\n"), []byte(`{"x":"`+strings.Repeat("y", 90)+`"}`+"\n")...)
	if err := s.Write(ctx, long); !errors.Is(err, sink.ErrLineTooLong) {
		t.Fatalf("long line: %v", err)
	}
	if err := s.Write(ctx, []byte(`{"partial":1}`+"\n"+`{"cut`)); !errors.Is(err, sink.ErrPartialLine) {
		t.Fatalf("partial: %v", err)
	}
	if err := s.Confirm(ctx); err != nil {
		t.Fatalf("the refusals must not spoil the window: %v", err)
	}
	equalLines(t, d.Lines(), []string{`<134>{"ok":1}`})
}

func TestMaxLineTCP(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s := mustNew(t, Config{URL: "tcp://" + d.Addr(), Header: true, Hostname: "h", Tag: "t"})
	ctx := testCtx(t, 20*time.Second)
	body := sink.DefaultMaxLine - s.Overhead()
	exact := []byte(`{"a":"` + strings.Repeat("é", (body-8)/2) + strings.Repeat("z", (body-8)%2) + `"}` + "\n")
	if len(exact)-1 != body {
		t.Fatalf("test bug: body %d, want %d", len(exact)-1, body)
	}
	if err := send(ctx, s, exact); err != nil {
		t.Fatal(err)
	}
	got := d.Lines()
	if len(got) != 1 || len(got[0]) != sink.DefaultMaxLine || !strings.HasSuffix(got[0], string(exact[:len(exact)-1])) {
		t.Fatalf("max line arrived as %d lines, first %d bytes", len(got), len(got[0]))
	}
	over := append([]byte(`{"a":"z`), exact[len(`{"a":"`):]...)
	if len(over)-1 != body+1 {
		t.Fatalf("test bug: %d", len(over))
	}
	if err := s.Write(ctx, over); !errors.Is(err, sink.ErrLineTooLong) {
		t.Fatalf("one byte over: %v", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s := mustNew(t, Config{URL: "tcp://" + addr, DialAttempts: 3, BackoffMin: 20 * time.Millisecond, BackoffMax: 40 * time.Millisecond})
	start := time.Now()
	err := s.Write(testCtx(t, 10*time.Second), page(0, 3, 100))
	wantNotConfirmed(t, err)
	if !strings.Contains(err.Error(), "after 3 attempt(s)") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("error does not say what happened: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("3 attempts took %v", el)
	}
	// Nothing was on a connection, so the sink is usable right away.
	if err := s.Confirm(context.Background()); err != nil {
		t.Fatalf("Confirm after a failed dial: %v", err)
	}
}

// Retries never wait past the context's deadline: with a backoff of at
// least 5 s and a 300 ms deadline, giving up before the first backoff
// ended proves the wait was cut (however slow the machine, a full backoff
// takes 5 s).
func TestBackoffStopsAtDeadline(t *testing.T) {
	const backoffMin = 5 * time.Second
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s := mustNew(t, Config{URL: "tcp://" + addr, DialAttempts: 10, BackoffMin: backoffMin, BackoffMax: 2 * backoffMin})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Write(ctx, page(0, 1, 100))
	wantNotConfirmed(t, err)
	if el := time.Since(start); el >= backoffMin {
		t.Fatalf("gave up after %v: the backoff ran past the 300ms deadline", el)
	}
}

// A receiver that comes up during the backoff is reached.
func TestDialRetrySucceeds(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	go func() {
		time.Sleep(150 * time.Millisecond)
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		defer ln2.Close()
		c, err := ln2.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	s := mustNew(t, Config{URL: "tcp://" + addr, DialAttempts: 10, BackoffMin: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	ctx := testCtx(t, 10*time.Second)
	if err := send(ctx, s, page(0, 5, 100)); err != nil {
		t.Fatal(err)
	}
}

// wazuh-remoted resets a peer outside <allowed-ips> right after accepting
// it: the write may well succeed, the confirmation must not.
func TestResetAfterAccept(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0) // RST
			c.Close()
		}
	}()
	s := mustNew(t, Config{URL: "tcp://" + ln.Addr().String()})
	ctx := testCtx(t, 10*time.Second)
	err := s.Write(ctx, page(0, 10, 200))
	if err == nil {
		err = s.Confirm(ctx)
	}
	wantNotConfirmed(t, err)
}

// A receiver that reads part of the data and closes (crash, restart) must
// not confirm.
func TestPeerClosesEarly(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1000)
		io.ReadFull(c, buf)
		c.Close()
	}()
	s := mustNew(t, Config{URL: "tcp://" + ln.Addr().String()})
	ctx := testCtx(t, 10*time.Second)
	err := s.Write(ctx, page(0, 2000, 800))
	if err == nil {
		err = s.Confirm(ctx)
	}
	wantNotConfirmed(t, err)
}

// A peer that never closes times the confirmation out.
func TestConfirmTimeout(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); <-hold; c.Close() }()
		}
	}()
	s := mustNew(t, Config{URL: "tcp://" + ln.Addr().String(), ConfirmTimeout: 200 * time.Millisecond})
	ctx := testCtx(t, 10*time.Second)
	if err := s.Write(ctx, page(0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := s.Confirm(ctx)
	wantNotConfirmed(t, err)
	if !strings.Contains(err.Error(), "did not close within the confirm timeout") {
		t.Fatalf("error does not name the timeout: %v", err)
	}
	// Never early; how late depends on the machine's load, and the
	// message above already names the confirm timeout as the cause.
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("timed out after %v, before the 200ms confirm timeout", el)
	}

	// The context's deadline wins when it comes first, and says so.
	if err := s.Write(ctx, page(0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	s.cfg.ConfirmTimeout = time.Minute
	err = s.Confirm(short)
	wantNotConfirmed(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded in %v", err)
	}
}

// A peer that closes without having read our bytes (an mTLS rejection
// whose FIN overtook our data on a long path) must not count as receipt.
func TestCloseWithUnackedBytes(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s := mustNew(t, Config{URL: "tcp://" + d.Addr()})
	ctx := testCtx(t, 10*time.Second)
	orig := unackedBytes
	t.Cleanup(func() { unackedBytes = orig })
	unackedBytes = func(*net.TCPConn) (int, bool) { return 4321, true }
	err := send(ctx, s, page(0, 3, 100))
	wantNotConfirmed(t, err)
	if !strings.Contains(err.Error(), "4321 of our bytes unacknowledged") {
		t.Fatalf("unexpected error: %v", err)
	}
	// Our own FIN may be the one unacknowledged byte.
	unackedBytes = func(*net.TCPConn) (int, bool) { return 1, true }
	if err := send(ctx, s, page(0, 3, 100)); err != nil {
		t.Fatal(err)
	}
}

// unacked reads the real socket state. It waits for conditions, not for
// time: the bytes queue up once the silent peer's window is full, and
// drain once it reads.
func TestUnackedReadsSocket(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := <-accepted
	defer srv.Close()
	// The peer reads nothing: after filling its window, bytes stay ours.
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(make([]byte, 16<<20)); wrote <- err }()
	waitUnacked := func(what string, cond func(int) bool) {
		t.Helper()
		// A liveness bound only: the condition normally holds within
		// milliseconds.
		deadline := time.Now().Add(time.Minute)
		for {
			n, ok := unacked(c.(*net.TCPConn))
			if !ok {
				t.Fatal("unacked cannot read the socket")
			}
			if cond(n) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %d bytes unacknowledged", what, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitUnacked("a stalled peer", func(n int) bool { return n > 0 })
	go io.Copy(io.Discard, srv)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	waitUnacked("the peer read everything", func(n int) bool { return n == 0 })
}

// After a failed write the whole window is lost: later writes fail fast and
// Confirm reports it once, then the sink starts afresh.
func TestFailedWritePoisonsWindow(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	s := mustNew(t, Config{URL: "tcp://" + ln.Addr().String(), WriteTimeout: 300 * time.Millisecond})
	ctx := testCtx(t, 20*time.Second)
	if err := s.Write(ctx, page(0, 2, 100)); err != nil {
		t.Fatal(err)
	}
	first := <-conns // never read: the next big write times out
	defer first.Close()
	err := s.Write(ctx, page(0, 40000, 800))
	wantNotConfirmed(t, err)
	err = s.Write(ctx, page(0, 1, 100))
	wantNotConfirmed(t, err)
	if !strings.Contains(err.Error(), "an earlier write") {
		t.Fatalf("second write: %v", err)
	}
	wantNotConfirmed(t, s.Confirm(ctx))
	// A new window on a new connection.
	go func() { c := <-conns; io.Copy(io.Discard, c); c.Close() }()
	if err := send(ctx, s, page(0, 2, 100)); err != nil {
		t.Fatalf("fresh window: %v", err)
	}
}

// A write blocked on a peer that stopped reading returns as soon as its
// context is cancelled: the peer holds the connection open until the
// write has returned (or, if the write never returns, for a minute, and
// then the test fails), so nothing but the cancellation can end it.
func TestCancelInterruptsWrite(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	reading := make(chan struct{})
	release := make(chan struct{})
	var gaveUp atomic.Bool
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Take the first bytes, so the write is known to be under way,
		// then read nothing more.
		io.ReadFull(c, make([]byte, 1))
		close(reading)
		select {
		case <-release:
		case <-time.After(time.Minute):
			gaveUp.Store(true)
		}
	}()
	s := mustNew(t, Config{URL: "tcp://" + ln.Addr().String()})
	big := page(0, 40000, 800) // 32 MB: far more than loopback buffers hold
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-reading; cancel() }()
	err := s.Write(ctx, big)
	close(release)
	if gaveUp.Load() {
		t.Fatalf("the write returned only when the peer gave up: %v", err)
	}
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel: %v", err)
	}
}

func TestClose(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s := mustNew(t, Config{URL: "tcp://" + d.Addr()})
	ctx := testCtx(t, 10*time.Second)
	if err := s.Write(ctx, page(0, 2, 100)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, page(0, 1, 100)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := s.Confirm(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Confirm after Close: %v", err)
	}
}
