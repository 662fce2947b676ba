package syslog

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// Defaults applied by New and Validate to zero-valued fields.
const (
	DefaultFacility       = 16 // local0: free for local use, unlike user (1) or daemon (3)
	DefaultSeverity       = 6  // informational
	DefaultTag            = "wazuh-pull"
	DefaultDialTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultConfirmTimeout = 30 * time.Second
	DefaultDialAttempts   = 4
	DefaultBackoffMin     = 250 * time.Millisecond
	DefaultBackoffMax     = 5 * time.Second

	// MaxTCPLine is the hard cap on MaxLine for TCP and TLS: wazuh-remoted
	// drops the connection, with this line and every later one, when a line
	// and its '\n' reach 64 KiB.
	MaxTCPLine = 65534
	// MaxUDPLine is the largest UDP payload over IPv4; one datagram carries
	// one line (without '\n').
	MaxUDPLine = 65507
)

// Config describes one syslog destination. The zero value of every field but
// URL selects the documented default.
type Config struct {
	// URL is tcp://host:port, tls://host:port or udp://host:port. Without a
	// port, tcp and udp use 514 and tls uses 6514.
	URL string
	// AllowUDP must be true for a udp:// URL: UDP loses datagrams silently
	// and cannot confirm receipt.
	AllowUDP bool

	// Facility (1-23) and Severity (1-7) make up <PRI>. Zero selects
	// DefaultFacility (16, local0) and DefaultSeverity (6, info), so facility
	// kern (0) and severity emerg (0) cannot be chosen; both are wrong for
	// these events anyway.
	// wazuh-remoted strips <PRI>, so they matter only to relays.
	Facility int
	Severity int

	// Header adds an RFC 3164 header after <PRI>: "Jan _2 15:04:05 host tag: ".
	// The timestamp is in UTC (Lambda's zone, and unambiguous across hosts),
	// without year, zone or fraction: the only timestamp form wazuh-analysisd
	// parses that cannot be misread. Off by default: Wazuh decodes a bare
	// JSON line with its json decoder on every path.
	Header bool
	// Hostname for the header: letters, digits, '.', '_' and '-' (no IPv6,
	// Wazuh would not find the program name). Default: os.Hostname(), or
	// "localhost" when that is not usable.
	Hostname string
	// Tag (program name) for the header, 1-32 of letters, digits, '.', '_',
	// '-' and '/'. Default: DefaultTag.
	Tag string

	// MaxLine is the longest line in bytes, counting <PRI> and the header but
	// not '\n'. Default: sink.DefaultMaxLine. At most MaxTCPLine (TCP/TLS) or
	// MaxUDPLine (UDP).
	MaxLine int

	// TLS settings; only allowed with a tls:// URL, so that a typo in the
	// scheme cannot silently send in clear text.
	CAPEM              []byte // CA bundle the server must chain to; empty = system pool
	ServerName         string // name to verify; default: the URL's host
	ClientCertPEM      []byte // client certificate chain for mTLS (with ClientKeyPEM)
	ClientKeyPEM       []byte // its private key; never logged nor put in an error
	InsecureSkipVerify bool   // labs only: accept any server; logged as a warning on every connection
	MinVersion         uint16 // default and lowest allowed: tls.VersionTLS12
	MaxVersion         uint16 // 0 = newest supported

	// Timeouts. Each is also bounded by the context's deadline.
	DialTimeout    time.Duration // TCP connect plus TLS handshake
	WriteTimeout   time.Duration // one Write call
	ConfirmTimeout time.Duration // waiting for the peer to close after our half-close

	// Reconnect: a new connection is tried DialAttempts times, waiting an
	// exponentially growing, jittered pause from BackoffMin up to BackoffMax
	// between tries, never past the context's deadline.
	DialAttempts int
	BackoffMin   time.Duration
	BackoffMax   time.Duration

	// EventsPerSecond limits how many lines the sink sends per second, so
	// that a sender catching up a backlog does not outrun what the Wazuh
	// manager absorbs (analysisd drops archive records when its queues
	// fill). 0 means no limit. An idle sink may send one second's worth at
	// once; the rest waits (see Write). It is per sink: senders sharing a
	// manager share its capacity.
	EventsPerSecond float64

	// Logger receives connection events and warnings; nil discards them.
	Logger *slog.Logger
}

// Endpoint is a parsed syslog URL.
type Endpoint struct {
	Scheme string // "tcp", "tls" or "udp"
	Host   string // host name or IP address, without brackets
	Port   int
}

// Addr is host:port for net.Dial.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// String is the URL form, safe to log.
func (e Endpoint) String() string { return e.Scheme + "://" + e.Addr() }

