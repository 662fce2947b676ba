package relay

import (
	"encoding/xml"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func params(dir string) Params {
	return Params{
		WorkDir: filepath.Join(dir, "q"), ListenAddress: "127.0.0.1", Port: 16514,
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "s.pem"), KeyFile: filepath.Join(dir, "s.key"),
		PermittedPeers: []string{"wazuh-pull-onepassword", "*.senders.example.org"},
		RemotedHost:    "10.0.0.2", RemotedPort: 514,
	}
}

// setting returns the value of name="…" in conf (the first occurrence).
func setting(t *testing.T, conf, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatalf("%s not set in the rendered config", name)
	}
	return m[1]
}

// The properties the sink's delivery guarantee rests on; see README.md.
func TestRenderedConfig(t *testing.T) {
	conf, err := Render(params("/etc/relay"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"maxMessageSize": "256k", // above remoted's 64 KiB: no fragments
		"parser.escapeControlCharactersOnReceive": "off",
		"supportOctetCountedFraming":              "off",    // newline framing only, like remoted
		"queue.type":                              "Direct", // forward before confirming: the relay holds nothing
		"queue.checkpointInterval":                "1",
		"queue.syncQueueFiles":                    "off",
		"queue.discardSeverity":                   "8",
		"queue.timeoutEnqueue":                    "2147483647",
		"action.resumeRetryCount":                 "-1", // retry without limit
		"TCP_Framing":                             "traditional",
		"template":                                "wazuh_raw_line",
		"target":                                  "10.0.0.2",
		"streamDriver.name":                       "gtls",
	} {
		if got := setting(t, conf, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(conf, `string="%rawmsg%\n"`) {
		t.Error("the forwarding template must be the raw line plus '\\n'")
	}
	// Mutual TLS with pinned identities is the only way in: one input, on
	// Port, and no authentication mode but x509/name anywhere (the module
	// default included, for an input added later).
	if n := strings.Count(conf, `input(type="imtcp"`); n != 1 || strings.Count(conf, `port="16514"`) != 1 {
		t.Errorf("want exactly one input, on Port; got %d", n)
	}
	modes := regexp.MustCompile(`(?i)authMode="([^"]*)"`).FindAllStringSubmatch(conf, -1)
	if len(modes) != 2 {
		t.Errorf("want authMode on the module and the input, got %v", modes)
	}
	for _, m := range modes {
		if m[1] != "x509/name" {
			t.Errorf("authMode %q: only x509/name (certificate and identity checked) is acceptable", m[1])
		}
	}
	const peers = `permittedPeer=["wazuh-pull-onepassword","*.senders.example.org"]`
	if strings.Count(conf, peers) != 2 {
		t.Errorf("want %s on the module and the input", peers)
	}
	for name, want := range map[string]string{
		"streamDriver.PrioritizeSAN":           "on",  // the DNS names decide, not a CN beside them
		"streamDriver.CheckExtendedKeyPurpose": "on",  // a server certificate of the CA is no client
		"streamDriver.permitExpiredCerts":      "off", // expired client certificates are refused
	} {
		if got := setting(t, conf, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if strings.Contains(strings.ToLower(conf), `"anon"`) {
		t.Error("the shipped relay must not accept anonymous clients")
	}
	// Its own instance: no local log inputs (imuxsock, imklog) that would
	// compete with the system rsyslog.
	for _, m := range regexp.MustCompile(`module\(load="([^"]+)"`).FindAllStringSubmatch(conf, -1) {
		if m[1] != "imtcp" {
			t.Errorf("the relay loads module %s; only imtcp is expected", m[1])
		}
	}
	for q, v := range queueValues {
		p := params("/etc/relay")
		p.Queue = q
		c, err := Render(p)
		if err != nil {
			t.Fatal(err)
		}
		if setting(t, c, "queue.type") != v.typ || setting(t, c, "queue.syncQueueFiles") != v.sync || setting(t, c, "queue.size") != v.size {
			t.Errorf("queue %s rendered wrongly", q)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	cases := map[string]func(*Params){
		"must be an absolute path":           func(p *Params) { p.WorkDir = "queue" },
		"cannot take in a quoted":            func(p *Params) { p.CAFile = `/etc/"x".pem` },
		"not an IP address":                  func(p *Params) { p.ListenAddress = "any" },
		"is not a TCP port":                  func(p *Params) { p.RemotedPort = 0 },
		"RemotedHost is empty":               func(p *Params) { p.RemotedHost = "" },
		"not one of direct, disk, disk-sync": func(p *Params) { p.Queue = "fast" },
		"Port 70000 is not a TCP ":           func(p *Params) { p.Port = 70000 },
		"PermittedPeers is empty":            func(p *Params) { p.PermittedPeers = nil },
		`"x\",\"*" has`:                      func(p *Params) { p.PermittedPeers = []string{`x","*`} },
		`"*" has '*'`:                        func(p *Params) { p.PermittedPeers = []string{"*"} },
		`label "" must be`:                   func(p *Params) { p.PermittedPeers = []string{"a..b"} },
		`has ' '`:                            func(p *Params) { p.PermittedPeers = []string{"two words"} },
		`"*.*.example.org" has '*'`:          func(p *Params) { p.PermittedPeers = []string{"*.*.example.org"} },
	}
	for frag, mutate := range cases {
		p := params("/etc/relay")
		mutate(&p)
		if _, err := Render(p); err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("want error containing %q, got %v", frag, err)
		}
	}
}

type remoteXML struct {
	Connection string   `xml:"connection"`
	Protocol   string   `xml:"protocol"`
	Port       string   `xml:"port"`
	AllowedIPs []string `xml:"allowed-ips"`
	LocalIP    *string  `xml:"local_ip"`
}

func TestRenderRemote(t *testing.T) {
	out, err := RenderRemote(RemoteParams{Port: 514, AllowedIPs: []string{"10.0.5.7", "10.0.6.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	var r remoteXML
	if err := xml.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	if r.Connection != "syslog" || r.Protocol != "tcp" || r.Port != "514" || strings.Join(r.AllowedIPs, ",") != "10.0.5.7,10.0.6.0/24" || r.LocalIP != nil {
		t.Fatalf("unexpected <remote>: %+v\n%s", r, out)
	}
	out, err = RenderRemote(RemoteParams{Port: 1514, AllowedIPs: []string{"10.0.5.7"}, LocalIP: "10.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal([]byte(out), &r); err != nil || r.LocalIP == nil || *r.LocalIP != "10.0.0.2" {
		t.Fatalf("local_ip: %v\n%s", err, out)
	}
	for frag, p := range map[string]RemoteParams{
		"AllowedIPs is empty":   {Port: 514},
		"neither an IP address": {Port: 514, AllowedIPs: []string{"relay.example.org"}},
		"is not a TCP port":     {Port: 0, AllowedIPs: []string{"10.0.0.1"}},
		"LocalIP":               {Port: 514, AllowedIPs: []string{"10.0.0.1"}, LocalIP: "eth0"},
	} {
		if _, err := RenderRemote(p); err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("want error containing %q, got %v", frag, err)
		}
	}
}

// FuzzRenderPeers: whatever identities are given, Render either refuses
// them or produces a configuration whose permittedPeer arrays hold exactly
// those names, with nothing that could end the quoted strings.
func FuzzRenderPeers(f *testing.F) {
	f.Add("wazuh-pull-onepassword", "*.senders.example.org")
	f.Add(`x","*`, "a..b")
	f.Add("*", "\"]\n*")
	f.Fuzz(func(t *testing.T, a, b string) {
		p := params("/etc/relay")
		p.PermittedPeers = []string{a, b}
		conf, err := Render(p)
		if err != nil {
			if CheckPeer(a) == nil && CheckPeer(b) == nil {
				t.Fatalf("valid peers %q, %q refused: %v", a, b, err)
			}
			return
		}
		if CheckPeer(a) != nil || CheckPeer(b) != nil {
			t.Fatalf("Render took %q, %q that CheckPeer refuses", a, b)
		}
		want := `permittedPeer=["` + a + `","` + b + `"]`
		if strings.Count(conf, want) != 2 || strings.Count(conf, "permittedPeer=") != 2 {
			t.Fatalf("peers rendered wrongly: want %s twice", want)
		}
		if placeholder.MatchString(conf) {
			t.Fatal("placeholder left")
		}
	})
}
