package sysroots

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"go/build"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The system's roots, for this test process: SSL_CERT_FILE and
// SSL_CERT_DIR point crypto/x509 (and this package) at a bundle and a
// directory made here, before anything loads them. The bundle also holds
// the machine's own roots, when it has a bundle, so that lookups go
// through a realistic number of certificates.
var pki struct {
	bundleRoot, dirRoot, unknownRoot, extraRoot, crossRoot *authority
	inter                                                  *authority
	crossInter                                             *authority // crossRoot's subject and key, signed by dirRoot
	extraPEM                                               []byte
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sysroots")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		setUpPKI(dir)
		return m.Run()
	}()
	os.Exit(code)
}

func setUpPKI(dir string) {
	pki.bundleRoot = newRoot("Bundle Root")
	pki.dirRoot = newRoot("Directory Root")
	pki.unknownRoot = newRoot("Unknown Root")
	pki.extraRoot = newRoot("Operator Proxy CA")
	pki.crossRoot = newRoot("Cross Root")
	pki.inter = pki.bundleRoot.issueCA("Bundle Intermediate")
	pki.crossInter = pki.dirRoot.crossSign(pki.crossRoot)
	pki.extraPEM = pki.extraRoot.pem()

	bundle, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	bundle = append(bundle, pki.bundleRoot.pem()...)
	bundle = append(bundle, pki.crossRoot.pem()...)
	certDir := filepath.Join(dir, "certs")
	must(os.Mkdir(certDir, 0o700))
	must(os.WriteFile(filepath.Join(dir, "bundle.pem"), bundle, 0o600))
	must(os.WriteFile(filepath.Join(certDir, "dir-root.pem"), pki.dirRoot.pem(), 0o600))
	must(os.Setenv("SSL_CERT_FILE", filepath.Join(dir, "bundle.pem")))
	must(os.Setenv("SSL_CERT_DIR", certDir))
}

// cases are chains a server may send, each with the name it is reached by.
func cases(t *testing.T) []struct {
	name   string
	chain  []*x509.Certificate
	server string
} {
	t.Helper()
	now := time.Now()
	leaf := func(issuer *authority, names ...string) *x509.Certificate {
		return issuer.issueLeaf(now.Add(-time.Hour), now.Add(time.Hour), names...)
	}
	viaInter := leaf(pki.inter, "svc.example.test", "127.0.0.1")
	return []struct {
		name   string
		chain  []*x509.Certificate
		server string
	}{
		{"bundle root through an intermediate", []*x509.Certificate{viaInter, pki.inter.cert}, "svc.example.test"},
		{"by IP address", []*x509.Certificate{viaInter, pki.inter.cert}, "127.0.0.1"},
		{"wrong name", []*x509.Certificate{viaInter, pki.inter.cert}, "other.example.test"},
		{"wrong IP address", []*x509.Certificate{viaInter, pki.inter.cert}, "127.0.0.2"},
		{"intermediate not sent", []*x509.Certificate{viaInter}, "svc.example.test"},
		{"directory-only root", []*x509.Certificate{leaf(pki.dirRoot, "dir.example.test")}, "dir.example.test"},
		{"unknown root", []*x509.Certificate{leaf(pki.unknownRoot, "svc.example.test")}, "svc.example.test"},
		{"expired", []*x509.Certificate{pki.inter.issueLeaf(now.Add(-2*time.Hour), now.Add(-time.Hour), "svc.example.test"), pki.inter.cert}, "svc.example.test"},
		{"not yet valid", []*x509.Certificate{pki.inter.issueLeaf(now.Add(time.Hour), now.Add(2*time.Hour), "svc.example.test"), pki.inter.cert}, "svc.example.test"},
		{"operator's CA", []*x509.Certificate{leaf(pki.extraRoot, "tap-api-v2.proofpoint.com")}, "tap-api-v2.proofpoint.com"},
		// The intermediate's issuer is a root of the directory only, but its
		// subject is also a self-signed root of the bundle: the chain ends
		// at either.
		{"cross-signed", []*x509.Certificate{leaf(pki.crossRoot, "x.example.test"), pki.crossInter.cert}, "x.example.test"},
		{"self-signed leaf", []*x509.Certificate{newRoot("svc.example.test").cert}, "svc.example.test"},
	}
}

