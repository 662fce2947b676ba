package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordbench"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

// opbenchd is built once per test binary, by the first benchmark that needs it.
var opbenchd string

func opbenchdBinary(b *testing.B) string {
	if opbenchd == "" {
		dir, err := os.MkdirTemp("", "opbenchd-")
		if err != nil {
			b.Fatal(err)
		}
		opbenchd = onepasswordbench.Build(b, dir)
	}
	return opbenchd
}

// peakRSS100k is the peak RSS of the 100 000-event catch-up, which the
// 1 000 000-event one compares with its own (flat means no growth).
var peakRSS100k float64

// BenchmarkProcessRealistic measures the whole localrun process catching up
// a backlog of realistic 1Password events (package onepasswordbench: about
// 785 bytes each on average, nested objects, a third with nulls to strip,
// a long tail to 3.9 KB), spread over the three streams and served
// chunked over loopback HTTP by a separate process (opbenchd), in
// wodle-sized runs (--max-bytes 32 MiB) whose stdout is a pipe the
// benchmark drains as Wazuh does. Reported: events per CPU-second of the
// localrun processes only (user + system, from the kernel's accounting of
// each child; the server and the reader are other processes), the peak RSS
// of any run, and, for the larger backlog, how much that peak exceeds the
// smaller backlog's. Every event must arrive exactly once.
func BenchmarkProcessRealistic(b *testing.B) {
	bin := opbenchdBinary(b)
	for _, total := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("events=%d", total), func(b *testing.B) {
			var events, lineBytes, runs int64
			var user, sys time.Duration
			var peak int64
			for range b.N {
				b.StopTimer()
				const token = "opbench-token"
				srv := onepasswordbench.Start(b, bin, onepasswordbench.Options{Events: total, Token: token})
				dir := b.TempDir()
				span := time.Duration(srv.Gen.Len()) * srv.Gen.Step
				env := []string{
					"OP_BEARER_TOKEN=" + token,
					"OP_BASE_URL=" + srv.URL,
					"OP_STATE_FILE=" + filepath.Join(dir, "state.json"),
					"OP_SECRETS_FILE=" + filepath.Join(dir, "absent.secrets"),
					fmt.Sprintf("OP_LOOKBACK_HOURS=%d", int(math.Ceil(span.Hours()))+2),
					"PATH=" + os.Getenv("PATH"),
				}
				perStream := map[string]int64{}
				b.StartTimer()
				logFile := filepath.Join(dir, "run.log")
				for run := 0; ; run++ {
					r := drainedRun(b, env, "--source", "all", "--rate-limit", "-1", "--debug", "1", "--log-file", logFile)
					runs++
					for k, v := range r.events {
						perStream[k] += v
						events += v
					}
					lineBytes += r.bytes
					user += time.Duration(r.rusage.Utime.Nano())
					sys += time.Duration(r.rusage.Stime.Nano())
					// The process's own high-water mark (VmHWM), which it
					// logs: the child's ru_maxrss would count the test
					// process's memory, shared until exec.
					peak = max(peak, lastPeakRSS(b, logFile))
					if r.exit != 0 {
						b.Fatalf("run %d: exit %d: %s", run, r.exit, r.stderr)
					}
					if r.summary["audit_backlog"] == false && r.summary["signin_backlog"] == false && r.summary["itemusage_backlog"] == false {
						break
					}
					if run > 2*total/20_000+10 {
						b.Fatalf("did not catch up after %d runs", run)
					}
				}
				b.StopTimer()
				for _, t := range []string{"audit_event", "signin_attempt", "item_usage"} {
					if perStream[t] != int64(srv.Gen.Len()) {
						b.Fatalf("%s: delivered %d events, served %d", t, perStream[t], srv.Gen.Len())
					}
				}
				b.StartTimer()
			}
			cpu := user + sys
			b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "CPU-ns/event")
			b.ReportMetric(100*sys.Seconds()/cpu.Seconds(), "sys-%")
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(lineBytes)/float64(events), "line-bytes/event")
			b.ReportMetric(float64(runs)/float64(b.N), "runs")
			if total == 100_000 {
				peakRSS100k = float64(peak) / 1024
			} else if peakRSS100k > 0 {
				b.ReportMetric(float64(peak)/1024-peakRSS100k, "RSS-over-100k-MiB")
			}
		})
	}
}

