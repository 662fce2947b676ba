package httpx

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHTTPSVerifiesTheServer: over real TLS on loopback, a server whose CA
// is in the CA bundle is reached (by the IP address its certificate
// names), one reached by a name its certificate lacks is refused, and one
// the system's roots do not know is refused at once, without retries.
func TestHTTPSVerifiesTheServer(t *testing.T) {
	var conns, requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("test server at %s", srv.URL)
	}

	resp, err := get(client(t, Config{CABundlePEM: ca}), srv.URL)
	if err != nil || string(resp.Body) != `{"ok":true}` {
		t.Fatalf("server of the CA bundle: %v, %v", resp, err)
	}

	// The test certificate names 127.0.0.1 and example.com, not localhost.
	_, err = get(client(t, Config{CABundlePEM: ca}), strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
	var ce *tls.CertificateVerificationError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "localhost") {
		t.Fatalf("a name the certificate lacks: %v", err)
	}

	conns.Store(0)
	_, err = get(client(t, Config{MaxAttempts: 3}), srv.URL)
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("a CA the system does not trust: %v", err)
	}
	var te *TransportError
	if !errors.As(err, &te) || te.ErrorCode() != "API_CONNECTION_ERROR" {
		t.Errorf("error code of a refused certificate: %v", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("a refused certificate was tried %d times", n)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests reached the server, want only the verified one", n)
	}
}

func TestCABundleWithoutCertificateIsRefused(t *testing.T) {
	if _, err := New(Config{CABundlePEM: []byte("not a certificate")}); err == nil || !strings.Contains(err.Error(), "CA bundle holds no PEM certificate") {
		t.Fatalf("New: %v", err)
	}
}

// TestHTTP1EvenWhereHTTP2IsOffered: the vendor client reads bodies over
// HTTP/1.1 (straight into its buffer) from a server that offers HTTP/2.
func TestHTTP1EvenWhereHTTP2IsOffered(t *testing.T) {
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		w.Write([]byte(`{}`))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if _, err := get(client(t, Config{CABundlePEM: ca}), srv.URL); err != nil {
		t.Fatal(err)
	}
	if p := proto.Load(); p != "HTTP/1.1" {
		t.Fatalf("spoke %v", p)
	}
	// The server does speak HTTP/2 to a client that asks for it.
	c := srv.Client()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if p := proto.Load(); p != "HTTP/2.0" {
		t.Fatalf("the test server did not offer HTTP/2: a client asking for it spoke %v", p)
	}
}
