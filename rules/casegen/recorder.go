package casegen

import (
	"bytes"
	"context"
	"errors"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// recorder is a sink that keeps every line written to it, the way a
// wodle's stdout or a syslog peer would receive them. With refuse set,
// Confirm fails as a sink does when the peer cannot prove receipt; the
// lines written were still received (and are kept), only not confirmed.
type recorder struct {
	lines  []string
	refuse bool
	// afterConfirm, if set, runs after each successful Confirm with the
	// number of confirmations so far (a run is interrupted there, as
	// SIGTERM would between two pages).
	afterConfirm func(n int)
	confirms     int
}

var _ sink.Sink = (*recorder)(nil)

// errNotConfirmed is what a refusing recorder reports.
var errNotConfirmed = errors.New("the peer closed the connection before confirming receipt")

func (r *recorder) Overhead() int { return 0 }

func (r *recorder) Write(_ context.Context, b []byte) error {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return sink.ErrPartialLine
	}
	for _, ln := range bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'}) {
		if len(ln) > 0 {
			r.lines = append(r.lines, string(ln))
		}
	}
	return nil
}

func (r *recorder) Confirm(context.Context) error {
	if r.refuse {
		return errNotConfirmed
	}
	r.confirms++
	if r.afterConfirm != nil {
		r.afterConfirm(r.confirms)
	}
	return nil
}

func (r *recorder) Close() error { return nil }
