// Package relay ships the rsyslog mutual-TLS relay configuration that sits
// in front of wazuh-remoted, and renders it with concrete ports, paths and
// the identities of the senders it accepts.
//
// The configuration file itself (rsyslog-wazuh-relay.conf) is what operators
// install; it is embedded here so that the tests start a real rsyslogd with
// exactly the shipped text rather than a test-only copy.
package relay

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Config is the shipped rsyslog configuration, with @NAME@ placeholders.
//
//go:embed rsyslog-wazuh-relay.conf
var Config string

// OssecRemote is the shipped ossec.conf <remote> snippet, with @NAME@
// placeholders.
//
//go:embed ossec-remote.conf
var OssecRemote string

// Params are the values substituted into Config.
type Params struct {
	WorkDir       string // absolute rsyslog work directory (and disk queue, in the disk modes)
	ListenAddress string // address the mutual-TLS input binds to
	Port          int    // the mutual-TLS input
	CAFile        string // CA bundle that client certificates chain to
	CertFile      string // server certificate (PEM)
	KeyFile       string // server private key (PEM)
	// PermittedPeers are the senders the relay accepts: each is matched
	// against the DNS names (subjectAltName) of a client certificate, or
	// its CN when it has no DNS name. A leading "*." matches one label.
	// At least one is required: there is no way to accept any client.
	PermittedPeers []string
	RemotedHost    string // wazuh-remoted address
	RemotedPort    int    // wazuh-remoted syslog TCP port
	Queue          Queue  // how the relay holds lines; "" = QueueDirect
}

// Queue selects how the relay holds lines between a sender and remoted.
// See README.md, "Queue modes: durability and cost".
type Queue string

const (
	// QueueDisk writes every message to a disk queue before the sender's
	// connection can be confirmed. It rides out a remoted outage without
	// holding senders back, but rsyslog 8.2302's disk queue is not safe
	// against a kill while it is being written: our tests saw "qDeqDisk
	// error" and "invalid .qi file" and lost confirmed messages in half of
	// the runs that killed rsyslogd mid-catch-up.
	QueueDisk Queue = "disk"
	// QueueDiskSync also fsyncs every write; slowest, and the same kill
	// hazard was still seen (rarely).
	QueueDiskSync Queue = "disk-sync"
	// QueueMemory keeps messages in RAM (spilling to disk when full and on
	// shutdown): fastest, survives a clean restart, loses messages already
	// confirmed to senders if rsyslogd is killed or crashes.
	QueueMemory Queue = "memory"
	// QueueDirect (the default) keeps no queue: each message is handed to
	// remoted's connection before the next one is read, so the relay
	// confirms to a sender only what it has already forwarded, and a relay
	// that is killed or restarted holds nothing to lose. While remoted is
	// unreachable, senders' confirmations wait and time out and they keep
	// their cursors: the vendor APIs hold the events meanwhile.
	QueueDirect Queue = "direct"
)

// queueValues are the placeholder values for each Queue.
var queueValues = map[Queue]struct{ typ, size, sync string }{
	QueueDisk:     {"Disk", "100000000", "off"},
	QueueDiskSync: {"Disk", "100000000", "on"},
	QueueMemory:   {"LinkedList", "200000", "off"},
	QueueDirect:   {"Direct", "100000000", "off"},
}

var placeholder = regexp.MustCompile(`@[A-Z_]+@`)

// Render returns Config with every placeholder replaced. It fails when a
// value is missing or would break the rsyslog syntax, and when the file has a
// placeholder this function does not know (so a new one cannot ship
// unrendered).
func Render(p Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	q := queueValues[p.Queue]
	if p.Queue == "" {
		q = queueValues[QueueDirect]
	}
	r := strings.NewReplacer(
		"@WORK_DIR@", p.WorkDir,
		"@LISTEN_ADDRESS@", p.ListenAddress,
		"@PORT@", strconv.Itoa(p.Port),
		"@PERMITTED_PEERS@", peerArray(p.PermittedPeers),
		"@CA_FILE@", p.CAFile,
		"@CERT_FILE@", p.CertFile,
		"@KEY_FILE@", p.KeyFile,
		"@REMOTED_HOST@", p.RemotedHost,
		"@REMOTED_PORT@", strconv.Itoa(p.RemotedPort),
		"@QUEUE_TYPE@", q.typ,
		"@QUEUE_SIZE@", q.size,
		"@SYNC_QUEUE@", q.sync,
	)
	return finish(r.Replace(Config))
}

// RemoteParams are the values substituted into OssecRemote.
type RemoteParams struct {
	Port       int      // remoted syslog TCP port
	AllowedIPs []string // relay addresses or CIDRs; remoted refuses to start without one
	LocalIP    string   // optional address remoted binds to; empty = all
}

