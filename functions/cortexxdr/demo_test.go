package cortexxdr

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

// The demo tenant, on the real clock, wired from its environment the way
// `localrun demo` does: two runs, the second finding only what Between
// added.
func TestDemoTenantServesTwoRuns(t *testing.T) {
	d := cortexxdrtest.StartDemo(40)
	defer d.Server.Close()
	env := d.Env
	lag, err := time.ParseDuration(env["XDR_LAG"])
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := httpx.New(httpx.Config{})
	c, err := New(Config{Lag: lag, Lookback: 4 * time.Hour, HTTP: hc, RequestsPerSecond: 10}, "default", secrets.Static{
		FieldFQDN: env["XDR_FQDN"], FieldAPIKeyID: env["XDR_API_KEY_ID"], FieldAPIKey: env["XDR_API_KEY"],
		FieldSecurityLevel: env["XDR_SECURITY_LEVEL"], FieldBaseURL: env["XDR_BASE_URL"]})
	if err != nil {
		t.Fatal(err)
	}
	store, _ := filestore.New(filepath.Join(t.TempDir(), "state.json"))
	sink := &recordingSink{}
	run := func() {
		r, _ := pipeline.New(pipeline.Config{Envelope: Envelope(), EpochMillis: EpochMillis(), RunID: "demo", Store: store, Sink: sink})
		var streams []pipeline.Stream
		for _, def := range Streams() {
			streams = append(streams, pipeline.Stream{Key: state.Key{Tenant: "default", Vendor: Vendor, Stream: def.Name}, Name: def.Name, Source: c.NewSource(def, Legacy{})})
		}
		mustSucceed(t, r.Run(context.Background(), streams))
	}
	run()
	first := delivered(t, sink)
	if len(first["alert"]) != 40 || len(first["incident"]) != 5 {
		t.Fatalf("first run: %d alerts, %d incidents", len(first["alert"]), len(first["incident"]))
	}
	d.Between()
	run()
	second := delivered(t, sink)
	if len(second["alert"]) != 43 || len(second["incident"]) != 6 {
		t.Fatalf("after the second run: %d alerts, %d incidents", len(second["alert"]), len(second["incident"]))
	}
}
