package main

import (
	"testing"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint"
	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

const (
	pkgPath = "github.com/wazuh-pull/wazuh-pull/functions/proofpoint/lambda"
	tenant  = "acme"
)

// world is everything an invocation touches, all on loopback
// (lambdatest.World), with the TAP simulator on the real clock.
type world struct {
	*lambdatest.World
	sim  *proofpointtest.Server
	cred proofpointtest.Credentials
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{World: lambdatest.New(t, lambdatest.Options{})}
	w.sim = proofpointtest.New(proofpointtest.Options{})
	t.Cleanup(w.sim.Close)
	w.cred = w.sim.AddTenant(tenant, proofpointtest.Tenant{})
	w.PutSecret(w.secretID(), w.secret(w.cred))
	return w
}

func (w *world) secretID() string { return w.SecretID(proofpoint.Vendor, tenant) }

func (w *world) secret(c proofpointtest.Credentials) map[string]string {
	return map[string]string{proofpoint.FieldPrincipal: c.Principal, proofpoint.FieldSecret: c.Secret, proofpoint.FieldBaseURL: w.sim.URL}
}

func (w *world) start(bootstrap string, timeout int, extra ...string) *rietest.RIE {
	env := w.Env(append([]string{"AWS_LAMBDA_FUNCTION_NAME=wazuh-pull-proofpoint"}, extra...)...)
	return rietest.Start(w.T, rietest.Options{Bootstrap: bootstrap, Timeout: timeout, Env: env})
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
	w.T.Helper()
	return w.Delivered(func(s string) string { return proofpointtest.LineIdentity(decodeLine(w.T, s)) })
}

// deliveredOnce waits for the events the API serves for the tenant and
// fails the test unless each arrived exactly once; it returns both sets.
func (w *world) deliveredOnce(t *testing.T) (want map[string]bool, got map[string]int) {
	t.Helper()
	want = w.expected()
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	got = w.WaitDelivered(ids, func(s string) string { return proofpointtest.LineIdentity(decodeLine(w.T, s)) })
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("%s delivered %d times, want exactly once", id, got[id])
		}
	}
	return want, got
}

// decodeLine parses "<PRI>{json}" and returns the pp object.
func decodeLine(t testing.TB, s string) map[string]any {
	t.Helper()
	m := lambdatest.DecodeLine(t, s, nil)
	if m["integration"] != "proofpoint" {
		t.Fatalf("line %q is not Proofpoint's", s)
	}
	return m["pp"].(map[string]any)
}

// record is a stream's DynamoDB item as the test reads it.
type record struct {
	version int64
	cursor  string
	siem    proofpoint.SIEMCursor
	leased  bool
}

func (w *world) record(stream string) record {
	w.T.Helper()
	it := w.Item(state.Key{Tenant: tenant, Vendor: proofpoint.Vendor, Stream: stream})
	r := record{version: it.Version, cursor: it.Cursor, leased: it.Leased}
	if stream == proofpoint.StreamSIEM {
		it.DecodeCursor(w.T, &r.siem)
	}
	return r
}

func payload(stream string) []byte { return lambdatest.Payload(stream, tenant) }

// noSecrets fails the test if a credential shows up in text.
func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	lambdatest.NoSecrets(t, what, text, append([]string{proofpointtest.SecretCanary}, secrets...)...)
}