// RenderRemote returns OssecRemote with every placeholder replaced.
func RenderRemote(p RemoteParams) (string, error) {
	if err := checkPort("Port", p.Port); err != nil {
		return "", err
	}
	if len(p.AllowedIPs) == 0 {
		return "", errors.New("relay: AllowedIPs is empty; wazuh-remoted refuses a syslog block without <allowed-ips>")
	}
	var allowed strings.Builder
	for i, a := range p.AllowedIPs {
		if err := checkIPOrCIDR(a); err != nil {
			return "", err
		}
		if i > 0 {
			allowed.WriteString("\n    ")
		}
		allowed.WriteString("<allowed-ips>" + a + "</allowed-ips>")
	}
	// Only the element: the template's leading comment documents the
	// placeholders for people editing it by hand.
	text := OssecRemote[strings.Index(OssecRemote, "<remote>"):]
	if p.LocalIP == "" {
		// The <local_ip> line is optional; drop it rather than render an empty element.
		var kept []string
		for _, line := range strings.Split(text, "\n") {
			if !strings.Contains(line, "@LOCAL_IP@") {
				kept = append(kept, line)
			}
		}
		text = strings.Join(kept, "\n")
	} else if net.ParseIP(p.LocalIP) == nil {
		return "", fmt.Errorf("relay: LocalIP %q is not an IP address", p.LocalIP)
	}
	r := strings.NewReplacer(
		"@REMOTED_PORT@", strconv.Itoa(p.Port),
		"<allowed-ips>@ALLOWED_IPS@</allowed-ips>", allowed.String(),
		"@LOCAL_IP@", p.LocalIP,
	)
	return finish(r.Replace(text))
}

func finish(out string) (string, error) {
	if left := placeholder.FindAllString(out, -1); len(left) > 0 {
		return "", fmt.Errorf("relay: placeholders left unrendered: %s", strings.Join(left, ", "))
	}
	return out, nil
}

func (p Params) validate() error {
	for _, f := range []struct{ name, path string }{
		{"WorkDir", p.WorkDir}, {"CAFile", p.CAFile}, {"CertFile", p.CertFile}, {"KeyFile", p.KeyFile},
	} {
		if !filepath.IsAbs(f.path) {
			return fmt.Errorf("relay: %s must be an absolute path, got %q", f.name, f.path)
		}
		if err := checkQuotable(f.name, f.path); err != nil {
			return err
		}
	}
	if net.ParseIP(p.ListenAddress) == nil {
		return fmt.Errorf("relay: ListenAddress %q is not an IP address", p.ListenAddress)
	}
	if p.RemotedHost == "" {
		return errors.New("relay: RemotedHost is empty")
	}
	if err := checkQuotable("RemotedHost", p.RemotedHost); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		port int
	}{{"Port", p.Port}, {"RemotedPort", p.RemotedPort}} {
		if err := checkPort(f.name, f.port); err != nil {
			return err
		}
	}
	if _, ok := queueValues[p.Queue]; !ok && p.Queue != "" {
		return fmt.Errorf("relay: Queue %q is not one of direct, disk, disk-sync, memory", p.Queue)
	}
	if len(p.PermittedPeers) == 0 {
		return errors.New("relay: PermittedPeers is empty; name the senders' certificate identities (e.g. wazuh-pull-onepassword): the relay accepts no one else")
	}
	for _, peer := range p.PermittedPeers {
		if err := CheckPeer(peer); err != nil {
			return err
		}
	}
	return nil
}

// CheckPeer reports whether peer can be a permitted sender identity: a DNS
// name (letters, digits, '-' and '.', labels of 1-63 characters, at most
// 253 in all), optionally starting with "*." to match one label. It is the
// form a sender's client certificate must carry as a subjectAltName DNS
// name.
func CheckPeer(peer string) error {
	name := strings.TrimPrefix(peer, "*.")
	if len(name) == 0 || len(peer) > 253 {
		return fmt.Errorf("relay: permitted peer %q must be a DNS name of 1-253 characters", peer)
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("relay: permitted peer %q: label %q must be 1-63 characters, not starting or ending with '-'", peer, label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("relay: permitted peer %q has %q; allowed are letters, digits, '-', '.' and a leading \"*.\"", peer, c)
			}
		}
	}
	return nil
}

// peerArray renders peers (already checked) as an rsyslog array.
func peerArray(peers []string) string {
	quoted := make([]string, len(peers))
	for i, p := range peers {
		quoted[i] = strconv.Quote(p)
	}
	return "[" + strings.Join(quoted, ",") + "]"
}

// checkQuotable refuses characters that would end or escape an rsyslog
// quoted string, or start a placeholder.
func checkQuotable(name, v string) error {
	if strings.ContainsAny(v, "\"\\\n\r@`") {
		return fmt.Errorf("relay: %s %q contains a character rsyslog cannot take in a quoted string", name, v)
	}
	return nil
}

func checkPort(name string, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("relay: %s %d is not a TCP port (1-65535)", name, port)
	}
	return nil
}

func checkIPOrCIDR(s string) error {
	if net.ParseIP(s) != nil {
		return nil
	}
	if _, _, err := net.ParseCIDR(s); err == nil {
		return nil
	}
	return fmt.Errorf("relay: allowed IP %q is neither an IP address nor a CIDR", s)
}