// TestSameVerdictAsCryptoTLS: for every chain, the verifier accepts
// exactly what crypto/x509 accepts with the whole system pool (and the
// operator's CAs), as crypto/tls would verify it.
func TestSameVerdictAsCryptoTLS(t *testing.T) {
	v, err := New(pki.extraPEM)
	if err != nil {
		t.Fatal(err)
	}
	system, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	system.AddCert(pki.extraRoot.cert)
	for _, c := range cases(t) {
		opts := x509.VerifyOptions{Roots: system, DNSName: c.server, Intermediates: x509.NewCertPool()}
		for _, ic := range c.chain[1:] {
			opts.Intermediates.AddCert(ic)
		}
		_, want := c.chain[0].Verify(opts)
		got := v.Verify(c.chain, c.server)
		if (got == nil) != (want == nil) {
			t.Errorf("%s: verifier says %v, crypto/x509 says %v", c.name, got, want)
			continue
		}
		if got != nil {
			var cve *tls.CertificateVerificationError
			if !errors.As(got, &cve) || cve.Err.Error() != want.Error() {
				t.Errorf("%s: error %v, want a CertificateVerificationError with %v", c.name, got, want)
			}
		}
	}
}

// TestOnlyTheIssuersRootsAreParsed: a chain anchored in the bundle never
// loads the whole system pool, and parses only the roots it names.
func TestOnlyTheIssuersRootsAreParsed(t *testing.T) {
	v := fresh(t, nil)
	full := 0
	v.fullUsed = func() { full++ }
	for _, c := range cases(t) {
		before := full
		err := v.Verify(c.chain, c.server)
		switch c.name {
		case "bundle root through an intermediate", "by IP address", "cross-signed":
			if err != nil || full != before {
				t.Errorf("%s: err %v, full pool used %d times", c.name, err, full-before)
			}
		case "directory-only root":
			if err != nil || full != before+1 {
				t.Errorf("%s: err %v, full pool used %d times, want once", c.name, err, full-before)
			}
		}
	}
	b := v.bundle()
	if len(b.der) < 2 {
		t.Fatalf("bundle indexed %d subjects", len(b.der))
	}
	var parsed []string
	for _, certs := range b.parsed {
		for _, c := range certs {
			parsed = append(parsed, fmt.Sprint(c.Subject))
		}
	}
	slices.Sort(parsed)
	if want := []string{"CN=Bundle Root", "CN=Cross Root"}; !slices.Equal(parsed, want) {
		t.Errorf("roots parsed: %q, want %q of the bundle's %d", parsed, want, len(b.der))
	}
}

// TestHandshakes: a real TLS handshake over loopback, the client set up by
// Apply, accepts the right server and refuses the wrong ones, including
// by IP address (a name the ConnectionState does not carry).
func TestHandshakes(t *testing.T) {
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := pki.inter.issueLeaf(now.Add(-time.Hour), now.Add(time.Hour), "svc.example.test", "127.0.0.1")
	unknown := pki.unknownRoot.issueLeaf(now.Add(-time.Hour), now.Add(time.Hour), "svc.example.test", "127.0.0.1")
	for _, c := range []struct {
		name   string
		chain  []*x509.Certificate
		key    *ecdsa.PrivateKey
		server string
		ok     bool
	}{
		{"by name", []*x509.Certificate{good, pki.inter.cert}, pki.inter.leafKey, "svc.example.test", true},
		{"by IP", []*x509.Certificate{good, pki.inter.cert}, pki.inter.leafKey, "127.0.0.1", true},
		{"other name", []*x509.Certificate{good, pki.inter.cert}, pki.inter.leafKey, "other.example.test", false},
		{"other IP", []*x509.Certificate{good, pki.inter.cert}, pki.inter.leafKey, "127.0.0.2", false},
		{"unknown root", []*x509.Certificate{unknown}, pki.unknownRoot.leafKey, "svc.example.test", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &tls.Config{MinVersion: tls.VersionTLS12}
			v.Apply(cfg, c.server)
			err := handshake(t, c.chain, c.key, cfg)
			if c.ok && err != nil {
				t.Fatalf("handshake failed: %v", err)
			}
			if !c.ok {
				var cve *tls.CertificateVerificationError
				if !errors.As(err, &cve) {
					t.Fatalf("handshake: %v, want a certificate verification error", err)
				}
			}
		})
	}
}

