package cortexxdr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/tenantsfile"
)

func TestNormaliseFQDNAsTheSeed(t *testing.T) {
	for in, want := range map[string]string{
		"acme.xdr.us.paloaltonetworks.com":                  "acme.xdr.us.paloaltonetworks.com",
		"  https://api-acme.xdr.us.paloaltonetworks.com/ ":  "acme.xdr.us.paloaltonetworks.com",
		"http://acme.xdr.eu.paloaltonetworks.com:443/x?y=1": "acme.xdr.eu.paloaltonetworks.com",
		"API-Acme.XDR.sg.paloaltonetworks.com.":             "acme.xdr.sg.paloaltonetworks.com",
		"HTTPS://api-acme.xdr.de.paloaltonetworks.com":      "acme.xdr.de.paloaltonetworks.com",
	} {
		if got, err := NormaliseFQDN(in); err != nil || got != want {
			t.Errorf("NormaliseFQDN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "localhost", "ftp://acme.example.com", "acme..example.com", "-acme.example.com", "acme example.com", "api-"} {
		if got, err := NormaliseFQDN(bad); err == nil {
			t.Errorf("NormaliseFQDN(%q) accepted as %q", bad, got)
		}
	}
}

func TestCredentialErrorsNameFieldsNeverValues(t *testing.T) {
	const secret = "SECRET-canary-123"
	for _, tc := range []struct {
		creds secrets.Credentials
		code  string
		want  string
	}{
		{secrets.Credentials{FieldFQDN: "acme.xdr.us.paloaltonetworks.com", FieldAPIKeyID: "7"}, pipeline.CodeMissingCredential, "XDR_API_KEY"},
		{secrets.Credentials{FieldFQDN: "acme.xdr.us.paloaltonetworks.com", FieldAPIKeyID: secret, FieldAPIKey: secret}, pipeline.CodeConfig, "XDR_API_KEY_ID must be"},
		{secrets.Credentials{FieldFQDN: secret, FieldAPIKeyID: "7", FieldAPIKey: secret}, pipeline.CodeConfig, "XDR_FQDN is not"},
		{secrets.Credentials{FieldFQDN: "acme.xdr.us.paloaltonetworks.com", FieldAPIKeyID: "7", FieldAPIKey: secret, FieldSecurityLevel: secret}, pipeline.CodeConfig, "XDR_SECURITY_LEVEL"},
	} {
		_, err := parseCredentials(tc.creds, nil)
		if err == nil || pipeline.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("%v: error %v", tc.creds[FieldSecurityLevel], err)
		}
	}
	cr, err := parseCredentials(secrets.Credentials{FieldFQDN: "acme.xdr.us.paloaltonetworks.com", FieldAPIKeyID: " 12 ", FieldAPIKey: "k", FieldSecurityLevel: "Standard"}, nil)
	if err != nil || cr.advanced || cr.keyID != "12" {
		t.Fatalf("%+v %v", cr, err)
	}
}

func TestConfigDefaultsAndLimits(t *testing.T) {
	hc, _ := httpx.New(httpx.Config{})
	for _, cfg := range []Config{
		{HTTP: hc, PageSize: 101}, {HTTP: hc, WindowMax: ResultCap}, {HTTP: hc, RequestsPerSecond: 11}, {}, {HTTP: hc, Lag: -time.Second},
	} {
		if _, err := New(cfg, "t", secrets.Static{}); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	c, err := New(Config{HTTP: hc}, "t", secrets.Static{})
	if err != nil || c.cfg.Lag != 2*time.Minute || c.cfg.WindowMax != 1000 || c.pacer.interval != 250*time.Millisecond || c.cfg.Lookback != 24*time.Hour {
		t.Fatalf("defaults %+v %v", c.cfg, err)
	}
}

// readTenantsFile reads a tenants file the way localrun does
// (tenantsfile.Read with this vendor's descriptor) and then checks each
// tenant's credentials the way New does.
func readTenantsFile(path string) ([]tenantsfile.Tenant, error) {
	d := Descriptor()
	list, err := tenantsfile.Read(path, &d)
	if err != nil {
		return nil, err
	}
	for _, t := range list {
		if _, err := parseCredentials(t.Credentials, nil); err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
	}
	return list, nil
}

// TestTenantsFile: a multi-tenant file's tenants and their credentials are
// read or refused with a reason that never quotes a key.
func TestTenantsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string, mode os.FileMode) string {
		p := filepath.Join(dir, fmt.Sprintf("t%d.json", len(body)))
		os.WriteFile(p, []byte(body), mode)
		os.Chmod(p, mode)
		return p
	}
	good := write(`{"tenants":[{"name":"client-a","fqdn":"a.xdr.us.paloaltonetworks.com","api_key_id":"1","api_key":"KEY-A"},`+
		`{"name":"client_b","fqdn":"https://api-b.xdr.eu.paloaltonetworks.com","api_key_id":"2","api_key":"KEY-B","security_level":"standard"}]}`, 0o640)
	ts, err := readTenantsFile(good)
	if err != nil || len(ts) != 2 || ts[1].Credentials[FieldSecurityLevel] != "standard" {
		t.Fatalf("%v %v", ts, err)
	}
	for body, want := range map[string]string{
		`{"tenants":[]}`: "no tenants",
		`{"tenants":[{"name":"a/b","fqdn":"a.b.c","api_key_id":"1","api_key":"KEY-X"}]}`:                                                              "letters",
		`{"tenants":[{"name":"a","fqdn":"a.b.c","api_key_id":"1","api_key":"KEY-X"},{"name":"a","fqdn":"a.b.c","api_key_id":"1","api_key":"KEY-X"}]}`: "twice",
		`{"tenants":[{"name":"a","fqdn":"a.b.c","api_key_id":"x","api_key":"KEY-X"}]}`:                                                                "numeric ID",
		`{"tenants":[{"name":"a","fqdn":"a.b.c","api_key_id":"1"`:                                                                                     "expected shape",
		`{"tenants":[{"name":"a","fqdn":"a.b.c","api_key_id":"1","api_key":"KEY-X"},]}`:                                                               "not valid JSON",
	} {
		_, err := readTenantsFile(write(body, 0o600))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "KEY-X") {
			t.Errorf("%s: %v (want %q)", body, err, want)
		}
	}
	if _, err := readTenantsFile(write(`{"tenants":[{"name":"z","fqdn":"a.b.c","api_key_id":"1","api_key":"k"}]} `, 0o666)); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("world-writable file: %v", err)
	}
}

