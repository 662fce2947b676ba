package hostrun

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/hostrun/wodle"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Environment variables of the wodle options.
const (
	EnvCommit        = "WAZUH_PULL_COMMIT"
	EnvWodleInterval = "WAZUH_PULL_WODLE_INTERVAL"
)

// DefaultWodleInterval is the <interval> the README recommends.
const DefaultWodleInterval = "5m"

const (
	defaultMaxRuntime = 90 * time.Second
	defaultMaxBytes   = 32 << 20
	// wodleOutputLimit is Wazuh's WM_STRING_MAX: past it the wodle's output
	// is cut off and what was in the pipe is lost.
	wodleOutputLimit = 64 << 20
)

// options is the resolved configuration of one run of one vendor.
type options struct {
	d           *spec.Descriptor
	streams     []string // requested, in the vendor's order
	backfill    bool
	lookback    time.Duration
	debug       int
	logFile     string
	stateFile   string
	secretsFile string
	tenantsFile string
	// overrides are public credential fields given by flag (or their
	// variable, for fields that have a flag): they apply to every tenant.
	overrides   map[string]string
	settings    spec.Values
	maxRuntime  time.Duration
	maxBytes    int64
	maxEvents   int64
	rateLimit   float64 // requests per minute per credential; <0 = unlimited
	caBundle    string
	httpTimeout time.Duration
	httpTries   int
	maxLine     int
	sinkOpts    sinkOptions
	// commit is the commit mode asked for (CommitAuto, CommitPending,
	// CommitImmediate); wodleInterval the wodle's <interval>, which sizes
	// runs under wazuh-modulesd unless --max-events was given.
	commit            string
	wodleInterval     time.Duration
	wodleIntervalText string
	maxEventsSet      bool
	getenv            func(string) string
	// finishTimeout bounds the final confirmation after a signal; the
	// whole shutdown must fit in Wazuh's patience (2 s).
	finishTimeout time.Duration
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// stringFlag registers a string flag under its name and its one-letter
// alias.
func stringFlag(fs *flag.FlagSet, p *string, name, short, usage string) {
	fs.StringVar(p, name, "", usage)
	if short != "" {
		fs.StringVar(p, short, "", "shorthand for --"+name)
	}
}

// parse reads flags over environment variables over defaults, the seed
// wodles' precedence.
func parse(d *spec.Descriptor, program string, args []string, stderr io.Writer, getenv func(string) string) (*options, error) {
	fs := flag.NewFlagSet(program+" "+d.Command, flag.ContinueOnError)
	o := &options{d: d, getenv: getenv, finishTimeout: 1500 * time.Millisecond, overrides: map[string]string{}}
	var source, lookback, debug string
	stringFlag(fs, &source, "source", "s", fmt.Sprintf("stream(s) to run: %s | %s (env %s, default %s)", strings.Join(d.StreamNames(), " | "), d.AllStreams, d.Env(spec.EnvSource), d.AllStreams))
	var all bool
	fs.BoolVar(&all, "all", false, "backfill/test: read the --lookback window without reading or moving the stored cursors")
	fs.BoolVar(&all, "a", false, "shorthand for --all")
	stringFlag(fs, &lookback, "lookback", "l", fmt.Sprintf("hours to look back on a first run or with --all (env %s, default %.6g, at most %.6g)", d.Env(spec.EnvLookback), d.Lookback.Default.Hours(), d.Lookback.Max.Hours()))
	stringFlag(fs, &debug, "debug", "d", fmt.Sprintf("diagnostics 0-3: 0 warnings, 1 info, 2-3 debug; to --log-file, else stderr (env %s, default 0: nothing on stderr)", d.Env(spec.EnvDebug)))
	fs.StringVar(&o.logFile, "log-file", getenv("WAZUH_PULL_LOG_FILE"), "write diagnostics (JSON) to this file instead of stderr (env WAZUH_PULL_LOG_FILE)")
	fs.StringVar(&o.stateFile, "state-file", envOr(getenv, d.Env(spec.EnvStateFile), d.DefaultStateFile()), fmt.Sprintf("cursor state file (env %s)", d.Env(spec.EnvStateFile)))
	flagValues := map[string]*string{}
	for _, c := range d.Credentials {
		if c.Flag != "" {
			v := new(string)
			flagValues[c.Field] = v
			fs.StringVar(v, c.Flag, "", fmt.Sprintf("%s (env %s; applies to every tenant)", c.Help, c.Env))
		}
	}
	settingValues := map[string]*string{}
	for i := range d.Settings {
		s := &d.Settings[i]
		v := new(string)
		settingValues[s.Name] = v
		stringFlag(fs, v, s.Name, s.Short, settingUsage(s))
	}
	fs.DurationVar(&o.maxRuntime, "max-runtime", defaultMaxRuntime, "stop fetching after this long, commit and exit 0; keep it below the wodle <timeout>")
	fs.Int64Var(&o.maxBytes, "max-bytes", defaultMaxBytes, "stop before writing more than this many bytes (wodle output is cut at 64 MiB)")
	fs.Int64Var(&o.maxEvents, "max-events", 0, "stop after about this many events (0: no limit); default under wazuh-modulesd: what it forwards within --wodle-interval at its max_eps, else no limit")
	fs.StringVar(&o.commit, "commit", envOr(getenv, EnvCommit, CommitAuto), "stdout: when a stream's cursor moves: pending (kept as pending until the next run started by the same wazuh-modulesd promotes it), immediate (as soon as the reader took the lines), auto (pending under wazuh-modulesd, else immediate) (env "+EnvCommit+")")
	var interval string
	fs.StringVar(&interval, "wodle-interval", envOr(getenv, EnvWodleInterval, DefaultWodleInterval), "the wodle's <interval> in ossec.conf (e.g. 5m): sizes runs under wazuh-modulesd (env "+EnvWodleInterval+")")
	rateHelp := "requests per minute per credential; negative: unlimited"
	if d.RequestsPerMinute > 0 {
		rateHelp = fmt.Sprintf("requests per minute per credential, paced before sending (the collector's sustained budget: %g a minute); negative: unlimited", d.RequestsPerMinute)
	}
	defaultRate := d.DefaultHostRate()
	if defaultRate == 0 {
		defaultRate = -1
	}
	fs.Float64Var(&o.rateLimit, "rate-limit", defaultRate, rateHelp)
	fs.StringVar(&o.caBundle, "ca-bundle", getenv(d.Env(spec.EnvCABundle)), fmt.Sprintf("extra CA certificates (PEM) for the vendor API, e.g. a TLS-inspecting proxy (env %s)", d.Env(spec.EnvCABundle)))
	fs.DurationVar(&o.httpTimeout, "http-timeout", 60*time.Second, "time allowed for one attempt of an API request, response body included (each retry has its own)")
	fs.IntVar(&o.httpTries, "http-attempts", 5, "tries per API request on 429 (unless the vendor's request pool cannot refill within a run), 5xx, timeouts and connection errors (backoff with jitter, Retry-After honoured)")
	fs.IntVar(&o.maxLine, "max-line", sink.DefaultMaxLine, "maximum bytes per line, syslog header included (Wazuh drops lines of 64 KiB)")
	addSinkFlags(fs, &o.sinkOpts, getenv)
	// flag prints its error and the whole usage on a bad argument; under
	// Wazuh stderr becomes events, so the caller prints one line instead,
	// and the usage only when asked for.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	args, err := argparseStyle(fs, args)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			printUsage(stderr, program, d, fs)
			return nil, err
		}
		return nil, fmt.Errorf("%w (%s %s --help lists the flags)", err, program, d.Command)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.backfill = all
	if source == "" {
		source = envOr(getenv, d.Env(spec.EnvSource), d.AllStreams)
	}
	source = strings.ToLower(strings.TrimSpace(source))
	if source == d.AllStreams || source == "all" {
		o.streams = d.StreamNames()
	} else if _, ok := d.Stream(source); ok {
		o.streams = []string{source}
	} else {
		return nil, fmt.Errorf("invalid source %q: must be %s | %s", source, strings.Join(d.StreamNames(), " | "), d.AllStreams)
	}
	if lookback == "" {
		lookback = envOr(getenv, d.Env(spec.EnvLookback), strconv.FormatFloat(d.Lookback.Default.Hours(), 'g', -1, 64))
	}
	h, err := strconv.ParseFloat(lookback, 64)
	if err != nil || h <= 0 {
		return nil, fmt.Errorf("lookback %q is invalid: must be a number of hours > 0", lookback)
	}
	// A longer lookback than the vendor keeps is clamped, as the seeds did.
	o.lookback = min(time.Duration(h*float64(time.Hour)), d.Lookback.Max)
	if debug == "" {
		debug = envOr(getenv, d.Env(spec.EnvDebug), "0")
	}
	if o.debug, err = strconv.Atoi(debug); err != nil || o.debug < 0 || o.debug > 3 {
		return nil, fmt.Errorf("debug level %q is invalid: must be 0-3", debug)
	}
	for _, c := range d.Credentials {
		if p := flagValues[c.Field]; p != nil {
			if *p != "" {
				o.overrides[c.Field] = *p
			} else if v := strings.TrimSpace(getenv(c.Env)); v != "" {
				o.overrides[c.Field] = v
			}
		}
	}
	o.settings, err = d.Resolve(func(s *spec.Setting) (string, string) {
		if v := *settingValues[s.Name]; v != "" {
			return v, "--" + s.Name
		}
		if s.Env != "" {
			if v := getenv(s.Env); v != "" {
				return v, s.Env
			}
		}
		return "", ""
	})
	if err != nil {
		return nil, err
	}
	o.secretsFile = envOr(getenv, d.Env(spec.EnvSecretsFile), d.DefaultSecretsFile())
	if d.TenantsFileEnv != "" {
		o.tenantsFile = getenv(d.TenantsFileEnv)
	}
	if o.maxRuntime <= 0 {
		return nil, fmt.Errorf("--max-runtime must be positive")
	}
	if o.maxBytes <= 0 || o.maxBytes > wodleOutputLimit/2 {
		return nil, fmt.Errorf("--max-bytes must be between 1 and %d (half of Wazuh's 64 MiB wodle output limit)", wodleOutputLimit/2)
	}
	if o.maxEvents < 0 {
		return nil, fmt.Errorf("--max-events must not be negative")
	}
	fs.Visit(func(f *flag.Flag) { o.maxEventsSet = o.maxEventsSet || f.Name == "max-events" })
	switch o.commit {
	case CommitAuto, CommitImmediate:
	case CommitPending:
		if !o.sinkOpts.isStdout() {
			return nil, fmt.Errorf("--commit pending applies to the stdout sink only: a syslog sink confirms delivery itself")
		}
	default:
		return nil, fmt.Errorf("--commit %q: use auto, pending or immediate", o.commit)
	}
	o.wodleIntervalText = interval
	if o.wodleInterval, err = wodle.ParseInterval(interval); err != nil {
		return nil, fmt.Errorf("--wodle-interval: %w", err)
	}
	if o.rateLimit == 0 {
		return nil, fmt.Errorf("--rate-limit must not be 0")
	}
	if o.httpTimeout <= 0 || o.httpTries < 1 {
		return nil, fmt.Errorf("--http-timeout must be positive and --http-attempts at least 1")
	}
	if o.maxLine < 2048 || o.maxLine >= 64<<10 {
		return nil, fmt.Errorf("--max-line must be between 2048 and 65535")
	}
	if err := o.sinkOpts.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

func settingUsage(s *spec.Setting) string {
	var b strings.Builder
	b.WriteString(s.Help)
	var notes []string
	if s.Env != "" {
		notes = append(notes, "env "+s.Env)
	}
	if s.Default != "" {
		notes = append(notes, "default "+s.Default)
	}
	if s.Min != 0 || s.Max != 0 {
		switch s.Kind {
		case spec.Int, spec.Float:
			notes = append(notes, plain(s.Min)+"-"+plain(s.Max))
		case spec.Hours:
			notes = append(notes, plain(s.Min)+"-"+plain(s.Max)+" hours")
		case spec.Duration:
			notes = append(notes, fmt.Sprintf("%v-%v", time.Duration(s.Min*float64(time.Second)), time.Duration(s.Max*float64(time.Second))))
		}
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	return b.String()
}

// plain writes a bound as an operator types it: 7776000, not 7.776e+06.
func plain(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func printUsage(w io.Writer, program string, d *spec.Descriptor, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s [flags]\n\n%s streams:\n", program, d.Command, d.Title)
	for _, s := range d.Streams {
		fmt.Fprintf(w, "  %-11s %s\n", s.Name, s.Help)
	}
	fmt.Fprintf(w, "\nCredentials, first found wins: $CREDENTIALS_DIRECTORY/<variable in lower case> (systemd),\nthe secrets file (%s, default %s), the environment:\n", d.Env(spec.EnvSecretsFile), d.DefaultSecretsFile())
	for _, c := range d.Credentials {
		var notes []string
		if c.Required {
			notes = append(notes, "required")
		}
		if c.Default != "" {
			notes = append(notes, "default "+c.Default)
		}
		if c.Flag != "" {
			notes = append(notes, "or --"+c.Flag)
		}
		note := ""
		if len(notes) > 0 {
			note = " (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(w, "  %-22s %s%s\n", c.Env, c.Help, note)
	}
	if d.TenantsFileEnv != "" {
		var fields []string
		for _, c := range d.Credentials {
			fields = append(fields, fmt.Sprintf("%q:…", c.Field))
		}
		fmt.Fprintf(w, "Several tenants: %s=<file> holding {\"tenants\":[{\"name\":\"…\",%s}]}\n", d.TenantsFileEnv, strings.Join(fields, ","))
	}
	fmt.Fprintln(w, "\nflags:")
	fs.PrintDefaults()
}
