package wazuhlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// LogtestRequest is one event for wazuh-logtest.
type LogtestRequest struct {
	Event    string `json:"event"`
	Location string `json:"location"`
	// LogFormat defaults to "syslog" (what remoted and wodles feed
	// analysisd; the pre-decoder reads an optional syslog header).
	LogFormat string `json:"log_format"`
	// Token continues a session: frequency and correlation rules see the
	// session's earlier events. Empty starts a new session (each new
	// session loads the ruleset, about a second).
	Token string `json:"token,omitempty"`
	// Options: {"rules_debug": true} lists every rule tried (RulesDebug).
	Options map[string]any `json:"options,omitempty"`
}

// LogtestResult is what analysisd made of the event.
type LogtestResult struct {
	Token    string   `json:"token"`
	Alert    bool     `json:"alert"`
	CodeMsg  int      `json:"codemsg"`
	Messages []string `json:"messages"`
	Output   Event    `json:"output"`
	// RulesDebug lists the rules tried, with Options rules_debug.
	RulesDebug []string `json:"rules_debug,omitempty"`
}

// Event is an analysed event, as in logtest output, alerts.json and
// archives.json.
type Event struct {
	Timestamp string          `json:"timestamp"`
	Rule      *Rule           `json:"rule,omitempty"`
	Decoder   Decoder         `json:"decoder"`
	Data      json.RawMessage `json:"data,omitempty"`
	Location  string          `json:"location"`
	FullLog   string          `json:"full_log"`
	ID        string          `json:"id"`
	Agent     struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"agent"`
	Predecoder struct {
		ProgramName string `json:"program_name"`
		Hostname    string `json:"hostname"`
		Timestamp   string `json:"timestamp"`
	} `json:"predecoder"`
}

// Decoder names the decoder that claimed the event.
type Decoder struct {
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"`
}

// Rule is the rule an event ended on.
type Rule struct {
	ID          string   `json:"id"`
	Level       int      `json:"level"`
	Description string   `json:"description"`
	Groups      []string `json:"groups"`
	FiredTimes  int      `json:"firedtimes"`
	Frequency   int      `json:"frequency,omitempty"`
	Mitre       *struct {
		ID []string `json:"id"`
	} `json:"mitre,omitempty"`
	PCIDSS   []string `json:"pci_dss,omitempty"`
	GDPR     []string `json:"gdpr,omitempty"`
	HIPAA    []string `json:"hipaa,omitempty"`
	NIST     []string `json:"nist_800_53,omitempty"`
	TSC      []string `json:"tsc,omitempty"`
	GPG13    []string `json:"gpg13,omitempty"`
	Mail     bool     `json:"mail"`
	Previous []string `json:"previous_output,omitempty"`
}

// logtestEnvelope is the socket's request and answer.
type logtestEnvelope struct {
	Version    int             `json:"version"`
	Origin     map[string]any  `json:"origin"`
	Command    string          `json:"command"`
	Parameters any             `json:"parameters"`
	Error      int             `json:"error"`
	Message    string          `json:"message"`
	Data       json.RawMessage `json:"data"`
}

// maxLogtestAnswer bounds an answer: an event is below 64 KiB, its decoded
// fields and rule at most a few times that.
const maxLogtestAnswer = 8 << 20

// Logtest sends one event to analysisd's logtest socket.
func (l *Lab) Logtest(ctx context.Context, req LogtestRequest) (*LogtestResult, error) {
	if req.LogFormat == "" {
		req.LogFormat = "syslog"
	}
	data, err := l.logtestCall(ctx, "log_processing", req)
	if err != nil {
		return nil, err
	}
	return ParseLogtestData(data)
}

// ParseLogtestData decodes the "data" member of a log_processing answer.
func ParseLogtestData(data []byte) (*LogtestResult, error) {
	var res LogtestResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("wazuhlab: logtest answer: %w", err)
	}
	return &res, nil
}

// EndLogtestSession removes a logtest session (there are at most 64).
func (l *Lab) EndLogtestSession(ctx context.Context, token string) error {
	_, err := l.logtestCall(ctx, "remove_session", map[string]string{"token": token})
	return err
}

func (l *Lab) logtestCall(ctx context.Context, command string, params any) (json.RawMessage, error) {
	msg, err := json.Marshal(logtestEnvelope{
		Version: 1, Origin: map[string]any{"name": "wazuhlab", "module": "wazuhlab"},
		Command: command, Parameters: params,
	})
	if err != nil {
		return nil, fmt.Errorf("wazuhlab: logtest: %w", err)
	}
	c, err := l.dialLogtest(ctx)
	if err != nil {
		return nil, fmt.Errorf("wazuhlab: logtest socket (is analysisd running?): %w", err)
	}
	defer c.Close()
	// A new session loads the whole ruleset first; the caller's context is
	// the only deadline.
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := writeFrame(c, msg); err != nil {
		return nil, fmt.Errorf("wazuhlab: logtest: %w", err)
	}
	b, err := readFrame(c, maxLogtestAnswer)
	if err != nil {
		return nil, fmt.Errorf("wazuhlab: logtest answer: %w", err)
	}
	var env logtestEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("wazuhlab: logtest answer is not JSON: %w", err)
	}
	if env.Error != 0 {
		return nil, fmt.Errorf("wazuhlab: logtest error %d: %s", env.Error, env.Message)
	}
	return env.Data, nil
}

// dialLogtest connects to analysisd's logtest socket. The lab calls
// analysisd ready once its socket files exist, but a socket file exists
// from bind(), before listen(): a refused connection is tried again while
// analysisd runs, for at most the start timeout (a test once failed on
// it, right after a start).
func (l *Lab) dialLogtest(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	until := time.Now().Add(l.opts.StartTimeout)
	for {
		c, err := d.DialContext(ctx, "unix", l.Path("queue", "sockets", "logtest"))
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || !l.Running(Analysisd) || time.Now().After(until) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// LogtestSession keeps one logtest session across events.
type LogtestSession struct {
	lab      *Lab
	token    string
	location string
}

// NewLogtestSession returns a session whose first event creates it;
// location is the default location of its events.
func (l *Lab) NewLogtestSession(location string) *LogtestSession {
	return &LogtestSession{lab: l, location: location}
}

// Process sends one event in the session (location "" = the session's).
func (s *LogtestSession) Process(ctx context.Context, event, location string) (*LogtestResult, error) {
	if location == "" {
		location = s.location
	}
	res, err := s.lab.Logtest(ctx, LogtestRequest{Event: event, Location: location, Token: s.token})
	if err != nil {
		return nil, err
	}
	if res.Token != "" {
		s.token = res.Token
	}
	return res, nil
}

// Close ends the session.
func (s *LogtestSession) Close(ctx context.Context) error {
	if s.token == "" {
		return nil
	}
	err := s.lab.EndLogtestSession(ctx, s.token)
	s.token = ""
	return err
}
