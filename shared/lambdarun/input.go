package lambdarun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Input is an invocation's payload: the EventBridge Scheduler target input
// of one schedule, {"stream": "audit", "tenant": "acme"}.
type Input struct {
	Stream string `json:"stream"`
	Tenant string `json:"tenant"`
}

// maxInput bounds the payload we try to decode; a schedule's input is a
// few dozen bytes.
const maxInput = 4096

// DecodeInput decodes a payload strictly: unknown fields are refused, so
// a typo in a schedule ("tenent") fails loudly instead of running the
// wrong tenant.
func DecodeInput(payload []byte) (Input, error) {
	var in Input
	if len(bytes.TrimSpace(payload)) == 0 {
		return in, &InputError{Msg: `empty payload; want {"stream":"…","tenant":"…"}`}
	}
	if len(payload) > maxInput {
		return in, &InputError{Msg: fmt.Sprintf("payload of %d bytes is too large; want {\"stream\":\"…\",\"tenant\":\"…\"}", len(payload))}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return in, &InputError{Msg: fmt.Sprintf(`payload is not valid JSON (at byte %d); want {"stream":"…","tenant":"…"}`, syn.Offset)}
		case errors.As(err, &typ):
			if typ.Field == "" {
				return in, &InputError{Msg: fmt.Sprintf(`payload is a JSON %s; want an object {"stream":"…","tenant":"…"}`, typ.Value)}
			}
			return in, &InputError{Msg: fmt.Sprintf("field %q must be a string, not a JSON %s", typ.Field, typ.Value)}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return in, &InputError{Msg: `payload is not valid JSON (it ends early); want {"stream":"…","tenant":"…"}`}
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return in, &InputError{Msg: strings.TrimPrefix(err.Error(), "json: ") + `; only "stream" and "tenant" are allowed`}
		}
		return in, &InputError{Msg: `payload does not decode as {"stream":"…","tenant":"…"}`}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return in, &InputError{Msg: "data after the JSON object"}
	}
	return in, nil
}

// Validate checks the input against the vendor's streams and the state
// key rules.
func (in Input) Validate(v *spec.Descriptor) error {
	var msgs []string
	switch {
	case in.Stream == "":
		msgs = append(msgs, fmt.Sprintf(`"stream" is required: one of %s`, strings.Join(v.StreamNames(), ", ")))
	case !hasStream(v, in.Stream):
		msgs = append(msgs, fmt.Sprintf(`"stream" %q is not a %s stream: use one of %s`, in.Stream, v.Name, strings.Join(v.StreamNames(), ", ")))
	}
	if in.Tenant == "" {
		msgs = append(msgs, `"tenant" is required: 1-64 letters, digits, '-' or '_' (it names the state record and the secret)`)
	} else if err := state.ValidateName(in.Tenant); err != nil {
		msgs = append(msgs, fmt.Sprintf(`"tenant": %v`, err))
	}
	if len(msgs) > 0 {
		return &InputError{Msg: strings.Join(msgs, "; ")}
	}
	return nil
}

// InputError is an invalid invocation payload. Lambda reports it with
// errorType "InputError".
type InputError struct{ Msg string }

func (e *InputError) Error() string { return "wazuh-pull: invalid invocation input: " + e.Msg }

