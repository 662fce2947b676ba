package awssm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func ctx(t *testing.T) context.Context { return awstest.Context(t, 30*time.Second) }

// counter counts GetSecretValue requests on the wire.
type counter struct {
	next aws.HTTPClient
	n    atomic.Int32
}

func (c *counter) Do(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Amz-Target") == "secretsmanager.GetSecretValue" {
		c.n.Add(1)
	}
	return c.next.Do(r)
}

func client(t *testing.T) (*secretsmanager.Client, *counter) {
	moto := awstest.SharedMoto(t)
	cfg := awstest.Config(t, moto.Endpoint)
	c := &counter{next: cfg.HTTPClient}
	cfg.HTTPClient = c
	return secretsmanager.NewFromConfig(cfg), c
}

func createSecret(t *testing.T, sm *secretsmanager.Client, value string) string {
	t.Helper()
	id := SecretID("wazuh-pull-test", "1password", awstest.UniqueName(t, "tenant"))
	if _, err := sm.CreateSecret(ctx(t), &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(value)}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	return id
}

func TestSecretID(t *testing.T) {
	for _, c := range []struct{ prefix, want string }{
		{"", "wazuh-pull/proofpoint/acme"},
		{"prod/wazuh-pull", "prod/wazuh-pull/proofpoint/acme"},
		{"custom/", "custom/proofpoint/acme"},
	} {
		if got := SecretID(c.prefix, "proofpoint", "acme"); got != c.want {
			t.Errorf("SecretID(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
}

func TestTTLIsClamped(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, 15 * time.Minute}, {-time.Second, 15 * time.Minute}, {time.Hour, 15 * time.Minute}, {time.Minute, time.Minute},
	} {
		if got := New(nil, "x", Options{TTL: c.in}).TTL(); got != c.want {
			t.Errorf("TTL %v -> %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFetchCacheExpiryAndRotation(t *testing.T) {
	sm, calls := client(t)
	id := createSecret(t, sm, `{"bearer_token":"tok-ONE-4f1c9","base_url":"https://events.1password.eu"}`)
	clk := simtest.NewClock(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	red := redact.New()
	src := New(sm, id, Options{TTL: 5 * time.Minute, Now: clk.Now, Redactor: red})

	c, err := src.Get(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Require("bearer_token"); err != nil {
		t.Fatal(err)
	}
	if c["bearer_token"] != "tok-ONE-4f1c9" || c["base_url"] != "https://events.1password.eu" {
		t.Fatalf("got %d fields with unexpected values", len(c))
	}
	if got := red.String("Authorization: Bearer tok-ONE-4f1c9"); strings.Contains(got, "tok-ONE") {
		t.Fatalf("token not registered with the redactor: %s", got)
	}
	if calls.n.Load() != 1 {
		t.Fatalf("%d GetSecretValue calls, want 1", calls.n.Load())
	}

	// Within the TTL: served from the cache, and callers cannot edit it.
	c["bearer_token"] = "mutated"
	clk.Advance(4*time.Minute + 59*time.Second)
	c, err = src.Get(ctx(t))
	if err != nil || c["bearer_token"] != "tok-ONE-4f1c9" {
		t.Fatalf("cached Get = %v (edited map leaked into the cache?)", err)
	}
	if calls.n.Load() != 1 {
		t.Fatalf("%d GetSecretValue calls within the TTL, want 1", calls.n.Load())
	}

	// Rotation: the cache still holds the old token until it expires.
	if _, err := sm.PutSecretValue(ctx(t), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(id), SecretString: aws.String(`{"bearer_token":"tok-TWO-88a0e"}`),
	}); err != nil {
		t.Fatal(err)
	}
	c, _ = src.Get(ctx(t))
	if c["bearer_token"] != "tok-ONE-4f1c9" {
		t.Fatalf("cache bypassed before the TTL")
	}

	// Invalidate (the vendor answered 401): the next Get re-reads.
	src.Invalidate()
	c, err = src.Get(ctx(t))
	if err != nil || c["bearer_token"] != "tok-TWO-88a0e" {
		t.Fatalf("after Invalidate: %v, rotated token not returned", err)
	}
	if calls.n.Load() != 2 {
		t.Fatalf("%d calls, want 2", calls.n.Load())
	}
	if _, ok := c["base_url"]; ok {
		t.Fatalf("a field of the old version survived the rotation")
	}
	if got := red.String("tok-TWO-88a0e"); got != redact.Mask {
		t.Fatalf("rotated token not registered with the redactor: %s", got)
	}

	// Expiry: once the TTL has passed, the next Get re-reads.
	clk.Advance(5 * time.Minute)
	if _, err := src.Get(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if calls.n.Load() != 3 {
		t.Fatalf("%d calls after the TTL, want 3", calls.n.Load())
	}
}

func TestConcurrentGetsShareOneRead(t *testing.T) {
	sm, calls := client(t)
	id := createSecret(t, sm, `{"principal":"svc-principal","secret":"pp-secret-771"}`)
	src := New(sm, id, Options{})
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := src.Get(ctx(t))
			if err != nil || c.Require("principal", "secret") != nil {
				t.Errorf("Get: %v", err)
			}
			if i%4 == 0 {
				src.Invalidate()
			}
		}()
	}
	wg.Wait()
	// Every Invalidate may cost one more read, but 16 callers on a cold
	// cache must not cost 16.
	if n := calls.n.Load(); n < 1 || n > 5 {
		t.Fatalf("%d GetSecretValue calls for 16 concurrent Gets with 4 invalidations", n)
	}
}

func TestMissingSecret(t *testing.T) {
	sm, _ := client(t)
	id := SecretID("", "cortexxdr", awstest.UniqueName(t, "nobody"))
	_, err := New(sm, id, Options{}).Get(ctx(t))
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), id) {
		t.Fatalf("err = %v, want ErrNotFound naming %s", err, id)
	}
}

func TestMalformedSecretIsNotEchoed(t *testing.T) {
	sm, _ := client(t)
	const canary = "CANARY-7d3f19e2-do-not-print"
	for _, value := range []string{
		`bearer_token=` + canary,        // KEY=VALUE pasted instead of JSON
		`{"bearer_token":"` + canary,    // truncated JSON
		`"` + canary + `"`,              // a bare JSON string
		`["` + canary + `"]`,            // an array
		`{"bearer_token":"x",` + canary, // garbage after a valid prefix
		`{"` + canary + `": "` + canary, // truncated, canary as name and value
	} {
		id := createSecret(t, sm, value)
		red := redact.New()
		_, err := New(sm, id, Options{Redactor: red}).Get(ctx(t))
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d-byte malformed secret: err = %v, want ErrMalformed", len(value), err)
		}
		if strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "do-not-print") {
			t.Fatalf("error echoes the secret: %v", err)
		}
		if !strings.Contains(err.Error(), id) {
			t.Fatalf("error does not name the secret: %v", err)
		}
	}
}

