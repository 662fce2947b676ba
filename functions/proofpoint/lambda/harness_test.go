package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint"
	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

const (
	pkgPath = "github.com/wazuh-pull/wazuh-pull/functions/proofpoint/lambda"
	tenant  = "acme"
)

// world is everything an invocation touches, all on loopback: moto
// (DynamoDB and Secrets Manager, behind counting proxies), the TAP
// simulator on the real clock, and a real rsyslogd running the shipped
// TLS relay configuration.
type world struct {
	t       testing.TB
	moto    *awstest.Moto
	db      *dynamodb.Client
	sm      *secretsmanager.Client
	table   string
	prefix  string
	ddb     *rietest.CountingProxy
	secrets *rietest.CountingProxy
	sim     *proofpointtest.Server
	cred    proofpointtest.Credentials
	relay   *rsyslogtest.Relay
	tlsID   string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, moto: awstest.SharedMoto(t)}
	w.db = awstest.DynamoDB(t, w.moto.Endpoint)
	w.sm = awstest.SecretsManager(t, w.moto.Endpoint)
	w.table = awstest.UniqueName(t, "state")
	if err := dynamostore.CreateTable(ctx(t), w.db, w.table); err != nil {
		t.Fatal(err)
	}
	// One request at a time makes moto's conditional writes atomic (see
	// awstest.SerialProxy).
	w.ddb = rietest.NewCountingProxy(t, awstest.SerialProxy(t, w.moto.Endpoint))
	w.secrets = rietest.NewCountingProxy(t, w.moto.Endpoint)
	w.sim = proofpointtest.New(proofpointtest.Options{})
	t.Cleanup(w.sim.Close)
	w.cred = w.sim.AddTenant(tenant, proofpointtest.Tenant{})
	w.prefix = awstest.UniqueName(t, "wp")
	w.putSecret(w.secretID(), w.secret(w.cred))
	w.relay = rsyslogtest.Start(t, rsyslogtest.Options{})
	w.tlsID = w.prefix + "/syslog-tls"
	w.putSecret(w.tlsID, map[string]string{
		lambdarun.TLSFieldCA:         string(w.relay.PKI.CAPEM),
		lambdarun.TLSFieldClientCert: string(w.relay.PKI.ClientCertPEM),
		lambdarun.TLSFieldClientKey:  string(w.relay.PKI.ClientKeyPEM),
	})
	return w
}

func (w *world) secretID() string { return w.prefix + "/proofpoint/" + tenant }

func (w *world) secret(c proofpointtest.Credentials) map[string]string {
	return map[string]string{proofpoint.FieldPrincipal: c.Principal, proofpoint.FieldSecret: c.Secret, proofpoint.FieldBaseURL: w.sim.URL}
}

func (w *world) putSecret(id string, v map[string]string) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	if _, err := w.sm.CreateSecret(ctx(w.t), &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(string(b))}); err != nil {
		w.t.Fatalf("CreateSecret %s: %v", id, err)
	}
}

func (w *world) rotateSecret(id string, v map[string]string) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	if _, err := w.sm.PutSecretValue(ctx(w.t), &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(string(b))}); err != nil {
		w.t.Fatalf("PutSecretValue %s: %v", id, err)
	}
}

// env is the function's environment, every AWS endpoint on loopback.
func (w *world) env(extra ...string) []string {
	return append([]string{
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"AWS_ENDPOINT_URL_DYNAMODB=" + w.ddb.URL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + w.secrets.URL,
		"AWS_LAMBDA_FUNCTION_NAME=wazuh-pull-proofpoint",
		lambdarun.EnvStateTable + "=" + w.table,
		lambdarun.EnvSecretPrefix + "=" + w.prefix,
		lambdarun.EnvSyslogURL + "=tls://" + w.relay.MTLSAddr,
		lambdarun.EnvSyslogTLSSecret + "=" + w.tlsID,
		lambdarun.EnvLogLevel + "=info",
	}, extra...)
}

