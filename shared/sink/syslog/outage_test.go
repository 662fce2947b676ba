package syslog

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

// TestRelayOutage plays the pipeline against a relay that is stopped
// (SIGTERM) or killed (SIGKILL) and restarted, three times per run:
//
//	A  while pages flow, remoted up;
//	B  SIGKILL: with remoted down, so the restarted relay can only queue.
//	   SIGTERM: remoted goes down, the relay queues, remoted comes back;
//	C  while the relay holds confirmed events it has not forwarded yet
//	   (SIGKILL: remoted still down; SIGTERM: remoted up, backlog draining).
//
// A run writes pages from the committed cursor, confirming each; a failed
// Write or Confirm ends the run, and the next run re-sends from the cursor.
// Every event must reach remoted at least once: what the relay confirmed
// must survive its death, from its disk queue.
//
// SIGTERM is not tried while remoted is down: rsyslog then loses the batch
// its forwarding action is retrying (it marks a transaction's messages done
// before the commit that fails, and a shutdown abandons the retry). That is
// why the relay's README stops it with SIGKILL, which this test shows to be
// safe in exactly that situation.
func TestRelayOutage(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := map[bool]string{false: "SIGTERM", true: "SIGKILL"}[kill]
		t.Run(name, func(t *testing.T) { testOutage(t, kill) })
	}
}

type pipelineSim struct {
	pages, perPage int
	committed      atomic.Int64
	runs, failures atomic.Int64
	inflight       atomic.Bool  // a page is between Write and the end of its Confirm
	midPage        atomic.Int64 // failures of a Write or Confirm on an open connection
	mu             sync.Mutex
	errs           []string
}

// run sends until every page is committed or ctx ends.
func (p *pipelineSim) run(ctx context.Context, cfg Config) {
	for ctx.Err() == nil && p.committed.Load() < int64(p.pages) {
		p.runs.Add(1)
		s, err := New(cfg)
		if err != nil {
			p.fail(err)
			return
		}
		for pg := p.committed.Load(); pg < int64(p.pages); pg++ {
			b := page(int(pg)*p.perPage, p.perPage, 800)
			p.inflight.Store(true)
			err := s.Write(ctx, b)
			if err == nil {
				err = s.Confirm(ctx)
			}
			p.inflight.Store(false)
			if err != nil {
				if !strings.Contains(err.Error(), "connecting to") {
					p.midPage.Add(1)
				}
				p.fail(fmt.Errorf("page %d: %w", pg, err))
				break
			}
			p.committed.Store(pg + 1) // the cursor moves only after Confirm
			time.Sleep(15 * time.Millisecond)
		}
		s.Close()
		time.Sleep(50 * time.Millisecond) // the next scheduled run
	}
}

func (p *pipelineSim) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

func (p *pipelineSim) fail(err error) {
	p.failures.Add(1)
	p.mu.Lock()
	p.errs = append(p.errs, err.Error())
	p.mu.Unlock()
}

func testOutage(t *testing.T, kill bool) {
	r := rsyslogtest.Start(t, rsyslogtest.Options{})
	p := &pipelineSim{pages: 24, perPage: 500}
	outage := func(label string) {
		t.Logf("outage %s at page %d", label, p.committed.Load())
		if kill {
			r.Kill()
		} else {
			r.Stop()
		}
		time.Sleep(200 * time.Millisecond)
		r.Restart()
	}
	ctx := testCtx(t, 90*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(ctx, Config{URL: "tls://" + r.TLSAddr, CAPEM: r.PKI.CAPEM, DialAttempts: 2,
			BackoffMin: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond, ConfirmTimeout: 10 * time.Second})
	}()
	// waitPage waits for page n to be committed and the next one to be on
	// its way, so that the outage hits a run mid-page.
	waitPage := func(n int64) {
		for p.committed.Load() < n || !p.inflight.Load() {
			select {
			case <-done:
				return
			case <-ctx.Done():
				t.Fatalf("stuck at page %d of %d", p.committed.Load(), n)
			case <-time.After(time.Millisecond):
			}
		}
	}

	waitPage(3)
	outage("A")
	waitPage(8)
	r.Downstream.Pause()
	if kill {
		outage("B")
		waitPage(14)
		outage("C")
		if err := r.Downstream.Resume(); err != nil {
			t.Fatal(err)
		}
	} else {
		waitPage(14) // confirmed by the relay, queued: remoted is down
		outage("B")
		waitPage(17)
		queued := r.Downstream.Count()
		if err := r.Downstream.Resume(); err != nil {
			t.Fatal(err)
		}
		// Stop only once forwarding has resumed: the relay is draining a
		// backlog of confirmed events when SIGTERM arrives.
		if err := r.Downstream.WaitCount(queued+1, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		outage("C")
	}
	<-done
	if p.committed.Load() != int64(p.pages) {
		t.Fatalf("only %d of %d pages committed before the deadline; errors: %v", p.committed.Load(), p.pages, p.errors())
	}
	if p.failures.Load() == 0 {
		t.Fatal("no run ever failed: the outages did not hit the sender, the test proves nothing")
	}

	total := p.pages * p.perPage
	deadline := time.Now().Add(45 * time.Second)
	for {
		seen := map[int]int{}
		for _, l := range r.Lines() {
			seen[eventID(l)]++
		}
		var missing []int
		for id := range total {
			if seen[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			dups := len(r.Lines()) - total
			t.Logf("%d events delivered, %d duplicates, %d runs, %d failed (%d mid-page); first errors: %v",
				total, dups, p.runs.Load(), p.failures.Load(), p.midPage.Load(), first(p.errors(), 3))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never reached remoted (first ids %v); sender errors: %v",
				len(missing), total, first(missing, 10), first(p.errors(), 5))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func first[T any](s []T, n int) []T {
	if len(s) < n {
		return s
	}
	return s[:n]
}
