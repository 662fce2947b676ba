package lambdatest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// reported records what a check reported.
type reported []string

func (e *reported) Helper() {}

func (e *reported) Errorf(format string, args ...any) { *e = append(*e, fmt.Sprintf(format, args...)) }

func TestPayloadIsTheSchedulersInput(t *testing.T) {
	var in struct{ Stream, Tenant string }
	if err := json.Unmarshal(Payload("audit", `a"b`), &in); err != nil || in.Stream != "audit" || in.Tenant != `a"b` {
		t.Fatalf("%+v %v", in, err)
	}
}

func TestDecodeLineStripsThePriority(t *testing.T) {
	var v struct{ A int }
	if m := DecodeLine(t, `<134>{"A":1,"b":"x"}`, &v); v.A != 1 || m["b"] != "x" || len(m) != 2 {
		t.Fatalf("decoded %+v, %v", v, m)
	}
}

func TestWatchStopsAtTheFirstError(t *testing.T) {
	var calls atomic.Int32
	boom := errors.New("moved backwards")
	stop := Watch(t, func() error {
		if calls.Add(1) == 3 {
			return boom
		}
		return nil
	})
	for calls.Load() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != boom || calls.Load() != 3 {
		t.Fatalf("stop: %v after %d checks; want the third check's error", err, calls.Load())
	}
	stop = Watch(t, func() error { return nil })
	if err := stop(); err != nil {
		t.Fatalf("a watch without errors stopped with %v", err)
	}
}

func TestTallyChecks(t *testing.T) {
	for _, c := range []struct {
		tally       Tally
		margin      string
		interrupted int
		dups, per   int
		fails       bool
	}{
		{Tally{StoppedAtDeadline: 2}, "1s", 0, 0, 100, false},
		{Tally{}, "1s", 0, 0, 100, true},                       // the margin stopped nothing
		{Tally{TimedOut: 1}, "0s", 1, 100, 100, false},         // one page per timeout
		{Tally{TimedOut: 1, Cut: 1}, "0s", 1, 150, 100, false}, // a cut commit may repeat a page too
		{Tally{TimedOut: 1}, "0s", 1, 101, 100, true},          // more than a page
		{Tally{Cut: 1}, "0s", 0, 0, 100, true},                 // nothing interrupted by the timeout
	} {
		var r reported
		c.tally.CheckDuplicates(&r, c.dups, c.per)
		c.tally.CheckMargin(&r, c.margin, c.interrupted)
		if (len(r) > 0) != c.fails {
			t.Errorf("%+v margin %s, %d duplicates: errors %q, want failure %v", c.tally, c.margin, c.dups, r, c.fails)
		}
	}
}
