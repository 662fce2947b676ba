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

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr"
	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

const (
	pkgPath = "github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/lambda"
	tenant  = "acme"
	fqdn    = "acme.xdr.eu.paloaltonetworks.com"
)

// world is everything an invocation touches, all on loopback: moto
// (DynamoDB and Secrets Manager, behind counting proxies), the Cortex XDR
// simulator on the real clock, and a real rsyslogd running the shipped TLS
// relay configuration in front of a wazuh-remoted stand-in.
type world struct {
	t       testing.TB
	moto    *awstest.Moto
	db      *dynamodb.Client
	sm      *secretsmanager.Client
	table   string
	prefix  string
	ddb     *rietest.CountingProxy
	secrets *rietest.CountingProxy
	sim     *cortexxdrtest.Server
	keyID   string
	key     string
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

	w.sim = cortexxdrtest.New(cortexxdrtest.Options{RateLimit: -1})
	t.Cleanup(w.sim.Close)
	w.sim.AddTenant(fqdn, cortexxdrtest.Tenant{Compact: true})
	w.keyID, w.key = w.sim.AddKey(fqdn, cortexxdrtest.Key{})
	w.prefix = awstest.UniqueName(t, "wp")
	w.putSecret(w.secretID(), w.creds(w.keyID, w.key))

	w.relay = rsyslogtest.Start(t, rsyslogtest.Options{})
	w.tlsID = w.prefix + "/syslog-tls"
	w.putSecret(w.tlsID, map[string]string{
		lambdarun.TLSFieldCA:         string(w.relay.PKI.CAPEM),
		lambdarun.TLSFieldClientCert: string(w.relay.PKI.ClientCertPEM),
		lambdarun.TLSFieldClientKey:  string(w.relay.PKI.ClientKeyPEM),
	})
	return w
}

func (w *world) secretID() string { return w.prefix + "/" + cortexxdr.Vendor + "/" + tenant }

// creds is the tenant's Secrets Manager JSON; base_url points the function
// at the simulator, which still sees requests for api-<fqdn>.
func (w *world) creds(id, key string) map[string]string {
	return map[string]string{
		cortexxdr.FieldFQDN: fqdn, cortexxdr.FieldAPIKeyID: id, cortexxdr.FieldAPIKey: key,
		cortexxdr.FieldSecurityLevel: "advanced", cortexxdr.FieldBaseURL: w.sim.URL,
	}
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

// env is the function's environment, every AWS endpoint on loopback. The
// collector's lag is one second, so what arrives in a test is read a
// second later.
func (w *world) env(extra ...string) []string {
	return append([]string{
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"AWS_ENDPOINT_URL_DYNAMODB=" + w.ddb.URL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + w.secrets.URL,
		"AWS_LAMBDA_FUNCTION_NAME=wazuh-pull-cortexxdr",
		lambdarun.EnvStateTable + "=" + w.table,
		lambdarun.EnvSecretPrefix + "=" + w.prefix,
		lambdarun.EnvSyslogURL + "=tls://" + w.relay.MTLSAddr,
		lambdarun.EnvSyslogTLSSecret + "=" + w.tlsID,
		lambdarun.EnvRateLimit + "=-1",
		lambdarun.EnvLogLevel + "=info",
		"XDR_LAG=1s",
		// Windows of 200 alerts keep the dedup set stored with each cursor
		// small: moto, unlike DynamoDB, is slow to update large items.
		"XDR_WINDOW_SIZE=200",
	}, extra...)
}

func (w *world) start(bootstrap string, timeout int, extra ...string) *rietest.RIE {
	return rietest.Start(w.t, rietest.Options{Bootstrap: bootstrap, Timeout: timeout, Env: w.env(extra...)})
}

// backlog adds n alerts, one every step, the last two seconds ago (older
// than the lag), and returns their ids.
func (w *world) backlog(n int, step time.Duration) []string {
	return w.insertEnding(time.Now().Add(-2*time.Second), n, step)
}

// arrive adds n alerts inserted from now on, one a millisecond, and waits
// until they are older than the lag: what reaches the API between runs.
func (w *world) arrive(n int) []string {
	start := time.Now()
	ids := w.insertEnding(start.Add(time.Duration(n-1)*time.Millisecond), n, time.Millisecond)
	time.Sleep(time.Until(start.Add(time.Duration(n)*time.Millisecond + 1200*time.Millisecond)))
	return ids
}

func (w *world) insertEnding(end time.Time, n int, step time.Duration) []string {
	specs := make([]cortexxdrtest.AlertSpec, n)
	for i := range specs {
		specs[i] = cortexxdrtest.AlertSpec{Inserted: end.Add(-time.Duration(n-1-i) * step)}
		if i%10 == 3 {
			specs[i].Detected = end.Add(-6 * time.Hour) // uploaded late
		}
	}
	return w.sim.AddAlerts(fqdn, specs)
}

// delivered counts, per dedup key, the events of a type that reached the
// wazuh-remoted stand-in behind the relay.
func (w *world) delivered(typ string) map[string]int {
	w.t.Helper()
	got := map[string]int{}
	for _, s := range w.relay.Lines() {
		l := decodeLine(w.t, s)
		if l.X.Type == typ && l.X.Meta.Tenant == tenant {
			got[l.X.Meta.Key]++
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

type line struct {
	Integration string `json:"integration"`
	X           struct {
		Type      string `json:"type"`
		ErrorCode string `json:"error_code"`
		Meta      struct {
			Tenant string `json:"tenant"`
			Stream string `json:"stream"`
			RunID  string `json:"run_id"`
			Key    string `json:"dedup_key"`
		} `json:"wazuh_pull"`
	} `json:"xdr"`
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
	if err := json.Unmarshal([]byte(s[i:]), &l); err != nil || l.Integration != "cortex_xdr" {
		t.Fatalf("line %q: %v", s, err)
	}
	json.Unmarshal([]byte(s[i:]), &l.fields)
	return l
}

// record is a stream's DynamoDB item as the test reads it: the version
// and the watermark (and offset of a window in progress).
type record struct {
	version   int64
	watermark int64
	offset    int
	cursor    string
	leased    bool
}

func (w *world) record(stream string) record {
	w.t.Helper()
	key := state.Key{Tenant: tenant, Vendor: cortexxdr.Vendor, Stream: stream}
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
		var c struct {
			Watermark int64 `json:"watermark"`
			Window    *struct {
				Offset int `json:"offset"`
			} `json:"window"`
		}
		if err := json.Unmarshal([]byte(v.Value), &c); err != nil {
			w.t.Fatalf("stored cursor %q: %v", v.Value, err)
		}
		r.watermark = c.Watermark
		if c.Window != nil {
			r.offset = c.Window.Offset
		}
	}
	_, r.leased = out.Item["lease_token"]
	return r
}

// before reports whether r is an earlier position than o: the watermark
// never moves back, nor the offset within one window.
func (r record) before(o record) bool {
	return r.version < o.version || r.watermark < o.watermark
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

func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range append([]string{cortexxdrtest.KeyCanary}, secrets...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.12s…)", what, s)
		}
	}
}
