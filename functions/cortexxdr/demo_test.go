package cortexxdr

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

// The demo tenant, wired the way `localrun demo` would: its URL as the
// base-URL override, its clock as the collector's.
func TestDemoTenantServesTwoRuns(t *testing.T) {
	d := cortexxdrtest.NewDemo()
	defer d.Close()
	env := d.Env()
	hc, _ := httpx.New(httpx.Config{})
	c, err := New(Config{BaseURL: env["XDR_BASE_URL"], HTTP: hc, Now: d.Clock.Now, Sleep: d.Clock.Sleep}, "default", secrets.Static{
		FieldFQDN: env["XDR_FQDN"], FieldAPIKeyID: env["XDR_API_KEY_ID"], FieldAPIKey: env["XDR_API_KEY"], FieldSecurityLevel: env["XDR_SECURITY_LEVEL"]})
	if err != nil {
		t.Fatal(err)
	}
	store, _ := filestore.New(filepath.Join(t.TempDir(), "state.json"))
	sink := &recordingSink{}
	run := func() {
		r, _ := pipeline.New(pipeline.Config{Envelope: Envelope(), EpochMillis: EpochMillis(), RunID: "demo", Store: store, Sink: sink, Now: d.Clock.Now})
		var streams []pipeline.Stream
		for _, def := range Streams() {
			streams = append(streams, pipeline.Stream{Key: state.Key{Tenant: "default", Vendor: Vendor, Stream: def.Name}, Name: def.Name, Source: c.NewSource(def, Legacy{})})
		}
		mustSucceed(t, r.Run(context.Background(), streams))
	}
	run()
	first := delivered(t, sink)
	if len(first["alert"]) != 41 || len(first["incident"]) != 4 {
		t.Fatalf("first run: %d alerts, %d incidents", len(first["alert"]), len(first["incident"]))
	}
	d.Advance()
	run()
	second := delivered(t, sink)
	if len(second["alert"]) != 44 || len(second["incident"]) != 5 {
		t.Fatalf("after the second run: %d alerts, %d incidents", len(second["alert"]), len(second["incident"]))
	}
}
