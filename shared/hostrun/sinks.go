package hostrun

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog"
)

// sinkOptions choose where lines go: stdout (the wodle) or syslog.
type sinkOptions struct {
	target     string
	caFile     string
	certFile   string
	keyFile    string
	serverName string
	insecure   bool
	header     bool
	hostname   string
	tag        string
	facility   int
	severity   int
	allowUDP   bool
	confirm    int
	eps        float64
}

func addSinkFlags(fs *flag.FlagSet, s *sinkOptions, getenv func(string) string) {
	fs.StringVar(&s.target, "sink", envOr(getenv, "WAZUH_PULL_SINK", "stdout"), "where events go: stdout (Wazuh wodle), tcp://host:port, tls://host:port, udp://host:port (env WAZUH_PULL_SINK)")
	fs.StringVar(&s.caFile, "syslog-ca", getenv("WAZUH_PULL_SYSLOG_CA"), "tls: CA bundle (PEM) the relay's certificate must chain to; default: system pool (env WAZUH_PULL_SYSLOG_CA)")
	fs.StringVar(&s.certFile, "syslog-cert", getenv("WAZUH_PULL_SYSLOG_CERT"), "tls: client certificate (PEM) for mTLS (env WAZUH_PULL_SYSLOG_CERT)")
	fs.StringVar(&s.keyFile, "syslog-key", getenv("WAZUH_PULL_SYSLOG_KEY"), "tls: client private key (PEM) for mTLS (env WAZUH_PULL_SYSLOG_KEY)")
	fs.StringVar(&s.serverName, "syslog-server-name", "", "tls: name to verify in the relay's certificate (default: the host in --sink)")
	fs.BoolVar(&s.insecure, "syslog-insecure-skip-verify", false, "tls: DO NOT verify the relay's certificate (labs only; logged as a warning)")
	fs.BoolVar(&s.header, "syslog-header", false, "add an RFC 3164 header (\"Jan _2 15:04:05 host tag:\") for relays that want one")
	fs.StringVar(&s.hostname, "syslog-hostname", "", "hostname in the RFC 3164 header (default: this host)")
	fs.StringVar(&s.tag, "syslog-tag", "", "tag (program name) in the RFC 3164 header (default "+syslog.DefaultTag+")")
	fs.IntVar(&s.facility, "syslog-facility", 0, "syslog facility 1-23 (default 16, local0)")
	fs.IntVar(&s.severity, "syslog-severity", 0, "syslog severity 1-7 (default 6, info)")
	fs.BoolVar(&s.allowUDP, "allow-udp", false, "allow a udp:// sink (lossy: no delivery confirmation)")
	eps := float64(syslog.DefaultEventsPerSecond)
	if v := getenv("WAZUH_PULL_SYSLOG_EPS"); v != "" {
		// Checked by validate: the flag package would only say "invalid value".
		eps = parseEPS(v)
	}
	fs.Float64Var(&s.eps, "syslog-eps", eps, fmt.Sprintf("syslog: events per second this sender sends at most, so that a catch-up does not outrun the Wazuh manager (analysisd drops events when its queues fill); 0: no limit (env WAZUH_PULL_SYSLOG_EPS, default %g; senders sharing a manager share its capacity)", float64(syslog.DefaultEventsPerSecond)))
	fs.IntVar(&s.confirm, "confirm-pages", 1, "syslog: pages sent per delivery confirmation (each costs Wazuh a connection; more means more re-sent after a crash)")
}

func (s *sinkOptions) isStdout() bool { return s.target == "" || s.target == "stdout" }

func (s *sinkOptions) validate() error {
	if s.isStdout() {
		return nil
	}
	if !strings.HasPrefix(s.target, "tcp://") && !strings.HasPrefix(s.target, "tls://") && !strings.HasPrefix(s.target, "udp://") {
		return fmt.Errorf("--sink %q: use stdout, tcp://host:port, tls://host:port or udp://host:port", syslog.RedactURL(s.target))
	}
	if s.confirm < 1 {
		return fmt.Errorf("--confirm-pages must be at least 1")
	}
	if !(s.eps >= 0 && s.eps <= syslog.MaxEventsPerSecond) {
		return fmt.Errorf("--syslog-eps (or WAZUH_PULL_SYSLOG_EPS) must be a number of events per second from 0 (no limit) to %g", float64(syslog.MaxEventsPerSecond))
	}
	return nil
}

// parseEPS reads WAZUH_PULL_SYSLOG_EPS; what is not a number becomes NaN,
// which validate refuses.
func parseEPS(v string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

func (s *sinkOptions) confirmPages() int {
	if s.isStdout() {
		return 1
	}
	return s.confirm
}

// open builds the sink. Key material is read here and handed over as
// bytes; it never appears in an error.
func (s *sinkOptions) open(stdoutFile *os.File, maxLine int, log *slog.Logger) (sink.Sink, error) {
	if s.isStdout() {
		return newStdout(stdoutFile), nil
	}
	cfg := syslog.Config{
		URL:                s.target,
		AllowUDP:           s.allowUDP,
		Facility:           s.facility,
		Severity:           s.severity,
		Header:             s.header,
		Hostname:           s.hostname,
		Tag:                s.tag,
		MaxLine:            maxLine,
		ServerName:         s.serverName,
		InsecureSkipVerify: s.insecure,
		EventsPerSecond:    s.eps,
		Logger:             log,
	}
	if err := cfg.LoadTLSFiles(s.caFile, s.certFile, s.keyFile); err != nil {
		return nil, err
	}
	return syslog.New(cfg)
}
