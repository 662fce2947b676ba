package rietest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
)

// CountingProxy is a loopback reverse proxy in front of an AWS-compatible
// server (moto) that counts requests by operation, so a test can see what
// a function in another process sent: DynamoDB calls per page, Secrets
// Manager reads across warm invocations.
type CountingProxy struct {
	// URL is the proxy's base URL, to use as AWS_ENDPOINT_URL_*.
	URL string

	mu     sync.Mutex
	counts map[string]int
}

// NewCountingProxy proxies to target (a loopback URL) until t ends.
func NewCountingProxy(t testing.TB, target string) *CountingProxy {
	t.Helper()
	if err := awstest.CheckLoopback(target); err != nil {
		t.Fatalf("rietest: %v", err)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("rietest: %v", err)
	}
	p := &CountingProxy{counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = awstest.LoopbackHTTPClient().Transport
	// A function killed at its timeout abandons requests; that is the
	// point of some tests, not an error worth a log line.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.add(Operation(r))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Operation names an AWS JSON-protocol request: "DynamoDB.UpdateItem",
// "SecretsManager.GetSecretValue".
func Operation(r *http.Request) string {
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "DynamoDB_20120810."):
		return "DynamoDB." + strings.TrimPrefix(target, "DynamoDB_20120810.")
	case strings.HasPrefix(target, "secretsmanager."):
		return "SecretsManager." + strings.TrimPrefix(target, "secretsmanager.")
	case target != "":
		return target
	}
	return r.Method + " " + r.URL.Path
}

func (p *CountingProxy) add(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[op]++
}

// Count returns how many requests of op were seen.
func (p *CountingProxy) Count(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[op]
}

// Counts returns a copy of all counts.
func (p *CountingProxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Reset clears the counts.
func (p *CountingProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
}
