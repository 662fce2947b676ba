package wodle

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeProc is a process table: pid → stat line fields, plus cmdlines and
// working directories.
type fakeProc struct {
	self  int
	procs map[int]fakeProcess
	boot  string
}

type fakeProcess struct {
	ppid   int
	comm   string
	start  uint64
	cmd    []string
	cwd    string
	state  string // "S" unless set
	denied bool   // its files may not be read
}

func (f fakeProc) pid(name string) (int, string, bool) {
	head, tail, _ := strings.Cut(name, "/")
	if head == "self" {
		return f.self, tail, true
	}
	n, err := strconv.Atoi(head)
	return n, tail, err == nil
}

func (f fakeProc) ReadFile(name string) ([]byte, error) {
	if name == "sys/kernel/random/boot_id" {
		if f.boot == "" {
			return nil, fs.ErrNotExist
		}
		return []byte(f.boot + "\n"), nil
	}
	pid, file, ok := f.pid(name)
	p, exists := f.procs[pid]
	if !ok || !exists {
		return nil, fs.ErrNotExist
	}
	if p.denied {
		return nil, fs.ErrPermission
	}
	switch file {
	case "stat":
		// The real layout: 52 fields, starttime the 22nd.
		state := p.state
		if state == "" {
			state = "S"
		}
		fields := []string{strconv.Itoa(pid), "(" + p.comm + ")", state, strconv.Itoa(p.ppid)}
		for i := 5; i <= 21; i++ {
			fields = append(fields, strconv.Itoa(i*3))
		}
		fields = append(fields, strconv.FormatUint(p.start, 10))
		for i := 23; i <= 52; i++ {
			fields = append(fields, "0")
		}
		return []byte(strings.Join(fields, " ") + "\n"), nil
	case "cmdline":
		return []byte(strings.Join(p.cmd, "\x00") + "\x00"), nil
	}
	return nil, fs.ErrNotExist
}

func (f fakeProc) Readlink(name string) (string, error) {
	pid, file, ok := f.pid(name)
	p, exists := f.procs[pid]
	if !ok || !exists || file != "cwd" || p.cwd == "" {
		return "", fs.ErrNotExist
	}
	return p.cwd, nil
}

