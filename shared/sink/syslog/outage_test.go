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

// TestRelayOutage plays the pipeline against the shipped relay (Direct
// mode, its default) that is stopped (SIGTERM) or killed (SIGKILL) and
// restarted three times per run:
//
//	A  while pages flow, remoted up;
//	B  while remoted stops accepting connections: the relay dies, comes
//	   back unable to reach remoted and must not confirm anything (the
//	   cursor stalls) until remoted is back;
//	C  after remoted is back, while the backlog catches up.
//
// A run writes pages from the committed cursor, confirming each; a failed
// Write or Confirm ends the run, and the next run re-sends from the cursor.
// Every event must reach remoted at least once.
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
		p.run(ctx, Config{URL: "tls://" + r.Addr, CAPEM: r.PKI.CAPEM, ClientCertPEM: r.PKI.ClientCertPEM, ClientKeyPEM: r.PKI.ClientKeyPEM, DialAttempts: 2,
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
	// remoted stops accepting connections; the relay dies and comes back
	// unable to reach it. It cannot forward, so it must not confirm.
	r.Downstream.Pause()
	outage("B")
	stalled := p.committed.Load()
	time.Sleep(1500 * time.Millisecond)
	if got := p.committed.Load(); got > stalled {
		t.Fatalf("the relay confirmed %d pages while remoted was unreachable", got-stalled)
	}
	if err := r.Downstream.Resume(); err != nil {
		t.Fatal(err)
	}
	waitPage(14)
	outage("C")
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
