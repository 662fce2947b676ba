// Package sysroots verifies a TLS server's certificate against the system's
// trust roots exactly as crypto/tls does, without parsing every root first.
//
// On Linux, crypto/x509 loads the system roots by parsing every certificate
// of the distribution's bundle and then every file of its certificate
// directories (on Debian, the same 146 roots twice): 40–60 ms of CPU on the
// 2-core VM we measure on, paid by every localrun process that makes one
// HTTPS request. That is more than a whole run that finds nothing to
// collect (docs/testing.md, "TLS roots"). A verifier instead reads only the
// bundle file crypto/x509 would read first, splits it into certificates,
// and notes each one's subject without parsing the rest; a handshake then
// parses only the roots named as issuer by a certificate the server sent.
//
// The result is the same as crypto/tls's, for every chain:
//   - Those roots are the only ones that can anchor a chain built from
//     what the server sent (x509 finds a certificate's possible parents by
//     the issuer's name), and they come from the very file crypto/x509
//     reads, so a chain they verify is one the system pool verifies too.
//   - When they verify nothing (a root only in a certificate directory, a
//     chain no root anchors, a wrong name), the chain is verified again
//     against the whole system pool, as crypto/tls would have, and that
//     verdict is returned. The full cost is then paid once per process, as
//     before.
//
// Only servers verified against the system's roots use a verifier: a
// configuration with its own RootCAs, or that skips verification, is left
// as it is. Other systems than Linux keep crypto/tls's verification (their
// roots come from the OS's own verifier).
package sysroots

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync"
)

// Verifier verifies server certificates against the system's roots and
// any extra CAs given (an operator's CA bundle, for TLS-inspecting
// proxies), which crypto/tls would find in RootCAs.
type Verifier struct {
	bundle func() *bundle
	extra  []*x509.Certificate
	// full is the system pool with the extra CAs, built on the first
	// chain the bundle's roots do not verify.
	full func() (*x509.CertPool, error)
	// fullUsed counts the verifications that needed the full pool (tests).
	fullUsed func()
}

// systemBundle is the bundle file crypto/x509 reads first, indexed once
// per process, as crypto/x509 loads its own pool once per process.
var systemBundle = sync.OnceValue(func() *bundle { return readBundle(bundleFiles()) })

// New returns a verifier for the system's roots and the PEM certificates
// of extraPEM (none when empty). It reads nothing until the first
// handshake.
func New(extraPEM []byte) (*Verifier, error) {
	extra, err := parsePEM(extraPEM)
	if err != nil {
		return nil, err
	}
	v := &Verifier{bundle: systemBundle, extra: extra, fullUsed: func() {}}
	v.full = sync.OnceValues(func() (*x509.CertPool, error) {
		if len(extra) == 0 {
			return nil, nil // nil Roots: crypto/x509's own system pool
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, c := range extra {
			pool.AddCert(c)
		}
		return pool, nil
	})
	return v, nil
}

// Apply makes cfg verify its server with v, for serverName: the name
// crypto/tls would check the certificate against (cfg.ServerName, or the
// host dialled). A cfg with RootCAs, InsecureSkipVerify or a
// VerifyConnection of its own is left unchanged, and so is any cfg on
// systems where crypto/x509 does not load the roots from files.
//
// crypto/tls's own verification is turned off (InsecureSkipVerify) and
// done by VerifyConnection instead, which every full handshake and every
// resumption calls; the name is bound here because a ConnectionState
// carries no name for an IP address.
func (v *Verifier) Apply(cfg *tls.Config, serverName string) {
	if !filesHoldRoots || cfg.RootCAs != nil || cfg.InsecureSkipVerify || cfg.VerifyConnection != nil {
		return
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	name := cfg.ServerName
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return v.Verify(cs.PeerCertificates, name)
	}
}

// Verify verifies the chain a server sent (its certificate first) for
// name as crypto/tls does, returning the same error type.
func (v *Verifier) Verify(certs []*x509.Certificate, name string) error {
	if len(certs) == 0 {
		return errors.New("tls: server sent no certificate")
	}
	opts := x509.VerifyOptions{DNSName: name, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if roots := v.anchors(certs); roots != nil {
		opts.Roots = roots
		if _, err := certs[0].Verify(opts); err == nil {
			return nil
		}
	}
	v.fullUsed()
	full, err := v.full()
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	opts.Roots = full
	if _, err := certs[0].Verify(opts); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}

// anchors returns the bundle's roots and the extra CAs that some
// certificate of the chain names as its issuer, or nil when there are
// none.
func (v *Verifier) anchors(certs []*x509.Certificate) *x509.CertPool {
	var pool *x509.CertPool
	add := func(c *x509.Certificate) {
		if pool == nil {
			pool = x509.NewCertPool()
		}
		pool.AddCert(c)
	}
	b := v.bundle()
	for i, c := range certs {
		if sameIssuerBefore(certs[:i], c) {
			continue
		}
		for _, root := range b.bySubject(c.RawIssuer) {
			add(root)
		}
		for _, e := range v.extra {
			if string(e.RawSubject) == string(c.RawIssuer) {
				add(e)
			}
		}
	}
	return pool
}

func sameIssuerBefore(prev []*x509.Certificate, c *x509.Certificate) bool {
	for _, p := range prev {
		if string(p.RawIssuer) == string(c.RawIssuer) {
			return true
		}
	}
	return false
}
