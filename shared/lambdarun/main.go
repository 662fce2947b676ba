package lambdarun

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wazuh-pull/wazuh-pull/shared/logx"
	"github.com/wazuh-pull/wazuh-pull/shared/procs"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/sysroots"
)

// Main is the whole main function of a vendor's Lambda: it reads the
// configuration, builds the AWS clients once per execution environment
// and serves invocations until the environment is retired. It never
// returns.
//
// The init phase does no network I/O (config.LoadDefaultConfig only reads
// the environment; credentials, secrets and the state table are reached
// in the first invocation), so a cold start costs little more than
// starting the process.
//
// A configuration error does not crash the process: Lambda would retry
// the init and report only "Runtime.ExitError". Every invocation instead
// fails with the *ConfigError, which names each bad variable, and logs it.
func Main(v spec.Descriptor, version string) {
	start := time.Now()
	procs.OneUnlessSet(os.Getenv)
	red := redact.New()
	cfg, err := LoadConfig(v, os.Getenv)
	log := logx.New(os.Stderr, cfg.LogLevel, red).With("vendor", v.Name)
	var f *Function
	if err == nil {
		f, err = newFromEnvironment(v, cfg, Options{Logger: log, Redactor: red, Version: version})
	}
	if err != nil {
		log.Error("invalid configuration: every invocation fails until it is fixed", "error", err)
		namespace := cfg.MetricsNamespace
		if namespace == "" {
			namespace = DefaultMetricsNamespace
		}
		lambda.StartWithOptions(refuseAll(func(ctx context.Context, _ []byte) ([]byte, error) {
			out := newOutput(&v, Input{}, runID(ctx))
			out.Stop = "error"
			out.Errors = append(out.Errors, "CONFIG_INVALID")
			log.ErrorContext(ctx, "invocation refused: invalid configuration", "run_id", out.RunID, "error", err)
			if merr := writeMetrics(os.Stdout, namespace, time.Now(), &out, metricsOptions{}); merr != nil {
				log.Error("metrics not written", "error", merr)
			}
			return nil, err
		}))
		return
	}
	// Lambda reports the whole init phase (process start included) as Init
	// Duration; setup_ms is the part spent here.
	log.Info("initialised", "setup_ms", float64(time.Since(start).Microseconds())/1000, "table", cfg.Table,
		"syslog", syslog.RedactURL(cfg.SyslogURL), "deadline_margin", cfg.DeadlineMargin.String(), "rate_per_minute", cfg.RateLimit)
	lambda.StartWithOptions(lambda.Handler(f), lambda.WithEnableSIGTERM(func() {
		f.Shutdown()
		// Nothing is left to do; exiting now spares the runtime the wait
		// for SIGKILL.
		os.Exit(0)
	}))
}

// refuseAll adapts a function to lambda.Handler.
type refuseAll func(ctx context.Context, payload []byte) ([]byte, error)

func (r refuseAll) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return r(ctx, payload)
}

// newFromEnvironment builds the AWS clients from the standard SDK
// configuration: the function's role credentials, AWS_REGION, and
// AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SECRETS_MANAGER when set
// (VPC endpoints; loopback servers in tests).
func newFromEnvironment(v spec.Descriptor, cfg Config, opts Options) (*Function, error) {
	loadOpts, err := sdkHTTPClient(os.Getenv)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background(), loadOpts...)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	return New(v, cfg, dynamodb.NewFromConfig(awsCfg), secretsmanager.NewFromConfig(awsCfg), opts)
}

// sdkHTTPClient gives the AWS clients the SDK's own transport, verifying
// servers against the system's roots as they are needed (shared/sysroots)
// instead of parsing them all in the first invocation of every execution
// environment. A CA bundle for the SDK (AWS_CA_BUNDLE) needs the SDK's
// buildable client, which is then kept.
func sdkHTTPClient(getenv func(string) string) ([]func(*config.LoadOptions) error, error) {
	if getenv("AWS_CA_BUNDLE") != "" {
		return nil, nil
	}
	roots, err := sysroots.New(nil)
	if err != nil {
		return nil, err
	}
	sdk := awshttp.NewBuildableClient()
	return []func(*config.LoadOptions) error{config.WithHTTPClient(&http.Client{Transport: roots.Transport(sdk.GetTransport()), Timeout: sdk.GetTimeout()})}, nil
}
