package awstest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// SerialProxy starts a loopback reverse proxy to target that forwards one
// request at a time: the next request is not sent until the previous
// response has been read to its end. moto evaluates a conditional write
// and applies it in separate steps without a lock, so two concurrent
// writers can both see their condition hold; DynamoDB itself never allows
// that. Concurrency tests send their requests through this proxy so that
// they test the code under test, not moto's race. It returns the proxy's
// URL and closes the proxy when the test ends.
func SerialProxy(t testing.TB, target string) string {
	t.Helper()
	if err := CheckLoopback(target); err != nil {
		t.Fatalf("awstest: SerialProxy: %v", err)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("awstest: SerialProxy: %v", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = LoopbackHTTPClient().Transport
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		// ReverseProxy returns only after copying the whole response body,
		// so the lock covers the complete round trip.
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
