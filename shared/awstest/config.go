package awstest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Config returns an SDK configuration that sends every request to endpoint,
// which must be a loopback http(s) URL, signed with static dummy
// credentials. It is built field by field rather than through
// config.LoadDefaultConfig, so neither shared config files nor the instance
// metadata service are ever consulted.
func Config(t testing.TB, endpoint string) aws.Config {
	t.Helper()
	if err := CheckLoopback(endpoint); err != nil {
		t.Fatalf("awstest: %v", err)
	}
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   LoopbackHTTPClient(),
	}
}

// DynamoDB returns a DynamoDB client for a loopback endpoint.
func DynamoDB(t testing.TB, endpoint string) *dynamodb.Client {
	t.Helper()
	return dynamodb.NewFromConfig(Config(t, endpoint))
}

// SecretsManager returns a Secrets Manager client for a loopback endpoint.
func SecretsManager(t testing.TB, endpoint string) *secretsmanager.Client {
	t.Helper()
	return secretsmanager.NewFromConfig(Config(t, endpoint))
}

// CheckLoopback reports whether endpoint is an http(s) URL whose host is a
// loopback address (or "localhost").
func CheckLoopback(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("endpoint %q: scheme must be http or https", endpoint)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("endpoint %q is not a loopback address; tests may only talk to loopback", endpoint)
}

// LoopbackHTTPClient returns an HTTP client that can only connect to
// loopback addresses. The check runs on the resolved address at dial time,
// so a redirect, a proxy variable or a name that resolves elsewhere cannot
// carry a test's request off the machine.
func LoopbackHTTPClient() *http.Client {
	dialer := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("awstest: refusing to dial non-loopback address %s", address)
			}
			return nil
		},
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
		Timeout: 60 * time.Second,
	}
}

// Context returns a context that ends with the test or after d, whichever
// comes first, so a hung local server fails a test instead of the binary.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
