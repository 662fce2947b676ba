package rsyslogtest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"
)

// listening reports whether rsyslogd accepts TLS on addr. It probes with a
// complete handshake (client certificate included) and an orderly close, so
// rsyslogd has nothing to complain about in its log; a bare connect would
// leave a "connection non-properly terminated" error for every probe.
func (r *Relay) listening(addr string) bool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.PKI.CAPEM)
	cert, err := tls.X509KeyPair(r.PKI.ClientCertPEM, r.PKI.ClientKeyPEM)
	if err != nil {
		return false
	}
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: time.Second},
		Config: &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "localhost",
			// The expired-certificate relay must count as up as well.
			InsecureSkipVerify: r.opts.ExpiredCert,
		},
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
