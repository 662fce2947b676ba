package syslog

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

func TestParseURL(t *testing.T) {
	good := map[string]Endpoint{
		"tcp://wazuh.internal:514": {"tcp", "wazuh.internal", 514},
		"tls://relay.example.org":  {"tls", "relay.example.org", 6514},
		"tcp://10.0.0.5":           {"tcp", "10.0.0.5", 514},
		"udp://10.0.0.5:1514":      {"udp", "10.0.0.5", 1514},
		"tls://[2001:db8::1]:6515": {"tls", "2001:db8::1", 6515},
		"tls://127.0.0.1:65535":    {"tls", "127.0.0.1", 65535},
	}
	for raw, want := range good {
		got, err := ParseURL(raw)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	bad := map[string]string{
		"":                        "empty",
		"relay:6514":              "scheme",
		"http://relay:6514":       "scheme must be tcp, tls or udp",
		"tls://relay:0":           "port must be 1-65535",
		"tls://relay:65536":       "port must be 1-65535",
		"tls://relay:x":           "does not parse",
		"tls://relay:":            "empty port",
		"tls://:6514":             "no host",
		"tls://relay:6514/path":   "no path",
		"tls://relay:6514?a=b":    "no path, query",
		"tls://user:secret@relay": "must not carry credentials",
		"tls:relay":               "want scheme://host:port",
	}
	for raw, frag := range bad {
		_, err := ParseURL(raw)
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("ParseURL(%q) error = %v; want one containing %q", raw, err, frag)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q) error leaks the password: %v", raw, err)
		}
	}
}

