package wazuhlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// Options configure a Lab.
type Options struct {
	// Rules are decoder and rule XML files to install the way a manager
	// installs its own: a file whose basename contains "decoder" goes to
	// etc/decoders, any other to etc/rules. Wazuh loads every rule file
	// sorted by basename across all rule directories.
	Rules []string
	// RuleData adds files by basename and content (e.g. read from git).
	RuleData map[string][]byte
	// InternalOptions are set in local_internal_options.conf (for example
	// "wazuh_modules.max_eps": "1000"). They take effect when a daemon
	// (re)starts.
	InternalOptions map[string]string
	// LogtestThreads is <rule_test><threads> (default 1).
	LogtestThreads int
	// Env is added to the daemons' environment, which modulesd passes on to
	// wodle commands.
	Env []string
	// Getenv locates the engine (default os.Getenv).
	Getenv func(string) string
	// TempDir is where the lab directory is created (default os.TempDir()).
	TempDir string
	// StartTimeout bounds each daemon's start (default 2 minutes: a busy
	// 2-core machine loading ~8 500 default rules is slow, an idle one
	// needs about a second).
	StartTimeout time.Duration
	// StopTimeout is how long a daemon may take to exit after SIGTERM before
	// it is killed (default 10 s, as lab.sh and wazuh-control wait).
	StopTimeout time.Duration
}

// Wodle is a <wodle name="command"> block.
type Wodle struct {
	// Tag names the wodle; events get location "command_<Tag>".
	Tag string
	// Command goes verbatim into <command>. modulesd runs it without a
	// shell: it splits on spaces, "double quotes" group words.
	Command string
	// Interval in Wazuh syntax (10s, 5m, 1h, 1d); default 1d, so that a
	// test sees exactly the run at start.
	Interval string
	// Timeout in seconds; 0 means none.
	Timeout int
	// SkipRunOnStart leaves out the run at modulesd start.
	SkipRunOnStart bool
	// IgnoreOutput discards the command's output.
	IgnoreOutput bool
}

// Lab is a private Wazuh home with its daemons.
type Lab struct {
	// Install is the engine this lab was copied from.
	Install Install
	// Dir is the lab's temporary directory; Home is the Wazuh home in it.
	Dir, Home string
	// Port is remoted's syslog TCP port on 127.0.0.1.
	Port int

	opts     Options
	uid, gid int // of the wazuh user and group

	mu     sync.Mutex
	wodles []Wodle
	procs  map[Daemon]*proc
	wdb    *fakeWDB
	closed bool
}

// reTag is what lab.sh and Wazuh accept as a wodle tag here.
var reTag = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// reInterval is Wazuh's interval syntax.
var reInterval = regexp.MustCompile(`^[0-9]+[smhdw]?$`)

// New prepares a lab (nothing runs yet): it locates the engine, copies its
// home into a new temporary directory, installs the rules and writes the
// configuration. Close removes everything.
func New(opts Options) (*Lab, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if opts.LogtestThreads <= 0 {
		opts.LogtestThreads = 1
	}
	inst, err := Locate(opts.Getenv)
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("wazuhlab: the Wazuh daemons must be started as root (they chroot into their home and drop to user wazuh); run the tests as root")
	}
	uid, gid, err := wazuhIDs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.TempDir, "wazuhlab-")
	if err != nil {
		return nil, fmt.Errorf("wazuhlab: %w", err)
	}
	// Wazuh finds its home by cutting the daemon's own path at the first
	// "/bin": a lab below a directory named bin would not find itself.
	if strings.Contains(dir, "/bin") {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("wazuhlab: the lab directory %s contains \"/bin\", which Wazuh would take for its bin directory; set TMPDIR elsewhere", dir)
	}
	l := &Lab{Install: inst, Dir: dir, Home: filepath.Join(dir, "wazuh"), opts: opts, uid: uid, gid: gid, procs: map[Daemon]*proc{}}
	if err := l.build(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return l, nil
}

