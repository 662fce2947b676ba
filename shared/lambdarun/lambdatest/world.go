// Package lambdatest builds the world a Lambda function's tests run in,
// all on loopback and with the real parts: moto's DynamoDB and Secrets
// Manager behind proxies that count what the function asks for, a state
// table and a secret prefix of the test's own, a real rsyslogd running
// the shipped mutual-TLS relay (its client material in Secrets Manager)
// in front of a wazuh-remoted stand-in, and the function's environment
// for the Lambda runtime emulator. A vendor's tests add their simulator
// and its credentials, and the scenarios every function goes through
// (catch-up, concurrent runners) are driven from here.
package lambdatest

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

// World is everything a function invocation touches besides the vendor.
type World struct {
	T    testing.TB
	Moto *awstest.Moto
	// DB and SM are the test's own clients of moto (DB through the same
	// one-at-a-time proxy as the function's requests).
	DB *dynamodb.Client
	SM *secretsmanager.Client
	// Table is the state table; Prefix the secret prefix, each the test's
	// own, so tests sharing one moto never see each other's state.
	Table, Prefix string
	// DynamoDBURL is the function's DynamoDB endpoint: DDB's URL, or the
	// proxy Options.DynamoDB put there.
	DynamoDBURL string
	// DDB counts the function's DynamoDB requests (nil when
	// Options.DynamoDB replaced it); Secrets its Secrets Manager requests.
	DDB, Secrets *rietest.CountingProxy
	// Relay is the TLS relay; TLSSecret the id of the secret holding the
	// client certificate, key and CA the function connects with.
	Relay     *rsyslogtest.Relay
	TLSSecret string
}

// Options adjust a World.
type Options struct {
	// DynamoDB, when set, puts the test's own proxy in front of moto's
	// DynamoDB instead of a counting one: it gets the target URL and
	// returns the URL the function is to use.
	DynamoDB func(target string) string
}

// New builds a World for t.
func New(t testing.TB, opts Options) *World {
	t.Helper()
	w := &World{T: t, Moto: awstest.SharedMoto(t)}
	// moto evaluates a conditional write and applies it in separate steps
	// without a lock (see awstest.SerialProxy): requests that overlap, from
	// racing runners or from a request abandoned at a timeout and the
	// lease release after it, could both pass their conditions, which
	// DynamoDB never allows. One request at a time makes moto atomic, and
	// the test's own reads go the same way, so that they never see an
	// item halfway through a write.
	serial := awstest.SerialProxy(t, w.Moto.Endpoint)
	w.DB = awstest.DynamoDB(t, serial)
	w.SM = awstest.SecretsManager(t, w.Moto.Endpoint)
	w.Table = awstest.UniqueName(t, "state")
	if err := dynamostore.CreateTable(Context(t), w.DB, w.Table); err != nil {
		t.Fatal(err)
	}
	if opts.DynamoDB != nil {
		w.DynamoDBURL = opts.DynamoDB(serial)
	} else {
		w.DDB = rietest.NewCountingProxy(t, serial)
		w.DynamoDBURL = w.DDB.URL
	}
	w.Secrets = rietest.NewCountingProxy(t, w.Moto.Endpoint)
	w.Prefix = awstest.UniqueName(t, "wp")
	w.Relay = rsyslogtest.Start(t, rsyslogtest.Options{})
	w.TLSSecret = w.Prefix + "/syslog-tls"
	w.PutSecret(w.TLSSecret, map[string]string{
		lambdarun.TLSFieldCA:         string(w.Relay.PKI.CAPEM),
		lambdarun.TLSFieldClientCert: string(w.Relay.PKI.ClientCertPEM),
		lambdarun.TLSFieldClientKey:  string(w.Relay.PKI.ClientKeyPEM),
	})
	return w
}

// SecretID is the id of a tenant's credentials under the test's prefix,
// where the function looks for them.
func (w *World) SecretID(vendor, tenant string) string {
	return w.Prefix + "/" + vendor + "/" + tenant
}

// PutSecret creates a secret holding v as JSON.
func (w *World) PutSecret(id string, v map[string]string) {
	w.T.Helper()
	b, _ := json.Marshal(v)
	if _, err := w.SM.CreateSecret(Context(w.T), &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(string(b))}); err != nil {
		w.T.Fatalf("CreateSecret %s: %v", id, err)
	}
}

