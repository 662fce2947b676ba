package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

// opOptions is the resolved configuration of one 1Password run.
type opOptions struct {
	source      string
	backfill    bool
	lookback    time.Duration
	debug       int
	logFile     string
	stateFile   string
	secretsFile string
	tokensFile  string
	baseURL     string
	pageLimit   int
	maxRuntime  time.Duration
	maxBytes    int64
	maxEvents   int64
	rateLimit   float64 // requests per minute per token; <0 = unlimited
	caBundle    string
	httpTimeout time.Duration
	httpTries   int
	maxLine     int
	sinkOpts    sinkOptions
	getenv      func(string) string
	// finishTimeout bounds the final confirmation after a signal; the
	// whole shutdown must fit in Wazuh's patience (2 s).
	finishTimeout time.Duration
	// noSummary skips the run_summary (the demo prints its own per run).
	noSummary bool
}

const (
	defaultStateFile   = "/var/ossec/wodles/onepassword/state.json"
	defaultSecretsFile = "/var/ossec/wodles/onepassword/.secrets"
	defaultMaxRuntime  = 90 * time.Second
	defaultMaxBytes    = 32 << 20
	// wodleOutputLimit is Wazuh's WM_STRING_MAX: past it the wodle's output
	// is cut off and what was in the pipe is lost.
	wodleOutputLimit = 64 << 20
	// defaultRateLimit stays under both documented limits (600/min,
	// 30 000/h) with a burst of 100 requests.
	defaultRateLimit = 480.0
)

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// parseOnePassword reads flags over environment variables over defaults,
// the seed wodle's precedence.
func parseOnePassword(args []string, stderr io.Writer, getenv func(string) string) (*opOptions, error) {
	fs := flag.NewFlagSet("localrun onepassword", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &opOptions{getenv: getenv, finishTimeout: 1500 * time.Millisecond}
	source := fs.String("source", "", "stream(s) to run: audit | signin | itemusage | all (env OP_SOURCE, default all)")
	var all bool
	fs.BoolVar(&all, "all", false, "backfill/test: read the --lookback window without reading or moving the stored cursors")
	fs.BoolVar(&all, "a", false, "shorthand for --all")
	var lookback string
	fs.StringVar(&lookback, "lookback", "", "hours to look back on a first run or with --all (env OP_LOOKBACK_HOURS, default 24)")
	fs.StringVar(&lookback, "l", "", "shorthand for --lookback")
	var debug string
	fs.StringVar(&debug, "debug", "", "diagnostics 0-3: 0 warnings, 1 info, 2-3 debug; to --log-file, else stderr (env OP_DEBUG, default 0: nothing on stderr)")
	fs.StringVar(&debug, "d", "", "shorthand for --debug")
	fs.StringVar(&o.logFile, "log-file", getenv("WAZUH_PULL_LOG_FILE"), "write diagnostics (JSON) to this file instead of stderr (env WAZUH_PULL_LOG_FILE)")
	fs.StringVar(&o.stateFile, "state-file", envOr(getenv, "OP_STATE_FILE", defaultStateFile), "cursor state file (env OP_STATE_FILE)")
	fs.StringVar(&o.baseURL, "base-url", getenv("OP_BASE_URL"), "events API base URL (env OP_BASE_URL; default from the token's audience, else https://events.1password.com)")
	pageLimit := fs.String("page-limit", "", "events per request for new cursors, 1-1000 (env OP_PAGE_LIMIT, default 1000)")
	fs.DurationVar(&o.maxRuntime, "max-runtime", defaultMaxRuntime, "stop fetching after this long, commit and exit 0; keep it below the wodle <timeout>")
	fs.Int64Var(&o.maxBytes, "max-bytes", defaultMaxBytes, "stop before writing more than this many bytes (wodle output is cut at 64 MiB)")
	fs.Int64Var(&o.maxEvents, "max-events", 0, "stop after about this many events (0: no limit)")
	fs.Float64Var(&o.rateLimit, "rate-limit", defaultRateLimit, "requests per minute per token (the API allows 600/min and 30 000/h); negative: unlimited")
	fs.StringVar(&o.caBundle, "ca-bundle", getenv("OP_CA_BUNDLE"), "extra CA certificates (PEM) for the events API, e.g. a TLS-inspecting proxy (env OP_CA_BUNDLE)")
	fs.DurationVar(&o.httpTimeout, "http-timeout", 60*time.Second, "time allowed for one API request, response body included")
	fs.IntVar(&o.httpTries, "http-attempts", 5, "tries per API request on 429, 5xx, timeouts and connection errors (backoff with jitter, Retry-After honoured)")
	fs.IntVar(&o.maxLine, "max-line", sink.DefaultMaxLine, "maximum bytes per line, syslog header included (Wazuh drops lines of 64 KiB)")
	addSinkFlags(fs, &o.sinkOpts, getenv)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: localrun onepassword [flags]")
		fmt.Fprintln(stderr, "\nCredentials: $CREDENTIALS_DIRECTORY/op_bearer_token > OP_SECRETS_FILE (default "+defaultSecretsFile+") > OP_BEARER_TOKEN;\nmulti-tenant: OP_TOKENS_FILE={\"tenants\":[{\"name\":…,\"bearer_token\":…}]}.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.backfill = all
	o.source = strings.ToLower(*source)
	if o.source == "" {
		o.source = strings.ToLower(envOr(getenv, "OP_SOURCE", "all"))
	}
	if _, ok := onepassword.StreamByName(o.source); !ok && o.source != "all" {
		return nil, fmt.Errorf("invalid source %q: must be audit | signin | itemusage | all", o.source)
	}
	if lookback == "" {
		lookback = envOr(getenv, "OP_LOOKBACK_HOURS", "24")
	}
	h, err := strconv.ParseFloat(lookback, 64)
	if err != nil || h <= 0 {
		return nil, fmt.Errorf("lookback %q is invalid: must be a number of hours > 0", lookback)
	}
	o.lookback = time.Duration(h * float64(time.Hour))
	if debug == "" {
		debug = envOr(getenv, "OP_DEBUG", "0")
	}
	if o.debug, err = strconv.Atoi(debug); err != nil || o.debug < 0 || o.debug > 3 {
		return nil, fmt.Errorf("debug level %q is invalid: must be 0-3", debug)
	}
	if *pageLimit == "" {
		*pageLimit = envOr(getenv, "OP_PAGE_LIMIT", "1000")
	}
	if o.pageLimit, err = strconv.Atoi(*pageLimit); err != nil || o.pageLimit < 1 || o.pageLimit > onepassword.MaxPageLimit {
		return nil, fmt.Errorf("OP_PAGE_LIMIT=%s is invalid: must be 1-1000", *pageLimit)
	}
	o.secretsFile = envOr(getenv, "OP_SECRETS_FILE", defaultSecretsFile)
	o.tokensFile = getenv("OP_TOKENS_FILE")
	if o.maxRuntime <= 0 {
		return nil, fmt.Errorf("--max-runtime must be positive")
	}
	if o.maxBytes <= 0 || o.maxBytes > wodleOutputLimit/2 {
		return nil, fmt.Errorf("--max-bytes must be between 1 and %d (half of Wazuh's 64 MiB wodle output limit)", wodleOutputLimit/2)
	}
	if o.maxEvents < 0 {
		return nil, fmt.Errorf("--max-events must not be negative")
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

func runOnePassword(ctx context.Context, args []string, stdout *os.File, stderr io.Writer, getenv func(string) string) int {
	o, err := parseOnePassword(args, stderr, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "localrun onepassword:", err)
		reportConfigError(stdout, getenv, err)
		return exitUsage
	}
	return o.run(ctx, stdout, stderr)
}

// reportConfigError also puts a configuration error on stdout as an error
// event, since a wodle's operator looks at Wazuh, not at a terminal.
func reportConfigError(stdout *os.File, getenv func(string) string, err error) {
	r, rerr := pipeline.New(pipeline.Config{Envelope: onepassword.Envelope(), RunID: newRunID(), Sink: newStdout(stdout)})
	if rerr != nil {
		return
	}
	r.WriteError(context.Background(), "default", "orchestrator", &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid configuration", Err: err})
}

type tenantSpec struct {
	name  string
	creds secrets.Source
	multi bool
}

func (o *opOptions) tenants(red *redact.Redactor, log *slog.Logger) ([]tenantSpec, error) {
	if o.tokensFile == "" {
		return []tenantSpec{{name: "default", creds: &secrets.Host{
			Vars:        map[string]string{onepassword.FieldBearerToken: "OP_BEARER_TOKEN"},
			SecretsFile: o.secretsFile,
			Getenv:      o.getenv,
			Redactor:    red,
			Logger:      log,
		}}}, nil
	}
	list, err := onepassword.ReadTokensFile(o.tokensFile)
	if err != nil {
		return nil, err
	}
	var out []tenantSpec
	for _, t := range list {
		red.Add(t.BearerToken)
		cr := secrets.Credentials{onepassword.FieldBearerToken: t.BearerToken}
		if t.BaseURL != "" {
			cr[onepassword.FieldBaseURL] = t.BaseURL
		}
		out = append(out, tenantSpec{name: t.Name, creds: secrets.Static(cr), multi: true})
	}
	return out, nil
}

func (o *opOptions) run(ctx context.Context, stdout *os.File, stderr io.Writer) int {
	red := redact.New()
	log, closeLog, err := newLogger(o.debug, o.logFile, stderr, red)
	if err != nil {
		fmt.Fprintln(stderr, "localrun onepassword:", err)
		return exitUsage
	}
	defer closeLog()
	runID := newRunID()
	start := time.Now()
	out, err := o.sinkOpts.open(stdout, o.maxLine, log)
	if err != nil {
		fmt.Fprintln(stderr, "localrun onepassword:", red.String(err.Error()))
		reportConfigError(stdout, o.getenv, red.Error(err))
		return exitUsage
	}
	defer out.Close()

	var store state.Store
	var fstore *filestore.Store
	if !o.backfill {
		if fstore, err = filestore.New(o.stateFile); err != nil {
			return o.fatal(ctx, out, runID, log, &pipeline.Error{Code: pipeline.CodeStateRead, Message: "cannot open the state file", Err: err})
		}
		store = fstore
	} else if isTerminal(stderr) {
		fmt.Fprintf(stderr, "localrun onepassword: --all: reading the last %v; stored cursors are neither read nor moved\n", o.lookback)
	}
	runner, err := pipeline.New(pipeline.Config{
		Envelope:      onepassword.Envelope(),
		RunID:         runID,
		Store:         store,
		Sink:          out,
		MaxLine:       o.maxLine,
		Budget:        pipeline.Budget{Deadline: start.Add(o.maxRuntime), MaxBytes: o.maxBytes, MaxEvents: o.maxEvents},
		ConfirmPages:  o.sinkOpts.confirmPages(),
		FinishTimeout: o.finishTimeout,
		Logger:        log,
		Redactor:      red,
	})
	if err != nil {
		fmt.Fprintln(stderr, "localrun onepassword:", err)
		return exitUsage
	}
	tenants, err := o.tenants(red, log)
	if err != nil {
		runner.WriteError(ctx, "default", "orchestrator", &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "cannot read the multi-tenant tokens file", Detail: "path=" + o.tokensFile, Err: err})
		return exitUsage
	}
	httpClient, err := o.httpClient(red, log)
	if err != nil {
		runner.WriteError(ctx, "default", "orchestrator", &pipeline.Error{Code: pipeline.CodeConfig, Message: "cannot set up the HTTP client", Err: err})
		return exitUsage
	}

	var streams []pipeline.Stream
	var tenantNames []string
	failed, misconfigured := false, false
	for _, t := range tenants {
		tenantNames = append(tenantNames, t.name)
		c, err := onepassword.New(onepassword.Config{
			BaseURL:   o.baseURL,
			PageLimit: o.pageLimit,
			Lookback:  o.lookback,
			HTTP:      httpClient(),
			Logger:    log.With("tenant", t.name),
		}, t.name, t.creds)
		if err != nil {
			runner.WriteError(ctx, t.name, "orchestrator", &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid 1Password configuration", Err: err})
			return exitUsage
		}
		defs, err := o.plan(ctx, c)
		if err != nil {
			failed = true
			runner.WriteError(ctx, t.name, "orchestrator", err)
			switch pipeline.CodeOf(err) {
			case pipeline.CodeMissingCredential, pipeline.CodeConfig:
				misconfigured = true
				continue
			case pipeline.CodeHTTP401:
				continue // every stream would fail the same way
			}
		}
		for _, def := range defs {
			key := state.Key{Tenant: t.name, Vendor: onepassword.Vendor, Stream: def.Name}
			var src pipeline.Source
			if o.backfill {
				src = c.NewBackfill(def)
			} else {
				src = c.NewSource(def, legacyPosition(fstore, t, def.Name, log))
			}
			streams = append(streams, pipeline.Stream{Key: key, Name: def.Name, Source: src})
		}
	}
	results := runner.Run(ctx, streams)
	if !o.noSummary {
		in := pipeline.SummaryInput{Streams: onepassword.StreamNames(), Results: results, Tenant: "default"}
		if len(tenants) > 0 && tenants[0].multi {
			in.Tenants = tenantNames
		}
		if err := runner.WriteSummary(ctx, in); err != nil {
			log.Error("run summary not delivered", "error", err)
			failed = true
		}
	}
	var total int64
	locked := false
	for _, r := range results {
		total += r.Events
		log.Info("stream done", "stream", r.Key.String(), "events", r.Events, "pages", r.Pages, "duplicates", r.Duplicates, "reduced", r.Reduced, "stop", r.Stop, "backlog", r.Backlog, "success", r.Success)
		if !r.Success {
			failed = true
		}
		if r.Stop == pipeline.StopLocked {
			locked = true
		}
	}
	log.Info("run finished", "run_id", runID, "events", total, "bytes", runner.WrittenBytes(), "duration", time.Since(start).String(), "peak_rss_kib", peakRSSKiB())
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case misconfigured:
		return exitUsage
	case failed:
		return exitFailed
	case locked:
		return exitLocked
	}
	return exitOK
}

// plan introspects the token and picks the streams to run: the requested
// ones that the token's features allow. If introspection fails for a reason
// other than the token itself, every requested stream is tried.
func (o *opOptions) plan(ctx context.Context, c *onepassword.Collector) ([]onepassword.StreamDef, error) {
	var requested []onepassword.StreamDef
	for _, def := range onepassword.Streams() {
		if o.source == "all" || o.source == def.Name {
			requested = append(requested, def)
		}
	}
	features, err := c.Introspect(ctx)
	if err != nil {
		return requested, err
	}
	var out []onepassword.StreamDef
	for _, def := range requested {
		for _, f := range features {
			if f == def.Feature {
				out = append(out, def)
			}
		}
	}
	return out, nil
}

// legacyPosition finds the seed wodle's cursor for a stream in the state
// file ("audit_cursor", or "client-a.audit_cursor" in multi-tenant mode).
func legacyPosition(fs *filestore.Store, t tenantSpec, stream string, log *slog.Logger) onepassword.Legacy {
	if fs == nil {
		return onepassword.Legacy{}
	}
	prefix := ""
	if t.multi {
		prefix = t.name + "."
	}
	var l onepassword.Legacy
	if v, ok, err := fs.Legacy(prefix + stream + "_cursor"); err == nil && ok {
		l.Cursor = v
	}
	if v, ok, err := fs.Legacy(prefix + stream + "_last_poll"); err == nil && ok {
		if ts, err := time.Parse(time.RFC3339, v); err == nil {
			l.LastPoll = ts
		} else {
			log.Warn("unreadable seed last_poll ignored", "key", prefix+stream+"_last_poll")
		}
	}
	return l
}

func (o *opOptions) fatal(ctx context.Context, out sink.Sink, runID string, log *slog.Logger, err error) int {
	r, rerr := pipeline.New(pipeline.Config{Envelope: onepassword.Envelope(), RunID: runID, Sink: out, Logger: log})
	if rerr == nil {
		r.WriteError(ctx, "default", "orchestrator", err)
	}
	return exitFailed
}
