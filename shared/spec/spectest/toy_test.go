package spectest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
	"github.com/wazuh-pull/wazuh-pull/shared/spec/spectest"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const key = "toy-key-NEVER-PRINTED"

// toyEvents returns the toy events among lines, by stream.
func toyEvents(t *testing.T, lines []string) (map[string]int, map[string]any) {
	t.Helper()
	counts := map[string]int{}
	var summary map[string]any
	for _, l := range lines {
		l = strings.TrimPrefix(l, "<134>")
		var m struct {
			Integration string         `json:"integration"`
			Toy         map[string]any `json:"toy"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Integration != "toy" {
			t.Fatalf("not a toy line: %q (%v)", l, err)
		}
		if strings.Contains(l, key) {
			t.Fatalf("the API key reached an event: %s", l)
		}
		switch typ := m.Toy["event_type"]; typ {
		case "alpha_event", "beta_event":
			counts[strings.TrimSuffix(typ.(string), "_event")]++
		case "run_summary":
			summary = m.Toy
		default:
			t.Fatalf("unexpected event: %s", l)
		}
	}
	return counts, summary
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestToyVendorOnAHost registers nothing but the toy descriptor and gets
// the whole host deployment: collection to stdout with cursors kept
// between runs, collection to syslog, and the check command.
func TestToyVendorOnAHost(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "localrun-toy")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/wazuh-pull/wazuh-pull/shared/spec/spectest/cmd/localrun-toy").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sim := spectest.NewSim(key, 25)
	t.Cleanup(sim.Close)
	env := []string{"TOY_API_KEY=" + key, "TOY_BASE_URL=" + sim.URL, "TOY_STATE_FILE=" + filepath.Join(dir, "state.json"),
		"TOY_SECRETS_FILE=" + filepath.Join(dir, "none"), "TOY_PAGE_SIZE=7", "PATH=" + os.Getenv("PATH")}
	run := func(args ...string) ([]string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v\nstdout %s\nstderr %s", args, err, out, stderr.String())
		}
		return lines(out), stderr.String()
	}

	got, stderr := run("toy")
	counts, sum := toyEvents(t, got)
	if counts["alpha"] != 25 || counts["beta"] != 25 || sum["alpha_events"] != 25.0 || stderr != "" {
		t.Fatalf("first run: %v, summary %v, stderr %q", counts, sum, stderr)
	}
	sim.Add("beta", 3)
	got, _ = run("toy", "--source", "beta")
	if counts, sum = toyEvents(t, got); counts["beta"] != 3 || counts["alpha"] != 0 || sum["alpha_ran"] != false {
		t.Fatalf("second run: %v, summary %v", counts, sum)
	}

	// The same collector delivers to syslog (a stand-in for remoted).
	down := rsyslogtest.StartDownstream(t, true)
	sim.Add("alpha", 4)
	if got, _ = run("toy", "--sink", "tcp://"+down.Addr()); len(got) != 0 {
		t.Fatalf("%d lines on stdout with a syslog sink", len(got))
	}
	if counts, _ = toyEvents(t, down.Lines()); counts["alpha"] != 4 || counts["beta"] != 0 {
		t.Fatalf("syslog run: %v", counts)
	}

	report, _ := run("check", "toy")
	text := strings.Join(report, "\n")
	if !strings.Contains(text, "tenant default: stream alpha") || !strings.Contains(text, "will run") || strings.Contains(text, key) {
		t.Fatalf("check report:\n%s", text)
	}
	help, _ := exec.Command(bin, "toy", "-h").CombinedOutput()
	for _, want := range []string{"TOY_API_KEY", "TOY_TENANTS_FILE", "-page-size", "TOY_PAGE_SIZE", "-base-url", "alpha events"} {
		if !bytes.Contains(help, []byte(want)) {
			t.Errorf("--help does not mention %s:\n%s", want, help)
		}
	}
}

// TestToyVendorInLambda runs the toy descriptor's Lambda function under
// the runtime emulator with moto: it delivers, commits and resumes.
func TestToyVendorInLambda(t *testing.T) {
	moto := awstest.SharedMoto(t)
	db := awstest.DynamoDB(t, moto.Endpoint)
	sm := awstest.SecretsManager(t, moto.Endpoint)
	ctx := awstest.Context(t, 2*time.Minute)
	table := awstest.UniqueName(t, "state")
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	prefix := awstest.UniqueName(t, "wp")
	sim := spectest.NewSim(key, 30)
	t.Cleanup(sim.Close)
	secret, _ := json.Marshal(map[string]string{"api_key": key, "base_url": sim.URL})
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + "/toy/acme"), SecretString: aws.String(string(secret))}); err != nil {
		t.Fatal(err)
	}
	down := rsyslogtest.StartDownstream(t, true)
	r := rietest.Start(t, rietest.Options{
		Bootstrap: rietest.Build(t, "github.com/wazuh-pull/wazuh-pull/shared/spec/spectest/cmd/lambda-toy", t.TempDir()),
		Env: []string{
			"AWS_ENDPOINT_URL=http://127.0.0.1:9",
			"AWS_ENDPOINT_URL_DYNAMODB=" + awstest.SerialProxy(t, moto.Endpoint),
			"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + moto.Endpoint,
			lambdarun.EnvStateTable + "=" + table,
			lambdarun.EnvSecretPrefix + "=" + prefix,
			lambdarun.EnvSyslogURL + "=tcp://" + down.Addr(),
			"TOY_PAGE_SIZE=8",
		},
	})
	invoke := func(stream string) lambdarun.Output {
		t.Helper()
		res, err := r.Invoke(ctx, []byte(`{"stream":"`+stream+`","tenant":"acme"}`))
		if err != nil {
			t.Fatal(err)
		}
		var out lambdarun.Output
		if err := res.Decode(&out); err != nil {
			t.Fatalf("%v\n%s", err, r.Log())
		}
		return out
	}
	if out := invoke("alpha"); !out.Success || out.Events != 30 || out.Pages != 4 || out.Vendor != "toy" {
		t.Fatalf("first invocation: %+v", out)
	}
	sim.Add("alpha", 5)
	if out := invoke("alpha"); out.Events != 5 {
		t.Fatalf("second invocation: %+v", out)
	}
	if counts, _ := toyEvents(t, down.Lines()); counts["alpha"] != 35 {
		t.Fatalf("delivered %v", counts)
	}
	if strings.Contains(r.Log(), key) {
		t.Fatal("the API key reached the function's logs")
	}
}