// Start prepares a lab (New) and starts the given daemons (analysisd is
// always started first, since the others write into its queue).
func Start(ctx context.Context, opts Options, daemons ...Daemon) (*Lab, error) {
	l, err := New(opts)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(daemons, Analysisd) {
		daemons = append([]Daemon{Analysisd}, daemons...)
	}
	if err := l.Start(ctx, daemons...); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func wazuhIDs() (int, int, error) {
	u, err := user.Lookup("wazuh")
	if err != nil {
		return 0, 0, fmt.Errorf("wazuhlab: system user wazuh is missing (shared/wazuh-engine/build.sh creates it; or groupadd -r wazuh && useradd -r -g wazuh -d /nonexistent -s /usr/sbin/nologin wazuh): %w", err)
	}
	g, err := user.LookupGroup("wazuh")
	if err != nil {
		return 0, 0, fmt.Errorf("wazuhlab: system group wazuh is missing: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	return uid, gid, nil
}

// Path joins elements below the Wazuh home.
func (l *Lab) Path(elem ...string) string {
	return filepath.Join(append([]string{l.Home}, elem...)...)
}

// ArchivesPath is logs/archives/archives.json: every event analysisd
// received, with its decoder, decoded fields and matched rule.
func (l *Lab) ArchivesPath() string { return l.Path("logs", "archives", "archives.json") }

// AlertsPath is logs/alerts/alerts.json: events whose rule level reached
// the alert threshold (3).
func (l *Lab) AlertsPath() string { return l.Path("logs", "alerts", "alerts.json") }

// OssecLogPath is logs/ossec.log, all daemons' log.
func (l *Lab) OssecLogPath() string { return l.Path("logs", "ossec.log") }

// OssecLog returns the whole ossec.log.
func (l *Lab) OssecLog() (string, error) {
	b, err := os.ReadFile(l.OssecLogPath())
	return string(b), err
}

// build creates the home: directories with Wazuh's owners and modes, the
// engine's binaries, default ruleset, lists and internal options, our
// rules and a fresh configuration.
func (l *Lab) build() error {
	src := l.Install.Home
	type dir struct {
		path  string
		mode  os.FileMode
		wazuh bool // owned by user wazuh (else root); the group is always wazuh
	}
	dirs := []dir{{".", 0o750, false}}
	for _, p := range []string{"bin", "lib", "queue", "ruleset", "ruleset/decoders", "ruleset/rules", "var", "var/wodles",
		"active-response", "active-response/bin", "agentless", "wodles", "backup", "usr", "usr/share", "usr/share/lib", "usr/share/lib/zoneinfo"} {
		dirs = append(dirs, dir{p, 0o750, false})
	}
	for _, p := range []string{"etc", "etc/decoders", "etc/rules", "etc/shared", "etc/shared/default"} {
		dirs = append(dirs, dir{p, 0o770, false})
	}
	for _, p := range []string{"etc/lists", "logs", "logs/alerts", "logs/archives", "logs/firewall", "queue/alerts", "queue/sockets",
		"queue/rids", "queue/router", "queue/cluster", "queue/tasks", "queue/db", "queue/fts", "queue/keystore"} {
		dirs = append(dirs, dir{p, 0o770, true})
	}
	for _, p := range []string{"logs/wazuh", "logs/api", "logs/cluster", "queue/diff", "queue/logcollector", "stats"} {
		dirs = append(dirs, dir{p, 0o750, true})
	}
	dirs = append(dirs, dir{"var/run", 0o770, false}, dir{"var/db", 0o770, false}, dir{"tmp", 0o1770, false})
	for _, d := range dirs {
		uid := 0
		if d.wazuh {
			uid = l.uid
		}
		if err := l.mkdir(l.Path(d.path), d.mode, uid); err != nil {
			return err
		}
	}
	for _, d := range Daemons() {
		if err := linkOrCopy(filepath.Join(src, "bin", string(d)), l.Path("bin", string(d)), 0o750, 0, l.gid); err != nil {
			return err
		}
	}
	// A packaged manager links its daemons against lib/*.so ($ORIGIN/../lib).
	if err := copyTree(filepath.Join(src, "lib"), l.Path("lib"), 0, l.gid, 0o750, true); err != nil {
		return err
	}
	for _, p := range []string{"ruleset/decoders", "ruleset/rules"} {
		if err := copyTree(filepath.Join(src, p), l.Path(p), 0, l.gid, 0o640, false); err != nil {
			return err
		}
	}
	// analysisd compiles the CDB lists at start, writing beside them.
	if err := copyTree(filepath.Join(src, "etc", "lists"), l.Path("etc", "lists"), l.uid, l.gid, 0o660, false); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(src, "usr", "share", "lib", "zoneinfo"), l.Path("usr", "share", "lib", "zoneinfo"), 0, l.gid, 0o640, false); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(src, "etc", "internal_options.conf"), l.Path("etc", "internal_options.conf"), 0o640, 0, l.gid); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		uid  int
	}{{"etc/client.keys", l.uid}, {"queue/agents-timestamp", 0}, {"logs/ossec.log", l.uid}, {"logs/active-responses.log", l.uid}} {
		if err := writeFile(l.Path(f.path), nil, 0o660, f.uid, l.gid); err != nil {
			return err
		}
	}
	if err := l.installRules(); err != nil {
		return err
	}
	if err := l.writeInternalOptions(); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	l.Port = port
	return l.writeConfig()
}

