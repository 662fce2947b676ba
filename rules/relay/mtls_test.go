package relay_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

// sendLine connects to the relay as a client presenting certPEM (nothing
// when it is nil; otherwise always, whatever CAs the relay lists, as
// wazuh-pull's sink does), writes line, closes its side and waits for the
// relay to close. It returns what the sender sees: the first error of the
// handshake, the write or the wait, nil when the relay closed cleanly
// after taking every byte. A relay that refuses a client right after the
// handshake may close before the line arrives: the sender then reads the
// close first, and only the unacknowledged bytes show the refusal (the
// reset the line draws may come a moment later), which is how
// wazuh-pull's syslog sink tells the two apart too.
func sendLine(t *testing.T, r *rsyslogtest.Relay, certPEM, keyPEM []byte, version uint16, line string) error {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.PKI.CAPEM)
	cert := &tls.Certificate{}
	if certPEM != nil {
		kp, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cert = &kp
	}
	raw, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, &tls.Config{
		RootCAs: pool, ServerName: "localhost", MinVersion: version, MaxVersion: version,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil },
	})
	defer c.Close()
	if err := c.Handshake(); err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write([]byte(line)); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		return err
	}
	if n := unackedBytes(t, raw.(*net.TCPConn)); n > 1 { // our FIN may be the one
		return fmt.Errorf("the relay closed with %d of our bytes unacknowledged", n)
	}
	return nil
}

// unackedBytes is what the kernel has sent on c and the peer has not
// acknowledged (SIOCOUTQ).
func unackedBytes(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(syscall.TIOCOUTQ), uintptr(unsafe.Pointer(&v)))
	}); err != nil || errno != 0 {
		t.Fatalf("SIOCOUTQ: %v %v", err, errno)
	}
	return int(v)
}

// waitLog waits until rsyslogd's output after the first `from` bytes holds
// every string of want; rsyslogd writes them as it drops the connection,
// which the sender has already seen, so a few seconds are plenty.
func waitLog(t *testing.T, r *rsyslogtest.Relay, from int, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := r.Log()
		missing := ""
		for _, w := range want {
			if len(log) <= from || !strings.Contains(log[from:], w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd did not log %q after byte %d of %d; it logged:\n%s", missing, from, len(log), log[min(from, len(log)):])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRelayAdmitsOnlyPermittedSenders runs the shipped configuration in a
// real rsyslogd: only a client certificate from the relay's CA, valid, for
// client authentication and naming a permitted peer among its DNS names
// gets a line through. Everyone else is cut off before a line is read: the
// sender sees its connection reset (or its write fail), and rsyslogd logs
// why. README.md quotes these messages.
func TestRelayAdmitsOnlyPermittedSenders(t *testing.T) {
	r := rsyslogtest.Start(t, rsyslogtest.Options{})
	pki := r.PKI
	refused := []struct {
		name      string
		cert, key []byte
		logged    string
	}{
		{"no certificate", nil, nil, "peer did not provide a certificate, not permitted to talk to it"},
		{"right CA, wrong identity", pki.WrongNameClientCertPEM, pki.WrongNameClientKeyPEM, "peer name not authorized -  not permitted to talk to it. Names: DNSname: intruder.example.org;"},
		// The CN is not looked at beside DNS names (PrioritizeSAN).
		{"permitted name only as CN", pki.SANMismatchClientCertPEM, pki.SANMismatchClientKeyPEM, "peer name not authorized -  not permitted to talk to it. Names: DNSname: intruder.example.org;"},
		{"server certificate as client", pki.NoClientAuthCertPEM, pki.NoClientAuthKeyPEM, "certificate invalid: key purpose OID does not match"},
		{"another CA", pki.OtherClientCertPEM, pki.OtherClientKeyPEM, "not permitted to talk to peer, certificate invalid: signer not found"},
		{"expired", pki.ExpiredClientCertPEM, pki.ExpiredClientKeyPEM, "not permitted to talk to peer, certificate invalid: certificate expired"},
	}
	delivered := 0
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		for _, c := range refused {
			from := len(r.Log())
			err := sendLine(t, r, c.cert, c.key, v, `<134>{"integration":"forged","op":{"event_type":"run_summary"}}`+"\n")
			if err == nil {
				t.Errorf("%s, %s: the relay closed normally, as after a delivery", tls.VersionName(v), c.name)
			}
			waitLog(t, r, from, c.logged)
		}
		// The permitted sender delivers, after the refused ones.
		line := `<134>{"integration":"relay-test","version":"` + tls.VersionName(v) + `"}`
		if err := sendLine(t, r, pki.ClientCertPEM, pki.ClientKeyPEM, v, line+"\n"); err != nil {
			t.Fatalf("%s: permitted sender: %v", tls.VersionName(v), err)
		}
		delivered++
		lines, err := r.WaitLines(delivered, 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if lines[delivered-1] != line {
			t.Fatalf("%s: got %q, want %q", tls.VersionName(v), lines[delivered-1], line)
		}
	}
	for _, l := range r.Lines() {
		if strings.Contains(l, "forged") {
			t.Fatalf("a refused client's line reached remoted: %s", l)
		}
	}
}

// TestRelayPermitsListedAndWildcardPeers: every listed identity is
// admitted, a "*." entry matches one label, and a relay that permits
// other names refuses the test client.
func TestRelayPermitsListedAndWildcardPeers(t *testing.T) {
	r := rsyslogtest.Start(t, rsyslogtest.Options{PermittedPeers: []string{"wazuh-pull-onepassword", "*.example.org"}})
	pki := r.PKI
	from := len(r.Log())
	if err := sendLine(t, r, pki.ClientCertPEM, pki.ClientKeyPEM, tls.VersionTLS13, "<134>{\"who\":\"unlisted\"}\n"); err == nil {
		t.Fatal("a sender not listed was admitted")
	}
	waitLog(t, r, from, "Names: DNSname: "+rsyslogtest.ClientName+";")
	// intruder.example.org matches *.example.org.
	if err := sendLine(t, r, pki.WrongNameClientCertPEM, pki.WrongNameClientKeyPEM, tls.VersionTLS13, "<134>{\"who\":\"wildcard\"}\n"); err != nil {
		t.Fatalf("wildcard peer refused: %v", err)
	}
	if lines, err := r.WaitLines(1, 15*time.Second); err != nil || len(lines) != 1 || lines[0] != `<134>{"who":"wildcard"}` {
		t.Fatalf("lines %q, %v", lines, err)
	}
}
