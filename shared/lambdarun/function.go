package lambdarun

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/time/rate"

	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/logx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets/awssm"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

// Timing of the end of an invocation.
const (
	// maxFinish bounds the final confirmation, commit and run summary once
	// the invocation was interrupted; before its deadline they may use
	// whatever time is left (see pipeline.Config.FinishTimeout).
	maxFinish = 5 * time.Second
	minFinish = 500 * time.Millisecond
	// leaseTTL is how long a stream's lease outlives the last sign of
	// life of its invocation: the pipeline renews it every third of it
	// (commits renew it too), so a killed or hung invocation frees its
	// stream within about a minute, and the next scheduled run is not
	// skipped.
	leaseTTL = time.Minute
	// leaseSlack is added to the invocation's deadline and the finish
	// timeout to make the time no lease outlasts, however often renewed: a
	// commit may land up to the finish timeout after the deadline, and
	// another execution environment's clock may differ by a little.
	leaseSlack = 5 * time.Second
	// shutdownWait is how long the SIGTERM handler lets an interrupted run
	// commit before it closes the sink. Lambda sends SIGKILL about 500 ms
	// after SIGTERM (the emulator after 600 ms).
	shutdownWait = 350 * time.Millisecond
)

// Options are the parts of a Function that tests replace.
type Options struct {
	// Logger receives structured logs (default: JSON on stderr, redacted).
	Logger *slog.Logger
	// Redactor learns every secret read (default: a new one).
	Redactor *redact.Redactor
	// Metrics receives one EMF line per invocation (default os.Stdout).
	Metrics io.Writer
	// Now replaces time.Now.
	Now func() time.Time
	// Version is the build's version, sent in the User-Agent.
	Version string
}

// Function is one execution environment's state: built once in the init
// phase, reused by every warm invocation. Handle serves one invocation at
// a time (Lambda never runs two in one environment); Shutdown may run
// concurrently with it.
type Function struct {
	v         spec.Descriptor
	version   string
	cfg       Config
	log       *slog.Logger
	red       *redact.Redactor
	metrics   io.Writer
	now       func() time.Time
	store     state.Store
	sm        *secretsmanager.Client
	tlsSecret *awssm.Source // nil: system CA pool, no client certificate

	mu      sync.Mutex
	tenants map[string]*tenantState
	// bundles are the shared secrets of the grouped layouts, by id: one
	// read serves every tenant in them.
	bundles map[string]*awssm.Source
	current *invocation
}

// tenantState is kept across warm invocations: the secret cache (so a
// warm invocation costs no GetSecretValue) and the HTTP client (kept-alive
// connections, and the limiter's memory of recent requests).
type tenantState struct {
	creds credentials
	http  *httpx.Client
}

// credentials is a tenant's secret, or its member of a shared secret.
type credentials interface {
	secrets.Source
	SecretID() string
}

// invocation is what Shutdown needs to stop the run in progress.
type invocation struct {
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu   sync.Mutex
	sink *guardedSink
}

func (inv *invocation) setSink(s *guardedSink) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.sink = s
}

func (inv *invocation) getSink() *guardedSink {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.sink
}

// errShutdown is the cancellation cause of a run stopped by SIGTERM.
var errShutdown = errors.New("lambdarun: execution environment shutting down (SIGTERM)")

