package wazuhlab

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeHome makes a directory that looks like a Wazuh home to Locate.
func fakeHome(t *testing.T, home string) {
	t.Helper()
	for _, d := range []string{"bin", "ruleset/decoders", "ruleset/rules", "etc"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range Daemons() {
		if err := os.WriteFile(filepath.Join(home, "bin", string(d)), []byte("#!/bin/true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(home, "etc", "internal_options.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	lab := filepath.Join(dir, "lab")
	fakeHome(t, filepath.Join(lab, "wazuh"))
	install := filepath.Join(dir, "ossec")
	fakeHome(t, install)
	cacheBase := filepath.Join(dir, "cache")
	fakeHome(t, filepath.Join(cacheBase, "wazuh-pull", "wazuh-lab-"+Version, "wazuh"))

	for _, tc := range []struct {
		name, want string
		env        map[string]string
	}{
		{"lab root", filepath.Join(lab, "wazuh"), map[string]string{EnvLab: lab}},
		{"installed home", install, map[string]string{EnvLab: install}},
		{"cache", filepath.Join(cacheBase, "wazuh-pull", "wazuh-lab-"+Version, "wazuh"), map[string]string{"XDG_CACHE_HOME": cacheBase}},
		{"cache under HOME", filepath.Join(dir, ".cache", "wazuh-pull", "wazuh-lab-"+Version, "wazuh"), map[string]string{"HOME": dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "cache under HOME" {
				fakeHome(t, tc.want)
			}
			got, err := Locate(env(tc.env))
			if err != nil || got.Home != tc.want {
				t.Fatalf("Locate = %q, %v; want %q", got.Home, err, tc.want)
			}
		})
	}

	// Missing engines fail with the way to get one, never silently.
	for _, e := range []map[string]string{
		{EnvLab: filepath.Join(dir, "nothing-here")},
		{EnvLab: filepath.Join(dir, "cache")}, // a directory, but no engine in it
		{"XDG_CACHE_HOME": filepath.Join(dir, "empty-cache")},
	} {
		_, err := Locate(env(e))
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "make engine") {
			t.Errorf("Locate(%v) = %v; want ErrNotFound naming make engine", e, err)
		}
	}
	// A home whose daemon is not executable is not an engine.
	os.Chmod(filepath.Join(install, "bin", string(Modulesd)), 0o644)
	if _, err := Locate(env(map[string]string{EnvLab: install})); err == nil || !strings.Contains(err.Error(), "not executable") {
		t.Errorf("non-executable modulesd: %v", err)
	}
}

func TestFramesRoundTrip(t *testing.T) {
	var b bytes.Buffer
	for _, m := range []string{"", "ok []", strings.Repeat("x", 70000)} {
		if err := writeFrame(&b, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{"", "ok []", strings.Repeat("x", 70000)} {
		got, err := readFrame(&b, 1<<20)
		if err != nil || string(got) != m {
			t.Fatalf("readFrame = %d bytes, %v; want %d", len(got), err, len(m))
		}
	}
	// An announced size above the bound is refused before allocating it.
	var big bytes.Buffer
	binary.Write(&big, binary.LittleEndian, uint32(1<<30))
	if _, err := readFrame(&big, 1<<20); err == nil {
		t.Fatal("a 1 GiB frame was accepted")
	}
	// A cut frame is an unexpected EOF, not a short message.
	var cut bytes.Buffer
	writeFrame(&cut, []byte("abcdef"))
	if _, err := readFrame(bytes.NewReader(cut.Bytes()[:7]), 100); err == nil {
		t.Fatal("a truncated frame was accepted")
	}
}

func TestWDBAnswers(t *testing.T) {
	if got := wdbAnswer("mitre sql SELECT technique.id FROM technique;"); got != "ok []" {
		t.Errorf("MITRE query answered %q, want an empty matrix", got)
	}
	if got := wdbAnswer("global get-agent-info 000"); !strings.HasPrefix(got, "err ") {
		t.Errorf("other query answered %q, want an error", got)
	}
}

func TestTailKeepsPartialLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "archives.json")
	os.WriteFile(p, []byte(`{"old":1}`+"\n"), 0o644)
	tail, err := NewTail(p)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	defer f.Close()
	f.WriteString(`{"location":"a","full_log":"x"}` + "\n" + `{"location":"b",`)
	recs, err := tail.Records()
	if err != nil || len(recs) != 1 || recs[0].Location != "a" {
		t.Fatalf("first read: %+v, %v; want only the complete new line", recs, err)
	}
	f.WriteString(`"full_log":"y"}` + "\n")
	recs, err = tail.Records()
	if err != nil || len(recs) != 1 || recs[0].Location != "b" || recs[0].FullLog != "y" {
		t.Fatalf("second read: %+v, %v; want the completed line", recs, err)
	}
	// Rotation (a smaller file) restarts from its beginning.
	os.WriteFile(p, []byte(`{"location":"c"}`+"\n"), 0o644)
	recs, err = tail.Records()
	if err != nil || len(recs) != 1 || recs[0].Location != "c" {
		t.Fatalf("after rotation: %+v, %v", recs, err)
	}
}

// TestTailSplitsARecordTornByAStop: the start of a record that a stopped
// analysisd flushed, followed on the same line by the next analysisd's
// first record, gives that record and keeps the start; a line that is
// otherwise not JSON is still an error.
func TestTailSplitsARecordTornByAStop(t *testing.T) {
	p := filepath.Join(t.TempDir(), "archives.json")
	tail, err := NewTail(p)
	if err != nil {
		t.Fatal(err)
	}
	torn := `{"timestamp":"2026-12-02T15:51:46.001+0000","full_log":"{\"uuid\":\"E1\",\"x\":{\"timestamp\":\"`
	next := `{"timestamp":"2026-12-02T15:51:47.002+0000","location":"b","full_log":"y"}`
	os.WriteFile(p, []byte(`{"timestamp":"t","location":"a"}`+"\n"+torn+next+"\n"), 0o644)
	recs, err := tail.Records()
	if err != nil || len(recs) != 2 || recs[0].Location != "a" || recs[1].Location != "b" {
		t.Fatalf("Records = %+v, %v; want a, then b after the torn start", recs, err)
	}
	if got := tail.Torn(); len(got) != 1 || string(got[0]) != torn {
		t.Fatalf("Torn = %q, want the torn start", got)
	}
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	defer f.Close()
	f.WriteString(`{"location":"c",` + "\n")
	if _, err := tail.Records(); err == nil {
		t.Fatal("a line that is not JSON and holds no record after its start was accepted")
	}
	tail.KeepDamaged = true
	f.WriteString(`{"location":"d",` + "\n" + `{"location":"e"}` + "\n")
	recs, err = tail.Records()
	if err != nil || len(recs) != 1 || recs[0].Location != "e" {
		t.Fatalf("with KeepDamaged: Records = %+v, %v; want e after the damaged line", recs, err)
	}
	if got := tail.Torn(); len(got) != 2 || string(got[1]) != `{"location":"d",` {
		t.Fatalf("with KeepDamaged: Torn = %q, want the damaged line kept", got)
	}
}

func TestConfigRendering(t *testing.T) {
	home := t.TempDir()
	l := &Lab{Home: home, Port: 41234, opts: Options{LogtestThreads: 2}, gid: os.Getgid()}
	os.MkdirAll(filepath.Join(home, "etc", "lists", "amazon"), 0o755)
	os.WriteFile(filepath.Join(home, "etc", "lists", "audit-keys"), nil, 0o644)
	l.wodles = []Wodle{{Tag: "op", Command: "bin/x --a &amp; b", Interval: "5m", Timeout: 30}}
	if err := l.writeConfig(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(home, "etc", "ossec.conf"))
	conf := string(b)
	for _, want := range []string{"<port>41234</port>", "<threads>2</threads>", "<list>etc/lists/audit-keys</list>",
		"<tag>op</tag>", "<command>bin/x --a &amp; b</command>", "<interval>5m</interval>", "<timeout>30</timeout>", "<run_on_start>yes</run_on_start>"} {
		if !strings.Contains(conf, want) {
			t.Errorf("ossec.conf lacks %s:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "aws-eventnames") {
		t.Error("a list absent from etc/lists was declared")
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"timestamp":"2026-12-01T23:05:41.833+0000","rule":{"level":5,"id":"100732","groups":["a"]},"decoder":{"name":"json"},"data":{"x":1},"location":"127.0.0.1","full_log":"{}"}`))
	f.Add([]byte(`{"rule":{"level":"x"}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err == nil && !bytes.Equal(r.Raw, b) {
			t.Fatal("Raw is not the parsed line")
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	writeFrame(&b, []byte(`{"error":0,"data":{}}`))
	f.Add(b.Bytes())
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := readFrame(bytes.NewReader(in), 1<<16)
		if err != nil {
			return
		}
		if len(in) < 4 || int(binary.LittleEndian.Uint32(in)) != len(msg) || !bytes.Equal(msg, in[4:4+len(msg)]) {
			t.Fatalf("frame %x read as %q", in, msg)
		}
	})
}

func FuzzParseLogtestData(f *testing.F) {
	f.Add([]byte(`{"token":"a1","alert":true,"codemsg":0,"messages":["x"],"output":{"decoder":{"name":"json"},"rule":{"id":"1","level":3,"groups":["g"]}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseLogtestData(b)
	})
}

// TestLogtestDialWaitsForListen: analysisd's logtest socket file exists
// from bind(), before listen(); a connection refused in between is tried
// again while analysisd runs, and not when it does not.
func TestLogtestDialWaitsForListen(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "queue", "sockets"), 0o755)
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: filepath.Join(home, "queue", "sockets", "logtest")}); err != nil {
		t.Fatal(err)
	}
	l := &Lab{Home: home, opts: Options{StartTimeout: time.Minute}, procs: map[Daemon]*proc{}}
	if _, err := l.dialLogtest(context.Background()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("analysisd not running: err = %v, want connection refused at once", err)
	}
	l.procs[Analysisd] = &proc{done: make(chan struct{})}
	go func() {
		time.Sleep(200 * time.Millisecond)
		syscall.Listen(fd, 1)
	}()
	c, err := l.dialLogtest(context.Background())
	if err != nil {
		t.Fatalf("a socket that listens a little after its bind: %v", err)
	}
	c.Close()
}
