package rsyslogtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// ClientName is the identity (subjectAltName DNS name and CN) of
// PKI.Client*, the one sender the test relay permits by default.
const ClientName = "wazuh-pull-sender"

// PKI is throw-away TLS material made at test time (ECDSA P-256), so no key
// ever sits in the repository.
type PKI struct {
	CAPEM []byte // signs the server and client certificates below

	ServerCertPEM, ServerKeyPEM []byte // 127.0.0.1, ::1 and localhost, valid now
	ClientCertPEM, ClientKeyPEM []byte // client authentication as ClientName, signed by the CA

	// Signed by the CA, valid now, but not a permitted sender:
	// WrongName* is a client certificate for another name (DNS name and CN
	// "intruder.example.org"); SANMismatch* has the permitted name only as
	// its CN, and another DNS name; NoClientAuth* names ClientName but is
	// for server authentication only.
	WrongNameClientCertPEM, WrongNameClientKeyPEM     []byte
	SANMismatchClientCertPEM, SANMismatchClientKeyPEM []byte
	NoClientAuthCertPEM, NoClientAuthKeyPEM           []byte

	// OtherCAPEM is an unrelated CA: a client trusting only it must refuse
	// the server, and the relay must refuse OtherClient*.
	OtherCAPEM                            []byte
	OtherClientCertPEM, OtherClientKeyPEM []byte

	// Expired* are signed by the CA but expired yesterday.
	ExpiredServerCertPEM, ExpiredServerKeyPEM []byte
	ExpiredClientCertPEM, ExpiredClientKeyPEM []byte
}

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewPKI generates the material; it fails t on any error.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	now := time.Now()
	ca, caPEM := newCA(t, "wazuh-pull test CA")
	other, otherPEM := newCA(t, "unrelated test CA")
	p := &PKI{CAPEM: caPEM, OtherCAPEM: otherPEM}
	server := func(notBefore, notAfter time.Time) ([]byte, []byte) {
		return issue(t, ca, &x509.Certificate{
			Subject:     pkix.Name{CommonName: "localhost"},
			DNSNames:    []string{"localhost"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			NotBefore:   notBefore, NotAfter: notAfter,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
	}
	named := func(iss issuer, cn, dns string, eku x509.ExtKeyUsage, notBefore, notAfter time.Time) ([]byte, []byte) {
		return issue(t, iss, &x509.Certificate{
			Subject:   pkix.Name{CommonName: cn},
			DNSNames:  []string{dns},
			NotBefore: notBefore, NotAfter: notAfter,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{eku},
		})
	}
	client := func(iss issuer, notBefore, notAfter time.Time) ([]byte, []byte) {
		return named(iss, ClientName, ClientName, x509.ExtKeyUsageClientAuth, notBefore, notAfter)
	}
	p.WrongNameClientCertPEM, p.WrongNameClientKeyPEM = named(ca, "intruder.example.org", "intruder.example.org", x509.ExtKeyUsageClientAuth, now.Add(-time.Hour), now.Add(24*time.Hour))
	p.SANMismatchClientCertPEM, p.SANMismatchClientKeyPEM = named(ca, ClientName, "intruder.example.org", x509.ExtKeyUsageClientAuth, now.Add(-time.Hour), now.Add(24*time.Hour))
	p.NoClientAuthCertPEM, p.NoClientAuthKeyPEM = named(ca, ClientName, ClientName, x509.ExtKeyUsageServerAuth, now.Add(-time.Hour), now.Add(24*time.Hour))
	p.ServerCertPEM, p.ServerKeyPEM = server(now.Add(-time.Hour), now.Add(24*time.Hour))
	p.ExpiredServerCertPEM, p.ExpiredServerKeyPEM = server(now.Add(-72*time.Hour), now.Add(-24*time.Hour))
	p.ClientCertPEM, p.ClientKeyPEM = client(ca, now.Add(-time.Hour), now.Add(24*time.Hour))
	p.OtherClientCertPEM, p.OtherClientKeyPEM = client(other, now.Add(-time.Hour), now.Add(24*time.Hour))
	p.ExpiredClientCertPEM, p.ExpiredClientKeyPEM = client(ca, now.Add(-72*time.Hour), now.Add(-24*time.Hour))
	return p
}

func newCA(t testing.TB, name string) (issuer, []byte) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-100 * 24 * time.Hour),
		NotAfter:              time.Now().Add(100 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("rsyslogtest: creating CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("rsyslogtest: parsing CA: %v", err)
	}
	return issuer{cert, key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func issue(t testing.TB, iss issuer, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t)
	tmpl.SerialNumber = serial(t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, iss.cert, &key.PublicKey, iss.key)
	if err != nil {
		t.Fatalf("rsyslogtest: issuing certificate: %v", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("rsyslogtest: encoding key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("rsyslogtest: generating key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatalf("rsyslogtest: serial: %v", err)
	}
	return n
}
