package relay_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules/relay"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

// rsyslogd itself accepts every rendering (config check only, no network).
func TestRsyslogAcceptsConfig(t *testing.T) {
	bin, err := rsyslogtest.FindRsyslogd()
	if err != nil {
		t.Fatal(err)
	}
	pki := rsyslogtest.NewPKI(t)
	dir := t.TempDir()
	p := relay.Params{
		WorkDir: filepath.Join(dir, "q"), ListenAddress: "127.0.0.1", Port: 16514,
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "s.pem"), KeyFile: filepath.Join(dir, "s.key"),
		PermittedPeers: []string{"wazuh-pull-onepassword", "*.senders.example.org"},
		RemotedHost:    "127.0.0.1", RemotedPort: 514,
	}
	for path, b := range map[string][]byte{p.CAFile: pki.CAPEM, p.CertFile: pki.ServerCertPEM, p.KeyFile: pki.ServerKeyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(p.WorkDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, q := range []relay.Queue{relay.QueueDirect, relay.QueueDisk, relay.QueueDiskSync, relay.QueueMemory} {
		p.Queue = q
		conf, err := relay.Render(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "relay.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-N1", "-f", path, "-i", filepath.Join(dir, "pid")).CombinedOutput()
		if err != nil || strings.Contains(string(out), "error") {
			t.Fatalf("rsyslogd -N1 refuses the %s rendering: %v\n%s", q, err, out)
		}
	}
}