// RotateSecret gives a secret a new value, as a rotation does.
func (w *World) RotateSecret(id string, v map[string]string) {
	w.T.Helper()
	b, _ := json.Marshal(v)
	if _, err := w.SM.PutSecretValue(Context(w.T), &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(string(b))}); err != nil {
		w.T.Fatalf("PutSecretValue %s: %v", id, err)
	}
}

// SecretReads is how many secret values the function has read.
func (w *World) SecretReads() int { return w.Secrets.Count("SecretsManager.GetSecretValue") }

// Env is the function's environment: the variables the template sets,
// with every AWS endpoint on loopback, then extra (later entries win).
// AWS_ENDPOINT_URL catches any service the function might reach besides
// the two it should: it points at a closed loopback port.
func (w *World) Env(extra ...string) []string {
	return append([]string{
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"AWS_ENDPOINT_URL_DYNAMODB=" + w.DynamoDBURL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + w.Secrets.URL,
		lambdarun.EnvStateTable + "=" + w.Table,
		lambdarun.EnvSecretPrefix + "=" + w.Prefix,
		lambdarun.EnvSyslogURL + "=tls://" + w.Relay.MTLSAddr,
		lambdarun.EnvSyslogTLSSecret + "=" + w.TLSSecret,
		lambdarun.EnvLogLevel + "=info",
	}, extra...)
}

// CheckReauthenticated checks the invocation that followed a credential
// rotation while the function still cached the old credential: the
// vendor refused it once (unauthorized counts the vendor's 401 answers)
// and the function read the secret again once (readsBefore is
// SecretReads before that invocation).
func (w *World) CheckReauthenticated(t *testing.T, unauthorized, readsBefore int) {
	t.Helper()
	if unauthorized != 1 {
		t.Errorf("%d requests answered 401; want exactly one, before the secret was re-read", unauthorized)
	}
	if n := w.SecretReads() - readsBefore; n != 1 {
		t.Errorf("%d secret reads after the 401, want 1", n)
	}
}

// WaitLines waits until the relay has forwarded at least n lines.
func (w *World) WaitLines(n int) {
	w.T.Helper()
	if _, err := w.Relay.WaitLines(n, 30*time.Second); err != nil {
		w.T.Fatal(err)
	}
}

// WaitDelivered waits (up to 30 s, as WaitLines) until every id has
// reached the wazuh-remoted stand-in, keyed as Delivered keys lines, and
// returns the counts. Waiting for a number of lines is not enough after a
// catch-up: duplicates and summaries count too, so the last events may
// still be on their way through the relay when that number is reached.
// A missing id is then reported by the caller's own check.
func (w *World) WaitDelivered(ids []string, key func(line string) string) map[string]int {
	w.T.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := w.Delivered(key)
		missing := 0
		for _, id := range ids {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Delivered counts the lines the relay forwarded (to the wazuh-remoted
// stand-in) by the key that key gives each; "" leaves a line out.
func (w *World) Delivered(key func(line string) string) map[string]int {
	w.T.Helper()
	got := map[string]int{}
	for _, l := range w.Relay.Lines() {
		if k := key(l); k != "" {
			got[k]++
		}
	}
	return got
}

// Item is a stream's state item as the test reads it.
type Item struct {
	Version int64
	Cursor  string
	// Leased is true while a lease token is stored.
	Leased    bool
	hasCursor bool
}

// DecodeCursor decodes the stored cursor into v (nothing when the item
// has no cursor); a cursor that is not such JSON fails the test.
func (it Item) DecodeCursor(t testing.TB, v any) {
	t.Helper()
	if !it.hasCursor {
		return
	}
	if err := json.Unmarshal([]byte(it.Cursor), v); err != nil {
		t.Fatalf("stored cursor %q: %v", it.Cursor, err)
	}
}

// Item reads a stream's item with a strongly consistent read.
func (w *World) Item(key state.Key) Item {
	w.T.Helper()
	out, err := w.DB.GetItem(Context(w.T), &dynamodb.GetItemInput{
		TableName:      aws.String(w.Table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key.String()}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		w.T.Fatalf("GetItem: %v", err)
	}
	var it Item
	if v, ok := out.Item["version"].(*types.AttributeValueMemberN); ok {
		it.Version, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	if v, ok := out.Item["cursor"].(*types.AttributeValueMemberS); ok {
		it.Cursor, it.hasCursor = v.Value, true
	}
	_, it.Leased = out.Item["lease_token"]
	return it
}

// Context bounds one call to moto or the emulator: two minutes, which a
// loaded machine needs, and no longer than the test.
func Context(t testing.TB) context.Context { return awstest.Context(t, 2*time.Minute) }
