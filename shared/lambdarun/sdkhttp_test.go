package lambdarun

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// TestSDKClientVerifiesServers: the SDK's HTTP client of the function
// reaches an endpoint, and refuses one whose certificate the system does
// not trust; with AWS_CA_BUNDLE the SDK keeps its own client.
func TestSDKClientVerifiesServers(t *testing.T) {
	var conns atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write([]byte(`{"Name":"s","SecretString":"{}"}`))
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	untrusted := httptest.NewUnstartedServer(handler)
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	untrusted.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	untrusted.StartTLS()
	defer untrusted.Close()

	opts, err := sdkHTTPClient(func(string) string { return "" })
	if err != nil || len(opts) != 1 {
		t.Fatalf("options %d, %v", len(opts), err)
	}
	get := func(endpoint string) error {
		cfg, err := config.LoadDefaultConfig(context.Background(), append(opts,
			config.WithRegion("us-east-1"),
			config.WithCredentialsProvider(awscreds.NewStaticCredentialsProvider("x", "x", "")),
			config.WithRetryMaxAttempts(1))...)
		if err != nil {
			t.Fatal(err)
		}
		sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(endpoint) })
		_, err = sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
		return err
	}
	if err := get(plain.URL); err != nil {
		t.Fatalf("through the function's client: %v", err)
	}
	err = get(untrusted.URL)
	var ce *tls.CertificateVerificationError
	if !errors.As(err, &ce) {
		t.Fatalf("an untrusted server: %v, want a certificate verification error", err)
	}
	if conns.Load() != 1 {
		t.Errorf("%d connections to the untrusted server", conns.Load())
	}

	if opts, err := sdkHTTPClient(func(k string) string { return map[string]string{"AWS_CA_BUNDLE": "/ca.pem"}[k] }); err != nil || len(opts) != 0 {
		t.Fatalf("with AWS_CA_BUNDLE: %d options, %v", len(opts), err)
	}
}
