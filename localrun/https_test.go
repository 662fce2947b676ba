package main

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	opsim "github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// systemBundle is the machine's CA bundle (Debian's path: the machines
// the suite runs on), which the HTTPS tests extend with a simulator's CA
// to stand for an operator's trust store.
const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

// trustStore writes a bundle of the system's roots and ca, as
// SSL_CERT_FILE names one, and returns its path.
func trustStore(t testing.TB, dir string, ca []byte) string {
	t.Helper()
	sys, err := os.ReadFile(systemBundle)
	if err != nil {
		t.Fatalf("the system's CA bundle (install Debian's ca-certificates package): %v", err)
	}
	p := filepath.Join(dir, "trust-store.pem")
	if err := os.WriteFile(p, append(sys, ca...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVendorHTTPS: the collector reaches a vendor over HTTPS (the
// simulator at 127.0.0.1, its certificate naming that address) and
// verifies it: refused when nothing trusts the certificate (an error
// event, exit 1, the cursor kept), accepted through --ca-bundle, and
// through the system's roots when the trust store holds its CA. Every
// event arrives once.
func TestVendorHTTPS(t *testing.T) {
	h := newHarness(t, opsim.Options{TLS: true})
	if !strings.HasPrefix(h.sim.URL, "https://127.0.0.1:") {
		t.Fatalf("simulator at %s", h.sim.URL)
	}
	h.sim.Generate("acme", opsim.StreamAuditEvents, 700, time.Now().Add(-2*time.Hour), time.Second)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.sim.Certificate().Raw})
	caFile := writePEM(t, h.dir, "ca.pem", ca)
	args := []string{"--source", "audit", "--page-limit", "500", "--http-attempts", "3"}

	res := h.run(args...)
	errs := errorsOf(t, res.lines)
	if res.exit != exitFailed || len(errs) == 0 {
		t.Fatalf("an untrusted vendor certificate: exit %d, errors %v", res.exit, errs)
	}
	for _, e := range errs { // the token check, then the stream
		if e["error_code"] != "API_CONNECTION_ERROR" || !strings.Contains(e["error_detail"].(string), "certificate signed by unknown authority") {
			t.Fatalf("an untrusted vendor certificate: %v", e)
		}
	}
	if n := h.sim.RequestCount(); n != 0 {
		t.Fatalf("%d requests reached the vendor through an untrusted connection", n)
	}

	d := newDelivery()
	res = h.run(append(args, "--ca-bundle", caFile)...)
	if n, dups := d.add(res.lines); res.exit != 0 || n != 700 || dups != 0 {
		t.Fatalf("with --ca-bundle: exit %d, %d events, %d duplicates: %s", res.exit, n, dups, res.stderr)
	}

	// The same events again from a fresh state file, trusted through the
	// system's roots this time.
	h.env["SSL_CERT_FILE"] = trustStore(t, h.dir, ca)
	h.env["OP_STATE_FILE"] = filepath.Join(h.dir, "fresh-state.json")
	res = h.run(args...)
	again := newDelivery()
	if n, _ := again.add(res.lines); res.exit != 0 || n != 700 {
		t.Fatalf("through the system's roots: exit %d, %d events: %s", res.exit, n, res.stderr)
	}
	if miss := again.missing(h.sim.EventIDs("acme", opsim.StreamAuditEvents)); len(miss) > 0 {
		t.Fatalf("%d events missing", len(miss))
	}
}

// BenchmarkProcessIdleRun measures what every scheduled run costs when
// there is nothing new to collect: the CPU (user + sys) of one localrun
// process over plain HTTP and over HTTPS, the vendor's certificate
// verified through the system's roots (a trust store of the machine's
// roots and the simulator's CA, read as crypto/x509 reads it, certificate
// directory included). Loading every system root once per process used to
// cost more than the rest of such a run (docs/testing.md, "TLS roots").
func BenchmarkProcessIdleRun(b *testing.B) {
	for _, scheme := range []string{"http", "https"} {
		b.Run("scheme="+scheme, func(b *testing.B) {
			h := newHarness(b, opsim.Options{TLS: scheme == "https"})
			h.sim.Generate("acme", opsim.StreamAuditEvents, 100, time.Now().Add(-time.Hour), time.Second)
			if scheme == "https" {
				h.env["SSL_CERT_FILE"] = trustStore(b, h.dir, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.sim.Certificate().Raw}))
			}
			args := []string{"--source", "all"}
			if res := h.run(args...); res.exit != 0 {
				b.Fatalf("first run: exit %d: %s", res.exit, res.stderr)
			}
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				res := h.run(args...)
				if res.exit != 0 || len(res.lines) != 1 {
					b.Fatalf("idle run: exit %d, %d lines: %s", res.exit, len(res.lines), res.stderr)
				}
				cpu += time.Duration(res.rusage.Utime.Nano() + res.rusage.Stime.Nano())
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "CPU-ms/run")
		})
	}
}
