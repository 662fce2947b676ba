package syslog

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

// fakeClock drives a sink's pacer: sleeping advances it at once and
// records what the sink had sent when it slept.
type fakeClock struct {
	t      time.Time
	s      *Sink
	sleeps []time.Duration
	sentAt []int // lines on the connection when each sleep began
	// cancel, when set, ends the context at that sleep (1-based).
	cancel   context.CancelFunc
	cancelAt int
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	sent := 0
	if c.s.conn != nil {
		sent = c.s.conn.lines
	}
	c.sentAt = append(c.sentAt, sent)
	if c.cancel != nil && len(c.sleeps) == c.cancelAt {
		c.cancel()
		return ctx.Err()
	}
	c.t = c.t.Add(d)
	return nil
}

func pacedSink(t *testing.T, url string, perSecond float64) (*Sink, *fakeClock) {
	t.Helper()
	s := mustNew(t, Config{URL: url, EventsPerSecond: perSecond})
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), s: s}
	s.pace.now, s.pace.sleep = c.now, c.sleep
	// The bucket starts full at the fake clock's time.
	s.pace.lim.SetBurstAt(c.t, s.pace.burst)
	return s, c
}

func total(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum
}

// Lines within the bucket go at once: no timer, no wait, nothing reported
// as held back.
func TestPacingIdleCostsNothing(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s, c := pacedSink(t, "tcp://"+d.Addr(), 100)
	ctx := testCtx(t, 20*time.Second)
	if got := s.PaceDelay(100); got != 0 {
		t.Fatalf("PaceDelay(100) on a full bucket of 100 = %v, want 0", got)
	}
	waited, err := s.PacedWrite(ctx, page(0, 60, 200), time.Time{})
	if err != nil || waited != 0 {
		t.Fatalf("PacedWrite: waited %v, %v", waited, err)
	}
	if err := send(ctx, s, page(60, 40, 200)); err != nil {
		t.Fatal(err)
	}
	if len(c.sleeps) != 0 {
		t.Fatalf("slept %v within the bucket", c.sleeps)
	}
	if n := len(d.Lines()); n != 100 {
		t.Fatalf("%d lines arrived, want 100", n)
	}
}

// A page larger than the bucket goes in steps of at most one second's
// worth, each after the bucket refilled: the first step at once, the rest
// one second apart, every line in order.
func TestPacingSpreadsAPage(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s, c := pacedSink(t, "tcp://"+d.Addr(), 100)
	ctx := testCtx(t, 20*time.Second)
	p := page(0, 350, 200)
	if got, want := s.PaceDelay(350), 2500*time.Millisecond; got != want {
		t.Fatalf("PaceDelay(350) = %v, want %v", got, want)
	}
	waited, err := s.PacedWrite(ctx, p, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	equalLines(t, d.Lines(), withPrefix("<134>", p))
	want := []time.Duration{time.Second, time.Second, 500 * time.Millisecond}
	if len(c.sleeps) != len(want) || total(c.sleeps) != total(want) || waited != total(want) {
		t.Fatalf("slept %v (reported %v), want %v", c.sleeps, waited, want)
	}
	for i, sent := range c.sentAt {
		if sent != 100*(i+1) {
			t.Fatalf("sleep %d began after %d lines, want %d: the steps are not one second's worth", i, sent, 100*(i+1))
		}
	}
	// The bucket is empty now: one more line waits 1/limit.
	if got := s.PaceDelay(1); got != 10*time.Millisecond {
		t.Fatalf("PaceDelay(1) after the page = %v, want 10ms", got)
	}
}

// A wait ended by the context before anything was sent loses nothing:
// the window stays good. One ended after a step went out loses the window.
func TestPacingCancelledWait(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s, c := pacedSink(t, "tcp://"+d.Addr(), 10)
	if err := send(testCtx(t, 20*time.Second), s, page(0, 10, 100)); err != nil { // empties the bucket
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.cancelAt = cancel, 1
	if err := s.Write(ctx, page(10, 5, 100)); !errors.Is(err, context.Canceled) || errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("cancelled before sending: %v, want context.Canceled only", err)
	}
	ctx2 := testCtx(t, 20*time.Second)
	c.cancel = nil
	c.t = c.t.Add(10 * time.Second) // the bucket refills; the cancelled reservation gave its tokens back
	if err := send(ctx2, s, page(20, 10, 100)); err != nil {
		t.Fatalf("the window must be intact after a cancelled wait: %v", err)
	}
	if len(d.Lines()) != 20 {
		t.Fatalf("%d lines arrived, want 20", len(d.Lines()))
	}

	ctx3, cancel3 := context.WithCancel(context.Background())
	c.sleeps, c.sentAt = nil, nil
	c.cancel, c.cancelAt = cancel3, 2
	c.t = c.t.Add(10 * time.Second)
	err := s.Write(ctx3, page(30, 25, 100)) // 10 at once, 10 after a second, then cancelled
	wantNotConfirmed(t, err)
	wantNotConfirmed(t, s.Confirm(testCtx(t, 20*time.Second)))
}

// A page the limit would hold back past the caller's deadline is spread
// evenly over the time left instead; afterwards the bucket is empty, not
// in debt, so the next line waits one line's time, not the page's.
func TestPacingHurriesToMeetTheDeadline(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	lb := &logBuffer{}
	s := mustNew(t, Config{URL: "tcp://" + d.Addr(), EventsPerSecond: 10, Logger: newTextLogger(lb)})
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), s: s}
	s.pace.now, s.pace.sleep = c.now, c.sleep
	s.pace.lim.SetBurstAt(c.t, s.pace.burst)
	ctx := testCtx(t, 20*time.Second)
	p := page(0, 100, 100) // 9 s at the limit
	by := c.t.Add(4 * time.Second)
	waited, err := s.PacedWrite(ctx, p, by)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	equalLines(t, d.Lines(), withPrefix("<134>", p))
	if c.t.After(by) {
		t.Fatalf("finished at %v, after the deadline %v", c.t, by)
	}
	// Ten steps of ten lines, spaced 0.4 s: the last starts at 3.6 s.
	if len(c.sleeps) != 9 || waited != 3600*time.Millisecond {
		t.Fatalf("slept %v (reported %v), want 9 steps of 400ms", c.sleeps, waited)
	}
	if !strings.Contains(lb.String(), "sending them faster") {
		t.Errorf("no warning about going faster than the limit: %s", lb.String())
	}
	if got := s.PaceDelay(1); got != 100*time.Millisecond {
		t.Fatalf("PaceDelay(1) after a hurried page = %v, want 100ms (an empty bucket, no debt)", got)
	}
	// A deadline already passed: everything at once.
	c.sleeps = nil
	c.t = c.t.Add(time.Minute)
	if _, err := s.PacedWrite(ctx, page(100, 50, 100), c.t.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(c.sleeps) != 0 {
		t.Fatalf("slept %v with no time left", c.sleeps)
	}
}