// ParseURL parses tcp://host[:port], tls://host[:port] or udp://host[:port].
// It refuses anything else (a path, a query, credentials) so that a
// mistyped URL fails at startup rather than sending somewhere unexpected.
// Its errors show the URL as RedactURL does, never a password or token
// given as userinfo.
func ParseURL(raw string) (Endpoint, error) {
	if raw == "" {
		return Endpoint{}, errors.New("syslog: URL is empty; want tcp://host:port, tls://host:port or udp://host:port")
	}
	shown := RedactURL(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return Endpoint{}, fmt.Errorf("syslog: URL %q does not parse: want tcp://host:port, tls://host:port or udp://host:port", shown)
	}
	if u.User != nil || strings.Contains(u.Opaque, "@") {
		return Endpoint{}, fmt.Errorf("syslog: URL %q must not carry credentials; use a client certificate for the relay (tls://)", shown)
	}
	var port int
	switch u.Scheme {
	case "tcp", "udp":
		port = 514
	case "tls":
		port = 6514
	default:
		return Endpoint{}, fmt.Errorf("syslog: URL %q: scheme must be tcp, tls or udp", shown)
	}
	switch {
	case u.Opaque != "":
		return Endpoint{}, fmt.Errorf("syslog: URL %q: want scheme://host:port", shown)
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return Endpoint{}, fmt.Errorf("syslog: URL %q: only scheme://host:port is allowed (no path, query or fragment)", shown)
	}
	host := u.Hostname()
	if host == "" {
		return Endpoint{}, fmt.Errorf("syslog: URL %q has no host", shown)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Endpoint{}, fmt.Errorf("syslog: URL %q: port must be 1-65535", shown)
		}
		port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return Endpoint{}, fmt.Errorf("syslog: URL %q: empty port", shown)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return Endpoint{}, fmt.Errorf("syslog: URL %q: bad IPv6 address", shown)
	}
	return Endpoint{Scheme: u.Scheme, Host: host, Port: port}, nil
}

