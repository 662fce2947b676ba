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

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

const (
	pkgPath = "github.com/wazuh-pull/wazuh-pull/functions/onepassword/lambda"
	tenant  = "acme"
)

// world is everything a function invocation touches, all on loopback:
// moto (DynamoDB and Secrets Manager, behind counting proxies), the
// 1Password simulator, and a real rsyslogd running the shipped TLS relay
// configuration in front of a wazuh-remoted stand-in.
type world struct {
	t       testing.TB
	moto    *awstest.Moto
	db      *dynamodb.Client       // direct to moto, for the test's own reads
	sm      *secretsmanager.Client // direct to moto
	table   string
	prefix  string
	ddb     *rietest.CountingProxy // the function's DynamoDB endpoint
	secrets *rietest.CountingProxy // the function's Secrets Manager endpoint
	sim     *onepasswordtest.Server
	token   string
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
	// moto evaluates a conditional write and applies it in separate steps
	// without a lock (see awstest.SerialProxy): requests that overlap, from
	// racing runners or from a request abandoned at a timeout and the
	// lease release after it, could both pass their conditions, which
	// DynamoDB never allows. One request at a time makes moto atomic.
	w.ddb = rietest.NewCountingProxy(t, awstest.SerialProxy(t, w.moto.Endpoint))
	w.secrets = rietest.NewCountingProxy(t, w.moto.Endpoint)

	w.sim = onepasswordtest.New(onepasswordtest.Options{RateLimitPerMinute: -1, RateLimitPerHour: -1})
	t.Cleanup(w.sim.Close)
	w.token = w.sim.AddAccount(tenant, onepasswordtest.Account{})
	// Each test has its own prefix, so tests sharing one moto never read
	// each other's secrets.
	w.prefix = awstest.UniqueName(t, "wp")
	w.putSecret(w.prefix+"/1password/"+tenant, map[string]string{
		onepassword.FieldBearerToken: w.token,
		onepassword.FieldBaseURL:     w.sim.URL,
	})

	w.relay = rsyslogtest.Start(t, rsyslogtest.Options{})
	w.tlsID = w.prefix + "/syslog-tls"
	w.putSecret(w.tlsID, map[string]string{
		lambdarun.TLSFieldCA:         string(w.relay.PKI.CAPEM),
		lambdarun.TLSFieldClientCert: string(w.relay.PKI.ClientCertPEM),
		lambdarun.TLSFieldClientKey:  string(w.relay.PKI.ClientKeyPEM),
	})
	return w
}

func (w *world) putSecret(id string, v map[string]string) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	_, err := w.sm.CreateSecret(ctx(w.t), &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(string(b))})
	if err != nil {
		w.t.Fatalf("CreateSecret %s: %v", id, err)
	}
}

func (w *world) rotateSecret(id string, v map[string]string) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	_, err := w.sm.PutSecretValue(ctx(w.t), &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(string(b))})
	if err != nil {
		w.t.Fatalf("PutSecretValue %s: %v", id, err)
	}
}

// env is the function's environment: the documented variables, with
// every AWS endpoint on loopback. AWS_ENDPOINT_URL catches any service
// the function might reach besides the two it should: it points at a
// closed loopback port.
func (w *world) env(extra ...string) []string {
	return append([]string{
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"AWS_ENDPOINT_URL_DYNAMODB=" + w.ddb.URL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + w.secrets.URL,
		"AWS_LAMBDA_FUNCTION_NAME=wazuh-pull-onepassword",
		lambdarun.EnvStateTable + "=" + w.table,
		lambdarun.EnvSecretPrefix + "=" + w.prefix,
		lambdarun.EnvSyslogURL + "=tls://" + w.relay.MTLSAddr,
		lambdarun.EnvSyslogTLSSecret + "=" + w.tlsID,
		lambdarun.EnvRateLimit + "=-1",
		lambdarun.EnvLogLevel + "=info",
	}, extra...)
}

func (w *world) start(bootstrap string, timeout int, extra ...string) *rietest.RIE {
	return rietest.Start(w.t, rietest.Options{Bootstrap: bootstrap, Timeout: timeout, Env: w.env(extra...)})
}

