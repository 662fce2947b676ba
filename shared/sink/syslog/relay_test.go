package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

// TestRelay runs the sink against a real rsyslogd with the shipped relay
// configuration; one relay serves all subtests (they run in order and each
// checks only the lines it sent).
func TestRelay(t *testing.T) {
	r := rsyslogtest.Start(t, rsyslogtest.Options{})
	pki := r.PKI
	// tlsCfg verifies the relay but has no client certificate; mtlsCfg is
	// a permitted sender.
	tlsCfg := func(addr string) Config { return Config{URL: "tls://" + addr, CAPEM: pki.CAPEM} }
	mtlsCfg := func() Config {
		c := tlsCfg(r.Addr)
		c.ClientCertPEM, c.ClientKeyPEM = pki.ClientCertPEM, pki.ClientKeyPEM
		return c
	}
	// expect waits for the lines b should produce (after those already
	// there) and compares them byte for byte, in order.
	expect := func(t *testing.T, before int, prefix string, b []byte) {
		t.Helper()
		want := withPrefix(prefix, b)
		got, err := r.WaitLines(before+len(want), 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		equalLines(t, got[before:], want)
	}
	// refused checks that nothing sent by a refused client comes out.
	refused := func(t *testing.T, before int) {
		t.Helper()
		time.Sleep(300 * time.Millisecond) // the queue forwards within ~100 ms
		if n := len(r.Lines()); n != before {
			t.Fatalf("%d lines from a refused client reached remoted", n-before)
		}
	}

	t.Run("TLS byte-identical and in order", func(t *testing.T) {
		s := mustNew(t, mtlsCfg())
		ctx := testCtx(t, 30*time.Second)
		before := len(r.Lines())
		var all []byte
		for p := range 5 {
			pg := page(p*400, 400, 800)
			if err := send(ctx, s, pg); err != nil {
				t.Fatalf("page %d: %v", p, err)
			}
			all = append(all, pg...)
		}
		expect(t, before, "<134>", all)
	})

	t.Run("header", func(t *testing.T) {
		c := mtlsCfg()
		c.Header, c.Hostname, c.Tag, c.Facility, c.Severity = true, "lambda-eu-1", "wazuh-pull", 1, 5
		s := mustNew(t, c)
		s.now = func() time.Time { return time.Date(2026, 3, 7, 1, 2, 3, 999, time.UTC) }
		ctx := testCtx(t, 30*time.Second)
		before := len(r.Lines())
		pg := page(10_000, 20, 500)
		if err := send(ctx, s, pg); err != nil {
			t.Fatal(err)
		}
		expect(t, before, "<13>Mar  7 01:02:03 lambda-eu-1 wazuh-pull: ", pg)
	})

	t.Run("max line fits, one more byte refused", func(t *testing.T) {
		s := mustNew(t, mtlsCfg())
		ctx := testCtx(t, 30*time.Second)
		body := sink.DefaultMaxLine - s.Overhead()
		exact := []byte(`{"pad":"` + strings.Repeat("\\n日本", (body-10)/8) + strings.Repeat("x", (body-10)%8) + `"}` + "\n")
		if len(exact)-1 != body {
			t.Fatalf("test bug: %d != %d", len(exact)-1, body)
		}
		before := len(r.Lines())
		if err := send(ctx, s, exact); err != nil {
			t.Fatal(err)
		}
		expect(t, before, "<134>", exact)
		if got := r.Lines()[before]; len(got) != sink.DefaultMaxLine {
			t.Fatalf("line arrived with %d bytes, want %d", len(got), sink.DefaultMaxLine)
		}
		over := append([]byte(`{"pad":"y`), exact[len(`{"pad":"`):]...)
		if err := s.Write(ctx, over); !errors.Is(err, sink.ErrLineTooLong) {
			t.Fatalf("one byte over the maximum: %v", err)
		}
	})

	t.Run("mTLS with client certificate", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			c := mtlsCfg()
			c.MaxVersion = v
			s := mustNew(t, c)
			ctx := testCtx(t, 30*time.Second)
			before := len(r.Lines())
			pg := page(20_000+int(v), 50, 800)
			if err := send(ctx, s, pg); err != nil {
				t.Fatalf("%s: %v", tls.VersionName(v), err)
			}
			expect(t, before, "<134>", pg)
		}
	})

	// rsyslog checks the client certificate after the handshake: the
	// client's handshake succeeds, then the connection dies. Only Confirm
	// can tell, for TLS 1.3 and (with rsyslog) 1.2 alike.
	t.Run("mTLS without client certificate refused", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			c := tlsCfg(r.Addr)
			c.MaxVersion = v
			s := mustNew(t, c)
			ctx := testCtx(t, 30*time.Second)
			before := len(r.Lines())
			err := s.Write(ctx, page(0, 100, 800))
			if err == nil {
				err = s.Confirm(ctx)
			}
			wantNotConfirmed(t, err)
			if !strings.Contains(err.Error(), "none is configured") {
				t.Errorf("%s: error does not point at the missing certificate: %v", tls.VersionName(v), err)
			}
			refused(t, before)
		}
	})

	t.Run("mTLS with a bad client certificate refused", func(t *testing.T) {
		for name, kp := range map[string][2][]byte{
			"another CA":                   {pki.OtherClientCertPEM, pki.OtherClientKeyPEM},
			"expired":                      {pki.ExpiredClientCertPEM, pki.ExpiredClientKeyPEM},
			"right CA, wrong identity":     {pki.WrongNameClientCertPEM, pki.WrongNameClientKeyPEM},
			"permitted name only as CN":    {pki.SANMismatchClientCertPEM, pki.SANMismatchClientKeyPEM},
			"server certificate as client": {pki.NoClientAuthCertPEM, pki.NoClientAuthKeyPEM},
		} {
			c := tlsCfg(r.Addr)
			c.ClientCertPEM, c.ClientKeyPEM = kp[0], kp[1]
			s := mustNew(t, c)
			ctx := testCtx(t, 30*time.Second)
			before := len(r.Lines())
			err := s.Write(ctx, page(0, 100, 800))
			if err == nil {
				err = s.Confirm(ctx)
			}
			if err == nil {
				t.Fatalf("%s: delivery confirmed", name)
			}
			wantNotConfirmed(t, err)
			t.Logf("%s: the sender sees: %v", name, err)
			refused(t, before)
		}
	})

	t.Run("TLS below 1.2 refused by the relay", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pki.CAPEM)
		c, err := tls.Dial("tcp", r.Addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			c.Close()
			t.Fatal("the relay accepted TLS 1.1")
		}
		// The refusal must come from the relay (an alert, or gnutls just
		// closing), not from our own client refusing to offer TLS 1.1.
		if !strings.Contains(err.Error(), "remote error") && !errors.Is(err, io.EOF) {
			t.Fatalf("want the relay to refuse, got %v", err)
		}
	})

	t.Run("server from an untrusted CA refused", func(t *testing.T) {
		c := mtlsCfg()
		c.CAPEM, c.DialAttempts, c.BackoffMin = pki.OtherCAPEM, 3, 10*time.Millisecond
		s := mustNew(t, c)
		ctx := testCtx(t, 30*time.Second)
		start := time.Now()
		err := s.Write(ctx, page(0, 1, 100))
		wantNotConfirmed(t, err)
		if !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), "after 1 attempt") {
			t.Fatalf("want a certificate error without retries, got: %v", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("took too long")
		}
	})

	t.Run("system pool does not trust a private CA", func(t *testing.T) {
		c := mtlsCfg()
		c.CAPEM = nil
		s := mustNew(t, c)
		wantNotConfirmed(t, s.Write(testCtx(t, 30*time.Second), page(0, 1, 100)))
	})

	t.Run("server name override", func(t *testing.T) {
		// Dial by address, verify as "localhost".
		c := mtlsCfg()
		c.ServerName = "localhost"
		s := mustNew(t, c)
		ctx := testCtx(t, 30*time.Second)
		before := len(r.Lines())
		pg := page(30_000, 5, 300)
		if err := send(ctx, s, pg); err != nil {
			t.Fatal(err)
		}
		expect(t, before, "<134>", pg)
		// A name the certificate does not carry is refused.
		c.ServerName = "relay.example.org"
		bad := mustNew(t, c)
		err := bad.Write(ctx, pg)
		wantNotConfirmed(t, err)
		if !strings.Contains(err.Error(), "relay.example.org") {
			t.Fatalf("error does not name the mismatch: %v", err)
		}
	})
}