// drained is one localrun process whose stdout was read to the end.
type drained struct {
	exit    int
	events  map[string]int64 // by event_type
	bytes   int64
	summary map[string]any
	stderr  string
	rusage  *syscall.Rusage
}

// drainedRun runs localrun onepassword with stdout on a pipe read the way
// Wazuh's wodle reader reads it (drainRun), lines handled once the
// command ended (wazuh-modulesd keeps a command's output, up to 64 MiB,
// before forwarding its lines).
// Every line must be whole; events are counted by type without decoding.
func drainedRun(b *testing.B, env []string, args ...string) drained {
	b.Helper()
	cmd := exec.Command(binary, append([]string{"onepassword"}, args...)...)
	buf := drainRun(b, cmd, env)
	d := drained{events: map[string]int64{}, bytes: int64(len(buf))}
	d.exit = cmd.ProcessState.ExitCode()
	d.stderr = cmd.Stderr.(*bytes.Buffer).String()
	d.rusage = cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var last []byte
	for len(buf) > 0 {
		end := bytes.IndexByte(buf, '\n')
		if end < 0 {
			b.Fatalf("partial line: %.200q", buf)
		}
		line := buf[:end+1]
		buf = buf[end+1:]
		t := eventType(line)
		switch t {
		case "":
			b.Fatalf("line without event_type: %.300q", line)
		case "error":
			b.Fatalf("error event: %s", line)
		case "run_summary":
			last = line
		default:
			d.events[t]++
		}
	}
	var m map[string]any
	if err := json.Unmarshal(last, &m); err != nil {
		b.Fatalf("the run did not end with its run_summary: %v: %.300q", err, last)
	}
	d.summary = op(m)
	return d
}

// modulesdRead is what wazuh-modulesd reads of a command's output at a
// time.
const modulesdRead = 1024

// drainBuf holds one run's output, kept for the next run.
var drainBuf []byte