func (w *world) start(bootstrap string, timeout int, extra ...string) *rietest.RIE {
	return rietest.Start(w.t, rietest.Options{Bootstrap: bootstrap, Timeout: timeout, Env: w.env(extra...)})
}

// expected lists the identities the API serves for the tenant.
func (w *world) expected() map[string]bool {
	want := map[string]bool{}
	for _, e := range w.sim.Events(tenant) {
		if e.Status != "falsePositive" {
			want[e.Identity] = true
		}
	}
	return want
}

// delivered counts the SIEM events of the tenant that reached the
// wazuh-remoted stand-in behind the relay, by identity.
func (w *world) delivered() map[string]int {
	w.t.Helper()
	got := map[string]int{}
	for _, s := range w.relay.Lines() {
		m := decodeLine(w.t, s)
		if id := identity(m); id != "" {
			got[id]++
		}
	}
	return got
}

func (w *world) waitLines(n int) {
	w.t.Helper()
	if _, err := w.relay.WaitLines(n, 30*time.Second); err != nil {
		w.t.Fatal(err)
	}
}

// decodeLine parses "<PRI>{json}" and returns the pp object.
func decodeLine(t testing.TB, s string) map[string]any {
	t.Helper()
	i := strings.IndexByte(s, '{')
	if !strings.HasPrefix(s, "<") || i < 0 {
		t.Fatalf("line %q is not <PRI>{json}", s)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s[i:]), &m); err != nil || m["integration"] != "proofpoint" {
		t.Fatalf("line %q: %v", s, err)
	}
	return m["pp"].(map[string]any)
}

func field(m map[string]any, name string) any {
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func identity(m map[string]any) string {
	typ, _ := m["event_type"].(string)
	if strings.HasPrefix(typ, "messages") {
		r := field(m, "recipient")
		if a, ok := r.([]any); ok && len(a) == 1 {
			r = a[0]
		}
		return fmt.Sprintf("%s/%v/%v", typ, field(m, "GUID"), r)
	}
	if strings.HasPrefix(typ, "clicks") {
		return fmt.Sprintf("%s/%v", typ, field(m, "id"))
	}
	return ""
}

// record is a stream's DynamoDB item as the test reads it.
type record struct {
	version int64
	cursor  string
	siem    proofpoint.SIEMCursor
	leased  bool
}

func (w *world) record(stream string) record {
	w.t.Helper()
	key := state.Key{Tenant: tenant, Vendor: proofpoint.Vendor, Stream: stream}
	out, err := w.db.GetItem(ctx(w.t), &dynamodb.GetItemInput{
		TableName:      aws.String(w.table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key.String()}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		w.t.Fatalf("GetItem: %v", err)
	}
	var r record
	if v, ok := out.Item["version"].(*types.AttributeValueMemberN); ok {
		r.version, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	if v, ok := out.Item["cursor"].(*types.AttributeValueMemberS); ok {
		r.cursor = v.Value
		if stream == proofpoint.StreamSIEM {
			if err := json.Unmarshal([]byte(v.Value), &r.siem); err != nil {
				w.t.Fatalf("stored cursor %q: %v", v.Value, err)
			}
		}
	}
	_, r.leased = out.Item["lease_token"]
	return r
}

func payload(stream string) []byte {
	return []byte(fmt.Sprintf(`{"stream":%q,"tenant":%q}`, stream, tenant))
}

func invoke(t *testing.T, r *rietest.RIE, p []byte) lambdarun.Output {
	t.Helper()
	res, err := r.Invoke(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	var out lambdarun.Output
	if err := res.Decode(&out); err != nil {
		t.Fatalf("%v\nemulator output:\n%s", err, tail(r.Log(), 6000))
	}
	return out
}

func ctx(t testing.TB) context.Context { return awstest.Context(t, 2*time.Minute) }

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// noSecrets fails the test if a credential shows up in text.
func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range append([]string{proofpointtest.SecretCanary}, secrets...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.12s…)", what, s)
		}
	}
}
