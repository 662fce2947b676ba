package syslog

import (
	"bytes"
	"context"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// DefaultEventsPerSecond is the limit the command line (localrun --sink)
// applies unless told otherwise, per sender. On a busy two-core manager,
// analysisd kept up with about 1 000 of our 1Password events a second,
// from one sender or several together (more for a minute or two, until
// its queues filled; docs/syslog-pacing.md): a quarter of that leaves room
// for a busier manager, its own agents, and a few senders at once.
const DefaultEventsPerSecond = 250

// MaxEventsPerSecond bounds Config.EventsPerSecond; past it a limit means
// nothing a manager could absorb anyway.
const MaxEventsPerSecond = 1e6

// pacer keeps a sink to its events-per-second limit with a token bucket
// holding one second's worth of lines: an idle sender may send that much
// at once, and then one line per 1/limit seconds. Lines that fit in the
// bucket go at once, without a timer; pacing costs nothing until it holds
// a sender back.
type pacer struct {
	lim   *rate.Limiter
	limit float64
	burst int
	// now and sleep are the bucket's clock; fields so that tests can
	// replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func newPacer(perSecond float64) *pacer {
	burst := int(math.Ceil(perSecond))
	return &pacer{
		lim:   rate.NewLimiter(rate.Limit(perSecond), burst),
		limit: perSecond,
		burst: burst,
		now:   time.Now,
		sleep: sleepCtx,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// delay is how long sending n more lines, starting now, would be held back
// in all: the time the bucket needs to refill the tokens it lacks.
func (p *pacer) delay(n int) time.Duration {
	lack := float64(n) - p.lim.TokensAt(p.now())
	if lack <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(lack / p.limit * float64(time.Second)))
}

// plan decides how a write of n lines reaches the wire before by (zero:
// no bound). It returns 0 when the write keeps to the limit, or, when the
// limit would hold it back past by, the time each line may take so that
// the lines are spread evenly over what is left until by (a negative
// spacing means "no time left: at once").
func (p *pacer) plan(n int, by time.Time) (spacing time.Duration, hurry bool) {
	if by.IsZero() || n == 0 {
		return 0, false
	}
	now := p.now()
	d := p.delay(n)
	if d == 0 || !now.Add(d).After(by) {
		return 0, false
	}
	return by.Sub(now) / time.Duration(n), true
}

// take waits until the bucket lets n lines (at most burst) go and takes
// their tokens. It returns how long it waited; on an error (ctx ended)
// nothing was taken.
func (p *pacer) take(ctx context.Context, n int) (time.Duration, error) {
	now := p.now()
	if p.lim.AllowN(now, n) {
		return 0, nil
	}
	r := p.lim.ReserveN(now, n)
	d := r.DelayFrom(now)
	if err := p.sleep(ctx, d); err != nil {
		r.CancelAt(p.now())
		return 0, err
	}
	return d, nil
}

// drain empties the bucket after a hurried write, which sent faster than
// the limit without taking tokens: the writes that follow start from an
// empty bucket instead of bursting on top of it. The bucket never goes
// into debt, so a line written after a hurried page (the run summary)
// waits at most one line's time.
func (p *pacer) drain() {
	now := p.now()
	if n := int(p.lim.TokensAt(now)); n > 0 {
		p.lim.ReserveN(now, min(n, p.burst))
	}
}

// nextLines returns the prefix of b holding its first n non-empty lines
// (b is whole lines, as checkLines verified), how many it holds, and the
// rest.
func nextLines(b []byte, n int) (head []byte, lines int, rest []byte) {
	end := 0
	for end < len(b) && lines < n {
		i := bytes.IndexByte(b[end:], '\n')
		if i > 0 {
			lines++
		}
		end += i + 1
	}
	return b[:end], lines, b[end:]
}
