package main

import (
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr"
	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

const (
	pkgPath = "github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/lambda"
	tenant  = "acme"
	fqdn    = "acme.xdr.eu.paloaltonetworks.com"
)

// world is everything an invocation touches, all on loopback
// (lambdatest.World), with the Cortex XDR simulator on the real clock.
type world struct {
	*lambdatest.World
	sim   *cortexxdrtest.Server
	keyID string
	key   string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{World: lambdatest.New(t, lambdatest.Options{})}
	w.sim = cortexxdrtest.New(cortexxdrtest.Options{RateLimit: -1})
	t.Cleanup(w.sim.Close)
	w.sim.AddTenant(fqdn, cortexxdrtest.Tenant{Compact: true})
	w.keyID, w.key = w.sim.AddKey(fqdn, cortexxdrtest.Key{})
	w.PutSecret(w.secretID(), w.creds(w.keyID, w.key))
	return w
}

func (w *world) secretID() string { return w.SecretID(cortexxdr.Vendor, tenant) }

// creds is the tenant's Secrets Manager JSON; base_url points the function
// at the simulator, which still sees requests for api-<fqdn>.
func (w *world) creds(id, key string) map[string]string {
	return map[string]string{
		cortexxdr.FieldFQDN: fqdn, cortexxdr.FieldAPIKeyID: id, cortexxdr.FieldAPIKey: key,
		cortexxdr.FieldSecurityLevel: "advanced", cortexxdr.FieldBaseURL: w.sim.URL,
	}
}

// start starts the function under the emulator. The collector's lag is
// one second, so what arrives in a test is read a second later.
func (w *world) start(bootstrap string, timeout int, extra ...string) *rietest.RIE {
	env := w.Env(append([]string{
		"AWS_LAMBDA_FUNCTION_NAME=wazuh-pull-cortexxdr",
		lambdarun.EnvRateLimit + "=-1",
		"XDR_LAG=1s",
		// Windows of 200 alerts keep the dedup set stored with each cursor
		// small: moto, unlike DynamoDB, is slow to update large items.
		"XDR_WINDOW_SIZE=200",
	}, extra...)...)
	return rietest.Start(w.T, rietest.Options{Bootstrap: bootstrap, Timeout: timeout, Env: env})
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
	w.T.Helper()
	return w.Delivered(w.keyOf(typ))
}

// deliveredAll waits until every id of type typ has arrived (see
// lambdatest.World.WaitDelivered), then counts them as delivered does.
func (w *world) deliveredAll(typ string, ids []string) map[string]int {
	w.T.Helper()
	return w.WaitDelivered(ids, w.keyOf(typ))
}

// keyOf keys a forwarded line by its dedup key when it is an event of
// type typ for the tenant.
func (w *world) keyOf(typ string) func(string) string {
	return func(s string) string {
		if l := decodeLine(w.T, s); l.X.Type == typ && l.X.Meta.Tenant == tenant {
			return l.X.Meta.Key
		}
		return ""
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
	var l line
	if l.fields = lambdatest.DecodeLine(t, s, &l); l.Integration != "cortex_xdr" {
		t.Fatalf("line %q is not Cortex XDR's", s)
	}
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
	w.T.Helper()
	it := w.Item(state.Key{Tenant: tenant, Vendor: cortexxdr.Vendor, Stream: stream})
	var c struct {
		Watermark int64 `json:"watermark"`
		Window    *struct {
			Offset int `json:"offset"`
		} `json:"window"`
	}
	it.DecodeCursor(w.T, &c)
	r := record{version: it.Version, watermark: c.Watermark, cursor: it.Cursor, leased: it.Leased}
	if c.Window != nil {
		r.offset = c.Window.Offset
	}
	return r
}

// before reports whether r is an earlier position than o: the watermark
// never moves back, nor the offset within one window.
func (r record) before(o record) bool {
	return r.version < o.version || r.watermark < o.watermark
}

func payload(stream string) []byte { return lambdatest.Payload(stream, tenant) }

func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	lambdatest.NoSecrets(t, what, text, append([]string{cortexxdrtest.KeyCanary}, secrets...)...)
}