// New builds a Function. It does no network I/O: clients connect on first
// use, inside an invocation.
func New(v spec.Descriptor, cfg Config, db *dynamodb.Client, sm *secretsmanager.Client, opts Options) (*Function, error) {
	if err := v.Validate(); err != nil {
		return nil, &ConfigError{Err: err}
	}
	if cfg.Settings == nil || cfg.Table == "" || cfg.SyslogURL == "" {
		return nil, &ConfigError{Err: errors.New("configuration not loaded (use LoadConfig)")}
	}
	if opts.Redactor == nil {
		opts.Redactor = redact.New()
	}
	if opts.Logger == nil {
		opts.Logger = logx.New(os.Stderr, cfg.LogLevel, opts.Redactor)
	}
	if opts.Metrics == nil {
		opts.Metrics = os.Stdout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	f := &Function{
		v:       v,
		version: opts.Version,
		cfg:     cfg,
		log:     opts.Logger,
		red:     opts.Redactor,
		metrics: opts.Metrics,
		now:     opts.Now,
		store:   dynamostore.New(db, cfg.Table),
		sm:      sm,
		tenants: map[string]*tenantState{},
		bundles: map[string]*awssm.Source{},
	}
	if cfg.SyslogBudget > 0 && cfg.SyslogBudget/float64(cfg.SyslogShares) < MinSyslogShare {
		f.log.Warn("the syslog budget divided among its shares leaves less than one event per second each; each invocation sends up to one a second, so the deployment may exceed the budget",
			"budget", cfg.SyslogBudget, "shares", cfg.SyslogShares, "setting", EnvSyslogBudget)
	}
	if cfg.SyslogTLSSecret != "" {
		// Certificates and the server name are public; only the key is secret.
		f.tlsSecret = awssm.New(sm, cfg.SyslogTLSSecret, awssm.Options{TTL: cfg.SecretTTL, Redactor: f.red, Public: []string{TLSFieldCA, TLSFieldClientCert, TLSFieldServerName}})
	}
	return f, nil
}

// Invoke is the Lambda handler (it implements lambda.Handler): it takes
// the raw payload, so that a payload that is not JSON at all still gets a
// precise InputError rather than the runtime library's decoding error,
// runs Handle and returns the JSON summary.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	in, err := DecodeInput(payload)
	if err != nil {
		out := newOutput(&f.v, Input{}, runID(ctx))
		return nil, f.refuse(ctx, &out, err)
	}
	out, err := f.Handle(ctx, in)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("lambdarun: encode summary: %w", err)
	}
	return b, nil
}

// refuse reports an invocation that could not start (invalid input): a
// log line and the vendor-wide error metric; the dimensions of an invalid
// input are not trusted.
func (f *Function) refuse(ctx context.Context, out *Output, err error) error {
	out.Stop = pipeline.StopError
	out.Errors = append(out.Errors, pipeline.CodeConfig)
	f.log.ErrorContext(ctx, "invocation refused", "run_id", out.RunID, "error", err)
	if merr := writeMetrics(f.metrics, f.cfg.MetricsNamespace, f.now(), out, metricsOptions{}); merr != nil {
		f.log.Error("metrics not written", "error", merr)
	}
	return err
}

// Handle collects one stream of one tenant: lease, fetch, deliver, commit,
// per page, until caught up or the deadline margin is reached; then it
// writes the run_summary event, one EMF metrics line and a log line, and
// returns the summary. It returns an error (a *RunError) when the stream
// failed, and none when the stream was skipped because another invocation
// holds it.
func (f *Function) Handle(ctx context.Context, in Input) (Output, error) {
	start := f.now()
	out := newOutput(&f.v, in, runID(ctx))
	if err := in.Validate(&f.v); err != nil {
		return out, f.refuse(ctx, &out, err)
	}
	log := f.log.With("tenant", in.Tenant, "stream", in.Stream, "run_id", out.RunID)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	inv := &invocation{cancel: cancel, done: make(chan struct{})}
	f.setCurrent(inv)
	defer func() {
		f.setCurrent(nil)
		close(inv.done)
	}()

	err := f.run(ctx, in, inv, &out, log)
	out.DurationMs = f.now().Sub(start).Milliseconds()
	switch {
	case out.Locked:
		log.Warn("stream skipped: another invocation holds its lease", "summary", out)
	case err != nil:
		log.Error("stream failed", "summary", out, "error", err)
	case !out.Success:
		log.Error("stream failed", "summary", out)
	case out.Stop == pipeline.StopInterrupted:
		// The margin did not cover the end of the invocation: what was
		// delivered is committed, but the margin is probably too small.
		log.Warn("stream interrupted by the invocation's deadline; the next run continues", "summary", out, "setting", EnvDeadlineMargin)
	default:
		log.Info("stream done", "summary", out)
	}
	if merr := writeMetrics(f.metrics, f.cfg.MetricsNamespace, f.now(), &out, metricsOptions{validStream: true, perTenant: f.cfg.TenantMetrics}); merr != nil {
		log.Error("metrics not written", "error", merr)
	}
	var cfgErr *ConfigError
	if errors.As(err, &cfgErr) {
		// A deployment mistake found on first use (the TLS secret's
		// content): reported like any invalid configuration.
		return out, cfgErr
	}
	if err != nil || !out.Success {
		// The message goes to Lambda's response, logs and dead-letter
		// destination: mask anything a vendor error might have echoed.
		return out, &RunError{Output: out, Err: f.red.Error(err)}
	}
	return out, nil
}