// RedactURL returns raw fit for a log line or an error message: its
// userinfo masked as a whole, since a user name alone may be the token
// ((*url.URL).Redacted masks only a password). When raw does not parse, or
// parses without an authority, whatever sits between "//" and the last '@'
// before the next '/', '?' or '#' is masked. Print sink
// URLs given by users (--sink, WAZUH_PULL_SYSLOG_URL) only through it.
func RedactURL(raw string) string {
	const mask = "xxxxx"
	u, err := url.Parse(raw)
	if err == nil {
		if u.User != nil {
			// The user name goes too: "token@host" and "token:@host"
			// carry the credential there.
			u.User = url.User(mask)
			return u.Redacted()
		}
		if at := strings.LastIndex(u.Opaque, "@"); at >= 0 {
			u.Opaque = mask + u.Opaque[at:]
		}
		// Without a scheme "//" starts no authority for url.Parse, but
		// whoever typed "tls//user:pw@host" meant one.
		raw = u.Redacted()
	}
	start := 0
	if i := strings.Index(raw, "//"); i >= 0 {
		start = i + 2
	} else if err == nil {
		return raw
	}
	authority := raw[start:]
	if end := strings.IndexAny(authority, "/?#"); end >= 0 {
		authority = authority[:end]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	return raw[:start] + mask + raw[start+at:]
}

// LoadTLSFiles reads PEM files into c for the CLI (the Lambda gets the same
// bytes from its secret store). An empty path leaves the field alone. Errors
// name the file, never its content.
func (c *Config) LoadTLSFiles(caFile, clientCertFile, clientKeyFile string) error {
	for _, f := range []struct {
		path string
		dst  *[]byte
		what string
	}{
		{caFile, &c.CAPEM, "CA bundle"},
		{clientCertFile, &c.ClientCertPEM, "client certificate"},
		{clientKeyFile, &c.ClientKeyPEM, "client key"},
	} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("syslog: reading %s: %w", f.what, err)
		}
		*f.dst = b
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Facility == 0 {
		c.Facility = DefaultFacility
	}
	if c.Severity == 0 {
		c.Severity = DefaultSeverity
	}
	if c.Header && c.Hostname == "" {
		c.Hostname = defaultHostname()
	}
	if c.Header && c.Tag == "" {
		c.Tag = DefaultTag
	}
	if c.MaxLine == 0 {
		c.MaxLine = sink.DefaultMaxLine
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ConfirmTimeout == 0 {
		c.ConfirmTimeout = DefaultConfirmTimeout
	}
	if c.DialAttempts == 0 {
		c.DialAttempts = DefaultDialAttempts
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func defaultHostname() string {
	h, err := os.Hostname()
	if err != nil || validName(h, 255, false) != nil {
		return "localhost"
	}
	return h
}

// Validate reports the first problem in c, as New would see it (defaults
// applied). It does not contact the destination.
func (c Config) Validate() error {
	_, err := c.withDefaults().check()
	return err
}

// check validates a defaulted Config and returns its endpoint.
func (c Config) check() (Endpoint, error) {
	ep, err := ParseURL(c.URL)
	if err != nil {
		return ep, err
	}
	if ep.Scheme == "udp" && !c.AllowUDP {
		return ep, errors.New("syslog: udp:// needs AllowUDP: UDP drops events silently and cannot confirm receipt")
	}
	if c.Facility < 1 || c.Facility > 23 {
		return ep, fmt.Errorf("syslog: Facility %d out of range 1-23 (0 = default %d)", c.Facility, DefaultFacility)
	}
	if c.Severity < 1 || c.Severity > 7 {
		return ep, fmt.Errorf("syslog: Severity %d out of range 1-7 (0 = default %d)", c.Severity, DefaultSeverity)
	}
	if c.Header {
		if err := validName(c.Hostname, 255, false); err != nil {
			return ep, fmt.Errorf("syslog: Hostname: %w", err)
		}
		if err := validName(c.Tag, 32, true); err != nil {
			return ep, fmt.Errorf("syslog: Tag: %w", err)
		}
	} else if c.Hostname != "" || c.Tag != "" {
		return ep, errors.New("syslog: Hostname and Tag are only used with Header")
	}
	limit := MaxTCPLine
	if ep.Scheme == "udp" {
		limit = MaxUDPLine
	}
	if c.MaxLine < 0 || c.MaxLine > limit {
		return ep, fmt.Errorf("syslog: MaxLine %d out of range 1-%d for %s", c.MaxLine, limit, ep.Scheme)
	}
	if ov := overhead(c); c.MaxLine <= ov {
		return ep, fmt.Errorf("syslog: MaxLine %d leaves no room after the %d-byte prefix", c.MaxLine, ov)
	}
	if err := c.checkTLS(ep); err != nil {
		return ep, err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DialTimeout", c.DialTimeout}, {"WriteTimeout", c.WriteTimeout}, {"ConfirmTimeout", c.ConfirmTimeout},
		{"BackoffMin", c.BackoffMin}, {"BackoffMax", c.BackoffMax},
	} {
		if d.v < 0 {
			return ep, fmt.Errorf("syslog: %s must not be negative", d.name)
		}
	}
	if !(c.EventsPerSecond >= 0 && c.EventsPerSecond <= MaxEventsPerSecond) {
		return ep, fmt.Errorf("syslog: EventsPerSecond %v out of range 0-%g (0 = no limit)", c.EventsPerSecond, float64(MaxEventsPerSecond))
	}
	if c.BackoffMax < c.BackoffMin {
		return ep, fmt.Errorf("syslog: BackoffMax %v is below BackoffMin %v", c.BackoffMax, c.BackoffMin)
	}
	if c.DialAttempts < 1 || c.DialAttempts > 100 {
		return ep, fmt.Errorf("syslog: DialAttempts %d out of range 1-100", c.DialAttempts)
	}
	return ep, nil
}

func (c Config) checkTLS(ep Endpoint) error {
	if ep.Scheme != "tls" {
		if len(c.CAPEM) > 0 || c.ServerName != "" || len(c.ClientCertPEM) > 0 || len(c.ClientKeyPEM) > 0 || c.InsecureSkipVerify {
			return fmt.Errorf("syslog: TLS settings given for a %s:// URL; use tls:// to encrypt", ep.Scheme)
		}
		return nil
	}
	if c.MinVersion < tls.VersionTLS12 {
		return errors.New("syslog: MinVersion below TLS 1.2 is not allowed")
	}
	if c.MaxVersion != 0 && c.MaxVersion < c.MinVersion {
		return errors.New("syslog: MaxVersion is below MinVersion")
	}
	if (len(c.ClientCertPEM) > 0) != (len(c.ClientKeyPEM) > 0) {
		return errors.New("syslog: ClientCertPEM and ClientKeyPEM must be given together")
	}
	if c.InsecureSkipVerify && len(c.CAPEM) > 0 {
		return errors.New("syslog: InsecureSkipVerify together with CAPEM: the CA would be ignored; drop one")
	}
	_, err := c.tlsConfig(ep)
	return err
}

// validName checks a header hostname or tag against the characters
// wazuh-analysisd accepts there ([A-Za-z0-9()._/@-]), minus the ones that
// invite trouble.
func validName(s string, max int, slash bool) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%q must be 1-%d characters", s, max)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '.' || b == '_' || b == '-' || slash && b == '/'
		if !ok {
			return fmt.Errorf("%q has %q; allowed are letters, digits, '.', '_', '-'%s", s, b, map[bool]string{true: " and '/'"}[slash])
		}
	}
	return nil
}
