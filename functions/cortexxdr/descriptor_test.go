package cortexxdr

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

type legacyMap map[string]string

func (l legacyMap) Value(k string) (string, bool) { v, ok := l[k]; return v, ok }

func TestDescriptor(t *testing.T) {
	d := Descriptor()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	vals, err := d.Resolve(func(s *spec.Setting) (string, string) { return "", "" })
	if err != nil || vals.Duration(settingLag) != 2*time.Minute || vals.Int(settingWindow) != 1000 {
		t.Fatalf("defaults %v %v", vals, err)
	}
	if d.AllStreams != "both" || d.EnvPrefix != "XDR" || d.DefaultStateFile() != DefaultStateFile || d.DefaultSecretsFile() != DefaultSecretsFile {
		t.Fatalf("seed names: %+v", d)
	}
	for field, env := range HostVars() {
		if c, ok := d.Credential(field); !ok || c.Env != env {
			t.Errorf("credential %s: %+v", field, c)
		}
	}
	if strings.Join(d.PublicFields(), ",") != strings.Join(PublicFields(), ",") {
		t.Errorf("public fields %v", d.PublicFields())
	}

	// Through the descriptor: the seed's numeric cursor is adopted, a
	// cursor that is not one is an error, never a silent restart.
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	c, err := d.New(spec.Params{Tenant: "default", Credentials: staticCreds(e), HTTP: e.cfg.HTTP, Settings: vals, Lookback: time.Hour, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	src, err := c.Source(StreamAlerts, spec.SourceOptions{Legacy: legacyMap{"alerts_cursor": itoa(t0.Add(-5 * time.Hour).UnixMilli())}})
	if err != nil || src.(*Source).legacy.CursorMillis != t0.Add(-5*time.Hour).UnixMilli() {
		t.Fatalf("legacy not adopted: %v", err)
	}
	if _, err := c.Source(StreamIncidents, spec.SourceOptions{Legacy: legacyMap{"incidents_cursor": "soon"}}); err == nil {
		t.Fatal("an unreadable seed cursor was ignored")
	}
	if _, err := c.Source("audit", spec.SourceOptions{}); err == nil {
		t.Fatal("unknown stream accepted")
	}
	rep := c.Check(context.Background(), []string{StreamAlerts, StreamIncidents})
	if rep.Err != nil || len(rep.Streams) != 2 || !rep.Streams[0].Runs || !rep.Streams[1].Runs || len(rep.Facts) < 2 {
		t.Fatalf("check %+v", rep)
	}
}