func (f *Function) run(ctx context.Context, in Input, inv *invocation, out *Output, log *slog.Logger) error {
	raw, err := f.openSink(ctx, log)
	if err != nil {
		// Without a sink there is nowhere to put an error event: the log
		// line, the metric and the invocation error are all there is.
		out.Stop = pipeline.StopError
		out.Errors = append(out.Errors, pipeline.CodeConfig)
		return err
	}
	out.SyslogEventsPerSecond = f.cfg.SyslogEventsPerSecond
	s := newGuardedSink(raw)
	inv.setSink(s)
	defer s.Close()

	budget, finish := f.budget(ctx, log)
	var leaseUntil time.Time
	if dl, ok := ctx.Deadline(); ok {
		// Renewals never extend the lease past the invocation's hard
		// deadline: a timed-out invocation frees its stream right away.
		leaseUntil = dl.Add(finish + leaseSlack)
	}
	t, err := f.tenant(in.Tenant, log)
	if err != nil {
		out.Stop = pipeline.StopError
		out.Errors = append(out.Errors, pipeline.CodeConfig)
		return err
	}
	runner, err := pipeline.New(pipeline.Config{
		Envelope:      f.v.Envelope,
		RunID:         out.RunID,
		Owner:         owner(out.RunID),
		Store:         f.store,
		Sink:          s,
		EpochMillis:   f.v.EpochMillis,
		Budget:        budget,
		ConfirmPages:  1,
		FinishTimeout: finish,
		LeaseTTL:      leaseTTL,
		LeaseUntil:    leaseUntil,
		Logger:        log,
		Redactor:      f.red,
		Now:           f.now,
	})
	if err != nil {
		out.Stop = pipeline.StopError
		out.Errors = append(out.Errors, pipeline.CodeConfig)
		return fmt.Errorf("lambdarun: pipeline: %w", err)
	}
	src, err := f.source(in, t, log)
	if err != nil {
		perr := &pipeline.Error{Code: pipeline.CodeConfig, Message: "cannot set up the " + f.v.Name + " collector", Err: err}
		out.Stop = pipeline.StopError
		out.Errors = append(out.Errors, pipeline.CodeConfig)
		if werr := runner.WriteError(ctx, in.Tenant, in.Stream, perr); werr != nil {
			log.Error("error event not delivered", "error", werr)
		}
		return perr
	}
	key := state.Key{Tenant: in.Tenant, Vendor: f.v.Name, Stream: in.Stream}
	results := runner.Run(ctx, []pipeline.Stream{{Key: key, Name: in.Stream, Source: src}})
	out.fill(results[0], f.now())
	// Only this invocation's stream is listed: the tenant's other streams
	// run in their own invocations, and "<stream>_ran": false for them
	// would read as a failure.
	if err := runner.WriteSummary(ctx, pipeline.SummaryInput{Streams: []string{in.Stream}, Tenant: in.Tenant, Results: results}); err != nil {
		log.Error("run_summary not delivered", "error", err)
	} else {
		out.SummaryDelivered = true
	}
	if cause := context.Cause(ctx); errors.Is(cause, errShutdown) {
		return cause
	}
	return nil
}

// budget derives the run's deadline and finish timeout from the
// invocation's deadline.
func (f *Function) budget(ctx context.Context, log *slog.Logger) (pipeline.Budget, time.Duration) {
	margin := f.cfg.DeadlineMargin
	finish := min(max(margin/2, minFinish), maxFinish)
	deadline, ok := ctx.Deadline()
	if !ok {
		// Not under Lambda (a direct call): no time bound but ctx.
		return pipeline.Budget{}, finish
	}
	remaining := deadline.Sub(f.now())
	if margin > remaining/2 {
		// A margin this large would leave (almost) no time to fetch, and
		// the stream would never progress: keep half the invocation.
		log.Warn("the deadline margin leaves less than half of the invocation; using half the remaining time instead",
			"margin", margin.String(), "remaining", remaining.String(), "setting", EnvDeadlineMargin)
		margin = max(remaining/2, 0)
	}
	return pipeline.Budget{Deadline: deadline.Add(-margin)}, finish
}