func (l *Lab) mkdir(path string, mode os.FileMode, uid int) error {
	if err := os.MkdirAll(path, 0o750); err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	if err := os.Chown(path, uid, l.gid); err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	// Chmod after Chown: chown clears the sticky and set-id bits.
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	return nil
}

func (l *Lab) installRules() error {
	files := map[string][]byte{}
	for _, p := range l.opts.Rules {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("wazuhlab: rules: %w", err)
		}
		files[filepath.Base(p)] = b
	}
	for name, b := range l.opts.RuleData {
		if filepath.Base(name) != name || !strings.HasSuffix(name, ".xml") {
			return fmt.Errorf("wazuhlab: rules: %q must be a plain .xml file name", name)
		}
		if _, dup := files[name]; dup {
			return fmt.Errorf("wazuhlab: rules: %s given twice", name)
		}
		files[name] = b
	}
	for name, b := range files {
		sub := "rules"
		if strings.Contains(name, "decoder") {
			sub = "decoders"
		}
		if err := writeFile(l.Path("etc", sub, name), b, 0o660, 0, l.gid); err != nil {
			return err
		}
	}
	return nil
}

// SetInternalOption sets key=value in local_internal_options.conf; it
// applies from the next (re)start of the daemon that reads it.
func (l *Lab) SetInternalOption(key, value string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.InternalOptions == nil {
		l.opts.InternalOptions = map[string]string{}
	}
	l.opts.InternalOptions[key] = value
	return l.writeInternalOptions()
}

func (l *Lab) writeInternalOptions() error {
	opts := map[string]string{}
	// The default rlimit_nofile (458752) exceeds the hard limit of most
	// containers and CI machines, and the daemons refuse to start then.
	var lim syscall.Rlimit
	nofile := uint64(65536)
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Max < nofile {
		nofile = lim.Max
	}
	opts["analysisd.rlimit_nofile"] = strconv.FormatUint(nofile, 10)
	opts["remoted.rlimit_nofile"] = strconv.FormatUint(nofile, 10)
	for k, v := range l.opts.InternalOptions {
		if strings.ContainsAny(k+v, "\n=") {
			return fmt.Errorf("wazuhlab: internal option %q=%q is not a single key=value", k, v)
		}
		opts[k] = v
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# written by wazuhlab\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, opts[k])
	}
	return writeFile(l.Path("etc", "local_internal_options.conf"), b.Bytes(), 0o640, 0, l.gid)
}

// defaultLists are the CDB lists the default ruleset uses; those present
// in the engine's etc/lists are declared.
var defaultLists = []string{"audit-keys", "amazon/aws-eventnames", "security-eventchannel",
	"malicious-ioc/malware-hashes", "malicious-ioc/malicious-ip", "malicious-ioc/malicious-domains"}

var configTemplate = template.Must(template.New("ossec.conf").Parse(`<!-- written by wazuhlab: a private test manager -->
<ossec_config>
  <global>
    <jsonout_output>yes</jsonout_output>
    <alerts_log>yes</alerts_log>
    <logall>no</logall>
    <logall_json>yes</logall_json>
    <email_notification>no</email_notification>
    <agents_disconnection_time>15m</agents_disconnection_time>
    <agents_disconnection_alert_time>0</agents_disconnection_alert_time>
  </global>

  <alerts>
    <log_alert_level>3</log_alert_level>
    <email_alert_level>12</email_alert_level>
  </alerts>

  <remote>
    <connection>syslog</connection>
    <port>{{.Port}}</port>
    <protocol>tcp</protocol>
    <allowed-ips>127.0.0.1</allowed-ips>
    <local_ip>127.0.0.1</local_ip>
  </remote>

  <ruleset>
    <decoder_dir>ruleset/decoders</decoder_dir>
    <rule_dir>ruleset/rules</rule_dir>
    <rule_exclude>0215-policy_rules.xml</rule_exclude>
{{- range .Lists}}
    <list>etc/lists/{{.}}</list>
{{- end}}
    <decoder_dir>etc/decoders</decoder_dir>
    <rule_dir>etc/rules</rule_dir>
  </ruleset>

  <rule_test>
    <enabled>yes</enabled>
    <threads>{{.Threads}}</threads>
    <max_sessions>64</max_sessions>
    <session_timeout>15m</session_timeout>
  </rule_test>
{{range .Wodles}}
  <wodle name="command">
    <disabled>no</disabled>
    <tag>{{.Tag}}</tag>
    <command>{{.Command}}</command>
    <interval>{{.Interval}}</interval>
    <ignore_output>{{if .IgnoreOutput}}yes{{else}}no{{end}}</ignore_output>
    <run_on_start>{{if .SkipRunOnStart}}no{{else}}yes{{end}}</run_on_start>
    <timeout>{{.Timeout}}</timeout>
  </wodle>
{{end -}}
</ossec_config>
`))

