package main

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

const (
	pkgPath = "github.com/wazuh-pull/wazuh-pull/functions/onepassword/lambda"
	tenant  = "acme"
)

// world is everything a function invocation touches, all on loopback
// (lambdatest.World), with the 1Password simulator.
type world struct {
	*lambdatest.World
	ddb   *rietest.CountingProxy // the function's DynamoDB endpoint (World.DDB)
	sim   *onepasswordtest.Server
	token string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{World: lambdatest.New(t, lambdatest.Options{})}
	w.ddb = w.DDB
	w.sim = onepasswordtest.New(onepasswordtest.Options{RateLimitPerMinute: -1, RateLimitPerHour: -1})
	t.Cleanup(w.sim.Close)
	w.token = w.sim.AddAccount(tenant, onepasswordtest.Account{})
	w.PutSecret(w.secretID(), w.secret(w.token))
	return w
}

func (w *world) secretID() string { return w.SecretID(onepassword.Vendor, tenant) }

func (w *world) secret(token string) map[string]string {
	return map[string]string{onepassword.FieldBearerToken: token, onepassword.FieldBaseURL: w.sim.URL}
}

// env is the function's environment (lambdatest.World.Env).
func (w *world) env(extra ...string) []string {
	return w.Env(append([]string{"AWS_LAMBDA_FUNCTION_NAME=wazuh-pull-onepassword", lambdarun.EnvRateLimit + "=-1"}, extra...)...)
}

func (w *world) start(bootstrap string, timeout int, extra ...string) *rietest.RIE {
	return rietest.Start(w.T, rietest.Options{Bootstrap: bootstrap, Timeout: timeout, Env: w.env(extra...)})
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
	w.T.Helper()
	return w.Delivered(w.auditUUID)
}

// deliveredAll waits until every id has arrived (see
// lambdatest.World.WaitDelivered), then counts them as delivered does.
func (w *world) deliveredAll(ids []string) map[string]int {
	w.T.Helper()
	return w.WaitDelivered(ids, w.auditUUID)
}

// auditUUID keys a forwarded line by its uuid when it is an audit event
// of the tenant.
func (w *world) auditUUID(line string) string {
	if ev := decodeLine(w.T, line); ev.Op.EventType == "audit_event" && ev.Op.Meta.Tenant == tenant {
		return ev.Op.UUID
	}
	return ""
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
	var l line
	l.fields = lambdatest.DecodeLine(t, s, &l)
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
	w.T.Helper()
	it := w.Item(state.Key{Tenant: tenant, Vendor: onepassword.Vendor, Stream: stream})
	var c onepassword.Cursor
	it.DecodeCursor(w.T, &c)
	return record{version: it.Version, lastTS: c.LastTS, cursor: it.Cursor, leased: it.Leased}
}

// dedupChunks counts the stream's dedup chunk items (dynamostore writes
// each to a slot of its own, once, and moto never expires them).
func (w *world) dedupChunks(stream string) int {
	w.T.Helper()
	prefix := state.Key{Tenant: tenant, Vendor: onepassword.Vendor, Stream: stream}.String() + "#seen/"
	out, err := w.DB.Scan(ctx(w.T), &dynamodb.ScanInput{
		TableName:                 aws.String(w.Table),
		FilterExpression:          aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: prefix}},
		Select:                    types.SelectCount,
	})
	if err != nil {
		w.T.Fatalf("Scan: %v", err)
	}
	return int(out.Count)
}

func payload(stream string) []byte { return lambdatest.Payload(stream, tenant) }

func ctx(t testing.TB) context.Context { return lambdatest.Context(t) }

// noSecrets fails the test if any simulator token or key material shows
// up in text (emulator output, delivered lines, state).
func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	lambdatest.NoSecrets(t, what, text, append([]string{onepasswordtest.TokenCanary}, secrets...)...)
}