// source builds the invocation's stream source from the vendor's
// collector. It does no network I/O.
func (f *Function) source(in Input, t *tenantState, log *slog.Logger) (pipeline.Source, error) {
	where := "the Secrets Manager secret " + t.creds.SecretID()
	if m, ok := t.creds.(*awssm.Member); ok {
		where = fmt.Sprintf("member %q of the Secrets Manager secret %s", m.Name(), m.SecretID())
	}
	c, err := f.v.New(spec.Params{
		Tenant:      in.Tenant,
		Credentials: t.creds,
		HTTP:        t.http,
		Settings:    f.cfg.Settings,
		Lookback:    f.cfg.Lookback,
		Logger:      log,
		Redactor:    f.red,
		Where: func(field string) string {
			return fmt.Sprintf("field %q of %s", field, where)
		},
		Now: f.now,
	})
	if err != nil {
		return nil, err
	}
	return c.Source(in.Stream, spec.SourceOptions{})
}

func (f *Function) tenant(name string, log *slog.Logger) (*tenantState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.tenants[name]; ok {
		return t, nil
	}
	var lim httpx.Limiter
	if f.cfg.RateLimit > 0 {
		lim = httpx.Pacer(rate.NewLimiter(rate.Limit(f.cfg.RateLimit/60), f.cfg.RateBurst))
	}
	hc, err := httpx.New(httpx.Config{Limiter: lim, Redactor: f.red, Logger: f.log.With("tenant", name), UserAgent: "wazuh-pull/" + f.version + " (" + f.v.Title + " collector; AWS Lambda)"})
	if err != nil {
		return nil, fmt.Errorf("lambdarun: vendor HTTP client: %w", err)
	}
	t := &tenantState{creds: f.credentials(name), http: hc}
	f.tenants[name] = t
	log.Debug("tenant set up", "secret_id", t.creds.SecretID(), "secret_ttl", f.cfg.SecretTTL.String(), "rate_per_minute", f.cfg.RateLimit)
	return t, nil
}

// credentials returns the tenant's credential source in the configured
// layout; f.mu is held.
func (f *Function) credentials(tenant string) credentials {
	id, member := f.cfg.SecretLocation(f.v.Name, tenant)
	if member == "" {
		return awssm.New(f.sm, id, awssm.Options{TTL: f.cfg.SecretTTL, Redactor: f.red, Public: f.v.PublicFields()})
	}
	b, ok := f.bundles[id]
	if !ok {
		b = awssm.New(f.sm, id, awssm.Options{TTL: f.cfg.SecretTTL, Redactor: f.red, Public: f.v.PublicFields(), Bundle: true})
		f.bundles[id] = b
	}
	return b.Member(member)
}

func (f *Function) setCurrent(inv *invocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = inv
}

// Shutdown is the SIGTERM handler. Lambda sends SIGTERM when an invocation
// timed out and when an idle execution environment is retired. A run in
// progress is cancelled, so it stops fetching, confirms and commits what
// it delivered and releases its lease; the sink is then closed, ending
// the connection cleanly (TLS close_notify) rather than by SIGKILL.
func (f *Function) Shutdown() {
	f.mu.Lock()
	inv := f.current
	f.mu.Unlock()
	if inv == nil {
		f.log.Info("shutting down (SIGTERM); no invocation in progress")
		return
	}
	f.log.Warn("SIGTERM during an invocation: stopping and committing what was delivered")
	inv.cancel(errShutdown)
	t := time.NewTimer(shutdownWait)
	defer t.Stop()
	select {
	case <-inv.done:
	case <-t.C:
		f.log.Warn("the interrupted run did not finish in time; closing the sink (lines not yet confirmed will be sent again by the next run)")
	}
	if s := inv.getSink(); s != nil && !s.closeWithin(50*time.Millisecond) {
		f.log.Warn("the sink was still busy and could not be closed before the process ends")
	}
}

// runID is the Lambda request id (it ties events, logs and metrics to one
// invocation), or a random id outside Lambda.
func runID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return time.Now().UTC().Format("20060102T150405Z") + "-" + rand.Text()[:8]
}

// owner names the lease holder for diagnostics: the execution environment
// (its log stream) and the request.
func owner(runID string) string {
	if ls := lambdacontext.LogStreamName; ls != "" && len(ls) < 160 {
		return ls + "/" + runID
	}
	return runID
}