func TestCheckReportsEachStream(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{Skew: -30 * time.Second}, cortexxdrtest.Tenant{Unlicensed: []string{"incidents"}}, cortexxdrtest.Key{})
	someAlerts(e, 3)
	e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-10 * time.Minute)})
	rep := e.collector().Check(context.Background())
	if rep.OK() || rep.Err != nil || rep.FQDN != testFQDN || rep.KeyID != e.keyID || rep.SecurityLevel != SecurityAdvanced || rep.APIURL != e.sim.URL {
		t.Fatalf("report %+v", rep)
	}
	a, i := rep.Streams[0], rep.Streams[1]
	if !a.OK || a.Recent != 1 || i.OK || i.Code != pipeline.CodeHTTPUnexpected || !strings.Contains(i.Problem, "licence") {
		t.Fatalf("streams %+v", rep.Streams)
	}
	if rep.ClockSkew > -29*time.Second || rep.ClockSkew < -31*time.Second {
		t.Fatalf("clock skew %v, want about -30s", rep.ClockSkew)
	}
	noSecret(t, "check report", []byte(fmt.Sprintf("%+v", rep)), e.key)

	e.creds[FieldAPIKey] = "wrong"
	rep = e.collector().Check(context.Background())
	if rep.OK() || rep.Streams[0].Code != pipeline.CodeHTTP401 || !strings.Contains(rep.Streams[0].Problem, "clock") {
		t.Fatalf("wrong key: %+v", rep.Streams)
	}
	delete(e.creds, FieldAPIKey)
	if rep = e.collector().Check(context.Background()); rep.OK() || pipeline.CodeOf(rep.Err) != pipeline.CodeMissingCredential {
		t.Fatalf("missing key: %+v", rep)
	}
}
