package hostrun

import (
	"fmt"
	"os"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/hostrun/wodle"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// wodlePlan is how one run commits its cursors and how many events it may
// print, decided from the process that reads its output.
//
// The rule: when the run writes to stdout and its reader is
// wazuh-modulesd (its parent, or its parent's through sh, bash or dash
// wrappers), cursors are committed in two steps (CommitPending) and the
// run prints at most what modulesd forwards within --wodle-interval at
// its wazuh_modules.max_eps. Anywhere else (a terminal, cron, a test, a
// syslog sink) a cursor moves as soon as the reader took the lines, as
// before, and only --max-events bounds a run. --commit and --max-events
// override either choice.
type wodlePlan struct {
	stdout    bool
	backfill  bool
	reader    wodle.Reader
	readerErr error
	// mode is CommitPending or CommitImmediate.
	mode string
	// maxEvents bounds the run (0: no bound); sized says it was computed
	// from the wodle's interval and rate.
	maxEvents int64
	sized     bool
	rate      wodle.Rate
}

func (p wodlePlan) underModulesd() bool { return p.readerErr == nil && p.reader.Modulesd() }

// identity is the reader identity pending positions are tagged with ("":
// unknown, nothing is ever promoted). While modulesd cannot reach the
// queue's daemon (Reader.QueueBroken) it is unknown too: what modulesd
// forwards is dropped, so this run's output and the last run's may be
// lost; they are read again once modulesd restarts.
func (p wodlePlan) identity() string {
	if p.readerErr != nil || p.reader.QueueBroken() {
		return ""
	}
	return p.reader.Identity()
}

func (o *options) planWodle(proc wodle.Proc) (wodlePlan, error) {
	p := wodlePlan{stdout: o.sinkOpts.isStdout(), backfill: o.backfill, maxEvents: o.maxEvents, mode: CommitImmediate}
	p.reader, p.readerErr = wodle.FindReader(proc)
	switch {
	case !p.stdout:
	case o.commit == CommitPending:
		if p.readerErr != nil {
			return p, fmt.Errorf("--commit pending needs to identify the process that reads the output, and cannot: %w", p.readerErr)
		}
		p.mode = CommitPending
	case o.commit == CommitAuto && p.underModulesd():
		p.mode = CommitPending
	}
	if p.stdout && p.underModulesd() && !o.maxEventsSet {
		// modulesd runs the command in the Wazuh home; a wrapper may have
		// changed directory, so modulesd's own directory comes next.
		cwd, _ := os.Getwd()
		p.rate = wodle.ReadMaxEPS(cwd, p.reader.Dir)
		p.maxEvents = wodle.RunEvents(o.wodleInterval, o.maxRuntime, p.rate.MaxEPS)
		p.sized = true
	}
	return p, nil
}

// summaryFields is the run summary's "wodle" object (stdout runs only):
// who read the output, how cursors were committed, how the run was
// sized, and what became of pending positions.
func (p wodlePlan) summaryFields(o *options, ts *twoStep, tenants []string, keys []state.Key) event.Fields {
	if !p.stdout {
		return nil
	}
	reader := "unknown"
	if p.readerErr == nil {
		reader = p.reader.Comm
	}
	commit := p.mode
	if p.backfill {
		commit = "none"
	}
	f := event.Fields{
		{Key: "reader", Value: reader},
		{Key: "commit", Value: commit},
		{Key: "max_events", Value: p.maxEvents},
	}
	if p.reader.Queue != wodle.QueueUnknown {
		f = append(f, event.Field{Key: "queue_daemon", Value: p.reader.QueueDaemon}, event.Field{Key: "queue", Value: p.reader.Queue})
	}
	switch {
	case p.sized:
		f = append(f,
			event.Field{Key: "max_events_from", Value: "interval"},
			event.Field{Key: "interval", Value: o.wodleIntervalText},
			event.Field{Key: "max_eps", Value: p.rate.MaxEPS},
			event.Field{Key: "max_eps_from", Value: p.rate.From},
		)
	case o.maxEventsSet:
		f = append(f, event.Field{Key: "max_events_from", Value: "--max-events"})
	default:
		f = append(f, event.Field{Key: "max_events_from", Value: "none"})
	}
	if ts != nil {
		if pf := ts.pendingFields(tenants, keys); len(pf) > 0 {
			f = append(f, event.Field{Key: "pending", Value: pf})
		}
	}
	return event.Fields{{Key: "wodle", Value: f}}
}