func TestRelayExpiredCertificate(t *testing.T) {
	r := rsyslogtest.Start(t, rsyslogtest.Options{ExpiredCert: true})
	client := func(c Config) Config {
		c.URL, c.ClientCertPEM, c.ClientKeyPEM = "tls://"+r.Addr, r.PKI.ClientCertPEM, r.PKI.ClientKeyPEM
		return c
	}
	s := mustNew(t, client(Config{CAPEM: r.PKI.CAPEM}))
	ctx := testCtx(t, 30*time.Second)
	err := s.Write(ctx, page(0, 10, 100))
	wantNotConfirmed(t, err)
	if !strings.Contains(err.Error(), "expired") {
		t.Fatalf("error does not say the certificate expired: %v", err)
	}

	// InsecureSkipVerify gets through, and says so loudly on every connection.
	var logs logBuffer
	ins := mustNew(t, client(Config{InsecureSkipVerify: true, Logger: newTextLogger(&logs)}))
	for i := range 2 {
		if err := send(ctx, ins, page(i*10, 10, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "TLS SERVER VERIFICATION IS DISABLED"); n != 3 { // New + 2 connections
		t.Fatalf("insecure warning logged %d times, want 3:\n%s", n, logs.String())
	}
	if _, err := r.WaitLines(20, 15*time.Second); err != nil {
		t.Fatal(err)
	}
}
