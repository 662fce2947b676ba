package sysroots

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"iter"
	"os"
	"sync"
)

// bundle is a PEM bundle split into certificates, indexed by subject.
// Only the roots a handshake needs are parsed, once each.
type bundle struct {
	der map[string][][]byte // subject (DER) → certificates (DER)

	mu     sync.Mutex
	parsed map[string][]*x509.Certificate // subject → parsed, as needed
}

// readBundle reads the first of files that can be read, as crypto/x509
// does; a bundle that cannot be read holds nothing.
func readBundle(files []string) *bundle {
	b := &bundle{der: map[string][][]byte{}, parsed: map[string][]*x509.Certificate{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			b.add(data)
			break
		}
	}
	return b
}

// add indexes the certificates of a PEM bundle. One whose subject cannot
// be found is left out, and any chain it would anchor goes to the full
// pool.
func (b *bundle) add(data []byte) {
	for der := range pemCertificates(data) {
		if subject, ok := rawSubject(der); ok {
			b.der[string(subject)] = append(b.der[string(subject)], der)
		}
	}
}

// pemCertificates yields the DER of the PEM blocks crypto/x509's
// AppendCertsFromPEM takes: CERTIFICATE, without headers.
func pemCertificates(data []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(data) > 0 {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				return
			}
			if block.Type == "CERTIFICATE" && len(block.Headers) == 0 && !yield(block.Bytes) {
				return
			}
		}
	}
}

// bySubject returns the bundle's certificates whose subject is name,
// parsed; those crypto/x509 cannot parse are left out, as
// AppendCertsFromPEM leaves them out.
func (b *bundle) bySubject(name []byte) []*x509.Certificate {
	ders := b.der[string(name)]
	if len(ders) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if certs, ok := b.parsed[string(name)]; ok {
		return certs
	}
	var certs []*x509.Certificate
	for _, der := range ders {
		if c, err := x509.ParseCertificate(der); err == nil {
			certs = append(certs, c)
		}
	}
	b.parsed[string(name)] = certs
	return certs
}

// parsePEM parses every certificate of an operator's CA bundle.
func parsePEM(data []byte) ([]*x509.Certificate, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var certs []*x509.Certificate
	for der := range pemCertificates(data) {
		if c, err := x509.ParseCertificate(der); err == nil { // others skipped, as by AppendCertsFromPEM
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("sysroots: the CA bundle holds no PEM certificate")
	}
	return certs, nil
}