// TestApplyLeavesOwnChoicesAlone: RootCAs, InsecureSkipVerify and a
// VerifyConnection of the caller's are not replaced.
func TestApplyLeavesOwnChoicesAlone(t *testing.T) {
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, cfg := range []*tls.Config{{RootCAs: pool}, {InsecureSkipVerify: true}, {VerifyConnection: func(tls.ConnectionState) error { return nil }}} {
		skip, own := cfg.InsecureSkipVerify, cfg.VerifyConnection != nil
		v.Apply(cfg, "svc.example.test")
		if cfg.InsecureSkipVerify != skip || (cfg.VerifyConnection != nil) != own || cfg.ServerName != "" {
			t.Errorf("Apply changed a configuration with its own verification: %+v", cfg)
		}
	}
	cfg := &tls.Config{ServerName: "set.example.test"}
	v.Apply(cfg, "dialled.example.test")
	if !cfg.InsecureSkipVerify || cfg.VerifyConnection == nil || cfg.ServerName != "set.example.test" {
		t.Errorf("Apply on a plain configuration: %+v", cfg)
	}
}

func TestNewRefusesAnEmptyBundle(t *testing.T) {
	if _, err := New([]byte("not PEM")); err == nil {
		t.Fatal("a CA bundle without a certificate was accepted")
	}
}

// TestBundleFilesAreGos: the bundles read are crypto/x509's, in its order
// (a root read from a file Go does not read would be trusted where Go
// would not trust it).
func TestBundleFilesAreGos(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(build.Default.GOROOT, "src", "crypto", "x509", "root_linux.go"))
	if err != nil {
		t.Fatalf("reading crypto/x509's list of bundles (GOROOT %s): %v", build.Default.GOROOT, err)
	}
	block := regexp.MustCompile(`(?s)var certFiles = \[\]string\{(.*?)\n\}`).FindSubmatch(src)
	if block == nil {
		t.Fatal("crypto/x509's root_linux.go no longer declares certFiles: check how it loads roots")
	}
	var gos []string
	for _, m := range regexp.MustCompile(`"([^"]+)"`).FindAllSubmatch(block[1], -1) {
		gos = append(gos, string(m[1]))
	}
	t.Setenv("SSL_CERT_FILE", "")
	if got := bundleFiles(); !slices.Equal(got, gos) {
		t.Fatalf("bundle files %q, crypto/x509 reads %q", got, gos)
	}
	t.Setenv("SSL_CERT_FILE", "/some/file.pem")
	if got := bundleFiles(); !slices.Equal(got, []string{"/some/file.pem"}) {
		t.Fatalf("with SSL_CERT_FILE: %q", got)
	}
}

// TestRawSubject: the subject is found in real roots and in certificates
// with and without a version field.
func TestRawSubject(t *testing.T) {
	var ders [][]byte
	data, _ := os.ReadFile(os.Getenv("SSL_CERT_FILE"))
	for len(data) > 0 {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			break
		}
		ders = append(ders, block.Bytes)
	}
	if len(ders) < 3 {
		t.Fatalf("%d certificates in the test bundle", len(ders))
	}
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		got, ok := rawSubject(der)
		if !ok || string(got) != string(c.RawSubject) {
			t.Errorf("%s: rawSubject %x, %v", c.Subject, got, ok)
		}
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x84, 0xff, 0xff, 0xff, 0xff}, {0x30, 0x03, 0x30, 0x01}, {0x31, 0x00}} {
		if s, ok := rawSubject(bad); ok {
			t.Errorf("rawSubject(%x) = %x", bad, s)
		}
	}
}