// TestCanaryURLCredentials: a sink URL carrying a password or token as
// userinfo is refused, and neither the refusal (which reaches stderr and
// the CONFIG_INVALID error event) nor RedactURL shows the credential,
// whatever else is wrong with the URL.
func TestCanaryURLCredentials(t *testing.T) {
	for _, raw := range []string{
		"tls://user:CANARYpw@relay:6514",
		"tls://CANARYtoken@relay:6514",
		"tcp://user:CANARY%2Fpw@relay",
		"tls://user:CANARY%zzpw@relay:6514",   // does not parse
		"http://user:CANARYpw@relay:6514",     // wrong scheme
		"tls://user:CANARYpw@relay:6514/path", // path
		"tls://user:CANARYpw@relay:99999",     // bad port
		"tls://user:CANARYpw@:6514",           // no host
		"tls:user:CANARYpw@relay:6514",        // opaque
		"tls://us@er:CANARYpw@relay:6514",     // '@' in the userinfo
	} {
		_, err := ParseURL(raw)
		if err == nil {
			t.Fatalf("ParseURL(%q) accepted credentials", raw)
		}
		verr := Config{URL: raw}.Validate()
		_, nerr := New(Config{URL: raw})
		for _, text := range []string{err.Error(), verr.Error(), nerr.Error(), RedactURL(raw)} {
			if strings.Contains(text, "CANARY") {
				t.Errorf("credential shown: %s", text)
			}
		}
		if !strings.Contains(RedactURL(raw), "relay") && !strings.Contains(raw, "@:") {
			t.Errorf("RedactURL(%q) = %q hides the host", raw, RedactURL(raw))
		}
	}
	for raw, want := range map[string]string{
		"tls://relay:6514":            "tls://relay:6514",
		"tls://user:pw@relay:6514":    "tls://xxxxx@relay:6514",
		"tls://token@relay:6514":      "tls://xxxxx@relay:6514",
		"tls://u:p%zz@relay:6514/x@y": "tls://xxxxx@relay:6514/x@y",
		"tls:user:pw@relay:6514":      "tls:xxxxx@relay:6514",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzRedactURL(f *testing.F) {
	f.Add("tls://user:CANARY@relay:6514", "CANARY")
	f.Add("tls://u:CANARY%zz@relay", "CANARY")
	f.Add("tls:CANARY@relay", "CANARY")
	f.Add("0//@", "0") // no scheme: url.Parse sees a path
	f.Add("//@", ":")  // user name with an empty password
	f.Fuzz(func(t *testing.T, raw, secret string) {
		// The marker makes any part of the secret that survives findable,
		// however the rest of the URL looks.
		const marker = "ZqX9"
		if !strings.Contains(raw, "@") || strings.Contains(raw, marker) {
			return
		}
		secret = marker + strings.ReplaceAll(secret, marker, "")
		// Put the secret where credentials go: right before the last '@'
		// of the authority.
		i := strings.Index(raw, "//")
		at := strings.LastIndex(raw, "@")
		if i < 0 || at < i+2 || strings.ContainsAny(raw[i+2:at], "/?#") || strings.ContainsAny(secret, "/?#@") {
			return // not in the authority: not a credential
		}
		withSecret := raw[:at] + secret + raw[at:]
		if got := RedactURL(withSecret); strings.Contains(got, marker) {
			t.Fatalf("RedactURL(%q) = %q shows the secret", withSecret, got)
		}
		if _, err := ParseURL(withSecret); err != nil && strings.Contains(err.Error(), marker) {
			t.Fatalf("ParseURL(%q) error shows the secret: %v", withSecret, err)
		}
	})
}

func TestDefaults(t *testing.T) {
	c := Config{URL: "tls://relay:6514"}.withDefaults()
	if c.Facility != 16 || c.Severity != 6 || c.MaxLine != sink.DefaultMaxLine || c.MinVersion != tls.VersionTLS12 ||
		c.DialTimeout != 10*time.Second || c.WriteTimeout != 30*time.Second || c.ConfirmTimeout != 30*time.Second ||
		c.DialAttempts != 4 || c.BackoffMin != 250*time.Millisecond || c.BackoffMax != 5*time.Second || c.Logger == nil {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.Header || c.Hostname != "" || c.Tag != "" {
		t.Fatalf("header fields set without Header: %+v", c)
	}
	h := Config{URL: "tcp://x", Header: true}.withDefaults()
	if h.Tag != "wazuh-pull" || h.Hostname == "" {
		t.Fatalf("header defaults: %+v", h)
	}
	s, err := New(Config{URL: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Overhead() != len("<134>") {
		t.Fatalf("Overhead = %d, want 5", s.Overhead())
	}
}

func TestValidate(t *testing.T) {
	pki := rsyslogtest.NewPKI(t)
	cases := []struct {
		name string
		cfg  Config
		frag string // "" = valid
	}{
		{"tcp", Config{URL: "tcp://wazuh:514"}, ""},
		{"tls with CA", Config{URL: "tls://relay", CAPEM: pki.CAPEM}, ""},
		{"mtls", Config{URL: "tls://relay", CAPEM: pki.CAPEM, ClientCertPEM: pki.ClientCertPEM, ClientKeyPEM: pki.ClientKeyPEM}, ""},
		{"udp opted in", Config{URL: "udp://wazuh:514", AllowUDP: true}, ""},
		{"header", Config{URL: "tcp://w", Header: true, Hostname: "lambda-1.eu", Tag: "wazuh-pull/op"}, ""},
		{"udp without opt-in", Config{URL: "udp://wazuh:514"}, "needs AllowUDP"},
		{"facility", Config{URL: "tcp://w", Facility: 24}, "Facility 24 out of range"},
		{"severity", Config{URL: "tcp://w", Severity: 8}, "Severity 8 out of range"},
		{"max line too big", Config{URL: "tcp://w", MaxLine: 65535}, "MaxLine 65535 out of range 1-65534"},
		{"max line udp", Config{URL: "udp://w", AllowUDP: true, MaxLine: 65508}, "out of range 1-65507"},
		{"max line tiny", Config{URL: "tcp://w", MaxLine: 5}, "no room after the 5-byte prefix"},
		{"tls fields on tcp", Config{URL: "tcp://w", CAPEM: pki.CAPEM}, "use tls:// to encrypt"},
		{"insecure on tcp", Config{URL: "tcp://w", InsecureSkipVerify: true}, "use tls://"},
		{"old tls", Config{URL: "tls://w", MinVersion: tls.VersionTLS11}, "below TLS 1.2"},
		{"max below min", Config{URL: "tls://w", MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS12}, "MaxVersion is below"},
		{"cert without key", Config{URL: "tls://w", ClientCertPEM: pki.ClientCertPEM}, "must be given together"},
		{"key mismatch", Config{URL: "tls://w", ClientCertPEM: pki.ClientCertPEM, ClientKeyPEM: pki.OtherClientKeyPEM}, "client certificate and key"},
		{"bad CA", Config{URL: "tls://w", CAPEM: []byte("not pem")}, "CAPEM holds no PEM certificate"},
		{"insecure plus CA", Config{URL: "tls://w", InsecureSkipVerify: true, CAPEM: pki.CAPEM}, "the CA would be ignored"},
		{"hostname", Config{URL: "tcp://w", Header: true, Hostname: "2001:db8::1"}, "Hostname"},
		{"tag", Config{URL: "tcp://w", Header: true, Tag: "wazuh pull"}, "Tag"},
		{"long tag", Config{URL: "tcp://w", Header: true, Tag: strings.Repeat("t", 33)}, "1-32 characters"},
		{"tag without header", Config{URL: "tcp://w", Tag: "x"}, "only used with Header"},
		{"attempts", Config{URL: "tcp://w", DialAttempts: -1}, "DialAttempts -1"},
		{"backoff", Config{URL: "tcp://w", BackoffMin: time.Second, BackoffMax: time.Millisecond}, "BackoffMax"},
		{"negative timeout", Config{URL: "tcp://w", ConfirmTimeout: -time.Second}, "ConfirmTimeout must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.frag == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.frag) {
				t.Fatalf("Validate error = %v; want one containing %q", err, c.frag)
			}
			if _, nerr := New(c.cfg); nerr == nil {
				t.Fatal("New accepted what Validate refused")
			}
		})
	}
}

// Key material must never reach an error message, whatever is wrong with it.
func TestErrorsHideKeyMaterial(t *testing.T) {
	pki := rsyslogtest.NewPKI(t)
	broken := append([]byte(nil), pki.ClientKeyPEM...)
	broken[len(broken)/2] ^= 0x55 // corrupt the base64 body
	for _, key := range [][]byte{broken, pki.OtherClientKeyPEM, []byte("SECRETSECRETSECRET")} {
		err := Config{URL: "tls://w", ClientCertPEM: pki.ClientCertPEM, ClientKeyPEM: key}.Validate()
		if err == nil {
			t.Fatal("a bad key was accepted")
		}
		body := strings.Split(string(key), "\n")
		for _, l := range body {
			if len(l) > 8 && !strings.HasPrefix(l, "-----") && strings.Contains(err.Error(), l) {
				t.Fatalf("error contains key material: %v", err)
			}
		}
	}
}

func TestLoadTLSFiles(t *testing.T) {
	pki := rsyslogtest.NewPKI(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := Config{URL: "tls://relay"}
	if err := c.LoadTLSFiles(write("ca.pem", pki.CAPEM), write("c.pem", pki.ClientCertPEM), write("c.key", pki.ClientKeyPEM)); err != nil {
		t.Fatal(err)
	}
	if string(c.CAPEM) != string(pki.CAPEM) || string(c.ClientKeyPEM) != string(pki.ClientKeyPEM) || c.Validate() != nil {
		t.Fatalf("files not loaded: %v", c.Validate())
	}
	c2 := Config{URL: "tls://relay"}
	if err := c2.LoadTLSFiles("", "", ""); err != nil || c2.CAPEM != nil {
		t.Fatalf("empty paths: %v", err)
	}
	err := c2.LoadTLSFiles(filepath.Join(dir, "missing.pem"), "", "")
	if err == nil || !strings.Contains(err.Error(), "reading CA bundle") {
		t.Fatalf("missing file error = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt <= 10; attempt++ {
		for range 50 {
			d := backoff(100*time.Millisecond, time.Second, attempt)
			base := 100 * time.Millisecond << (attempt - 1)
			if base > time.Second {
				base = time.Second
			}
			if d < base/2 || d > base {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, base/2, base)
			}
		}
	}
}
