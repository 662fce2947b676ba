package lambdarun

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/logx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// countingClient counts GetSecretValue requests on the wire.
type countingClient struct {
	next  aws.HTTPClient
	reads atomic.Int32
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Amz-Target") == "secretsmanager.GetSecretValue" {
		c.reads.Add(1)
	}
	return c.next.Do(r)
}

// TestSecretLayouts runs two tenants through a function in each secret
// layout, against moto: each tenant gets its own credentials, and a
// grouped layout costs one read for the tenants that share a secret.
func TestSecretLayouts(t *testing.T) {
	cases := []struct {
		layout  string
		secrets func(prefix string) map[string]any
		reads   int32
		where   string
	}{
		{"tenant-vendor", func(p string) map[string]any {
			return map[string]any{p + "/testvendor/acme": map[string]string{"api_key": "k-acme"}, p + "/testvendor/globex": map[string]string{"api_key": "k-globex"}}
		}, 2, `field "api_key" of the Secrets Manager secret <prefix>/testvendor/acme`},
		{"tenant", func(p string) map[string]any {
			return map[string]any{
				p + "/tenants/acme":   map[string]any{"testvendor": map[string]string{"api_key": "k-acme"}, "othervendor": map[string]string{"token": "other-acme"}},
				p + "/tenants/globex": map[string]any{"testvendor": map[string]string{"api_key": "k-globex"}},
			}
		}, 2, `field "api_key" of member "testvendor" of the Secrets Manager secret <prefix>/tenants/acme`},
		{"vendor", func(p string) map[string]any {
			return map[string]any{p + "/testvendor": map[string]any{"acme": map[string]string{"api_key": "k-acme"}, "globex": map[string]string{"api_key": "k-globex"}}}
		}, 1, `field "api_key" of member "acme" of the Secrets Manager secret <prefix>/testvendor`},
	}
	for _, c := range cases {
		t.Run(c.layout, func(t *testing.T) {
			fx := newFixture(t)
			prefix := awstest.UniqueName(t, "wp")
			for id, v := range c.secrets(prefix) {
				b, _ := json.Marshal(v)
				if _, err := fx.sm.CreateSecret(ctx(t), &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(string(b))}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			keys, wheres := map[string]string{}, map[string]string{}
			v := testVendor(func(ctx context.Context, p spec.Params, stream string) (pipeline.Source, error) {
				creds, err := p.Credentials.Get(ctx)
				if err != nil {
					return nil, err
				}
				mu.Lock()
				keys[p.Tenant], wheres[p.Tenant] = creds["api_key"], p.Where("api_key")
				mu.Unlock()
				return &fakeSource{total: 1, page: 1}, nil
			})
			cfg, err := LoadConfig(v, getenv(map[string]string{EnvStateTable: fx.table, EnvSyslogURL: "tcp://" + fx.down.Addr(),
				EnvRateLimit: "-1", EnvSecretPrefix: prefix, EnvSecretLayout: c.layout}))
			if err != nil {
				t.Fatal(err)
			}
			awsCfg := awstest.Config(t, awstest.SharedMoto(t).Endpoint)
			counter := &countingClient{next: awsCfg.HTTPClient}
			awsCfg.HTTPClient = counter
			f, err := New(v, cfg, fx.db, secretsmanager.NewFromConfig(awsCfg), Options{Logger: logx.New(fx.logs, cfg.LogLevel, fx.red), Redactor: fx.red, Metrics: fx.metrics})
			if err != nil {
				t.Fatal(err)
			}
			for _, tenant := range []string{"acme", "globex", "acme"} {
				if out, err := f.Handle(ctx(t), Input{Stream: "alpha", Tenant: tenant}); err != nil {
					t.Fatalf("%s: %v (%+v)", tenant, err, out)
				}
			}
			if keys["acme"] != "k-acme" || keys["globex"] != "k-globex" {
				t.Errorf("credentials read: %v", keys)
			}
			if got := strings.ReplaceAll(wheres["acme"], prefix, "<prefix>"); got != c.where {
				t.Errorf("where: %q, want %q", got, c.where)
			}
			if n := counter.reads.Load(); n != c.reads {
				t.Errorf("%d GetSecretValue calls for two tenants, want %d", n, c.reads)
			}
			for _, leak := range []string{"k-acme", "k-globex", "other-acme"} {
				if strings.Contains(fx.logs.String()+fx.metrics.String(), leak) {
					t.Errorf("a credential (%s) reached the logs or metrics", leak)
				}
			}
		})
	}
}

// TestClientCertificateRequired: with WAZUH_PULL_SYSLOG_CLIENT_CERT=required
// a TLS secret without a client certificate and key fails the invocation
// with a ConfigError before anything is sent; with them, the check
// passes (and the run goes on to the network).
func TestClientCertificateRequired(t *testing.T) {
	fx := newFixture(t)
	id := awstest.UniqueName(t, "tls")
	if _, err := fx.sm.CreateSecret(ctx(t), &secretsmanager.CreateSecretInput{Name: aws.String(id),
		SecretString: aws.String(`{"ca_pem":"not a certificate","server_name":"relay.example.org"}`)}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvSyslogURL: "tls://" + fx.down.Addr(), EnvSyslogTLSSecret: id, EnvSyslogClientCert: "required"}
	f := fx.function(&fakeSource{total: 1, page: 1}, env)
	out, err := f.Handle(ctx(t), Input{Stream: "alpha", Tenant: "acme"})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *ConfigError", err, err)
	}
	for _, want := range []string{id, "lacks client_cert_pem and client_key_pem", EnvSyslogClientCert + "=required", "mutual TLS only"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if out.Success || fx.version("alpha") != 0 {
		t.Errorf("output %+v; nothing may be collected", out)
	}
	if m := fx.emf(); len(m) != 1 || m[0]["Failed"] != 1.0 || m[0]["Errors_CONFIG_INVALID"] != 1.0 {
		t.Errorf("EMF = %v", m)
	}
	if lines, _ := fx.down.WaitLines(1, 0); len(lines) != 0 {
		t.Errorf("%d lines sent", len(lines))
	}

	if _, err := fx.sm.PutSecretValue(ctx(t), &secretsmanager.PutSecretValueInput{SecretId: aws.String(id),
		SecretString: aws.String(`{"ca_pem":"not a certificate","client_cert_pem":"x","client_key_pem":"KEY-CANARY"}`)}); err != nil {
		t.Fatal(err)
	}
	f = fx.function(&fakeSource{total: 1, page: 1}, env)
	_, err = f.Handle(ctx(t), Input{Stream: "alpha", Tenant: "acme"})
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "syslog sink") {
		t.Errorf("with a client certificate: %v; want the sink's own error (the PEM is not valid), not the requirement", err)
	}
	if strings.Contains(fx.logs.String()+err.Error(), "KEY-CANARY") {
		t.Error("key material in the logs or the error")
	}
}
