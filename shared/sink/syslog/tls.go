package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/wazuh-pull/wazuh-pull/shared/sysroots"
)

// tlsConfig builds the client TLS configuration shared by all connections.
func (c Config) tlsConfig(ep Endpoint) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion: c.MinVersion,
		MaxVersion: c.MaxVersion,
		ServerName: c.ServerName,
		// Full-size records from the first byte: we optimise for
		// throughput, not for the first byte's latency.
		DynamicRecordSizingDisabled: true,
		InsecureSkipVerify:          c.InsecureSkipVerify,
	}
	if tc.ServerName == "" {
		tc.ServerName = ep.Host
	}
	if len(c.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CAPEM) {
			return nil, errors.New("syslog: CAPEM holds no PEM certificate")
		}
		tc.RootCAs = pool
	} else {
		// The system's roots, loaded only as the handshake needs them.
		roots, err := sysroots.New(nil)
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		roots.Apply(tc, tc.ServerName)
	}
	var cert *tls.Certificate
	if len(c.ClientCertPEM) > 0 {
		kp, err := tls.X509KeyPair(c.ClientCertPEM, c.ClientKeyPEM)
		if err != nil {
			// crypto/tls errors describe the problem, never the key bytes.
			return nil, fmt.Errorf("syslog: client certificate and key: %v", err)
		}
		cert = &kp
	}
	// GetClientCertificate rather than Certificates: we send our certificate
	// whatever CAs the server lists (rsyslog lists none), and each
	// connection can wrap it to learn whether the server asked for one.
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert == nil {
			return &tls.Certificate{}, nil
		}
		return cert, nil
	}
	return tc, nil
}
