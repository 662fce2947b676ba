package simtest

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Server serves a simulator's handler on 127.0.0.1.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port (https with TLS).
	URL string

	hs        *httptest.Server
	closing   chan struct{}
	closeOnce sync.Once
}

// Start serves h on IPv4 loopback, with httptest's self-signed certificate
// when tls is set. It listens on 127.0.0.1 explicitly because httptest may
// fall back to ::1, and tests must only ever touch 127.0.0.1. name
// prefixes the panic when no port is free: a broken machine, not a
// condition for the test to handle.
func Start(name string, h http.Handler, tls bool) *Server {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("%s: listen on 127.0.0.1: %v", name, err))
	}
	s := &Server{hs: httptest.NewUnstartedServer(h), closing: make(chan struct{})}
	s.hs.Listener.Close()
	s.hs.Listener = ln
	if tls {
		s.hs.StartTLS()
	} else {
		s.hs.Start()
	}
	s.URL = s.hs.URL
	return s
}

// Close stops the server. Requests held by a Slow fault are dropped first,
// so Close never waits for them.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.hs.Close()
	})
}

// Client returns an HTTP client that trusts the server (needed with TLS).
func (s *Server) Client() *http.Client { return s.hs.Client() }

// Certificate is the server's self-signed certificate when it serves TLS
// (nil otherwise): the CA a client must trust.
func (s *Server) Certificate() *x509.Certificate { return s.hs.Certificate() }

// Closing is closed when Close begins.
func (s *Server) Closing() <-chan struct{} { return s.closing }
