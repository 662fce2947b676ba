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
