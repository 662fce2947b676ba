package sysroots

import (
	"crypto/tls"
	"net/http"
	"sync"
)

// Transport returns a RoundTripper that sends each request through a
// clone of base made for the request's server name and verified with v
// for that name (Apply: the name is bound when the TLS configuration is
// made). A client talks to one or two hosts, so there are one or two
// clones; each keeps its own idle connections, as a transport keeps them
// per host anyway.
func (v *Verifier) Transport(base *http.Transport) http.RoundTripper {
	return &perServer{base: base, v: v}
}

type perServer struct {
	base *http.Transport
	v    *Verifier

	mu     sync.Mutex
	byName map[string]*http.Transport
}

func (p *perServer) RoundTrip(r *http.Request) (*http.Response, error) {
	return p.transport(r.URL.Hostname()).RoundTrip(r)
}

func (p *perServer) transport(serverName string) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.byName[serverName]; ok {
		return t
	}
	t := p.base.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	p.v.Apply(t.TLSClientConfig, serverName)
	if p.byName == nil {
		p.byName = map[string]*http.Transport{}
	}
	p.byName[serverName] = t
	return t
}

// CloseIdleConnections closes the idle connections of every clone
// (http.Client.CloseIdleConnections calls it).
func (p *perServer) CloseIdleConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.byName {
		t.CloseIdleConnections()
	}
}