// Without a limit nothing is paced, and PaceDelay is always zero.
func TestNoLimitNoPacing(t *testing.T) {
	d := rsyslogtest.StartDownstream(t, true)
	s := mustNew(t, Config{URL: "tcp://" + d.Addr()})
	if s.pace != nil || s.PaceDelay(1e6) != 0 {
		t.Fatal("a sink without EventsPerSecond paces")
	}
	if _, err := s.PacedWrite(testCtx(t, 20*time.Second), page(0, 5000, 50), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestEventsPerSecondValidation(t *testing.T) {
	for _, v := range []float64{-1, math.NaN(), math.Inf(1), MaxEventsPerSecond + 1} {
		if err := (Config{URL: "tcp://h:1", EventsPerSecond: v}).Validate(); err == nil || !strings.Contains(err.Error(), "EventsPerSecond") {
			t.Errorf("EventsPerSecond %v: %v", v, err)
		}
	}
	for _, v := range []float64{0, 0.5, 500, MaxEventsPerSecond} {
		if err := (Config{URL: "tcp://h:1", EventsPerSecond: v}).Validate(); err != nil {
			t.Errorf("EventsPerSecond %v: %v", v, err)
		}
	}
}

func TestNextLines(t *testing.T) {
	b := []byte("a\n\nb\nc\n\n")
	head, n, rest := nextLines(b, 2)
	if string(head) != "a\n\nb\n" || n != 2 || string(rest) != "c\n\n" {
		t.Fatalf("nextLines(2) = %q, %d, %q", head, n, rest)
	}
	head, n, rest = nextLines(rest, 2)
	if string(head) != "c\n\n" || n != 1 || len(rest) != 0 {
		t.Fatalf("nextLines on the rest = %q, %d, %q", head, n, rest)
	}
}

// FuzzNextLines: the steps a paced write sends are b cut at line ends,
// in order, none with more than n lines, together holding every line.
func FuzzNextLines(f *testing.F) {
	f.Add([]byte("a\n\nb\nc\n"), 2)
	f.Add([]byte("\n\n\n"), 1)
	f.Add([]byte(""), 3)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 1 || n > 1000 || len(b) > 0 && b[len(b)-1] != '\n' {
			return // the sink only ever cuts whole lines, in steps of at least one
		}
		total, err := checkLines(b, len(b)+1, 0)
		if err != nil {
			t.Fatal(err)
		}
		var joined []byte
		got, rest := 0, b
		for len(rest) > 0 {
			head, lines, r := nextLines(rest, n)
			if lines > n || len(head) == 0 && len(r) == len(rest) {
				t.Fatalf("nextLines(%q, %d) = %q, %d lines, rest %q", rest, n, head, lines, r)
			}
			if len(head) > 0 && head[len(head)-1] != '\n' {
				t.Fatalf("a step ends inside a line: %q", head)
			}
			joined = append(joined, head...)
			got += lines
			rest = r
		}
		if got != total || string(joined) != string(b) {
			t.Fatalf("steps hold %d of %d lines, %q of %q", got, total, joined, b)
		}
	})
}