// generate adds n audit events, one every step, ending a minute ago.
// Steps of a second or more keep the dedup set the collector stores with
// each cursor (events of its last 5 minutes) small: moto, unlike
// DynamoDB, takes hundreds of milliseconds to update an item holding
// thousands of keys.
func (w *world) generate(n int, step time.Duration) {
	w.sim.Generate(tenant, onepasswordtest.StreamAuditEvents, n, time.Now().Add(-time.Duration(n)*step-time.Minute), step)
}

// delivered counts, per uuid, the audit events of tenant that reached the
// wazuh-remoted stand-in behind the relay.
func (w *world) delivered() map[string]int {
	w.t.Helper()
	got := map[string]int{}
	for _, line := range w.relay.Lines() {
		ev := decodeLine(w.t, line)
		if ev.Op.EventType == "audit_event" && ev.Op.Meta.Tenant == tenant {
			got[ev.Op.UUID]++
		}
	}
	return got
}

// waitDelivered waits until the relay has forwarded at least n lines.
func (w *world) waitLines(n int) {
	w.t.Helper()
	if _, err := w.relay.WaitLines(n, 30*time.Second); err != nil {
		w.t.Fatal(err)
	}
}

type line struct {
	Integration string `json:"integration"`
	Op          struct {
		UUID      string `json:"uuid"`
		EventType string `json:"event_type"`
		ErrorCode string `json:"error_code"`
		Source    string `json:"source"`
		Meta      struct {
			Tenant string `json:"tenant"`
			Stream string `json:"stream"`
			RunID  string `json:"run_id"`
		} `json:"wazuh_pull"`
	} `json:"op"`
	fields map[string]any
}

// decodeLine parses "<PRI>{json}" as the relay forwards it.
func decodeLine(t testing.TB, s string) line {
	t.Helper()
	i := strings.IndexByte(s, '{')
	if !strings.HasPrefix(s, "<") || i < 0 {
		t.Fatalf("line %q is not <PRI>{json}", s)
	}
	var l line
	if err := json.Unmarshal([]byte(s[i:]), &l); err != nil {
		t.Fatalf("line %q: %v", s, err)
	}
	json.Unmarshal([]byte(s[i:]), &l.fields)
	return l
}

// record is the stream's DynamoDB item as the test reads it.
type record struct {
	version int64
	lastTS  time.Time
	cursor  string
	leased  bool
}

func (w *world) record(stream string) record {
	w.t.Helper()
	key := state.Key{Tenant: tenant, Vendor: onepassword.Vendor, Stream: stream}
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
		var c onepassword.Cursor
		if err := json.Unmarshal([]byte(v.Value), &c); err != nil {
			w.t.Fatalf("stored cursor %q: %v", v.Value, err)
		}
		r.lastTS = c.LastTS
	}
	_, r.leased = out.Item["lease_token"]
	return r
}

// dedupChunks counts the stream's dedup chunk items (dynamostore writes
// each to a slot of its own, once, and moto never expires them).
func (w *world) dedupChunks(stream string) int {
	w.t.Helper()
	prefix := state.Key{Tenant: tenant, Vendor: onepassword.Vendor, Stream: stream}.String() + "#seen/"
	out, err := w.db.Scan(ctx(w.t), &dynamodb.ScanInput{
		TableName:                 aws.String(w.table),
		FilterExpression:          aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: prefix}},
		Select:                    types.SelectCount,
	})
	if err != nil {
		w.t.Fatalf("Scan: %v", err)
	}
	return int(out.Count)
}

func payload(stream string) []byte {
	return []byte(fmt.Sprintf(`{"stream":%q,"tenant":%q}`, stream, tenant))
}

// invoke runs one invocation and decodes its summary; a handler error
// fails the test.
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

// noSecrets fails the test if any simulator token or key material shows
// up in text (emulator output, delivered lines, state).
func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range append([]string{onepasswordtest.TokenCanary}, secrets...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.12s…)", what, s)
		}
	}
}
