package infra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/registry"
	"github.com/wazuh-pull/wazuh-pull/infra/gen"
)

// allowedFindings lists cfn-lint rule ids that may be reported without
// failing the test, each with the reason. It is empty: the one false
// positive (W1033 on the VPC security groups, checked against the
// parameter's empty default although VpcConfig only exists with UseVpc) is
// silenced in the template's own Metadata, with the reason beside it, so
// that users running cfn-lint themselves see a clean result too.
var allowedFindings = map[string]string{}

type cfnLintFinding struct {
	Level    string `json:"Level"`
	Message  string `json:"Message"`
	Filename string `json:"Filename"`
	Location struct {
		Start struct {
			LineNumber int `json:"LineNumber"`
		} `json:"Start"`
		Path []any `json:"Path"`
	} `json:"Location"`
	Rule struct {
		ID string `json:"Id"`
	} `json:"Rule"`
}

// cfnLint runs cfn-lint (offline: it needs no network and no AWS
// credentials) and returns its findings. A missing cfn-lint fails the
// test: the infrastructure is only checked if the linter runs.
func cfnLint(t *testing.T, template string, extra ...string) []cfnLintFinding {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint is not on PATH; install it with: pip install cfn-lint (%v)", err)
	}
	// A guard against a linter that hangs, not a measure of its speed:
	// a run takes seconds of CPU, and several share two cores with the
	// rest of the suite.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := append([]string{"--format", "json"}, extra...)
	args = append(args, "--", template)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The template lints in the us-east-1 resource specification whatever
	// the developer's own AWS configuration says.
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1")
	runErr := cmd.Run()
	// cfn-lint exits with a bit mask of the levels found (2 errors, 4
	// warnings, 8 informational); anything else, or no JSON, means it did
	// not lint at all.
	var findings []cfnLintFinding
	if err := json.Unmarshal(stdout.Bytes(), &findings); err != nil {
		t.Fatalf("cfn-lint %s: no JSON result (%v; exit: %v)\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, runErr, stdout.String(), stderr.String())
	}
	if runErr != nil {
		ee, ok := runErr.(*exec.ExitError)
		if !ok || ee.ExitCode()&^(2|4|8) != 0 {
			t.Fatalf("cfn-lint %s failed: %v\nstderr: %s", strings.Join(args, " "), runErr, stderr.String())
		}
		if len(findings) == 0 {
			t.Fatalf("cfn-lint exited %d without findings\nstderr: %s", ee.ExitCode(), stderr.String())
		}
	}
	return findings
}

func reportFindings(t *testing.T, findings []cfnLintFinding) {
	t.Helper()
	for _, f := range findings {
		where := fmt.Sprintf("%s:%d %v", filepath.Base(f.Filename), f.Location.Start.LineNumber, f.Location.Path)
		if why, ok := allowedFindings[f.Rule.ID]; ok {
			t.Logf("allowed %s %s (%s): %s", f.Rule.ID, where, why, f.Message)
			continue
		}
		t.Errorf("cfn-lint %s %s at %s: %s", f.Level, f.Rule.ID, where, f.Message)
	}
}

// everyOption turns every optional feature on, so that the resources
// behind each Condition are linted too.
var everyOption = []string{
	"SyslogAddress=relay.example.org:6515",
	"SyslogTlsSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:wazuh-pull/syslog-tls-AbCdEf",
	"SecretsKmsKeyArn=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	"StateTableKmsKeyArn=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	"SubnetIds=subnet-0123456789abcdef0,subnet-0123456789abcdef1",
	"SecurityGroupIds=sg-0123456789abcdef0",
	"ReservedConcurrency=9",
	"ExistingStateTableName=wazuh-pull-retained",
	"AlarmEmail=secops@example.org",
	"AlarmTopicArn=arn:aws:sns:us-east-1:123456789012:secops",
	"TenantMetrics=true",
}

// TestCfnLint lints the template as a user deploys it with the defaults
// and with tcp in a VPC and per-vendor secrets, and the template
// generated with the toy vendor added (as a new vendor gets it) with
// every vendor's tenants and every optional feature on (TLS secret, KMS
// keys, VPC, reserved concurrency, an existing table, both alarm targets,
// per-tenant secrets and metrics), so that the resources behind each
// Condition are checked too. cfn-lint runs the AWS::LanguageExtensions
// expansion and the SAM transform itself.
func TestCfnLint(t *testing.T) {
	t.Parallel()
	var tenants []string
	for _, v := range registry.Vendors() {
		tenants = append(tenants, gen.VendorID(v)+"Tenants=acme,globex-eu,t_3")
	}
	withToy, err := gen.Template(vendorsUnderTest())
	if err != nil {
		t.Fatal(err)
	}
	toyPath := filepath.Join(t.TempDir(), "with-toy.yaml")
	if err := os.WriteFile(toyPath, withToy, 0o600); err != nil {
		t.Fatal(err)
	}
	// Each run costs seconds of CPU: the checked-in template with the
	// defaults and with tcp in a VPC, and the one with the toy vendor
	// (the registered vendors' resources are the same) with every option.
	cases := map[string]struct {
		path string
		args []string
	}{
		"defaults":               {templatePath, nil},
		"per-vendor-secrets-tcp": {templatePath, append([]string{"--parameters", "SyslogScheme=tcp", "SyslogAddress=10.0.1.20:514", "SecretLayout=vendor", "SubnetIds=subnet-0123456789abcdef0", "SecurityGroupIds=sg-0123456789abcdef0"}, tenants...)},
		"toy-and-every-option":   {toyPath, append(append([]string{"--parameters"}, everyOption...), append(tenants, "ToyTenants=acme,t_3", "SecretLayout=tenant")...)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reportFindings(t, cfnLint(t, c.path, c.args...))
		})
	}
}

// TestCfnLintCatchesErrors makes sure the wrapper above really fails on
// an error: a copy of the template with an unknown runtime must be
// refused, or a silently broken cfn-lint would pass everything.
func TestCfnLintCatchesErrors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	broken := bytes.Replace(raw, []byte("Runtime: provided.al2023"), []byte("Runtime: provided.al2099"), 1)
	if bytes.Equal(broken, raw) {
		t.Fatal("template has no 'Runtime: provided.al2023' line to break")
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, broken, 0o600); err != nil {
		t.Fatal(err)
	}
	findings := cfnLint(t, path)
	for _, f := range findings {
		if f.Level == "Error" && strings.Contains(f.Message, "provided.al2099") {
			return
		}
	}
	t.Fatalf("cfn-lint did not report the invalid runtime; findings: %+v", findings)
}
