package wazuhlab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The engine tests share one lab with all three daemons; each test below
// works on its own events (distinct uuids) so they do not see each other's.
var shared = &Shared{Daemons: []Daemon{Analysisd, Remoted, Modulesd}}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the shared lab:", err)
		code = 1
	}
	os.Exit(code)
}

// deadline bounds a wait for the engine. analysisd hands events to its
// writers within milliseconds; the bound only has to survive a machine
// busy with other test packages, so it is generous and never the thing
// measured.
func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func jsonLine(uuid string) string {
	return `{"integration":"wazuhlab-test","wl":{"uuid":"` + uuid + `","event_type":"check","note":"a line that failed nothing"}}`
}

func TestLogtestDecodesJSON(t *testing.T) {
	l := shared.Get(t)
	ctx := deadline(t)
	s := l.NewLogtestSession("wazuhlab-test")
	defer s.Close(ctx)
	res, err := s.Process(ctx, jsonLine("lt-1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Output.Decoder.Name != "json" || res.Token == "" || res.Output.Location != "wazuhlab-test" {
		t.Fatalf("decoder %q token %q location %q, want json, a token and wazuhlab-test", res.Output.Decoder.Name, res.Token, res.Output.Location)
	}
	var data struct {
		WL struct {
			UUID string `json:"uuid"`
		} `json:"wl"`
	}
	if err := json.Unmarshal(res.Output.Data, &data); err != nil || data.WL.UUID != "lt-1" {
		t.Fatalf("decoded data %s (%v): want wl.uuid lt-1", res.Output.Data, err)
	}
	// The same session keeps its token.
	res2, err := s.Process(ctx, jsonLine("lt-2"), "")
	if err != nil || res2.Token != res.Token {
		t.Fatalf("second event: token %q, err %v; want the session's %q", res2.Token, err, res.Token)
	}
	// analysisd asked the wazuh-db stand-in for the MITRE matrix instead
	// of waiting 15 s for a socket that never comes.
	if n := l.wdb.Queries("mitre"); n == 0 {
		t.Fatal("analysisd never asked the wazuh-db stand-in for the MITRE matrix")
	}
}

func TestSyslogIsArchivedWithPRIStripped(t *testing.T) {
	l := shared.Get(t)
	ctx := deadline(t)
	tail, err := l.TailArchives()
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for i := range 20 {
		lines = append(lines, []byte("<134>"+jsonLine(fmt.Sprintf("sys-%02d", i))))
	}
	if err := l.SendSyslog(ctx, lines, SendOptions{PerSecond: 200}); err != nil {
		t.Fatal(err)
	}
	recs, err := tail.WaitRecords(ctx, func(r []Record) bool { return len(r) >= len(lines) })
	if err != nil {
		t.Fatalf("%d of %d lines archived: %v", len(recs), len(lines), err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Location != "127.0.0.1" || r.Decoder.Name != "json" || strings.HasPrefix(r.FullLog, "<") {
			t.Errorf("archived %s: want location 127.0.0.1, decoder json and <PRI> stripped", r.Raw)
		}
		seen[r.FullLog] = true
	}
	for _, ln := range lines {
		if !seen[strings.TrimPrefix(string(ln), "<134>")] {
			t.Errorf("not archived: %s", ln)
		}
	}
}

func TestCommandWodleIsArchived(t *testing.T) {
	l := shared.Get(t)
	ctx := deadline(t)
	out := filepath.Join(l.Dir, "wodle-lines.txt")
	var want []string
	for i := range 5 {
		want = append(want, jsonLine(fmt.Sprintf("wodle-%d", i)))
	}
	if err := os.WriteFile(out, []byte(strings.Join(want, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.SetInternalOption("wazuh_modules.max_eps", "1000"); err != nil {
		t.Fatal(err)
	}
	tail, err := l.TailArchives()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AddWodle(ctx, Wodle{Tag: "wltest", Command: "/bin/cat " + out}); err != nil {
		t.Fatal(err)
	}
	defer l.RemoveWodle(context.Background(), "wltest")
	recs, err := tail.WaitRecords(ctx, func(r []Record) bool { return countLocation(r, "command_wltest") >= len(want) })
	if err != nil {
		t.Fatalf("%d records, %d from the wodle: %v", len(recs), countLocation(recs, "command_wltest"), err)
	}
	got := map[string]bool{}
	for _, r := range recs {
		if r.Location == "command_wltest" {
			if r.Decoder.Name != "json" {
				t.Errorf("wodle line decoded by %q, want json: %s", r.Decoder.Name, r.Raw)
			}
			got[r.FullLog] = true
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("wodle line not archived: %s", w)
		}
	}
}

func countLocation(recs []Record, loc string) int {
	n := 0
	for _, r := range recs {
		if r.Location == loc {
			n++
		}
	}
	return n
}

func TestDaemonsRestartAndDie(t *testing.T) {
	l := shared.Get(t)
	ctx := deadline(t)
	pid := l.PID(Remoted)
	if pid == 0 {
		t.Fatal("remoted does not run")
	}
	if err := l.Restart(ctx, Remoted); err != nil {
		t.Fatal(err)
	}
	if p := l.PID(Remoted); p == 0 || p == pid {
		t.Fatalf("remoted pid %d after restart (was %d)", p, pid)
	}
	// A kill is seen as an exit; Start brings the daemon back.
	if err := l.Signal(Modulesd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(ctx, Modulesd); err == nil || !exitedBySignal(err, syscall.SIGKILL) {
		t.Fatalf("modulesd exit after SIGKILL: %v", err)
	}
	if l.Running(Modulesd) {
		t.Fatal("modulesd still reported running after it died")
	}
	if err := l.Start(ctx, Modulesd); err != nil {
		t.Fatal(err)
	}
	if !l.Running(Modulesd) || !l.Running(Analysisd) {
		t.Fatal("daemons not running after the restart")
	}
}