func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		line string
		want Stat
	}{
		{"812 (wazuh-modulesd) S 1 812 812 0 -1 4194624 3 0 0 0 0 0 0 0 20 0 9 0 4242 0 0\n", Stat{PID: 812, PPID: 1, Comm: "wazuh-modulesd", State: 'S', StartTime: 4242}},
		// A name with spaces and parentheses: only the last ')' ends it.
		{"77 (a) b (c)) R 12 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551615 0", Stat{PID: 77, PPID: 12, Comm: "a) b (c)", State: 'R', StartTime: 18446744073709551615}},
	} {
		got, err := ParseStat([]byte(c.line))
		if err != nil || got != c.want {
			t.Errorf("ParseStat(%q) = %+v, %v; want %+v", c.line, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "812 wazuh-modulesd S 1", "812 (x) S 1 2 3", "x (y) S 1 812 812 0 -1 4194624 3 0 0 0 0 0 0 0 20 0 9 0 4242", "-3 (y) S 1 812 812 0 -1 4194624 3 0 0 0 0 0 0 0 20 0 9 0 4242",
		"5 (y) S p 812 812 0 -1 4194624 3 0 0 0 0 0 0 0 20 0 9 0 4242", "5 (y) S 1 812 812 0 -1 4194624 3 0 0 0 0 0 0 0 20 0 9 0 -1", ") 5 (y"} {
		if st, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) = %+v, want an error", bad, st)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("812 (wazuh-modulesd) S 1 812 812 0 -1 4194624 3 0 0 0 0 0 0 0 20 0 9 0 4242 0 0\n"))
	f.Add([]byte("77 (a) b (c)) R 12 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0"))
	f.Add([]byte("1 () S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStat(b)
		if err != nil {
			return
		}
		if st.PID <= 0 || st.PPID < 0 || strings.Count(string(b), "(") == 0 {
			t.Fatalf("accepted %q as %+v", b, st)
		}
		// The name is what lies between the first '(' and the last ')'.
		if !strings.Contains(string(b), "("+st.Comm+")") {
			t.Fatalf("name %q is not in %q", st.Comm, b)
		}
	})
}

func modulesdTable() fakeProc {
	return fakeProc{
		self: 900,
		boot: "6f1c2b9e-0d1a-4f55-9a53-1d0e7f3a6b21",
		procs: map[int]fakeProcess{
			1:   {ppid: 0, comm: "systemd", start: 1},
			812: {ppid: 1, comm: "wazuh-modulesd", start: 4242, cmd: []string{"/var/ossec/bin/wazuh-modulesd"}, cwd: "/var/ossec"},
			900: {ppid: 812, comm: "localrun", start: 9000, cmd: []string{"/var/ossec/wodles/op/localrun", "onepassword"}},
		},
	}
}

func TestFindReaderDirectChildOfModulesd(t *testing.T) {
	r, err := FindReader(modulesdTable())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Modulesd() || r.PID != 812 || r.StartTime != 4242 || r.Wrappers != 0 || r.Dir != "/var/ossec" || r.Command != "/var/ossec/wodles/op/localrun onepassword" {
		t.Fatalf("reader %+v, want modulesd 812 started at 4242, no wrapper, in /var/ossec, running our command line", r)
	}
	if id := r.Identity(); !strings.HasPrefix(id, "wazuh-modulesd pid=812 start=4242 boot=6f1c2b9e-0d1a-4f55-9a53-1d0e7f3a6b21 command=") {
		t.Fatalf("identity %q", id)
	}
}

func TestFindReaderThroughWrapperShells(t *testing.T) {
	p := modulesdTable()
	p.procs[850] = fakeProcess{ppid: 812, comm: "sh", start: 8500, cmd: []string{"/bin/sh", "/var/ossec/wodles/op/run.sh"}}
	p.procs[860] = fakeProcess{ppid: 850, comm: "bash", start: 8600, cmd: []string{"bash", "-c", "localrun onepassword"}}
	p.procs[900] = fakeProcess{ppid: 860, comm: "localrun", start: 9000}
	r, err := FindReader(p)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Modulesd() || r.PID != 812 || r.Wrappers != 2 || r.Command != "/bin/sh /var/ossec/wodles/op/run.sh" {
		t.Fatalf("reader %+v, want modulesd 812 found through 2 wrappers, command the outer wrapper's", r)
	}
}

func TestFindReaderOutsideModulesd(t *testing.T) {
	// A terminal: localrun ← bash ← sshd. bash is walked through, sshd is
	// the reader, and it is not modulesd.
	p := fakeProc{self: 30, procs: map[int]fakeProcess{
		1:  {comm: "systemd"},
		10: {ppid: 1, comm: "sshd", start: 100},
		20: {ppid: 10, comm: "bash", start: 200},
		30: {ppid: 20, comm: "localrun", start: 300},
	}}
	r, err := FindReader(p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Modulesd() || r.Comm != "sshd" || r.Wrappers != 1 {
		t.Fatalf("reader %+v, want sshd through one wrapper, not modulesd", r)
	}
	// A shell that is the first process of a container is the reader.
	p = fakeProc{self: 30, procs: map[int]fakeProcess{
		1:  {comm: "sh"},
		30: {ppid: 1, comm: "localrun"},
	}}
	if r, err = FindReader(p); err != nil || r.Comm != "sh" || r.PID != 1 {
		t.Fatalf("reader %+v, %v; want the init shell", r, err)
	}
	// A long chain of shells ends the walk after maxWrappers.
	p = fakeProc{self: 100, procs: map[int]fakeProcess{1: {comm: "systemd"}, 100: {ppid: 99, comm: "localrun"}}}
	for pid := 2; pid < 100; pid++ {
		p.procs[pid] = fakeProcess{ppid: pid - 1, comm: "sh"}
	}
	if r, err = FindReader(p); err != nil || r.Wrappers != maxWrappers || r.Comm != "sh" {
		t.Fatalf("reader %+v, %v; want a shell after %d wrappers", r, err, maxWrappers)
	}
	// A parent that vanished is an error, not a guess.
	p = fakeProc{self: 30, procs: map[int]fakeProcess{30: {ppid: 20, comm: "localrun"}}}
	if _, err = FindReader(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want the missing parent's stat", err)
	}
}

func TestIdentityNamesOneInstanceAndCommand(t *testing.T) {
	base, _ := FindReader(modulesdTable())
	same, _ := FindReader(modulesdTable())
	if base.Identity() != same.Identity() {
		t.Fatal("the same reader has two identities")
	}
	changes := map[string]func(*fakeProc){
		"restarted (new pid)": func(p *fakeProc) {
			p.procs[813] = p.procs[812]
			delete(p.procs, 812)
			p.procs[900] = fakeProcess{ppid: 813, comm: "localrun"}
		},
		"pid reused later": func(p *fakeProc) { m := p.procs[812]; m.start++; p.procs[812] = m },
		"rebooted":         func(p *fakeProc) { p.boot = "00000000-0000-4000-8000-000000000000" },
		"another wodle command line": func(p *fakeProc) {
			c := p.procs[900]
			c.cmd = []string{"localrun", "onepassword", "-s", "audit"}
			p.procs[900] = c
		},
	}
	for name, change := range changes {
		p := modulesdTable()
		change(&p)
		r, err := FindReader(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Identity() == base.Identity() {
			t.Errorf("%s: identity unchanged (%s)", name, r.Identity())
		}
	}
}

func TestFindReaderOnThisSystem(t *testing.T) {
	r, err := FindReader(SystemProc())
	if err != nil {
		t.Fatalf("reading this system's /proc: %v", err)
	}
	// The test binary's parent is go test (or a shell): a real process
	// that started before us.
	if r.PID <= 0 || r.PID == os.Getpid() || r.Comm == "" {
		t.Fatalf("reader %+v", r)
	}
}

func TestInternalOption(t *testing.T) {
	long := strings.Repeat("x", 2000)
	for _, c := range []struct {
		file, want string
		found      bool
	}{
		{"wazuh_modules.max_eps=1000\n", "1000", true},
		{"# wazuh_modules.max_eps=5\nanalysisd.debug=0\nwazuh_modules.max_eps = 250\r\nwazuh_modules.max_eps=7\n", "250", true},
		{"wazuh_modules.max_eps=300", "300", true}, // no final newline
		{" wazuh_modules.max_eps=5\n", "", false},  // a leading space comments the line out
		{"\twazuh_modules.max_eps=5\n", "", false}, // a tab is part of the name
		{"wazuh_modules.max_epsx=5\nmodules.max_eps=6\n", "", false},
		{"wazuh_modules.max_eps=100 # comment\n", "100 # comment", true},
		{"wazuh_modules.max_eps=\n", "", true},
		{"wazuh_modules.max_eps\n", "", false},
		{"wazuh_modules.task_nice=10\n", "", false},
		// A line longer than Wazuh reads at once is read in pieces.
		{long + "\nwazuh_modules.max_eps=42\n", "42", true},
		{strings.Repeat("y", 1023) + "wazuh_modules.max_eps=43\n", "43", true},
	} {
		got, found := InternalOption([]byte(c.file), "wazuh_modules", "max_eps")
		if got != c.want || found != c.found {
			t.Errorf("InternalOption(%.60q) = %q, %v; want %q, %v", c.file, got, found, c.want, c.found)
		}
	}
}

func FuzzInternalOption(f *testing.F) {
	f.Add([]byte("wazuh_modules.max_eps=1000\n"), "wazuh_modules", "max_eps")
	f.Add([]byte("# x\n wazuh_modules.max_eps=1\nwazuh_modules.max_eps = 2\r\n"), "wazuh_modules", "max_eps")
	f.Add([]byte("a.b=\n"), "a", "b")
	f.Fuzz(func(t *testing.T, b []byte, high, low string) {
		v, found := InternalOption(b, high, low)
		if !found {
			return
		}
		if strings.ContainsAny(v, "\n") {
			t.Fatalf("value %q spans lines", v)
		}
		if !strings.Contains(string(b), high+".") {
			t.Fatalf("found %q in a file without %q", v, high+".")
		}
	})
}

func TestParseMaxEPS(t *testing.T) {
	for v, want := range map[string]int{"1": 1, "100": 100, "1000": 1000, "0100": 100} {
		if got, err := ParseMaxEPS(v); got != want || err != nil {
			t.Errorf("ParseMaxEPS(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"", "0", "1001", "5000", "-1", "+5", "100 ", "1e3", "99999999999999999999"} {
		if got, err := ParseMaxEPS(v); err == nil {
			t.Errorf("ParseMaxEPS(%q) = %d, want an error (modulesd refuses it)", v, got)
		}
	}
}

func FuzzParseMaxEPS(f *testing.F) {
	for _, s := range []string{"100", "0", "1000", "1001", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseMaxEPS(s)
		if err == nil && (n < 1 || n > MaxEPSLimit || strconv.Itoa(n) != strings.TrimLeft(s, "0")) {
			t.Fatalf("ParseMaxEPS(%q) = %d", s, n)
		}
	})
}

func writeHome(t *testing.T, files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	os.Mkdir(filepath.Join(home, "etc"), 0o755)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(home, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func TestReadMaxEPS(t *testing.T) {
	both := writeHome(t, map[string]string{"local_internal_options.conf": "wazuh_modules.max_eps=1000\n", "internal_options.conf": "wazuh_modules.max_eps=100\n"})
	if r := ReadMaxEPS(both); r.MaxEPS != 1000 || r.From != filepath.Join(both, "etc/local_internal_options.conf") {
		t.Errorf("local file sets it: %+v", r)
	}
	packaged := writeHome(t, map[string]string{"local_internal_options.conf": "# nothing here\n", "internal_options.conf": "wazuh_modules.max_eps=250\n"})
	if r := ReadMaxEPS(packaged); r.MaxEPS != 250 || r.From != filepath.Join(packaged, "etc/internal_options.conf") {
		t.Errorf("packaged file sets it: %+v", r)
	}
	invalid := writeHome(t, map[string]string{"local_internal_options.conf": "wazuh_modules.max_eps=5000\n", "internal_options.conf": "wazuh_modules.max_eps=250\n"})
	if r := ReadMaxEPS(invalid); r.MaxEPS != DefaultMaxEPS || !strings.Contains(r.From, "5000") {
		t.Errorf("invalid local value: %+v, want the default and the reason", r)
	}
	unset := writeHome(t, map[string]string{"internal_options.conf": "analysisd.debug=0\n"})
	if r := ReadMaxEPS(unset); r.MaxEPS != DefaultMaxEPS || !strings.Contains(r.From, "not set") {
		t.Errorf("not set: %+v", r)
	}
	// The first home that has an internal options file decides.
	empty := t.TempDir()
	if r := ReadMaxEPS("", empty, packaged, both); r.MaxEPS != 250 {
		t.Errorf("homes in order: %+v, want the first home with a file (250)", r)
	}
	if r := ReadMaxEPS(empty); r.MaxEPS != DefaultMaxEPS || !strings.Contains(r.From, "no internal options file") {
		t.Errorf("no file: %+v", r)
	}
}

func TestParseInterval(t *testing.T) {
	for s, want := range map[string]time.Duration{"300": 300 * time.Second, "10s": 10 * time.Second, "5m": 5 * time.Minute, "1h": time.Hour, "1d": 24 * time.Hour, "2w": 14 * 24 * time.Hour} {
		if got, err := ParseInterval(s); got != want || err != nil {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "0m", "m", "5M", "1.5h", "-5m", "5 m", "1h30m", "99999999999999w"} {
		if got, err := ParseInterval(s); err == nil {
			t.Errorf("ParseInterval(%q) = %v, want an error", s, got)
		}
	}
}

func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{"5m", "300", "1w", "0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseInterval(s)
		if err == nil && (d <= 0 || d%time.Second != 0) {
			t.Fatalf("ParseInterval(%q) = %v", s, d)
		}
	})
}

func TestRunEvents(t *testing.T) {
	for _, c := range []struct {
		interval, runtime time.Duration
		eps               int
		want              int64
	}{
		// The README's defaults: (300 s − 90 s) / (10 ms + 2 ms).
		{5 * time.Minute, 90 * time.Second, 100, 17500},
		{5 * time.Minute, 90 * time.Second, 1000, 70000},
		// A run allowed longer than half the interval leaves half of it.
		{time.Minute, 90 * time.Second, 100, 2500},
		{4 * time.Second, time.Second, 1000, 1000},
		{time.Second, time.Second, 1, 1},
		{5 * time.Minute, 90 * time.Second, 0, 17500}, // unknown: Wazuh's default
	} {
		got := RunEvents(c.interval, c.runtime, c.eps)
		if got != c.want {
			t.Errorf("RunEvents(%v, %v, %d) = %d, want %d", c.interval, c.runtime, c.eps, got, c.want)
		}
		// By construction modulesd forwards them within the window.
		window := max(c.interval-c.runtime, c.interval/2)
		if fw := ForwardTime(got, c.eps); got > 1 && fw > window {
			t.Errorf("%d events take %v to forward, more than the %v window", got, fw, window)
		}
	}
}

// TestFindReaderSeesWhetherTheQueueCanBeReached: modulesd's command
// module connects to the queue socket once, when it starts; the reader
// says whether the daemon owning it in modulesd's home (analysisd on a
// manager, agentd on an agent: whichever binary is in bin; found by its
// pid files) started before modulesd (ok), after it (stale: its lines are
// dropped), or does not run (down), and cannot tell without the binary,
// var/run or a readable process.
func TestFindReaderSeesWhetherTheQueueCanBeReached(t *testing.T) {
	for _, c := range []struct {
		name    string
		bin     string            // the daemon binary in the home's bin
		pids    map[string]string // pid file name -> content
		procs   map[int]fakeProcess
		noRun   bool
		want    string
		promote bool
	}{
		{name: "manager, analysisd started before modulesd", bin: AnalysisdComm, pids: map[string]string{"wazuh-analysisd-700.pid": "700\n"},
			procs: map[int]fakeProcess{700: {ppid: 1, comm: AnalysisdComm, start: 4000}}, want: QueueOK, promote: true},
		{name: "manager, analysisd restarted after modulesd", bin: AnalysisdComm, pids: map[string]string{"wazuh-analysisd-700.pid": "700\n", "wazuh-analysisd-950.pid": "950\n"},
			procs: map[int]fakeProcess{950: {ppid: 1, comm: AnalysisdComm, start: 5000}}, want: QueueStale},
		{name: "agent, agentd started before modulesd", bin: AgentdComm, pids: map[string]string{"wazuh-agentd-600.pid": "600\n"},
			procs: map[int]fakeProcess{600: {ppid: 1, comm: AgentdComm, start: 3000}}, want: QueueOK, promote: true},
		{name: "agent, agentd restarted after modulesd", bin: AgentdComm, pids: map[string]string{"wazuh-agentd-600.pid": "600\n"},
			procs: map[int]fakeProcess{600: {ppid: 1, comm: AgentdComm, start: 6000}}, want: QueueStale},
		{name: "agent, no analysisd is not a stale queue", bin: AgentdComm, pids: map[string]string{"wazuh-agentd-600.pid": "600\n", "wazuh-analysisd-950.pid": "950\n"},
			procs: map[int]fakeProcess{600: {ppid: 1, comm: AgentdComm, start: 3000}, 950: {ppid: 1, comm: AnalysisdComm, start: 6000}}, want: QueueOK, promote: true},
		{name: "not running, its pid file left behind", bin: AnalysisdComm, pids: map[string]string{"wazuh-analysisd-700.pid": "700\n"}, want: QueueDown},
		{name: "pid reused by another program", bin: AnalysisdComm, pids: map[string]string{"wazuh-analysisd-700.pid": "700\n"},
			procs: map[int]fakeProcess{700: {ppid: 1, comm: "bash", start: 4000}}, want: QueueDown},
		{name: "a zombie", bin: AnalysisdComm, pids: map[string]string{"wazuh-analysisd-700.pid": "700\n"},
			procs: map[int]fakeProcess{700: {ppid: 1, comm: AnalysisdComm, start: 4000, state: "Z"}}, want: QueueDown},
		{name: "no pid file", bin: AnalysisdComm, want: QueueDown},
		{name: "a process it may not read", bin: AnalysisdComm, pids: map[string]string{"wazuh-analysisd-700.pid": "700\n"},
			procs: map[int]fakeProcess{700: {ppid: 1, comm: AnalysisdComm, start: 5000, denied: true}}, want: QueueUnknown, promote: true},
		{name: "no daemon binary in bin", pids: map[string]string{"wazuh-analysisd-700.pid": "700\n"}, want: QueueUnknown, promote: true},
		{name: "no var/run in the home", bin: AnalysisdComm, noRun: true, want: QueueUnknown, promote: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			if c.bin != "" {
				os.MkdirAll(filepath.Join(home, "bin"), 0o755)
				os.WriteFile(filepath.Join(home, "bin", c.bin), []byte("#!/bin/false\n"), 0o755)
			}
			if !c.noRun {
				run := filepath.Join(home, "var", "run")
				if err := os.MkdirAll(run, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, content := range c.pids {
					os.WriteFile(filepath.Join(run, name), []byte(content), 0o644)
				}
			}
			table := modulesdTable()
			m := table.procs[812]
			m.cwd = home
			table.procs[812] = m
			for pid, p := range c.procs {
				table.procs[pid] = p
			}
			r, err := FindReader(table)
			if err != nil {
				t.Fatal(err)
			}
			if r.Queue != c.want || r.QueueBroken() == c.promote || (c.want != QueueUnknown && r.QueueDaemon != c.bin) {
				t.Fatalf("queue %q of %q (broken %v), want %q of %q", r.Queue, r.QueueDaemon, r.QueueBroken(), c.want, c.bin)
			}
		})
	}
}