// Output is the JSON summary an invocation returns (and logs).
type Output struct {
	Vendor string `json:"vendor"`
	Tenant string `json:"tenant"`
	Stream string `json:"stream"`
	RunID  string `json:"run_id"`
	// Ran is false when the stream was not collected (locked, or the run
	// could not start).
	Ran bool `json:"ran"`
	// Success is false when the stream failed; the invocation then also
	// returns an error.
	Success bool `json:"success"`
	// Stop says why collection stopped: caught_up, deadline, paced (the
	// syslog budget would have held the next page past the deadline),
	// request_budget (the vendor's request quota would have been used
	// up: an error event, but not a failure), interrupted, error or
	// locked.
	Stop string `json:"stop"`
	// Locked is true when another invocation holds the stream's lease;
	// this invocation did nothing, which is not a failure.
	Locked bool `json:"locked"`
	// Events were delivered (confirmed by the syslog peer) and committed.
	Events     int64 `json:"events"`
	Pages      int64 `json:"pages"`
	Duplicates int64 `json:"duplicates"`
	Reduced    int64 `json:"reduced"`
	// Backlog is true when the vendor had more than this invocation took;
	// the next scheduled run continues.
	Backlog        bool `json:"backlog"`
	CursorAdvanced bool `json:"cursor_advanced"`
	// Errors lists the error codes emitted as error events.
	Errors []string `json:"errors"`
	// NewestEvent is the newest delivered event's time (RFC 3339).
	NewestEvent string `json:"newest_event,omitempty"`
	// LagSeconds is now − NewestEvent.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	DurationMs int64    `json:"duration_ms"`
	// PacedMs is how long the syslog budget (SyslogEventsPerSecond) held
	// the pages back; with Stop "paced" it also left a page for the next
	// run. SyslogEventsPerSecond is the invocation's share (0: unpaced).
	PacedMs               int64   `json:"paced_ms"`
	SyslogEventsPerSecond float64 `json:"syslog_events_per_second"`
	// SummaryDelivered reports whether the run_summary event was confirmed.
	SummaryDelivered bool `json:"summary_delivered"`
}

// LogValue logs the summary as a JSON object.
func (o Output) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Bool("ran", o.Ran), slog.Bool("success", o.Success), slog.String("stop", o.Stop),
		slog.Bool("locked", o.Locked), slog.Int64("events", o.Events), slog.Int64("pages", o.Pages),
		slog.Int64("duplicates", o.Duplicates), slog.Int64("reduced", o.Reduced), slog.Bool("backlog", o.Backlog),
		slog.Bool("cursor_advanced", o.CursorAdvanced), slog.String("errors", strings.Join(o.Errors, ",")),
		slog.Int64("duration_ms", o.DurationMs), slog.Bool("summary_delivered", o.SummaryDelivered),
		slog.Int64("paced_ms", o.PacedMs), slog.Float64("syslog_events_per_second", o.SyslogEventsPerSecond),
	}
	if o.NewestEvent != "" {
		attrs = append(attrs, slog.String("newest_event", o.NewestEvent))
	}
	if o.LagSeconds != nil {
		attrs = append(attrs, slog.Float64("lag_seconds", *o.LagSeconds))
	}
	return slog.GroupValue(attrs...)
}

func hasStream(v *spec.Descriptor, name string) bool {
	_, ok := v.Stream(name)
	return ok
}

func newOutput(v *spec.Descriptor, in Input, runID string) Output {
	return Output{Vendor: v.Name, Tenant: in.Tenant, Stream: in.Stream, RunID: runID, Errors: []string{}}
}

func (o *Output) fill(res pipeline.Result, now time.Time) {
	o.Ran = res.Ran
	o.Success = res.Success
	o.Stop = res.Stop
	o.Locked = res.Stop == pipeline.StopLocked
	o.Events, o.Pages, o.Duplicates, o.Reduced = res.Events, res.Pages, res.Duplicates, res.Reduced
	o.Backlog = res.Backlog
	o.CursorAdvanced = res.CursorAdvanced
	o.Errors = append(o.Errors[:0], res.Errors...)
	o.PacedMs = res.Paced.Milliseconds()
	if !res.Newest.IsZero() {
		o.NewestEvent = res.Newest.UTC().Format(time.RFC3339Nano)
		lag := now.Sub(res.Newest).Seconds()
		o.LagSeconds = &lag
	}
}

// RunError is returned when the stream failed, so that Lambda counts an
// error, retries an asynchronous invocation and finally sends it to the
// dead-letter destination. Output still describes the run.
type RunError struct {
	Output Output
	Err    error
}

func (e *RunError) Error() string {
	o := e.Output
	msg := fmt.Sprintf("wazuh-pull: %s/%s/%s failed", o.Tenant, o.Vendor, o.Stream)
	if len(o.Errors) > 0 {
		msg += " (" + strings.Join(o.Errors, ", ") + ")"
	}
	msg += fmt.Sprintf(": stop=%s events=%d pages=%d backlog=%t cursor_advanced=%t run_id=%s", o.Stop, o.Events, o.Pages, o.Backlog, o.CursorAdvanced, o.RunID)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }
