package lambdatest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
)

// CatchUp drives the catch-up scenario: a backlog longer than one
// invocation, with a short function timeout. It invokes the stream again
// and again, as a schedule would, until an invocation reports it caught up
// without a backlog. With a deadline margin invocations stop on their own;
// without one, the emulator's timeout interrupts them (SIGTERM, then
// SIGKILL) and the next starts cold. The position must never move back.
type CatchUp struct {
	RIE     *rietest.RIE
	Payload []byte
	// Cut reports whether an error result is an invocation that its
	// deadline (or a slow moto on a busy machine) cut short before its
	// last commit or confirmation: the next invocation repeats that page,
	// as after a timeout. Any other error fails the test.
	Cut func(res *rietest.Result) bool
	// BacklogAtDeadline requires an invocation that stopped at the
	// deadline to report a backlog.
	BacklogAtDeadline bool
	// Moved reads the stream's position after each invocation: it fails
	// the test if the position moved backwards, and reports whether it
	// moved on.
	Moved func() bool
}

// Tally counts what the invocations of a catch-up did.
type Tally struct {
	Invocations int
	// TimedOut counts invocations the emulator's timeout interrupted, Cut
	// those whose deadline cut their last commit or confirmation short.
	TimedOut, Cut int
	// StoppedAtDeadline counts invocations that stopped cleanly for lack
	// of time ("deadline", or "paced" when the next page could not be
	// sent before it).
	StoppedAtDeadline int
	// Locked counts invocations that found the stream locked.
	Locked int
}

// Interrupted counts the invocations that may have repeated a page.
func (tl Tally) Interrupted() int { return tl.TimedOut + tl.Cut }

// Run runs the catch-up to its end.
func (c CatchUp) Run(t *testing.T) Tally {
	t.Helper()
	var tl Tally
	// idle counts invocations in a row that ran without moving the
	// position, lockedOut those in a row that found the stream locked.
	// The catch-up fails when 5 invocations in a row ran without moving
	// the position, or 30 in a row found the stream locked (a killed
	// invocation's lease outlives it by a few seconds): no wall-clock
	// bound, so nothing depends on how fast or busy the machine is.
	var idle, lockedOut int
	for caughtUp := false; !caughtUp; {
		if idle >= 5 || lockedOut >= 30 {
			t.Fatalf("catch-up stuck: %d invocations in a row ran without moving the cursor, %d in a row found it locked (%d invocations, %d timed out, %d commits cut)\n%s",
				idle, lockedOut, tl.Invocations, tl.TimedOut, tl.Cut, Tail(c.RIE.Log(), 4000))
		}
		tl.Invocations++
		res, err := c.RIE.Invoke(Context(t), c.Payload)
		if err != nil {
			t.Fatal(err)
		}
		locked := false
		switch {
		case res.TimedOut:
			tl.TimedOut++
		case res.ErrorType == "RunError" && c.Cut(res):
			tl.Cut++
		case res.ErrorType != "":
			t.Fatalf("invocation %d: %s\n%s", tl.Invocations, res, Tail(c.RIE.Log(), 4000))
		default:
			var out lambdarun.Output
			if err := res.Decode(&out); err != nil {
				t.Fatal(err)
			}
			switch {
			case out.Locked:
				// A killed invocation's lease outlives it by a few
				// seconds; the schedule would simply try again later.
				locked = true
				tl.Locked++
				time.Sleep(time.Second)
			case out.Stop == "deadline" || out.Stop == "paced":
				// Paced: the syslog budget would have sent the next page
				// after the deadline, so it was left for the next
				// invocation, like a page the deadline cut.
				tl.StoppedAtDeadline++
				if c.BacklogAtDeadline && !out.Backlog {
					t.Errorf("stopped at the deadline without reporting a backlog: %+v", out)
				}
			case out.Stop == "caught_up" && !out.Backlog:
				caughtUp = true
			default:
				t.Fatalf("invocation %d: %+v", tl.Invocations, out)
			}
		}
		moved := c.Moved()
		switch {
		case locked:
			lockedOut++
		case moved:
			lockedOut, idle = 0, 0
		default:
			lockedOut = 0
			idle++
		}
	}
	return tl
}

// reporter is the part of a test the checks report to.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// CheckDuplicates fails the test if the catch-up delivered more than
// perInterruption duplicates for each interrupted invocation.
func (tl Tally) CheckDuplicates(t reporter, dups, perInterruption int) {
	t.Helper()
	if dups > perInterruption*tl.Interrupted() {
		t.Errorf("%d duplicates after %d interrupted invocations; at most %d per interrupted invocation", dups, tl.Interrupted(), perInterruption)
	}
}

// CheckMargin fails the test if the deadline margin did not do its job:
// with one, no invocation stopped at it; with margin "0s", none was
// interrupted (interrupted counts them).
func (tl Tally) CheckMargin(t reporter, margin string, interrupted int) {
	t.Helper()
	if margin != "0s" && tl.StoppedAtDeadline == 0 {
		t.Errorf("no invocation stopped at the deadline margin")
	}
	if margin == "0s" && interrupted == 0 {
		t.Errorf("no invocation was interrupted by the function timeout")
	}
}

// Watch calls check every 50 ms, in the background, until the returned
// stop is called or check fails; stop returns check's error. Tests use it
// to watch a stream's position while runners race.
func Watch(t testing.TB, check func() error) (stop func() error) {
	ctx, cancel := context.WithCancel(Context(t))
	var err error
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		for ctx.Err() == nil {
			if err = check(); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return func() error {
		cancel()
		done.Wait()
		return err
	}
}
