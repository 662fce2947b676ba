package rsyslogtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"time"
)

// listening reports whether rsyslogd accepts TLS on addr. It probes with a
// complete handshake (client certificate included) and an orderly close, so
// rsyslogd has nothing to complain about in its log; a bare connect would
// leave a "connection non-properly terminated" error for every probe. A
// connect that is accepted but not answered within a second also counts:
// in Direct mode a relay that cannot reach remoted keeps its imtcp workers
// waiting on the forward, by design, and serves new handshakes only later.
func (r *Relay) listening(addr string) bool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.PKI.CAPEM)
	cert, err := tls.X509KeyPair(r.PKI.ClientCertPEM, r.PKI.ClientKeyPEM)
	if err != nil {
		return false
	}
	raw, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer raw.Close()
	c := tls.Client(raw, &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "localhost",
		// The expired-certificate relay must count as up as well.
		InsecureSkipVerify: r.opts.ExpiredCert,
	})
	raw.SetDeadline(time.Now().Add(time.Second))
	if err := c.Handshake(); err != nil {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
	c.Close()
	return true
}