func (l *Lab) writeConfig() error {
	var lists []string
	for _, name := range defaultLists {
		if _, err := os.Stat(l.Path("etc", "lists", name)); err == nil {
			lists = append(lists, name)
		}
	}
	var b bytes.Buffer
	err := configTemplate.Execute(&b, struct {
		Port    int
		Threads int
		Lists   []string
		Wodles  []Wodle
	}{l.Port, l.opts.LogtestThreads, lists, l.wodles})
	if err != nil {
		return fmt.Errorf("wazuhlab: ossec.conf: %w", err)
	}
	return writeFile(l.Path("etc", "ossec.conf"), b.Bytes(), 0o640, 0, l.gid)
}

// AddWodle adds (or replaces) a command wodle and restarts modulesd if it
// runs, so the wodle runs at once (unless SkipRunOnStart).
func (l *Lab) AddWodle(ctx context.Context, w Wodle) error {
	if !reTag.MatchString(w.Tag) {
		return fmt.Errorf("wazuhlab: wodle tag %q must match %s", w.Tag, reTag)
	}
	if w.Interval == "" {
		w.Interval = "1d"
	}
	if !reInterval.MatchString(w.Interval) {
		return fmt.Errorf("wazuhlab: wodle interval %q must be Wazuh time syntax such as 10s, 5m, 1h, 1d", w.Interval)
	}
	if w.Timeout < 0 {
		return errors.New("wazuhlab: wodle timeout must not be negative")
	}
	var esc bytes.Buffer
	if err := xmlEscape(&esc, w.Command); err != nil {
		return err
	}
	w.Command = esc.String()
	l.mu.Lock()
	l.wodles = slices.DeleteFunc(l.wodles, func(o Wodle) bool { return o.Tag == w.Tag })
	l.wodles = append(l.wodles, w)
	err := l.writeConfig()
	l.mu.Unlock()
	if err != nil {
		return err
	}
	// modulesd remembers when a wodle last ran; a leftover would delay
	// run_on_start.
	os.Remove(l.Path("var", "wodles", "command_"+w.Tag))
	return l.restartIfRunning(ctx, Modulesd)
}

// RemoveWodle removes the wodle with tag and restarts modulesd if it runs.
func (l *Lab) RemoveWodle(ctx context.Context, tag string) error {
	l.mu.Lock()
	n := len(l.wodles)
	l.wodles = slices.DeleteFunc(l.wodles, func(o Wodle) bool { return o.Tag == tag })
	removed := len(l.wodles) != n
	err := l.writeConfig()
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("wazuhlab: no wodle %q", tag)
	}
	return l.restartIfRunning(ctx, Modulesd)
}

func (l *Lab) restartIfRunning(ctx context.Context, d Daemon) error {
	if !l.Running(d) {
		return nil
	}
	return l.Restart(ctx, d)
}

func xmlEscape(w io.Writer, s string) error {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	_, err := r.WriteString(w, s)
	return err
}

// Close stops the daemons and removes the lab directory.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	err := l.Stop(context.Background(), Daemons()...)
	if l.wdb != nil {
		l.wdb.Close()
	}
	if rerr := os.RemoveAll(l.Dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// freePort finds a free loopback TCP port for remoted, below the kernel's
// ephemeral range when it can: a port from that range, once released, can
// be taken by any outgoing connection on the machine (tests in other
// packages make thousands) before remoted binds it. Start still checks.
func freePort() (int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low > 11000 {
		for range 50 {
			port := 10000 + rand.IntN(low-11000)
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				ln.Close()
				return port, nil
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("wazuhlab: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
