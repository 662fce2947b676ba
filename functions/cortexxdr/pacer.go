package cortexxdr

import (
	"context"
	"sync"
	"time"
)

// pacer spaces the requests of all streams of one tenant: the API's limit
// (10 requests per second) is per tenant, whatever the key or endpoint.
// After a failed attempt it also holds the whole tenant back for a pause
// that doubles while failures continue, so two streams do not keep
// hammering a tenant that is throttling or failing. It runs on the
// collector's clock, so tests pace in simulated time.
type pacer struct {
	interval  time.Duration // between request starts; 0: unpaced
	first     time.Duration // first pause after a failure
	max       time.Duration
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	mu        sync.Mutex
	next      time.Time     // earliest start of the next request
	pause     time.Duration // current pause after failures (0: none)
	throttled int           // failed attempts, for tests and logs
}

func newPacer(cfg Config) *pacer {
	p := &pacer{first: cfg.RetryPause, max: cfg.MaxRetryPause, now: cfg.Now, sleep: cfg.Sleep}
	if cfg.RequestsPerSecond > 0 {
		p.interval = time.Duration(float64(time.Second) / cfg.RequestsPerSecond)
	}
	return p
}

// wait blocks until the next request may start. retry says that the
// previous attempt of this request failed: the tenant then pauses first.
func (p *pacer) wait(ctx context.Context, retry bool) error {
	p.mu.Lock()
	now := p.now()
	if retry {
		p.failLocked(now)
	}
	start := now
	if p.next.After(start) {
		start = p.next
	}
	p.next = start.Add(p.interval)
	p.mu.Unlock()
	return p.sleep(ctx, start.Sub(now))
}

// failed pauses the tenant after a request whose reply could not be
// used though its status was a success (a throttle in a 200 envelope).
func (p *pacer) failed() {
	p.mu.Lock()
	p.failLocked(p.now())
	p.mu.Unlock()
}

func (p *pacer) failLocked(now time.Time) {
	p.throttled++
	if p.pause == 0 {
		p.pause = p.first
	} else {
		p.pause = min(2*p.pause, p.max)
	}
	if until := now.Add(p.pause); until.After(p.next) {
		p.next = until
	}
}

// succeeded ends a run of failures.
func (p *pacer) succeeded() {
	p.mu.Lock()
	p.pause = 0
	p.mu.Unlock()
}