func TestNonStringFields(t *testing.T) {
	sm, calls := client(t)
	const canary = "CANARY-a91b"
	id := createSecret(t, sm, `{"fqdn":"api-acme.xdr.eu.paloaltonetworks.com","api_key_id":42,"api_key":{"v":"`+canary+`"},"security_level":null,"extra":["`+canary+`"],"ok":true}`)
	src := New(sm, id, Options{})
	_, err := src.Get(ctx(t))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	msg := err.Error()
	for _, name := range []string{`"api_key_id" (number)`, `"api_key" (object)`, `"security_level" (null)`, `"extra" (array)`, `"ok" (boolean)`} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s: %s", name, msg)
		}
	}
	if strings.Contains(msg, canary) || strings.Contains(msg, "paloaltonetworks") || strings.Contains(msg, "42") && !strings.Contains(id, "42") {
		t.Fatalf("error shows a value: %s", msg)
	}
	// A failed read is not cached: once fixed, the next Get succeeds.
	if _, err := sm.PutSecretValue(ctx(t), &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(id),
		SecretString: aws.String(`{"fqdn":"api-acme.xdr.eu.paloaltonetworks.com","api_key_id":"42","api_key":"k-9931","security_level":"advanced"}`),
	}); err != nil {
		t.Fatal(err)
	}
	c, err := src.Get(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Require("fqdn", "api_key_id", "api_key", "security_level"); err != nil {
		t.Fatal(err)
	}
	if calls.n.Load() != 2 {
		t.Fatalf("%d calls, want 2", calls.n.Load())
	}
}

func TestGetHonoursContextWhileAnotherReads(t *testing.T) {
	src := New(nil, "x", Options{})
	src.fetch <- struct{}{} // another Get is reading
	c, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := src.Get(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
}

// moto does not enforce IAM, so the error mapping of a denied read is
// checked on the SDK's own error values.
func TestErrorMapping(t *testing.T) {
	src := New(nil, "wazuh-pull/proofpoint/acme", Options{})
	for _, c := range []struct {
		err  error
		want error
	}{
		{&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized"}, ErrAccessDenied},
		{&types.DecryptionFailure{Message: aws.String("KMS denied")}, ErrAccessDenied},
		{&types.ResourceNotFoundException{Message: aws.String("not found")}, ErrNotFound},
		{&types.InvalidRequestException{Message: aws.String("marked for deletion")}, ErrNotFound},
	} {
		err := src.mapError(c.err)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "wazuh-pull/proofpoint/acme") {
			t.Errorf("%T -> %v, want %v naming the secret", c.err, err, c.want)
		}
		if !errors.As(err, new(smithy.APIError)) {
			t.Errorf("%T: the SDK error is no longer reachable with errors.As", c.err)
		}
	}
}

var _ secrets.Source = (*Source)(nil)

// TestPublicFieldsAreNotMasked: configuration fields of a secret stay
// readable in logs; the secret fields are masked.
func TestPublicFieldsAreNotMasked(t *testing.T) {
	sm, _ := client(t)
	id := createSecret(t, sm, `{"bearer_token":"TOKENxSECRETx123","base_url":"https://events.1password.eu"}`)
	red := redact.New()
	src := New(sm, id, Options{Redactor: red, Public: []string{"base_url"}})
	if _, err := src.Get(ctx(t)); err != nil {
		t.Fatal(err)
	}
	got := red.String("POST https://events.1password.eu/api/v2/auditevents with TOKENxSECRETx123")
	if got != "POST https://events.1password.eu/api/v2/auditevents with "+redact.Mask {
		t.Fatalf("got %q", got)
	}
}
