package hostrun

import (
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog"
)

func parseSinkFlags(t *testing.T, env map[string]string, args ...string) (*sinkOptions, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := &sinkOptions{}
	addSinkFlags(fs, s, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return s, s.validate()
}

// The syslog sink is paced at syslog.DefaultEventsPerSecond unless
// --syslog-eps or WAZUH_PULL_SYSLOG_EPS (the flag wins) says otherwise;
// 0 turns the limit off.
func TestSyslogEventsPerSecond(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		env  string
		args []string
		want float64
	}{
		{"", nil, syslog.DefaultEventsPerSecond},
		{"250", nil, 250},
		{"250", []string{"--syslog-eps", "40"}, 40},
		{"", []string{"--syslog-eps", "0"}, 0},
		{" 0.5 ", nil, 0.5},
	} {
		s, err := parseSinkFlags(t, map[string]string{"WAZUH_PULL_SYSLOG_EPS": c.env}, append([]string{"--sink", "tcp://127.0.0.1:1"}, c.args...)...)
		if err != nil {
			t.Fatalf("env %q args %v: %v", c.env, c.args, err)
		}
		out, err := s.open(nil, 0, log)
		if err != nil {
			t.Fatal(err)
		}
		if got := out.(*syslog.Sink).EventsPerSecond(); got != c.want {
			t.Errorf("env %q args %v: sink paced at %v, want %v", c.env, c.args, got, c.want)
		}
		out.Close()
	}
	for _, c := range []struct {
		env  string
		args []string
	}{
		{"fast", nil},
		{"-3", nil},
		{"", []string{"--syslog-eps", "-1"}},
		{"", []string{"--syslog-eps", "2e6"}},
	} {
		_, err := parseSinkFlags(t, map[string]string{"WAZUH_PULL_SYSLOG_EPS": c.env}, append([]string{"--sink", "tcp://127.0.0.1:1"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), "--syslog-eps (or WAZUH_PULL_SYSLOG_EPS)") {
			t.Errorf("env %q args %v: %v", c.env, c.args, err)
		}
	}
}