// FuzzRawSubject: whatever crypto/x509 parses, rawSubject finds the same
// subject; nothing makes it panic.
func FuzzRawSubject(f *testing.F) {
	f.Add(pki.inter.cert.Raw)
	f.Add(pki.bundleRoot.cert.Raw)
	f.Add([]byte{0x30, 0x82, 0x01})
	f.Fuzz(func(t *testing.T, der []byte) {
		got, ok := rawSubject(der)
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		if !ok || string(got) != string(c.RawSubject) {
			t.Fatalf("rawSubject %x (%v), crypto/x509 %x", got, ok, c.RawSubject)
		}
	})
}

// fresh is a verifier with its own index of the test bundle, so that
// what it parses is its own.
func fresh(t *testing.T, extraPEM []byte) *Verifier {
	t.Helper()
	v, err := New(extraPEM)
	if err != nil {
		t.Fatal(err)
	}
	b := readBundle(bundleFiles())
	v.bundle = func() *bundle { return b }
	return v
}

// handshake serves chain over loopback TLS and returns the client's
// handshake error.
func handshake(t *testing.T, chain []*x509.Certificate, key *ecdsa.PrivateKey, client *tls.Config) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cert := tls.Certificate{PrivateKey: key}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Minute))
		tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { conn.Close(); <-done }()
	conn.SetDeadline(time.Now().Add(time.Minute))
	return tls.Client(conn, client).Handshake()
}

// authority is a test CA. Leaves it issues share one key.
type authority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	leafKey *ecdsa.PrivateKey
}

var serial int64

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	return k
}

func newRoot(cn string) *authority {
	key := newKey()
	tmpl := caTemplate(cn)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(err)
	return &authority{cert: parse(der), key: key, leafKey: newKey()}
}

func (a *authority) issueCA(cn string) *authority {
	key := newKey()
	der, err := x509.CreateCertificate(rand.Reader, caTemplate(cn), a.cert, &key.PublicKey, a.key)
	must(err)
	return &authority{cert: parse(der), key: key, leafKey: newKey()}
}

// crossSign issues other's subject and key as an intermediate of a.
func (a *authority) crossSign(other *authority) *authority {
	tmpl := caTemplate(other.cert.Subject.CommonName)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &other.key.PublicKey, a.key)
	must(err)
	return &authority{cert: parse(der), key: other.key, leafKey: other.leafKey}
}

func (a *authority) issueLeaf(from, to time.Time, names ...string) *x509.Certificate {
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    from,
		NotAfter:     to,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &a.leafKey.PublicKey, a.key)
	must(err)
	return parse(der)
}

func (a *authority) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
}

func caTemplate(cn string) *x509.Certificate {
	serial++
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func parse(der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	must(err)
	return c
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// TestTransport: an http.Client on Transport reaches a server the
// system's roots anchor, by IP address, and refuses it by a name its
// certificate lacks; each name gets its own transport.
func TestTransport(t *testing.T) {
	v, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	leafCert := pki.inter.issueLeaf(now.Add(-time.Hour), now.Add(time.Hour), "svc.example.test", "127.0.0.1")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafCert.Raw, pki.inter.cert.Raw}, PrivateKey: pki.inter.leafKey}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	rt := v.Transport(&http.Transport{})
	c := &http.Client{Transport: rt, Timeout: time.Minute}
	defer c.CloseIdleConnections()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("by IP address: %v", err)
	}
	resp.Body.Close()
	_, err = c.Get(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) {
		t.Fatalf("by a name the certificate lacks: %v", err)
	}
	if n := len(rt.(*perServer).byName); n != 2 {
		t.Errorf("%d transports for two names", n)
	}
}