// drainRun starts cmd with env and reads its stdout to the end through a
// pipe, a kilobyte per read into one buffer, as fast as the output comes
// (wazuh-modulesd's reader thread reads a command's output a kilobyte at
// a time, WM_BUFFER_MAX in wm_exec.c: a reader that slow finds the pipe
// full, which a reader taking everything at once would hide), then waits
// for it. Its stderr
// is in cmd.Stderr (a *bytes.Buffer). The buffer returned is drainBuf's,
// valid until the next call.
func drainRun(b *testing.B, cmd *exec.Cmd, env []string) []byte {
	b.Helper()
	cmd.Env = env
	cmd.Stderr = &bytes.Buffer{}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	buf := drainBuf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, 1<<20)...)[:len(buf)]
		}
		n, err := out.Read(buf[len(buf):min(cap(buf), len(buf)+modulesdRead)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	drainBuf = buf[:0]
	cmd.Wait()
	return buf
}

// BenchmarkProcessRealisticSyslog is BenchmarkProcessRealistic delivering
// over mutual TLS to the shipped rsyslog relay (its default Direct queue)
// in front of a stand-in for wazuh-remoted, one confirmation per page
// (--confirm-pages 1, the default): events per CPU-second of the localrun
// processes, and every event must reach the stand-in.
func BenchmarkProcessRealisticSyslog(b *testing.B) {
	bin := opbenchdBinary(b)
	for _, total := range []int{100_000} {
		b.Run(fmt.Sprintf("events=%d", total), func(b *testing.B) {
			var events, runs int64
			var user, sys time.Duration
			var peak int64
			for range b.N {
				b.StopTimer()
				relay := rsyslogtest.Start(b, rsyslogtest.Options{CountOnly: true})
				const token = "opbench-token"
				srv := onepasswordbench.Start(b, bin, onepasswordbench.Options{Events: total, Token: token})
				dir := b.TempDir()
				pki := relay.PKI
				span := time.Duration(srv.Gen.Len()) * srv.Gen.Step
				env := []string{
					"OP_BEARER_TOKEN=" + token,
					"OP_BASE_URL=" + srv.URL,
					"OP_STATE_FILE=" + filepath.Join(dir, "state.json"),
					"OP_SECRETS_FILE=" + filepath.Join(dir, "absent.secrets"),
					fmt.Sprintf("OP_LOOKBACK_HOURS=%d", int(math.Ceil(span.Hours()))+2),
					"PATH=" + os.Getenv("PATH"),
				}
				logFile := filepath.Join(dir, "run.log")
				// Unpaced: pacing only sleeps, and at the default 250
				// events/s the backlog would take minutes of wall time.
				args := []string{"--source", "all", "--rate-limit", "-1", "--debug", "1", "--log-file", logFile,
					"--sink", "tls://" + relay.MTLSAddr, "--syslog-eps", "0",
					"--syslog-ca", writeFile(b, dir, "ca.pem", pki.CAPEM),
					"--syslog-cert", writeFile(b, dir, "client.pem", pki.ClientCertPEM),
					"--syslog-key", writeFile(b, dir, "client.key", pki.ClientKeyPEM)}
				b.StartTimer()
				for run := 0; ; run++ {
					cmd := exec.Command(binary, append([]string{"onepassword"}, args...)...)
					cmd.Env = env
					out, err := cmd.CombinedOutput()
					if err != nil || len(out) > 0 {
						b.Fatalf("run %d: %v: %s", run, err, out)
					}
					runs++
					ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
					user += time.Duration(ru.Utime.Nano())
					sys += time.Duration(ru.Stime.Nano())
					peak = max(peak, lastPeakRSS(b, logFile))
					if !logBacklog(b, logFile, 3) {
						break
					}
					if run > 2*total/20_000+10 {
						b.Fatalf("did not catch up after %d runs", run)
					}
				}
				b.StopTimer()
				// Every event plus one run_summary per run.
				if err := relay.Downstream.WaitCount(3*srv.Gen.Len()+int(runs), 2*time.Minute); err != nil {
					b.Fatalf("%v: %d lines reached remoted, want %d", err, relay.Downstream.Count(), 3*srv.Gen.Len()+int(runs))
				}
				events += int64(3 * srv.Gen.Len())
				b.StartTimer()
			}
			cpu := user + sys
			b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "CPU-ns/event")
			b.ReportMetric(100*sys.Seconds()/cpu.Seconds(), "sys-%")
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(runs)/float64(b.N), "runs")
		})
	}
}

func writeFile(b *testing.B, dir, name string, data []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

// logBacklog reads the last run's "stream done" records (one per stream
// of the run's streams): whether any stream left a backlog. A failed
// stream fails the benchmark.
func logBacklog(b *testing.B, logFile string, runStreams int) bool {
	b.Helper()
	data, err := os.ReadFile(logFile)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	backlog, streams := false, 0
	for i := len(lines) - 1; i >= 0 && streams < runStreams; i-- {
		var rec struct {
			Msg     string `json:"msg"`
			Backlog bool   `json:"backlog"`
			Success bool   `json:"success"`
		}
		if json.Unmarshal(lines[i], &rec) != nil || rec.Msg != "stream done" {
			continue
		}
		if !rec.Success {
			b.Fatalf("a stream failed: %s", lines[i])
		}
		streams++
		backlog = backlog || rec.Backlog
	}
	if streams != runStreams {
		b.Fatalf("the run's log has %d stream records, want %d", streams, runStreams)
	}
	return backlog
}
